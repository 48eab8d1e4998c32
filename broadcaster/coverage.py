"""Where the vehicles were, against what they played (issue 13, items 4 and 5): pure functions
of tracks, route stops, village outlines and the play log, with no clock and no database.

**Motion between two track points.** A vehicle is taken to move in a straight line at a steady
pace from one point to the next (linear in latitude and longitude, which at a village's scale
is a straight line on the ground) when the two points are at most `MAX_GAP` apart in time.
A longer gap (no fix, the receiver off, the client down) is *unknown*: nothing is counted in
it, and neither before a day's first point nor after its last (a report must not claim
minutes nobody can show). The client journals a point every few seconds or metres, also
while parked, so a parked vehicle's gap is short and counts.

**Route progress** (`passed_stops`). A stop is passed when the vehicle came within
`PASS_RADIUS_M` (60 m: a GPS fix is good to ~10 m, and a village road passes a stop's
marker within a few tens of metres; 60 m does not reach the next stop of a route) of it,
along the track (also between points, by the straight-line motion above) or at its latest
heartbeat position. Stops count in route order: stop k is passed at the first moment, not
before stop k-1's passing (or the previous passed stop's), that the vehicle is within the
radius. A stop the vehicle never came near stays open, and the later stops still count (a
skipped stop is shown as skipped, not as blocking the rest). A stop without coordinates is
never passed.

**Coverage** (`coverage`). Per village (an area with an outline): the seconds of each message
played by a vehicle while it was inside the outline (the part of the play's
`[started_at, ended_at]` during which its track was inside; two vehicles at once count
twice: two loudspeakers were heard), plus the whole plays of the village's fixed
loudspeakers. Not counted: plays the client logged as not heard (`muted:...`,
`skipped:...`: a quiet zone muted it, the message was bound to another area) and self-tests;
`lowered:...` was heard, more quietly, and counts. A village below the minimum is flagged.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple, Protocol

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import LineString, Point, Polygon

from broadcaster.geometry import Ring
from broadcaster.models import PlayKind, PlayLogEntry

PASS_RADIUS_M = 60.0
MAX_GAP = timedelta(minutes=10)
EARTH_RADIUS_M = 6_371_000.0
M_PER_DEGREE = math.pi / 180 * EARTH_RADIUS_M
NOT_HEARD = ("muted:", "skipped:")  # play-log reasons of a clip the street did not hear
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Floats = NDArray[np.float64]


class Position(Protocol):
    """A place at a time: a track point or a heartbeat's fix."""

    @property
    def lat(self) -> float: ...
    @property
    def lon(self) -> float: ...
    @property
    def at(self) -> datetime: ...


class Track(NamedTuple):
    """A vehicle's positions in time order, as arrays: seconds since 1970 (UTC), degrees."""

    t: Floats
    lat: Floats
    lon: Floats

    def __len__(self) -> int:  # type: ignore[override]
        return int(self.t.shape[0])


def seconds(moment: datetime) -> float:
    return (moment - EPOCH).total_seconds()


def moment(secs: float) -> datetime:
    return EPOCH + timedelta(seconds=secs)


def track_of(positions: Iterable[Position]) -> Track:
    """Positions as a `Track`, sorted by time (a repeated time keeps its first place)."""
    rows = sorted(((seconds(p.at), p.lat, p.lon) for p in positions), key=lambda r: r[0])
    kept: list[tuple[float, float, float]] = []
    for row in rows:
        if not kept or row[0] != kept[-1][0]:
            kept.append(row)
    found = np.array(kept, dtype=np.float64).reshape(-1, 3)
    return Track(found[:, 0].copy(), found[:, 1].copy(), found[:, 2].copy())


def with_fix(track: Track | None, fix: Position) -> Track:
    """A track with one more position (a heartbeat's fix), in time order; a fix at a time the
    track already has is left out."""
    t, lat, lon = seconds(fix.at), fix.lat, fix.lon
    if track is None or len(track) == 0:
        return Track(np.array([t]), np.array([lat]), np.array([lon]))
    if bool((track.t == t).any()):
        return track
    i = int(np.searchsorted(track.t, t))
    return Track(
        np.insert(track.t, i, t), np.insert(track.lat, i, lat), np.insert(track.lon, i, lon)
    )


