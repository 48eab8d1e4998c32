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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import time

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
class QuietZone:
    """A place where the loudspeaker is muted or turned down during `hours` (local time,
    `[start, end)`, crossing midnight when end <= start; None: always)."""

    id: str
    polygon: tuple[Point, ...]
    hours: tuple[time, time] | None = None
    volume: float = 0.0  # 0: mute; else the gain in (0, 1)

    def active(self, local: time) -> bool:
        if self.hours is None:
            return True
        start, end = self.hours
        if start < end:
            return start <= local < end
        return local >= start or local < end


@dataclass(frozen=True, slots=True)
class Decision:
    """For the clip at hand: play it or skip it, at what gain, and why (the play log's
    reason: "" when nothing applies)."""

    play: bool
    gain: float
    reason: str


PLAY = Decision(True, 1.0, "")


def decide(
    position: Point | None,
    local: time,
    zones: Sequence[QuietZone],
    message_areas: Sequence[Sequence[Point]] = (),
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
    if message_areas and not any(inside(position, area) for area in message_areas):
        return Decision(False, 0.0, "skipped:outside_area")
    gains = [z.volume for z in zones if z.active(local) and inside(position, z.polygon)]
    if not gains:
        return PLAY
    gain = min(gains)
    return Decision(True, gain, "muted:quiet_zone" if gain == 0.0 else "lowered:quiet_zone")
