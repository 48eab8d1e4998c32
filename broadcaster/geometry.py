"""Shapes checked on the server with shapely (issue 13): areas' and quiet zones' polygons,
fixed loudspeakers' locations.

A polygon is a list of `[lat, lon]` points in degrees (the order people read coordinates
in; shapely's x is the longitude). It is accepted when it is a ring: at least 3 distinct
points, at most `limits.POLYGON_POINTS` of them, every latitude and longitude within
`limits.LAT`/`limits.LON`, closed or closable (the first point repeated at the end, or not:
it is stored without the repeat), with an area, and not crossing itself. Every refusal is a
`ValidationError` whose message starts with the field (`area tunli-village.polygon`) and
says what is wrong in words a chief can act on (which point, which edges).

The vehicle decides with these shapes without any geometry library (broadcaster/client/geo.py,
standard library only): a valid ring is all it assumes.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

from shapely.geometry import LineString, Polygon
from shapely.validation import explain_validity

from broadcaster import limits
from broadcaster.errors import ValidationError

Point = tuple[float, float]  # (lat, lon) in degrees
Ring = tuple[Point, ...]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


# Every refusal, in English with %(name)s values: `ShapeError.problem` and `.values` let the
# panel say it in Chinese (web/panel/catalog_zh.py has each of these).
PROBLEMS = {
    "not_list": "must be a list of [lat, lon] points",
    "not_pair": "point %(point)s must be a pair [lat, lon] of numbers",
    "lat": "point %(point)s: latitude %(value)s must be from %(low)s to %(high)s degrees",
    "lon": "point %(point)s: longitude %(value)s must be from %(low)s to %(high)s degrees",
    "too_many": "has %(count)s points; at most %(high)s are allowed",
    "too_few": "needs at least 3 different points",
    "repeated": "points %(first)s and %(second)s are the same point",
    "flat": "has no area: its points lie on one line",
    "crosses": "crosses itself: edge %(first)s crosses edge %(second)s (points numbered from 1)",
    "not_simple": "is not a simple ring (%(reason)s)",
    # a single place (a fixed loudspeaker's location)
    "place": "must be a latitude and a longitude in degrees",
    "place_lat": "latitude %(value)s must be from %(low)s to %(high)s degrees",
    "place_lon": "longitude %(value)s must be from %(low)s to %(high)s degrees",
}


class ShapeError(ValidationError):
    """A refused shape: the field, the problem's code and its values (see `PROBLEMS`)."""

    def __init__(self, field: str, code: str, **values: object) -> None:
        self.code = code
        self.problem = PROBLEMS[code]
        self.values = values
        super().__init__(f"{field}: {self.problem % values}", field=field)


def coordinate(value: Any, what: str, number: int | None = None) -> Point:
    """One `[lat, lon]` pair (a list or tuple of two numbers) within range; `number` is the
    point's place in its ring, counted from 1, for the message (None: a single place)."""
    prefix = "place" if number is None else ""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence) or len(value) != 2:
        raise ShapeError(what, prefix or "not_pair", point=number)
    lat, lon = _number(value[0]), _number(value[1])
    if lat is None or lon is None:
        raise ShapeError(what, prefix or "not_pair", point=number)
    for code, found, bound in (("lat", lat, limits.LAT), ("lon", lon, limits.LON)):
        if found not in bound:
            code = f"{prefix}_{code}" if prefix else code
            raise ShapeError(
                what, code, point=number, value=f"{found:g}", low=bound.low, high=bound.high
            )
    return (lat, lon)


def location(lat: Any, lon: Any, what: str) -> Point:
    """A single place (a fixed loudspeaker): both numbers within range."""
    return coordinate((lat, lon), what)


def polygon(value: Any, what: str) -> Ring:
    """`value` checked as a ring of `[lat, lon]` points; returned without a closing repeat."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise ShapeError(what, "not_list")
    high = limits.POLYGON_POINTS
    if len(value) > high + 1:  # one more: the closing repeat of the first point
        raise ShapeError(what, "too_many", count=len(value), high=high)
    points = [coordinate(p, f"{what}[{i}]", i + 1) for i, p in enumerate(value)]
    if len(points) > 1 and points[0] == points[-1]:
        points.pop()
    if len(points) > high:
        raise ShapeError(what, "too_many", count=len(points), high=high)
    if len(set(points)) < 3:
        raise ShapeError(what, "too_few")
    for i, (a, b) in enumerate(itertools.pairwise(points)):
        if a == b:
            raise ShapeError(what, "repeated", first=i + 1, second=i + 2)
    shape = Polygon([(lon, lat) for lat, lon in points])
    if shape.convex_hull.area == 0:
        raise ShapeError(what, "flat")
    if not shape.is_valid:
        crossing = _crossing(points)
        if crossing is not None:
            raise ShapeError(what, "crosses", first=crossing[0] + 1, second=crossing[1] + 1)
        raise ShapeError(what, "not_simple", reason=explain_validity(shape))
    return tuple(points)


def _crossing(points: Sequence[Point]) -> tuple[int, int] | None:
    """The first two non-adjacent edges that touch or cross (edge k joins points k and k+1)."""
    n = len(points)
    edges = [
        LineString([(points[k][1], points[k][0]), (points[(k + 1) % n][1], points[(k + 1) % n][0])])
        for k in range(n)
    ]
    for i in range(n):
        for j in range(i + 1, n):
            adjacent = j == i + 1 or (i == 0 and j == n - 1)
            if adjacent:
                overlap = edges[i].intersection(edges[j])
                if overlap.length > 0:  # folding back along the previous edge
                    return (i, j)
            elif edges[i].intersects(edges[j]):
                return (i, j)
    return None


def bounds(rings: Sequence[Sequence[Point]]) -> tuple[float, float, float, float] | None:
    """(south, west, north, east) around every point given, None if there is none."""
    lats = [p[0] for ring in rings for p in ring]
    lons = [p[1] for ring in rings for p in ring]
    if not lats:
        return None
    return (min(lats), min(lons), max(lats), max(lons))
