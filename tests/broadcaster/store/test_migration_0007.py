"""Migration 0007 on SQLite and PostgreSQL: the `live_pages` table (issue 12, "Kept"). Up, the
store keeps a page from its start to its clip (and closes pages a killed server left open);
down, the table is gone and nothing else changed; up again, it is empty and usable."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, insert, inspect, select

from broadcaster.store import Store, migrate
from broadcaster.store import schema as t
from broadcaster.store.livepages import LiveRecord
from tests.broadcaster.store.conftest import NOW


def _page(page_id: str, at_s: int, speakers: tuple[str, ...]) -> LiveRecord:
    return LiveRecord(
        id=page_id,
        created_by="chief-tunli",
        by_name="屯里村王主任",
        started_at=NOW + timedelta(seconds=at_s),
        speaker_ids=speakers,
        area_ids=("tunli-village",),
        override_window=True,
        targets={s: {"name": f"喇叭{s}", "outcome": None} for s in speakers},
        recording=f"live/{page_id}.wav",
    )


def test_live_pages_up_and_down(unmigrated: Engine) -> None:
    engine = unmigrated
    migrate.upgrade(engine, "0006")
    with engine.begin() as conn:
        conn.execute(insert(t.meta).values(key="panel.lexicon", value="{}"))
    assert "live_pages" not in inspect(engine).get_table_names()

    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
    assert migrate.schema_differences(engine) == []
    store = Store(engine)
    store.live.start(_page("live-a", 0, ("tl-1", "tl-2")))
    store.live.start(_page("live-b", 10, ("tl-3",)))
    store.live.finish(
        "live-a", NOW + timedelta(seconds=5), "released",
        {"tl-1": {"name": "喇叭tl-1", "outcome": "heard", "frames": 250},
         "tl-2": {"name": "喇叭tl-2", "outcome": "dropped", "frames": 40}},
    )  # fmt: skip
    store.live.set_clip("live-a", "k" * 64, 5000)
    kept = store.live.get("live-a")
    assert (kept.ended_reason, kept.clip_key, kept.duration_ms) == ("released", "k" * 64, 5000)
    assert kept.ended_at == NOW + timedelta(seconds=5)
    assert kept.targets["tl-2"] == {"name": "喇叭tl-2", "outcome": "dropped", "frames": 40}
    assert (kept.speaker_ids, kept.area_ids, kept.override_window) == (
        ("tl-1", "tl-2"), ("tunli-village",), True)  # fmt: skip
    assert [r.id for r in store.live.list()] == ["live-b", "live-a"]  # newest first
    assert [r.id for r in store.live.list(speaker_ids={"tl-2"})] == ["live-a"]
    assert [r.id for r in store.live.list(since=NOW + timedelta(seconds=1))] == ["live-b"]

    # What the loudspeakers' own play logs say of a page (the clients' `live` entries).
    with engine.begin() as conn:
        conn.execute(
            insert(t.play_log),
            [{"id": f"p{n}", "speaker_id": sid, "clip": clip, "message_id": None, "kind": kind,
              "planned_start": None, "started_at": NOW, "ended_at": NOW, "completed": done,
              "reason": reason, "received_at": NOW}
             for n, (sid, clip, kind, done, reason) in enumerate((
                 ("tl-1", "live-a", "live", True, ""),
                 ("tl-2", "live-a", "live", False, "cut:stream-lost"),
                 ("tl-1", "live-a", "loop", True, ""),  # a clip named so, not a page
             ))],
        )  # fmt: skip
    assert store.live.played(["live-a", "live-b"]) == {
        ("live-a", "tl-1"): (True, ""), ("live-a", "tl-2"): (False, "cut:stream-lost")}  # fmt: skip
    assert store.live.played([]) == {}

    # A server killed mid-page left live-b open: the next start closes it.
    closed = store.live.close_unfinished(NOW + timedelta(minutes=1), "server restart")
    assert [r.id for r in closed] == ["live-b"]
    after = store.live.get("live-b")
    assert after.ended_reason == "server restart"
    assert after.targets["tl-3"]["outcome"] == "server restart"
    assert store.live.close_unfinished(NOW + timedelta(minutes=2), "server restart") == ()
    assert store.live.get("live-a").ended_reason == "released"  # a finished page is untouched

    migrate.downgrade(engine, "0006")
    assert migrate.current_revision(engine) == "0006"
    assert "live_pages" not in inspect(engine).get_table_names()
    with engine.connect() as conn:
        assert conn.execute(select(t.meta.c.value)).scalars().all() == ["{}"]

    migrate.upgrade(engine)
    assert migrate.schema_differences(engine) == []
    assert Store(engine).live.list() == ()
