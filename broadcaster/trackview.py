"""Today's tracks of the vehicles, kept in memory and read incrementally (issue 13).

The map (every few seconds) and the dashboard's route progress (every 30 s) both need every
vehicle's track of the local day: a day is ~8,640 points a vehicle (one every 10 s), and
reading 23 of those from the database on every poll would stall the server. So each
process keeps the day's points of each vehicle it was asked about, and on each call asks
the database only (one GROUP BY) how many points each vehicle has today and when the
newest is; it then reads just the points newer than those it holds. A batch that arrives
late with older points (a vehicle back from a dead zone) changes the count without a newer
point: that vehicle's day is read again whole. The day changes at local midnight.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from broadcaster.coverage import Track, track_from_rows
from broadcaster.store import Store
from broadcaster.store.devices import day_bounds

TICK = timedelta(microseconds=1)


@dataclass
class _Day:
    start: datetime
    points: list[tuple[datetime, float, float]] = field(default_factory=list)  # at, lat, lon
    track: Track | None = None


class TodayTracks:
    """`get(speaker_ids, now)`: each vehicle's track of the local day of `now`."""

    def __init__(self, store: Store, zone: ZoneInfo) -> None:
        self._store = store
        self._zone = zone
        self._days: dict[str, _Day] = {}
        self._guard = threading.Lock()

    def get(self, speaker_ids: Iterable[str], now: datetime) -> dict[str, Track]:
        """Speaker id -> today's track (vehicles without a point today are left out)."""
        wanted = sorted(set(speaker_ids))
        start, end = day_bounds(now.astimezone(self._zone).date(), self._zone)
        counts = self._store.tracks.summary(wanted, start, end)
        found: dict[str, Track] = {}
        with self._guard:
            for speaker_id in wanted:
                if speaker_id not in counts:
                    self._days.pop(speaker_id, None)
                    continue
                count, newest = counts[speaker_id]
                day = self._days.get(speaker_id)
                if day is None or day.start != start:
                    day = self._days[speaker_id] = _Day(start)
                if len(day.points) != count:
                    self._catch_up(speaker_id, day, count, newest, end)
                if day.track is None:
                    day.track = track_from_rows(day.points)
                found[speaker_id] = day.track
        return found

    def _catch_up(
        self, speaker_id: str, day: _Day, count: int, newest: datetime, end: datetime
    ) -> None:
        held = day.points[-1][0] if day.points else None
        if held is not None and newest > held:
            more = self._store.tracks.positions(speaker_id, held + TICK, end)
            if len(day.points) + len(more) == count:
                day.points.extend(more)
                day.track = None
                return
        day.points = self._store.tracks.positions(speaker_id, day.start, end)
        day.track = None
        time.sleep(0)  # gevent: a whole day read (~15 ms a vehicle); let others run between
