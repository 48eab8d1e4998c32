"""Migration 0009 on SQLite and PostgreSQL: the `cap_alerts` table (issue 15). Up, the store
keeps received alerts, refuses a repeated (sender, identifier, part) and moves a held row
only once; down, the table is gone and nothing else changed; up again, it is empty."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, insert, inspect, select

from broadcaster.errors import Conflict
from broadcaster.store import Store, migrate
from broadcaster.store import cap as rows
from broadcaster.store import schema as t
from broadcaster.store.cap import CapRecord
from tests.broadcaster.store.conftest import NOW


def _row(row_id: str, identifier: str, part: int = 0, at_s: int = 0) -> CapRecord:
    return CapRecord(
        id=row_id, source="key:linfen-met", sender="met@example.cn", identifier=identifier,
        sent=NOW, part=part, msg_type="Alert", received_at=NOW + timedelta(seconds=at_s),
        state=rows.HELD, action="hold", language="zh-CN", event="暴雨", severity="Severe",
        urgency="Expected", certainty="Likely", headline="暴雨橙色预警", text="暴雨橙色预警。",
        area_ids=("tunli-village",), speaker_ids=("tl-1",),
        expires_at=NOW + timedelta(hours=3), override_window=False,
        refs=(("met@example.cn", "earlier"),), document="<alert/>",
    )  # fmt: skip


def test_cap_alerts_up_and_down(unmigrated: Engine) -> None:
    engine = unmigrated
    migrate.upgrade(engine, "0008")
    with engine.begin() as conn:
        conn.execute(insert(t.meta).values(key="panel.lexicon", value="{}"))
    assert "cap_alerts" not in inspect(engine).get_table_names()

    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
    assert migrate.schema_differences(engine) == []
    store = Store(engine)
    store.cap.add(_row("cap-a", "A-1"))
    store.cap.add(_row("cap-b", "A-1", part=1, at_s=1))
    with pytest.raises(Conflict):
        store.cap.add(_row("cap-c", "A-1", part=1))  # the same alert's part again
    with store.transaction():  # a refused duplicate does not spoil the caller's transaction
        with pytest.raises(Conflict):
            store.cap.add(_row("cap-d", "A-1"))
        store.cap.add(_row("cap-e", "B-1"))
    assert store.cap.known("met@example.cn", "A-1")
    assert not store.cap.known("met@example.cn", "Z-9")
    assert [r.id for r in store.cap.for_alert("met@example.cn", "A-1")] == ["cap-a", "cap-b"]
    kept = store.cap.get("cap-a")
    assert kept.refs == (("met@example.cn", "earlier"),) and kept.speaker_ids == ("tl-1",)
    assert kept.expires_at == NOW + timedelta(hours=3)

    done = store.cap.decide("cap-a", rows.APPROVED, by="user:admin", at=NOW, urgent_id="u-1",
                            only_from=[rows.HELD])  # fmt: skip
    assert (done.state, done.urgent_id, done.decided_by) == (rows.APPROVED, "u-1", "user:admin")
    with pytest.raises(Conflict):  # someone decided first
        store.cap.decide("cap-a", rows.REJECTED, by="user:x", at=NOW, only_from=[rows.HELD])
    assert store.cap.for_urgent("u-1") == done
    assert [r.id for r in store.cap.list(states=[rows.HELD])] == ["cap-b", "cap-e"]

    migrate.downgrade(engine, "0008")
    assert migrate.current_revision(engine) == "0008"
    assert "cap_alerts" not in inspect(engine).get_table_names()
    with engine.connect() as conn:
        assert conn.execute(select(t.meta.c.value)).scalars().all() == ["{}"]

    migrate.upgrade(engine)
    assert migrate.schema_differences(engine) == []
    assert Store(engine).cap.list() == ()
