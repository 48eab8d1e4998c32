"""The schema: migrations match the metadata, SQLite settings, times stay aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import StatementError

from broadcaster.store import Store, migrate
from broadcaster.store import schema as t
from broadcaster.store.engine import make_engine
from tests.broadcaster.store.conftest import BACKENDS, NOW, PostgresServer


@pytest.fixture(params=BACKENDS)
def empty_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """A database no migration has touched yet."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.empty_database()


def test_migrated_schema_matches_the_metadata(empty_url: str) -> None:
    with Store.open(empty_url) as store:
        assert migrate.current_revision(store.engine) == migrate.head_revision()
        assert migrate.schema_differences(store.engine) == []


def test_a_database_without_migrations_differs_from_the_metadata(empty_url: str) -> None:
    """Guards the guard: compare_metadata does see missing tables."""
    engine = make_engine(empty_url)
    try:
        differences = migrate.schema_differences(engine)
    finally:
        engine.dispose()
    added = {diff[1].name for diff in differences if diff[0] == "add_table"}
    assert added == set(t.metadata.tables)


def test_opening_twice_keeps_the_data_and_the_revision(empty_url: str) -> None:
    with Store.open(empty_url) as store:
        store.set_meta("probe", "kept")
    with Store.open(empty_url) as store:
        assert store.get_meta("probe") == "kept"
        assert migrate.current_revision(store.engine) == migrate.head_revision()


def test_sqlite_runs_in_wal_mode_with_foreign_keys_and_a_busy_timeout(tmp_path) -> None:
    with Store.open(f"sqlite:///{tmp_path / 'db' / 'b.db'}") as store, store.engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert (c.exec_driver_sql("PRAGMA busy_timeout").scalar() or 0) >= 5000


def test_in_memory_sqlite_is_refused() -> None:
    with pytest.raises(ValueError, match="SQLite file"):
        make_engine("sqlite://")


@pytest.mark.parametrize(
    "given",
    [
        NOW,
        NOW.astimezone(timezone(timedelta(hours=8))),
        NOW.astimezone(timezone(timedelta(hours=-5, minutes=-30))),
    ],
    ids=["utc", "shanghai-offset", "negative-offset"],
)
def test_times_come_back_as_the_same_instant_in_aware_utc(store: Store, given: datetime) -> None:
    store.journal.append_audit(given, "tester", "probe")
    (entry,) = store.journal.list_audit()
    assert entry.at == given
    assert entry.at.tzinfo is UTC


def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(StatementError, match="timezone-aware"):
        store.journal.append_audit(datetime(2026, 1, 1, 12, 0), "tester", "probe")


def test_utc_order_is_kept_in_sql_comparisons(store: Store) -> None:
    """On SQLite times are text: an earlier instant with a larger local clock must sort first."""
    early = datetime(2026, 1, 1, 20, 0, tzinfo=timezone(timedelta(hours=8)))  # 12:00 UTC
    late = datetime(2026, 1, 1, 13, 0, tzinfo=UTC)
    store.journal.append_audit(late, "tester", "late")
    store.journal.append_audit(early, "tester", "early")
    with store.engine.connect() as conn:
        query = (
            select(t.audit_log.c.action).where(t.audit_log.c.at < late).order_by(t.audit_log.c.at)
        )
        assert list(conn.execute(query).scalars()) == ["early"]
        assert conn.execute(text("SELECT count(*) FROM audit_log")).scalar() == 2
