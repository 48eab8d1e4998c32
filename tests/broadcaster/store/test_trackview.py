"""broadcaster/trackview.py on both databases: today's tracks kept in memory, read
incrementally, reloaded for a late batch, and started afresh at local midnight (Shanghai)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from broadcaster.store import Store
from broadcaster.store.tracks import TrackPoint
from broadcaster.trackview import TodayTracks

ZONE = ZoneInfo("Asia/Shanghai")
MIDNIGHT = datetime(2026, 12, 2, 0, 0, tzinfo=ZONE).astimezone(UTC)  # 16:00 UTC the day before


def _point(pid: str, minutes: float, lat: float = 36.0) -> TrackPoint:
    return TrackPoint("v-1", pid, lat, 111.5, MIDNIGHT + timedelta(minutes=minutes))


def test_today_is_read_once_then_only_what_is_new(store: Store) -> None:
    today = TodayTracks(store, ZONE)
    store.tracks.add("v-1", [_point("y1", -3), _point("y2", -1)], MIDNIGHT)  # 23:57, 23:59
    before = MIDNIGHT - timedelta(seconds=30)  # 23:59:30: still yesterday, locally
    assert len(today.get(["v-1", "v-2"], before)["v-1"]) == 2
    after = MIDNIGHT + timedelta(minutes=10)  # 00:10: a new day, nothing yet
    assert today.get(["v-1"], after) == {}
    store.tracks.add("v-1", [_point("a", 1), _point("b", 2)], after)
    first = today.get(["v-1"], after)["v-1"]
    assert len(first) == 2
    assert today.get(["v-1"], after)["v-1"] is first  # nothing new: the same arrays
    store.tracks.add("v-1", [_point("c", 3)], after)
    assert today.get(["v-1"], after)["v-1"].t.tolist() == [
        (MIDNIGHT + timedelta(minutes=m) - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()
        for m in (1, 2, 3)
    ]
    store.tracks.add("v-1", [_point("late", 1.5, lat=36.5)], after)  # older, arriving late
    late = today.get(["v-1"], after)["v-1"]
    assert late.lat.tolist() == [36.0, 36.5, 36.0, 36.0]
    store.tracks.prune(MIDNIGHT + timedelta(minutes=2.5))  # fewer points: read again
    assert today.get(["v-1"], after)["v-1"].lat.tolist() == [36.0]
