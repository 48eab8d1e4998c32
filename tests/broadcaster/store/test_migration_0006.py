"""Migration 0006 with data, on SQLite and PostgreSQL: the `live` event kind (issue 12).
Events written at 0005 survive; a live event is refused before and accepted after; the
downgrade drops live events only."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from broadcaster.store import migrate
from broadcaster.store import schema as t
from tests.broadcaster.store.conftest import NOW


@pytest.fixture
def engine(unmigrated: Engine) -> Engine:
    return unmigrated


def _event(seq: int, kind: str) -> dict[str, object]:
    return {"seq": seq, "speaker_id": None, "kind": kind, "payload": {"n": seq}, "created_at": NOW}


def _kinds(engine: Engine) -> list[tuple[int, str]]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(select(t.events.c.seq, t.events.c.kind).order_by(t.events.c.seq))
        ]  # type: ignore[misc]


def test_live_events_up_and_down(engine: Engine) -> None:
    migrate.upgrade(engine, "0005")
    with engine.begin() as conn:
        conn.execute(insert(t.events), [_event(1, "urgent"), _event(2, "resync")])
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(t.events), [_event(3, "live")])
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(insert(t.events), [_event(3, "live")])
    assert _kinds(engine) == [(1, "urgent"), (2, "resync"), (3, "live")]
    migrate.downgrade(engine, "0005")
    assert _kinds(engine) == [(1, "urgent"), (2, "resync")]
    migrate.upgrade(engine)
    assert _kinds(engine) == [(1, "urgent"), (2, "resync")]
