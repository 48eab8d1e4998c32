"""Migration 0005 with data, on SQLite and PostgreSQL: owners and session generations move
from `meta` into columns and back.

At 0004 the database holds what the old code wrote: the `panel.owners` blob (with an entry
for a message deleted since and one for an area deleted since), `sessions:<name>` keys (one
of a user deleted since), the lexicon (which stays in `meta`), and programs, schedules and
user areas that refer to the tables being rebuilt: SQLite copies them in batch mode, and
with foreign keys on, dropping the old copy would have deleted the rows that refer to them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.exc import IntegrityError

from broadcaster.store import Store, migrate
from broadcaster.store import schema as t
from broadcaster.store.engine import make_engine
from tests.broadcaster.store.conftest import BACKENDS, NOW, PostgresServer

OWNERS = {
    "message:tl-msg": "tunli-village",
    "message:gone-msg": "tunli-village",  # deleted since: the old code left such entries
    "message:orphan-msg": "gone-village",  # its area was deleted since
    "program:tl-prog": "tunli-village",
    "program:town-prog": "tunli",
}
SESSIONS = {"sessions:chief-tunli": "a1b2c3d4e5f60718", "sessions:gone-user": "0011223344556677"}
LEXICON = json.dumps({"屯里": "tún lǐ"}, ensure_ascii=False)


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path) -> str:  # type: ignore[no-untyped-def]
    """A database no migration has touched yet."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'm.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.empty_database()


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    made = make_engine(url)
    yield made
    made.dispose()


def _message(mid: str) -> dict[str, object]:
    return {"id": mid, "title": mid, "text": "今晚停水。", "voice": "zh", "rate": 170,
            "volume": 1.0, "chime": False, "version": 1, "updated_at": NOW}  # fmt: skip


def _fill_0004(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(t.areas),
            [
                {"id": "yaodu", "name": "尧都区", "kind": "district", "parent_id": None},
                {"id": "tunli", "name": "屯里镇", "kind": "township", "parent_id": "yaodu"},
                {"id": "tunli-village", "name": "屯里村", "kind": "village", "parent_id": "tunli"},
            ],
        )
        conn.execute(
            insert(t.speakers),
            [{"id": "tl-1", "name": "屯里村大喇叭", "kind": "fixed", "area_id": "tunli-village",
              "volume": 80, "has_route": False}],
        )  # fmt: skip
        conn.execute(
            insert(t.messages), [_message(m) for m in ("tl-msg", "orphan-msg", "district-msg")]
        )
        conn.execute(
            insert(t.programs),
            [{"id": p, "name": p, "gap_s": 3.0} for p in ("tl-prog", "town-prog", "district-prog")],
        )
        conn.execute(
            insert(t.program_messages),
            [
                {"program_id": "tl-prog", "position": 0, "message_id": "tl-msg"},
                {"program_id": "tl-prog", "position": 1, "message_id": "district-msg"},
                {"program_id": "town-prog", "position": 0, "message_id": "orphan-msg"},
                {"program_id": "district-prog", "position": 0, "message_id": "district-msg"},
            ],
        )
        conn.execute(
            insert(t.schedules).values(
                id="tl-sched", program_id="tl-prog", weekdays=127, start_time=NOW.time(),
                end_time=NOW.time().replace(hour=23), priority=0, enabled=True, updated_at=NOW,
            )
        )  # fmt: skip
        conn.execute(
            insert(t.schedule_speakers).values(
                schedule_id="tl-sched", speaker_id="tl-1", position=0
            )
        )
        conn.execute(
            insert(t.users),
            [
                {"name": n, "role": r, "password_hash": "h", "disabled": False,
                 "vehicle_id": None, "created_at": NOW}
                for n, r in (("chief-tunli", "chief"), ("admin", "admin"))
            ],
        )  # fmt: skip
        conn.execute(
            insert(t.user_areas).values(
                user_name="chief-tunli", area_id="tunli-village", position=0
            )
        )
        conn.execute(
            insert(t.meta),
            [
                {"key": "panel.owners", "value": json.dumps(OWNERS, sort_keys=True)},
                {"key": "panel.lexicon", "value": LEXICON},
                *({"key": k, "value": v} for k, v in SESSIONS.items()),
            ],
        )


