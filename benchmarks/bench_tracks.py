"""Vehicles' tracks on the server (issue 13): 23 vehicles, one point every 10 s (8,640 a
vehicle and day) on a real SQLite store in a temporary folder, then:

- upload: from yesterday's local midnight to now, in batches of 1,000 points (the client's
  largest) through `store.tracks.add`: time per batch, the database's growth per vehicle-day;
- the map: today's tracks of 23 vehicles cold (the process's first poll) and warm (nothing
  new; one new point per vehicle), and the size of `/map/live?tracks=1`'s tracks (thinned to
  300 points) as JSON;
- route progress of 23 vehicles with 7 stops each over the full day;
- the coverage report of yesterday over 64 villages (a grid of 1.5 km squares) with 1,000
  plays per vehicle (45 s every 75 s, 06:00 to 22:50): reading the tracks and the plays,
  and the computation.

    .venv/bin/python -m benchmarks.bench_tracks [--vehicles 23] [--every-s 10]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from broadcaster import coverage
from broadcaster.models import PlayKind, PlayLogEntry
from broadcaster.store import Store, sqlite_url
from broadcaster.store.devices import day_bounds
from broadcaster.store.tracks import TrackPoint
from broadcaster.trackview import TodayTracks
from web.panel.map_views import MAX_DRAWN

ZONE = ZoneInfo("Asia/Shanghai")
ORIGIN = (36.0, 111.4)  # the district's south-west corner
CELL = 0.0135  # degrees of latitude: ~1.5 km
GRID = 8


def _drive(vehicle: int, start: datetime, every_s: int, count: int) -> list[TrackPoint]:
    """A vehicle wandering the district at ~8 m/s, turning now and then, parked one ten
    minutes in fifty."""
    rng = random.Random(vehicle)
    lat = ORIGIN[0] + rng.uniform(0.1, 0.9) * CELL * GRID
    lon = ORIGIN[1] + rng.uniform(0.1, 0.9) * CELL * GRID
    heading = rng.uniform(0, 2 * math.pi)
    points = []
    for i in range(count):
        moving = (i // 60) % 5 != 4  # parked one ten-minute stretch in five
        if moving:
            heading += rng.gauss(0, 0.3)
            step = 8.0 * every_s / 111_195
            lat += step * math.cos(heading)
            lon += step * math.sin(heading) / math.cos(math.radians(lat))
            if not ORIGIN[0] < lat < ORIGIN[0] + CELL * GRID:
                heading = math.pi - heading
            if not ORIGIN[1] < lon < ORIGIN[1] + CELL * GRID / math.cos(math.radians(lat)):
                heading = -heading
        at = start + timedelta(seconds=every_s * i)
        points.append(TrackPoint(f"v{vehicle:02d}", str(i), lat, lon, at, 8.0, 0.0))
    return points


def _villages() -> list[coverage.Village]:
    found = []
    for row in range(GRID):
        for col in range(GRID):
            s, w = ORIGIN[0] + row * CELL, ORIGIN[1] + col * CELL * 1.24
            n, e = s + CELL * 0.9, w + CELL * 1.24 * 0.9
            found.append(coverage.Village(f"a{row}{col}", ((s, w), (s, e), (n, e), (n, w))))
    return found


def _plays(vehicle: str, start: datetime, first: int, count: int) -> list[PlayLogEntry]:
    """A 45-second clip every 75 s from `start` (ids from `first`)."""
    plays = []
    for i in range(first, first + count):
        begin = start + timedelta(seconds=75 * (i - first))
        reason = "muted:quiet_zone" if i % 17 == 0 else ""
        plays.append(PlayLogEntry(f"p{i}", vehicle, "c" * 64, f"m{i % 5}", PlayKind.LOOP,
                                  None, begin, begin + timedelta(seconds=45), True, reason))  # fmt: skip
    return plays


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--vehicles", type=int, default=23)
    parser.add_argument("--every-s", type=int, default=10)
    args = parser.parse_args(argv)
    per_day = 86_400 // args.every_s
    now = datetime.now(UTC)
    day = now.astimezone(ZONE).date()
    start = day_bounds(day, ZONE)[0]
    figures: dict[str, Any] = {"load_average": os.getloadavg(), "vehicles": args.vehicles}
    with tempfile.TemporaryDirectory(prefix="broadcaster-bench-tracks-") as tmp:
        store = Store.open(sqlite_url(Path(tmp)))
        database = Path(tmp) / "broadcaster.db"
        size_before = sum(p.stat().st_size for p in Path(tmp).glob("broadcaster.db*"))
        batch_s: list[float] = []
        ids = [f"v{v:02d}" for v in range(args.vehicles)]
        # from yesterday's local midnight to now: yesterday whole (the coverage report) and
        # today so far (the map)
        y_start = start - timedelta(days=1)
        count = int((now - y_start).total_seconds()) // args.every_s
        for v in range(args.vehicles):
            points = _drive(v, y_start, args.every_s, count)
            for i in range(0, len(points), 1000):
                began = time.perf_counter()
                store.tracks.add(ids[v], points[i : i + 1000], now)
                batch_s.append(time.perf_counter() - began)
        size_after = sum(p.stat().st_size for p in Path(tmp).glob("broadcaster.db*"))
        batch_s.sort()
        figures["upload"] = {
            "points": store.tracks.count(),
            "batch_of_1000_ms_p50": _ms(batch_s[len(batch_s) // 2]),
            "batch_of_1000_ms_max": _ms(batch_s[-1]),
            "database_bytes_per_vehicle_day": int(
                (size_after - size_before) / args.vehicles / (count / per_day)
            ),
            "database_file": database.name,
        }

        # the map: the last 24 hours of points end now; today's part is since local midnight
        today = TodayTracks(store, ZONE)
        began = time.perf_counter()
        tracks = today.get(ids, now)
        cold = time.perf_counter() - began
        began = time.perf_counter()
        today.get(ids, now)
        warm = time.perf_counter() - began
        for vehicle in ids:
            last = tracks[vehicle]
            store.tracks.add(vehicle, [TrackPoint(vehicle, "new", float(last.lat[-1]),
                                                  float(last.lon[-1]), now)], now)  # fmt: skip
        began = time.perf_counter()
        tracks = today.get(ids, now)
        one_new = time.perf_counter() - began
        drawn = {
            k: [[round(float(a), 5), round(float(b), 5)] for a, b in zip(t.lat, t.lon, strict=True)]
            for k, t in ((k, coverage.thinned(t, MAX_DRAWN)) for k, t in tracks.items())
        }
        figures["map"] = {
            "todays_points": sum(len(t) for t in tracks.values()),
            "cold_ms": _ms(cold),
            "warm_nothing_new_ms": _ms(warm),
            "warm_one_new_point_each_ms": _ms(one_new),
            "tracks_json_bytes": len(json.dumps(drawn, separators=(",", ":"))),
        }

        rng = random.Random(7)
        stops = {
            vehicle: [
                (float(t.lat[j]) + rng.uniform(-3e-4, 3e-4), float(t.lon[j]))
                for j in sorted(rng.sample(range(len(t)), min(7, len(t))))
            ]
            for vehicle, t in tracks.items()
        }
        began = time.perf_counter()
        passed = {v: coverage.passed_stops(stops[v], tracks[v]) for v in tracks}
        figures["route_progress"] = {
            "ms_for_all_vehicles": _ms(time.perf_counter() - began),
            "stops_passed": sum(1 for p in passed.values() for t in p if t),
            "stops": sum(len(p) for p in passed.values()),
        }

        # the coverage report of yesterday (a full day of points), plays 06:00-22:00 local
        y_end = start
        window = y_start + timedelta(hours=6)
        for vehicle in ids:
            store.devices.add_plays(_plays(vehicle, window, 0, 500), now)
            store.devices.add_plays(_plays(vehicle, window + timedelta(seconds=37500), 500, 500), now)  # fmt: skip
        began = time.perf_counter()
        day_points = store.tracks.positions_of(
            ids, y_start - coverage.MAX_GAP, y_end + coverage.MAX_GAP
        )
        day_tracks = {k: coverage.track_from_rows(v) for k, v in day_points.items()}
        read_tracks = time.perf_counter() - began
        began = time.perf_counter()
        plays = list(store.devices.iter_plays(y_start, y_end, speaker_ids=ids))
        read_plays = time.perf_counter() - began
        began = time.perf_counter()
        found = coverage.coverage(_villages(), plays, day_tracks, min_minutes=10)
        compute = time.perf_counter() - began
        figures["coverage_day"] = {
            "track_points": sum(len(t) for t in day_tracks.values()),
            "plays": len(plays),
            "villages": len(found),
            "read_tracks_ms": _ms(read_tracks),
            "read_plays_ms": _ms(read_plays),
            "compute_ms": _ms(compute),
            "villages_flagged": sum(1 for v in found if v.flagged),
            "minutes_heard": round(sum(v.total_seconds for v in found) / 60, 1),
        }
        store.close()
    figures["load_average_after"] = os.getloadavg()
    print(json.dumps(figures, ensure_ascii=False, indent=2), flush=True)
    return figures


if __name__ == "__main__":
    main()
