"""Vehicle position decisions (issue 13), pure: inside/outside, quiet zones, area-bound
messages; properties over random shapes and points."""

from __future__ import annotations

import math
from datetime import time

from hypothesis import given
from hypothesis import strategies as st

from broadcaster.client.geo import QuietZone, decide, distance_m, inside

# A village square near 36.2N 111.7E, about 1.1 km on a side, and a hospital street in it.
VILLAGE = ((36.20, 111.70), (36.20, 111.71), (36.21, 111.71), (36.21, 111.70))
HOSPITAL = ((36.203, 111.703), (36.203, 111.705), (36.205, 111.705), (36.205, 111.703))
CENTRE = (36.205, 111.705)


def test_inside_outside_and_on_the_edge():
    assert inside(CENTRE, VILLAGE)
    assert not inside((36.22, 111.705), VILLAGE)
    assert inside((36.20, 111.705), VILLAGE)  # on the boundary road
    assert inside(CENTRE, (*VILLAGE, VILLAGE[0]))  # closed ring given
    assert not inside(CENTRE, VILLAGE[:2])


def test_a_concave_village():
    # An L shape: the notch is outside.
    shape = ((0, 0), (0, 2), (1, 2), (1, 1), (2, 1), (2, 0))
    assert inside((0.5, 1.5), shape) and inside((1.5, 0.5), shape)
    assert not inside((1.5, 1.5), shape)


def test_distance():
    assert abs(distance_m((36.20, 111.70), (36.21, 111.70)) - 1112) < 2
    assert distance_m(CENTRE, CENTRE) == 0.0


def test_quiet_zone_hours_cross_midnight():
    night = QuietZone("hospital", HOSPITAL, ((time(22, 0), time(6, 0)),))
    assert night.active(time(23, 0)) and night.active(time(5, 59))
    assert not night.active(time(6, 0)) and not night.active(time(12, 0))


def test_decisions():
    hospital = QuietZone("hospital", HOSPITAL, volume=0.0)
    school = QuietZone("school", VILLAGE, ((time(8, 0), time(11, 0)),), volume=0.3)
    noon, nine = time(12, 0), time(9, 0)
    assert decide(None, noon, [hospital]).play  # no fix: as without GPS
    assert decide((36.204, 111.704), noon, [hospital]).reason == "muted:quiet_zone"
    assert decide((36.204, 111.704), noon, [hospital]).gain == 0.0
    lowered = decide((36.201, 111.701), nine, [hospital, school])
    assert (lowered.play, lowered.gain, lowered.reason) == (True, 0.3, "lowered:quiet_zone")
    assert decide((36.201, 111.701), noon, [hospital, school]).reason == ""
    # Both at once: the quietest wins.
    assert decide((36.204, 111.704), nine, [hospital, school]).gain == 0.0
    outside = decide((36.30, 111.80), noon, [], [VILLAGE])
    assert (outside.play, outside.reason) == (False, "skipped:outside_area")
    assert decide(CENTRE, noon, [], [VILLAGE]).play


coordinate = st.floats(-1.0, 1.0, allow_nan=False)


@given(
    st.floats(36.0, 37.0), st.floats(111.0, 112.0), st.floats(0.001, 0.05), st.integers(3, 12),
    coordinate, coordinate,
)  # fmt: skip
def test_points_in_a_regular_polygon_by_their_distance_to_its_centre(
    lat, lon, radius, sides, dy, dx
):
    """A regular polygon contains its inscribed circle and lies in its circumscribed one."""
    polygon = [
        (lat + radius * math.sin(2 * math.pi * k / sides), lon + radius * math.cos(2 * math.pi * k / sides))
        for k in range(sides)
    ]  # fmt: skip
    point = (lat + radius * dy, lon + radius * dx)
    r = math.hypot(dy, dx)
    if r < math.cos(math.pi / sides) - 1e-9:
        assert inside(point, polygon)
        assert inside(point, polygon[::-1])  # either orientation
    elif r > 1 + 1e-9:
        assert not inside(point, polygon)
