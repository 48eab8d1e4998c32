"""Migration 0004 with data, on SQLite and PostgreSQL: play-log ids per speaker, 64-bit clock
offsets. Rows written at 0003 survive the upgrade; the downgrade keeps what the old key can
hold (of entries sharing an id, the one received first) and the data survives a round trip."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from broadcaster.store import migrate
from broadcaster.store import schema as t
from tests.broadcaster.store.conftest import NOW


@pytest.fixture
def engine(unmigrated: Engine) -> Engine:
    return unmigrated


def _downgrade(engine: Engine, revision: str) -> None:
    migrate.downgrade(engine, revision)


def _play(pid: str, speaker: str, minutes: int) -> dict[str, object]:
    at = NOW + timedelta(minutes=minutes)
    return {
        "id": pid, "speaker_id": speaker, "clip": "c" * 64, "message_id": "m", "kind": "loop",
        "planned_start": at, "started_at": at, "ended_at": at + timedelta(seconds=9),
        "completed": True, "reason": "", "received_at": at,
    }  # fmt: skip


def _status(speaker: str, offset: int | None) -> dict[str, object]:
    return {"speaker_id": speaker, "last_heartbeat": NOW, "state": "idle",
            "clock_offset_ms": offset, "selftest_detail": "", "client_version": "1"}  # fmt: skip


def _rows(engine: Engine) -> tuple[list[tuple[object, ...]], dict[str, object]]:
    with engine.connect() as conn:
        plays = conn.execute(
            select(t.play_log.c.speaker_id, t.play_log.c.id, t.play_log.c.started_at).order_by(
                t.play_log.c.speaker_id, t.play_log.c.id
            )
        ).all()
        offsets = dict(
            conn.execute(
                select(t.speaker_status.c.speaker_id, t.speaker_status.c.clock_offset_ms)
            ).all()
        )
    return [tuple(r) for r in plays], offsets


def test_0004_carries_the_play_log_and_lets_two_speakers_share_an_id(engine: Engine) -> None:
    migrate.upgrade(engine, "0003")
    with engine.begin() as conn:
        conn.execute(insert(t.areas), [{"id": "a", "name": "区", "kind": "district"}])
        conn.execute(
            insert(t.speakers),
            [
                {"id": s, "name": s, "kind": "fixed", "area_id": "a", "volume": 80,
                 "has_route": False}
                for s in ("s1", "s2")
            ],
        )  # fmt: skip
        conn.execute(insert(t.play_log), [_play("p1", "s1", 0), _play("p2", "s2", 1)])
        conn.execute(insert(t.speaker_status), [_status("s1", -120), _status("s2", None)])
        # The old key: one "p1" in the whole log.
        with pytest.raises(IntegrityError), conn.begin_nested():
            conn.execute(insert(t.play_log), [_play("p1", "s2", 2)])
    before, _ = _rows(engine)

    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
    assert migrate.schema_differences(engine) == []
    assert _rows(engine) == (before, {"s1": -120, "s2": None})
    unset_clock = -1_780_000_000_000  # a client whose clock reads 1970
    with engine.begin() as conn:
        conn.execute(insert(t.play_log), [_play("p1", "s2", 2)])  # s2's own "p1"
        conn.execute(
            t.speaker_status.update()
            .where(t.speaker_status.c.speaker_id == "s2")
            .values(clock_offset_ms=unset_clock)
        )
        # The same speaker's id twice: still refused.
        with pytest.raises(IntegrityError), conn.begin_nested():
            conn.execute(insert(t.play_log), [_play("p1", "s2", 3)])
    plays, offsets = _rows(engine)
    assert [(s, i) for s, i, _ in plays] == [("s1", "p1"), ("s2", "p1"), ("s2", "p2")]
    assert offsets == {"s1": -120, "s2": unset_clock}

    _downgrade(engine, "0003")
    plays, offsets = _rows(engine)
    # s1's "p1" was received first: the old key keeps it, as the old server would have.
    assert plays == before and offsets == {"s1": -120, "s2": None}
    migrate.upgrade(engine)
    assert _rows(engine) == (before, {"s1": -120, "s2": None})
    assert migrate.schema_differences(engine) == []