def _links(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """The rows that refer to the rebuilt tables, and the meta table."""
    with engine.connect() as conn:
        return {
            table.name: sorted(tuple(r) for r in conn.execute(select(table)).all())
            for table in (t.program_messages, t.schedules, t.schedule_speakers, t.user_areas)
        }


def _meta(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(select(t.meta.c.key, t.meta.c.value)).all())  # type: ignore[arg-type]


def _columns(engine: Engine) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    with engine.connect() as conn:
        messages = dict(conn.execute(select(t.messages.c.id, t.messages.c.owner_area_id)).all())
        programs = dict(conn.execute(select(t.programs.c.id, t.programs.c.owner_area_id)).all())
        users = dict(conn.execute(select(t.users.c.name, t.users.c.session_generation)).all())
    return messages, programs, users  # type: ignore[return-value]


def test_0005_moves_owners_and_sessions_into_columns_and_back(engine: Engine, url: str) -> None:
    migrate.upgrade(engine, "0004")
    _fill_0004(engine)
    links = _links(engine)

    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
    assert migrate.schema_differences(engine) == []
    assert _columns(engine) == (
        # the orphan's area is gone: district-wide (the migration warns)
        {"tl-msg": "tunli-village", "orphan-msg": None, "district-msg": None},
        {"tl-prog": "tunli-village", "town-prog": "tunli", "district-prog": None},
        {"chief-tunli": "a1b2c3d4e5f60718", "admin": ""},
    )
    assert _meta(engine) == {"panel.lexicon": LEXICON}  # the moved keys are gone
    assert _links(engine) == links  # nothing that refers to a rebuilt table was lost

    with Store.open(url) as store:  # the store reads and writes the columns
        assert store.content.owners() == {
            "message:tl-msg": "tunli-village",
            "program:tl-prog": "tunli-village",
            "program:town-prog": "tunli",
        }
        assert (
            store.people.session_generation("chief-tunli") == "a1b2c3d4e5f60718"
        )  # signed in still
        assert store.people.session_generation("admin") == ""
        store.people.set_display_name("chief-tunli", "屯里村王主任")
        store.people.end_sessions("admin")
        admin_generation = store.people.session_generation("admin")
        store.content.set_owner("message", "district-msg", "tunli")
    with engine.connect() as conn, pytest.raises(IntegrityError):  # a real foreign key
        conn.execute(delete(t.areas).where(t.areas.c.id == "tunli"))

    migrate.downgrade(engine, "0004")
    assert migrate.current_revision(engine) == "0004"
    back = _meta(engine)
    assert json.loads(back.pop("panel.owners")) == {
        "message:tl-msg": "tunli-village",
        "message:district-msg": "tunli",
        "program:tl-prog": "tunli-village",
        "program:town-prog": "tunli",
    }
    assert back == {
        "panel.lexicon": LEXICON,
        "sessions:chief-tunli": "a1b2c3d4e5f60718",
        "sessions:admin": admin_generation,
    }
    assert _links(engine) == links
    with engine.connect() as conn:
        names = {c["name"] for c in engine.dialect.get_columns(conn, "users")}
    assert "display_name" not in names and "session_generation" not in names

    migrate.upgrade(engine)  # and up again: the round trip keeps everything it can hold
    assert migrate.schema_differences(engine) == []
    messages, programs, users = _columns(engine)
    assert messages["district-msg"] == "tunli" and programs["town-prog"] == "tunli"
    assert users == {"chief-tunli": "a1b2c3d4e5f60718", "admin": admin_generation}
    assert _links(engine) == links


def test_0005_on_a_database_without_owners_or_sessions(engine: Engine) -> None:
    migrate.upgrade(engine, "0004")
    with engine.begin() as conn:
        conn.execute(insert(t.meta).values(key="panel.owners", value="not json"))
    migrate.upgrade(engine)  # a blob it cannot read: everything district-wide, no failure
    assert _meta(engine) == {}
    migrate.downgrade(engine, "0004")
    assert _meta(engine) == {}  # nothing owned, nobody signed out: no keys written back
