"""Migration 0010 on SQLite and PostgreSQL: the `track_points` table (issue 13). Up, the
store keeps a vehicle's points idempotently by (speaker, id), reads a span in time order and
prunes before a time; down, the table is gone and the play log is as it was; up again, it is
empty."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, insert, inspect, select

from broadcaster.store import Store, migrate
from broadcaster.store import schema as t
from broadcaster.store.tracks import TrackPoint
from tests.broadcaster.store.conftest import NOW


def _point(point_id: str, at_s: int, lat: float = 36.08, speaker: str = "v-1") -> TrackPoint:
    return TrackPoint(speaker, point_id, lat, 111.52, NOW + timedelta(seconds=at_s), 8.5, 90.0)


def test_track_points_up_and_down(unmigrated: Engine) -> None:
    engine = unmigrated
    migrate.upgrade(engine, "0009")
    play = {
        "id": "p1", "speaker_id": "v-1", "clip": "c", "message_id": None, "kind": "loop",
        "planned_start": None, "started_at": NOW, "ended_at": NOW + timedelta(seconds=30),
        "completed": True, "reason": "", "received_at": NOW,
    }  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(t.play_log).values(play))
    assert "track_points" not in inspect(engine).get_table_names()

    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
    assert migrate.schema_differences(engine) == []
    indexes = {i["name"]: i["column_names"] for i in inspect(engine).get_indexes("track_points")}
    assert indexes["ix_track_points_speaker_at"] == ["speaker_id", "at"]
    store = Store(engine)
    first = store.tracks.add("v-1", [_point("1", 10), _point("2", 20), _point("1", 99)], NOW)
    assert (first.accepted, first.duplicates) == (("1", "2"), ())
    again = store.tracks.add("v-1", [_point("2", 20, lat=0.0), _point("3", 5)], NOW)
    assert (again.accepted, again.duplicates) == (("3",), ("2",))
    # another vehicle's "1" is its own
    assert store.tracks.add("v-2", [_point("1", 15, speaker="v-2")], NOW).accepted == ("1",)

    points = store.tracks.between("v-1", NOW, NOW + timedelta(seconds=60))
    assert [p.id for p in points] == ["3", "1", "2"]  # by time, not by id or arrival
    assert points[2] == _point("2", 20)  # the first stored, not the resend's latitude
    assert points[0].at.tzinfo is not None and points[0].at == NOW + timedelta(seconds=5)
    assert [p.id for p in store.tracks.between("v-1", NOW + timedelta(seconds=10),
                                               NOW + timedelta(seconds=20))] == ["1"]  # fmt: skip
    both = store.tracks.of_speakers(["v-1", "v-2", "v-9"], NOW, NOW + timedelta(minutes=1))
    assert {k: [p.id for p in v] for k, v in both.items()} == {"v-1": ["3", "1", "2"], "v-2": ["1"]}
    assert store.tracks.prune(NOW + timedelta(seconds=15)) == 2  # "3" at 5 s, "1" at 10 s
    assert store.tracks.count() == 2 and store.tracks.count("v-1") == 1

    migrate.downgrade(engine, "0009")
    assert migrate.current_revision(engine) == "0009"
    assert "track_points" not in inspect(engine).get_table_names()
    with engine.connect() as conn:
        assert conn.execute(select(t.play_log.c.id)).scalars().all() == ["p1"]

    migrate.upgrade(engine)
    assert migrate.schema_differences(engine) == []
    assert Store(engine).tracks.count() == 0