def track_from_rows(rows: Sequence[tuple[datetime, float, float]]) -> Track:
    """(at, lat, lon) rows already in time order as a `Track` (a repeated time keeps its
    first place)."""
    if not rows:
        return track_of([])
    t = np.fromiter((seconds(r[0]) for r in rows), dtype=np.float64, count=len(rows))
    lat = np.fromiter((r[1] for r in rows), dtype=np.float64, count=len(rows))
    lon = np.fromiter((r[2] for r in rows), dtype=np.float64, count=len(rows))
    keep = np.concatenate(([True], np.diff(t) != 0))
    if not keep.all():
        t, lat, lon = t[keep], lat[keep], lon[keep]
    return Track(t, lat, lon)


def _segments(track: Track, max_gap: timedelta) -> NDArray[np.bool_]:
    """Which of the n-1 steps between consecutive points are motion (at most `max_gap`)."""
    return np.diff(track.t) <= max_gap.total_seconds()


# -- route progress ----------------------------------------------------------------------------


def passed_stops(
    stops: Sequence[tuple[float, float] | None],
    track: Track,
    *,
    radius_m: float = PASS_RADIUS_M,
    max_gap: timedelta = MAX_GAP,
) -> list[datetime | None]:
    """When each stop was passed (None: not yet), in route order (see the module's words)."""
    found: list[datetime | None] = []
    after = -math.inf
    n = len(track)
    moving = _segments(track, max_gap) if n > 1 else np.zeros(0, dtype=bool)
    for stop in stops:
        if stop is None or n == 0:
            found.append(None)
            continue
        first = _first_within(stop, track, moving, radius_m, after)
        if first is None:
            found.append(None)
            continue
        after = first
        found.append(moment(first))
    return found


def _first_within(
    stop: tuple[float, float],
    track: Track,
    moving: NDArray[np.bool_],
    radius_m: float,
    after: float,
) -> float | None:
    """The first time, not before `after`, at which the track is within `radius_m` of `stop`."""
    lat0, lon0 = stop
    scale_x = math.cos(math.radians(lat0)) * M_PER_DEGREE
    x = (track.lon - lon0) * scale_x
    y = (track.lat - lat0) * M_PER_DEGREE
    r2 = radius_m * radius_m
    # single points (also those at the ends of a gap)
    near = (x * x + y * y <= r2) & (track.t >= after)
    best = float(track.t[near].min()) if near.any() else math.inf
    if len(track) > 1:
        # along each step of motion: the part of the segment inside the circle, solved exactly
        px, py = x[:-1], y[:-1]
        vx, vy = np.diff(x), np.diff(y)
        a = vx * vx + vy * vy
        b = 2 * (px * vx + py * vy)
        c = px * px + py * py - r2
        disc = b * b - 4 * a * c
        ok = moving & (a > 0) & (disc >= 0)
        root = np.sqrt(np.where(ok, disc, 0.0))
        safe = np.where(ok, 2 * a, 1.0)
        u_in = np.clip((-b - root) / safe, 0.0, 1.0)
        u_out = np.clip((-b + root) / safe, 0.0, 1.0)
        ok &= ((-b + root) / safe >= 0) & ((-b - root) / safe <= 1)
        t0, dt = track.t[:-1], np.diff(track.t)
        t_in, t_out = t0 + u_in * dt, t0 + u_out * dt
        ok &= t_out >= after
        if ok.any():
            best = min(best, float(np.maximum(t_in[ok], after).min()))
    return None if math.isinf(best) else best


# -- inside a village --------------------------------------------------------------------------


