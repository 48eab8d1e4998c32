"""Migration 0011 on SQLite and PostgreSQL with data: the `play_days` table starts empty (the
plays already stored are kept plays until the job retires them, their totals unchanged), the
audit and live-outcome indexes exist; down, the table and the indexes are gone and the plays
still kept are untouched; up again, it is empty."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, insert, inspect, select

from broadcaster.store import Store, migrate
from broadcaster.store import schema as t
from broadcaster.store.retention import seconds_span
from tests.broadcaster.store.conftest import NOW

SHANGHAI = ZoneInfo("Asia/Shanghai")
INDEXES = {("audit_log", "ix_audit_log_action_seq"), ("play_log", "ix_play_log_live_clip")}


def _play(n: int, days_ago: int, kind: str = "loop") -> dict[str, object]:
    started = NOW - timedelta(days=days_ago, minutes=n)
    return {
        "id": f"p-{n}", "speaker_id": "tl-1" if n % 2 else "xy-1", "clip": f"page-{n}",
        "message_id": None if kind == "live" else "fire", "kind": kind,
        "planned_start": None, "started_at": started, "ended_at": started + timedelta(seconds=8),
        "completed": n % 3 != 0, "reason": "", "received_at": started + timedelta(minutes=1),
    }  # fmt: skip


def _indexes(engine: Engine) -> set[tuple[str, str]]:
    found = inspect(engine)
    return {
        (table, index["name"] or "")
        for table in ("audit_log", "play_log", "play_days")
        if table in found.get_table_names()
        for index in found.get_indexes(table)
    }


def test_play_days_and_indexes_up_and_down(unmigrated: Engine) -> None:
    engine = unmigrated
    migrate.upgrade(engine, "0010")
    rows = [_play(n, 30 if n < 6 else 1, "live" if n == 7 else "loop") for n in range(10)]
    with engine.begin() as conn:
        conn.execute(insert(t.play_log), rows)
        conn.execute(
            insert(t.audit_log),
            [{"at": NOW, "actor": "admin", "action": "user.create", "object": "x", "detail": {}}],
        )
    assert "play_days" not in inspect(engine).get_table_names()
    assert not INDEXES & _indexes(engine)

    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == "0011"
    assert migrate.schema_differences(engine) == []
    assert _indexes(engine) >= INDEXES
    store = Store(engine)
    assert store.retention.retired_days() == 0
    span = seconds_span(SHANGHAI)
    start, end = NOW - timedelta(days=60), NOW + timedelta(days=1)
    before = store.devices.play_totals(start, end, by="speaker", seconds_within=span)
    assert store.live.played(["page-7"]) == {("page-7", "tl-1"): (True, "")}
    assert [e.action for e in store.journal.list_audit(action="user.create")] == ["user.create"]

    # The six old plays retire; the totals (kept + retired) are what they were.
    assert store.retention.retire_plays(NOW - timedelta(days=10), NOW, SHANGHAI) == 6
    first, last = (NOW - timedelta(days=60)).date(), (NOW + timedelta(days=1)).date()
    retired = store.retention.play_day_totals(first, last, by="speaker")
    kept = store.devices.play_totals(start, end, by="speaker", seconds_within=span)
    for speaker, total in before.items():
        both = [kept.get(speaker), retired.get(speaker)]
        assert sum(x.plays for x in both if x) == total.plays
        assert sum(x.completed for x in both if x) == total.completed
        assert abs(sum(x.seconds for x in both if x) - total.seconds) < 1e-6

    migrate.downgrade(engine, "0010")
    assert migrate.current_revision(engine) == "0010"
    assert "play_days" not in inspect(engine).get_table_names()
    assert not INDEXES & _indexes(engine)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.play_log)).scalar() == 4
        assert conn.execute(select(func.count()).select_from(t.audit_log)).scalar() == 1

    migrate.upgrade(engine)
    assert migrate.schema_differences(engine) == []
    assert Store(engine).retention.retired_days() == 0
