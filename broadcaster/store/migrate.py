"""Alembic migrations, run in code: no alembic.ini is needed at run time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection

from broadcaster.store.engine import WRITE_OPTION
from broadcaster.store.schema import metadata

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Any constant: serializes concurrent upgrades of one PostgreSQL database.
_PG_LOCK_KEY = 0x62726F6164  # "broad"


def alembic_config() -> Config:
    """An Alembic configuration pointing at the package's migration scripts."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    """The newest revision in `migrations/versions`."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("no migration scripts found")
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None if Alembic never ran on it)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to `revision` in one transaction; safe when two processes start."""
    with _migrating(engine) as (config, _conn):
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Take the database back to `revision` in one transaction (data carried back where the
    older schema can hold it: see each revision's `downgrade`)."""
    with _migrating(engine) as (config, _conn):
        command.downgrade(config, revision)


@contextmanager
def _migrating(engine: Engine) -> Iterator[tuple[Config, Connection]]:
    """One write transaction for a migration; on PostgreSQL under an advisory lock.

    SQLite changes a table by copying it (batch mode): with foreign keys enforced, dropping
    the old copy would delete the rows that refer to it (ON DELETE CASCADE) or fail. So, as
    SQLite prescribes for schema changes, enforcement is off while migrating (it can only be
    switched outside a transaction) and `PRAGMA foreign_key_check` must find nothing before
    the commit; the connection gets enforcement back before it returns to the pool.
    """
    config = alembic_config()
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            _pragma(conn, "PRAGMA foreign_keys = OFF")
        try:
            conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
                config.attributes["connection"] = conn
                yield config, conn
                if sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise RuntimeError(f"migration left rows with broken references: {broken}")
        finally:
            if sqlite:
                _pragma(conn, "PRAGMA foreign_keys = ON")


def _pragma(conn: Connection, statement: str) -> None:
    """Run a PRAGMA outside any transaction (the connection is in autocommit mode)."""
    driver = conn.connection.driver_connection
    assert driver is not None
    driver.execute(statement)


def schema_differences(engine: Engine) -> list[Any]:
    """What differs between the database and the ORM metadata (empty when in sync)."""
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))
