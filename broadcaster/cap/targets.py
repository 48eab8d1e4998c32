"""Which of our loudspeakers an info block's areas cover (issue 15, docs/cap.md "Targets").

Two ways, both taken, their union the targets:

- geocodes through the configured table (`cap.geocodes`): `"<valueName>:<value>"` first,
  then the bare `"<value>"`, each naming our area ids (a whole area: every loudspeaker in it
  and below it);
- polygons and circles by geometry (shapely): a loudspeaker with a location (a fixed one's
  `location`, issue 13) is a target when the location lies in (or on) the alert's shape; one without
  a location (a vehicle, or a fixed one never placed) is a target when the outline of its
  own area (`Area.polygon`, issue 13) meets the alert's shape; one with neither is reached
  by geocode only. A vehicle's latest GPS fix is not used: it moves, its area is where it
  serves.

Geometry is done in a local plane in kilometres around the alert shape's first point
(equirectangular: at county scale the error is far below a loudspeaker's reach), so a
circle's radius in km is a plain buffer.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shapely.geometry import Point as ShapelyPoint
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from broadcaster.cap.document import Area, Info
from broadcaster.models import Area as OurArea

KM_PER_DEGREE = 111.32
Point = tuple[float, float]  # (lat, lon)


@dataclass(frozen=True, slots=True)
class Targets:
    area_ids: tuple[str, ...] = ()
    speaker_ids: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.area_ids or self.speaker_ids)


class _Plane:
    """Degrees to kilometres around one origin."""

    def __init__(self, origin: Point) -> None:
        self.lat0, self.lon0 = origin
        self.kx = KM_PER_DEGREE * math.cos(math.radians(self.lat0))

    def xy(self, point: Point) -> tuple[float, float]:
        lat, lon = point
        return (lon - self.lon0) * self.kx, (lat - self.lat0) * KM_PER_DEGREE

    def polygon(self, ring: Sequence[Point]) -> Polygon:
        return Polygon([self.xy(p) for p in ring])


def from_geocodes(areas: Iterable[Area], table: Mapping[str, Sequence[str]],
                  known: Iterable[str]) -> tuple[str, ...]:  # fmt: skip
    """Our area ids the geocodes name (ids the table names but we do not have are dropped)."""
    have = set(known)
    found: dict[str, None] = {}
    for area in areas:
        for name, value in area.geocodes:
            for key in (f"{name}:{value}", value):
                if key in table:
                    found.update((a, None) for a in table[key] if a in have)
                    break
    return tuple(found)


def _origin(areas: Sequence[Area]) -> Point | None:
    for area in areas:
        if area.polygons:
            return area.polygons[0][0]
        if area.circles:
            return (area.circles[0].lat, area.circles[0].lon)
    return None


def alert_shape(areas: Sequence[Area], plane: _Plane) -> BaseGeometry | None:
    """The union of every polygon and circle of the info's areas, in the plane."""
    parts: list[BaseGeometry] = []
    for area in areas:
        for ring in area.polygons:
            shape = plane.polygon(ring)
            parts.append(shape if shape.is_valid else shape.buffer(0))
        for circle in area.circles:
            centre = ShapelyPoint(plane.xy((circle.lat, circle.lon)))
            parts.append(centre.buffer(max(circle.radius_km, 0.001), quad_segs=32))
    return unary_union(parts) if parts else None


def _area_polygon(area_id: str, areas: Mapping[str, OurArea]) -> Sequence[Point] | None:
    """The outline of the loudspeaker's own area (not of one above it: a district's outline
    would make every alert in the district reach every unplaced loudspeaker in it)."""
    area = areas.get(area_id)
    return area.polygon if area is not None and area.polygon else None


def from_geometry(areas: Sequence[Area], deployment: Any) -> tuple[str, ...]:
    """Loudspeakers the polygons and circles cover (see the module's rules)."""
    origin = _origin(areas)
    if origin is None:
        return ()
    plane = _Plane(origin)
    shape = alert_shape(areas, plane)
    if shape is None or shape.is_empty:
        return ()
    ours = {a.id: a for a in deployment.areas}
    found = []
    for speaker in deployment.speakers:
        location = speaker.location
        if location is not None:
            if shape.intersects(ShapelyPoint(plane.xy(location))):
                found.append(speaker.id)
            continue
        ring = _area_polygon(speaker.area_id, ours)
        if ring is not None and len(ring) >= 3:
            area_shape = plane.polygon(ring)
            if not area_shape.is_valid:
                area_shape = area_shape.buffer(0)
            if shape.intersects(area_shape):
                found.append(speaker.id)
    return tuple(sorted(found))


def targets_of(info: Info, geocodes: Mapping[str, Sequence[str]], deployment: Any) -> Targets:
    """The areas (by geocode) and loudspeakers (by geometry) an info block covers."""
    return Targets(
        area_ids=from_geocodes(info.areas, geocodes, (a.id for a in deployment.areas)),
        speaker_ids=from_geometry(info.areas, deployment),
    )