def inside_spans(
    ring: Ring, track: Track, *, max_gap: timedelta = MAX_GAP
) -> list[tuple[float, float]]:
    """The times (seconds since 1970, merged, in order) the track was inside the outline
    (its boundary counts as inside): along each step of motion, exactly where the straight
    line crosses the outline."""
    n = len(track)
    if n < 2:
        return []
    polygon = Polygon([(lon, lat) for lat, lon in ring])
    south, west, north, east = (
        min(p[0] for p in ring),
        min(p[1] for p in ring),
        max(p[0] for p in ring),
        max(p[1] for p in ring),
    )
    moving = _segments(track, max_gap) & (np.diff(track.t) > 0)
    lat0, lat1, lon0, lon1 = track.lat[:-1], track.lat[1:], track.lon[:-1], track.lon[1:]
    # only steps whose box meets the outline's box can be inside at all (most are not)
    meets = (
        moving
        & (np.maximum(lat0, lat1) >= south)
        & (np.minimum(lat0, lat1) <= north)
        & (np.maximum(lon0, lon1) >= west)
        & (np.minimum(lon0, lon1) <= east)
    )
    steps = np.nonzero(meets)[0]
    if steps.size == 0:
        return []
    shapely.prepare(polygon)
    boundary = polygon.boundary
    shapely.prepare(boundary)
    starts_in = shapely.intersects_xy(polygon, lon0[steps], lat0[steps])
    coords = np.stack(
        [
            np.column_stack([lon0[steps], lat0[steps]]),
            np.column_stack([lon1[steps], lat1[steps]]),
        ],
        axis=1,
    )
    lines = shapely.linestrings(coords)
    crossing = shapely.intersects(lines, boundary)
    begins, ends = track.t[steps], track.t[steps + 1]
    whole = ~crossing & starts_in  # a step that meets no edge is all inside or all outside
    spans = list(zip(begins[whole].tolist(), ends[whole].tolist(), strict=True))
    for k in np.nonzero(crossing)[0].tolist():
        spans.extend(_pieces_inside(lines[k], polygon, float(begins[k]), float(ends[k])))
    return _merged(spans)


def _pieces_inside(
    line: LineString, polygon: Polygon, t0: float, t1: float
) -> list[tuple[float, float]]:
    """The times along one straight step (from t0 to t1) at which it is inside `polygon`."""
    if line.length == 0:
        return [(t0, t1)]  # parked on the outline: inside
    inside = line.intersection(polygon)
    parts = getattr(inside, "geoms", [inside])
    found = []
    for part in parts:
        if not isinstance(part, LineString) or part.length == 0:
            continue  # touching at a point is no time inside
        ends = [line.project(Point(c), normalized=True) for c in (part.coords[0], part.coords[-1])]
        low, high = min(ends), max(ends)
        found.append((t0 + low * (t1 - t0), t0 + high * (t1 - t0)))
    return found


