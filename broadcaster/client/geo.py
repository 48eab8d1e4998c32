"""Where the vehicle is, and what that means for what it plays (issue 13). Pure: positions,
shapes and times in, decisions out; the standard library only (the vehicle computer installs
no geometry library: the server validates the shapes with shapely before they reach it).

Shapes are small (a village, a hospital's street) next to the earth, so a polygon of
`(lat, lon)` vertices is treated as planar in degrees, longitude scaled by cos(latitude) for
distances. A point on an edge counts as inside (a vehicle on the boundary road is in both
villages).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, tzinfo

EARTH_RADIUS_M = 6_371_000.0

Point = tuple[float, float]  # (lat, lon) in degrees


def distance_m(a: Point, b: Point) -> float:
    """Great-circle distance in metres (haversine)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def inside(point: Point, polygon: Sequence[Point]) -> bool:
    """Whether `point` lies in `polygon` (vertices in order, closed or not) or on its edge."""
    if len(polygon) < 3:
        return False
    y, x = point
    vertices = list(polygon)
    if vertices[0] == vertices[-1]:
        vertices = vertices[:-1]
    result = False
    j = len(vertices) - 1
    for i, (yi, xi) in enumerate(vertices):
        yj, xj = vertices[j]
        if _on_segment(point, (yi, xi), (yj, xj)):
            return True
        if (yi > y) != (yj > y):
            crossing = xi + (y - yi) * (xj - xi) / (yj - yi)
            if x < crossing:
                result = not result
        j = i
    return result


def _on_segment(p: Point, a: Point, b: Point, tolerance: float = 1e-12) -> bool:
    (py, px), (ay, ax), (by, bx) = p, a, b
    cross = (bx - ax) * (py - ay) - (by - ay) * (px - ax)
    if abs(cross) > tolerance:
        return False
    return min(ax, bx) - tolerance <= px <= max(ax, bx) + tolerance and (
        min(ay, by) - tolerance <= py <= max(ay, by) + tolerance
    )


@dataclass(frozen=True, slots=True)
class Shape:
    """A polygon with its bounding box (most points are rejected by the box alone)."""

    points: tuple[Point, ...]
    box: tuple[float, float, float, float]  # lat min, lat max, lon min, lon max

    @staticmethod
    def of(points: Sequence[Point]) -> Shape:
        pts = tuple((float(a), float(b)) for a, b in points)
        if not pts:
            return Shape((), (math.inf, -math.inf, math.inf, -math.inf))
        lats, lons = [p[0] for p in pts], [p[1] for p in pts]
        return Shape(pts, (min(lats), max(lats), min(lons), max(lons)))

    def contains(self, point: Point) -> bool:
        lat_lo, lat_hi, lon_lo, lon_hi = self.box
        if not (lat_lo <= point[0] <= lat_hi and lon_lo <= point[1] <= lon_hi):
            return False
        return inside(point, self.points)


Hours = tuple[
    time, time
]  # [start, end) local; end <= start crosses midnight; end == start: all day


def in_hours(local: time, hours: Hours) -> bool:
    start, end = hours
    if start == end:
        return True
    if start < end:
        return start <= local < end
    return local >= start or local < end


@dataclass(frozen=True, slots=True)
class QuietZone:
    """A place where the loudspeaker is muted or turned down during one of its `hours`
    (local time; none: always)."""

    id: str
    polygon: tuple[Point, ...]
    hours: tuple[Hours, ...] = ()
    volume: float = 0.0  # 0: mute; else the gain in (0, 1]
    shape: Shape | None = None  # the polygon with its box (made from `polygon` if absent)

    def __post_init__(self) -> None:
        if self.shape is None:
            object.__setattr__(self, "shape", Shape.of(self.polygon))

    def active(self, local: time) -> bool:
        return not self.hours or any(in_hours(local, h) for h in self.hours)

    def contains(self, point: Point) -> bool:
        assert self.shape is not None
        return self.shape.contains(point)


@dataclass(frozen=True, slots=True)
class Decision:
    """For the clip at hand: play it or skip it, at what gain, and why (the play log's
    reason: "" when nothing applies); `zone`: the quiet zone that set the gain."""

    play: bool
    gain: float
    reason: str
    zone: str | None = None


PLAY = Decision(True, 1.0, "")
MUTED, LOWERED, OUTSIDE = "muted:quiet_zone", "lowered:quiet_zone", "skipped:outside_area"
# Never skipped by area, never muted or lowered: an urgent announcement and a live page must
# be heard wherever the vehicle is (a flood warning in the hospital street too).
ALWAYS_HEARD = frozenset({"urgent", "live"})


def quiet(position: Point | None, local: time, zones: Sequence[QuietZone]) -> Decision:
    """The gain inside the quiet zones active at `local` that contain `position`: the
    quietest wins; no fix or no such zone: full gain."""
    if position is None:
        return PLAY
    best: QuietZone | None = None
    for z in zones:
        if z.active(local) and z.contains(position) and (best is None or z.volume < best.volume):
            best = z
    if best is None:
        return PLAY
    gain = min(1.0, max(0.0, best.volume))
    if gain >= 1.0:
        return PLAY
    return Decision(True, gain, MUTED if gain == 0.0 else LOWERED, best.id)


def decide(
    position: Point | None,
    local: time,
    zones: Sequence[QuietZone],
    message_areas: Sequence[Sequence[Point] | Shape] = (),
) -> Decision:
    """What a vehicle at `position` does with a clip at local time `local`.

    No position (no fix): as without GPS, play. A message bound to areas plays only inside one
    of them (`skipped:outside_area`). Inside an active quiet zone the clip plays muted or
    lowered (`muted:quiet_zone` / `lowered:quiet_zone`): it keeps its place in the loop, so
    leaving the zone restores the sound without restarting a clip. Of several zones the
    quietest wins.
    """
    if position is None:
        return PLAY
    shapes = [a if isinstance(a, Shape) else Shape.of(a) for a in message_areas]
    if shapes and not any(s.contains(position) for s in shapes):
        return Decision(False, 0.0, OUTSIDE)
    return quiet(position, local, zones)


@dataclass(frozen=True, slots=True)
class Places:
    """What a plan says about places (docs/device-api.md, the plan's `quiet_zones`,
    `message_areas` and `areas`), ready to decide with: empty for a fixed loudspeaker."""

    # datetime.UTC, not ZoneInfo("UTC"): a device without tzdata (or with PYTHONTZPATH set
    # elsewhere) must still import the client and play.
    zone: tzinfo = UTC
    zones: tuple[QuietZone, ...] = ()
    message_areas: Mapping[str, tuple[Shape, ...]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.zones and not self.message_areas

    def local(self, now: datetime) -> time:
        return now.astimezone(self.zone).time()

    def decide(
        self, position: Point | None, now: datetime, message: str | None, kind: str
    ) -> Decision:
        """Whether and how loud a clip of `message` (`kind`) starting at `now` plays."""
        if kind in ALWAYS_HEARD:
            return PLAY
        areas = self.message_areas.get(message, ()) if message else ()
        return decide(position, self.local(now), self.zones, areas)

    def gain(self, position: Point | None, now: datetime, kind: str) -> Decision:
        """The gain of a clip already playing (the area was judged when it started: a
        message begun inside its village is not cut off at the village's edge)."""
        if kind in ALWAYS_HEARD:
            return PLAY
        return quiet(position, self.local(now), self.zones)


NO_PLACES = Places()