def _merged(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    spans.sort()
    out: list[tuple[float, float]] = []
    for start, end in spans:
        if out and start <= out[-1][1] + 1e-6:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def overlap_seconds(start: float, end: float, spans: Sequence[tuple[float, float]]) -> float:
    """How much of `[start, end]` lies within the merged, ordered `spans`."""
    if end <= start or not spans:
        return 0.0
    total = 0.0
    i = max(0, bisect.bisect_right(spans, (start, math.inf)) - 1)
    while i < len(spans) and spans[i][0] < end:
        low, high = max(start, spans[i][0]), min(end, spans[i][1])
        if high > low:
            total += high - low
        i += 1
    return total


# -- the coverage report -----------------------------------------------------------------------

MessageKey = tuple[str | None, PlayKind]  # (message id, kind): typed urgents have no id


@dataclass(frozen=True, slots=True)
class Village:
    """An area with an outline, and the fixed loudspeakers that stand in it (by area)."""

    area_id: str
    polygon: Ring
    fixed_speaker_ids: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class VillageCoverage:
    """Seconds heard in one village on one day, per message: from vehicles inside it and
    from its fixed loudspeakers; `flagged` when the total is below the minimum."""

    area_id: str
    by_vehicle: Mapping[MessageKey, float]
    by_fixed: Mapping[MessageKey, float]
    min_seconds: float

    @property
    def vehicle_seconds(self) -> float:
        return sum(self.by_vehicle.values())

    @property
    def fixed_seconds(self) -> float:
        return sum(self.by_fixed.values())

    @property
    def total_seconds(self) -> float:
        return self.vehicle_seconds + self.fixed_seconds

    @property
    def flagged(self) -> bool:
        return self.total_seconds < self.min_seconds

    def messages(self) -> list[tuple[MessageKey, float, float]]:
        """(message, vehicle seconds, fixed seconds), most heard first."""
        keys = set(self.by_vehicle) | set(self.by_fixed)
        rows = [(k, self.by_vehicle.get(k, 0.0), self.by_fixed.get(k, 0.0)) for k in keys]
        return sorted(rows, key=lambda r: (-(r[1] + r[2]), str(r[0][0]), r[0][1].value))


def heard(play: PlayLogEntry) -> bool:
    """Whether a play was heard in the street: not a self-test, not muted or skipped."""
    return play.kind is not PlayKind.SELFTEST and not play.reason.startswith(NOT_HEARD)


class _Played(NamedTuple):
    """One loudspeaker's heard plays, by start: the plays, their starts and ends in seconds,
    and the longest (to find the first play that can reach a span)."""

    plays: list[PlayLogEntry]
    starts: list[float]
    ends: list[float]
    longest: float


def _by_speaker(plays: Iterable[PlayLogEntry]) -> dict[str, _Played]:
    found: dict[str, list[PlayLogEntry]] = {}
    for play in plays:
        if heard(play) and play.ended_at > play.started_at:
            found.setdefault(play.speaker_id, []).append(play)
    out = {}
    for speaker, played in found.items():
        played.sort(key=lambda p: p.started_at)
        starts = [seconds(p.started_at) for p in played]
        ends = [seconds(p.ended_at) for p in played]
        longest = max(e - s for s, e in zip(starts, ends, strict=True))
        out[speaker] = _Played(played, starts, ends, longest)
    return out


def _inside_per_play(
    played: _Played, spans: Sequence[tuple[float, float]]
) -> Iterator[tuple[PlayLogEntry, float]]:
    """(play, seconds of it within `spans`) for the plays that overlap them: one pass over
    the plays from the first that can reach the first span, the spans' index only moving on."""
    first = bisect.bisect_left(played.starts, spans[0][0] - played.longest)
    j = 0
    for i in range(first, len(played.plays)):
        start, end = played.starts[i], played.ends[i]
        while j < len(spans) and spans[j][1] <= start:
            j += 1
        if j == len(spans):
            return
        inside = 0.0
        k = j
        while k < len(spans) and spans[k][0] < end:
            inside += max(0.0, min(end, spans[k][1]) - max(start, spans[k][0]))
            k += 1
        if inside > 0:
            yield played.plays[i], inside


def coverage(
    villages: Sequence[Village],
    plays: Iterable[PlayLogEntry],
    tracks: Mapping[str, Track],
    *,
    min_minutes: float,
    max_gap: timedelta = MAX_GAP,
    between: Callable[[], None] | None = None,
) -> list[VillageCoverage]:
    """Per village, in the order given: what was heard there (see the module's words).
    `tracks` holds the vehicles' tracks by speaker id; a play of a loudspeaker that is
    neither one of the village's fixed ones nor a vehicle with a track counts nothing.
    `between` is called after each village (a server lets other requests run)."""
    by_speaker = _by_speaker(plays)
    boxes = {
        speaker: (track.lat.min(), track.lon.min(), track.lat.max(), track.lon.max())
        for speaker, track in tracks.items()
        if len(track) >= 2
    }
    out = []
    for village in villages:
        moving: dict[MessageKey, float] = {}
        fixed: dict[MessageKey, float] = {}
        south, west = min(p[0] for p in village.polygon), min(p[1] for p in village.polygon)
        north, east = max(p[0] for p in village.polygon), max(p[1] for p in village.polygon)
        for speaker_id, played in by_speaker.items():
            if speaker_id in village.fixed_speaker_ids:
                for p, s, e in zip(played.plays, played.starts, played.ends, strict=True):
                    key = (p.message_id, p.kind)
                    fixed[key] = fixed.get(key, 0.0) + (e - s)
                continue
            box = boxes.get(speaker_id)
            if box is None or box[2] < south or box[0] > north or box[3] < west or box[1] > east:
                continue  # no track, or it never came near the village
            spans = inside_spans(village.polygon, tracks[speaker_id], max_gap=max_gap)
            if not spans:
                continue
            for p, inside in _inside_per_play(played, spans):
                key = (p.message_id, p.kind)
                moving[key] = moving.get(key, 0.0) + inside
        out.append(VillageCoverage(village.area_id, moving, fixed, min_minutes * 60))
        if between is not None:
            between()
    return out


def thinned(track: Track, most: int) -> Track:
    """At most `most` points of a track for drawing: evenly by index, the last one kept."""
    n = len(track)
    if n <= most or most < 2:
        return track
    index = np.unique(np.linspace(0, n - 1, most).round().astype(np.int64))
    return Track(track.t[index], track.lat[index], track.lon[index])
