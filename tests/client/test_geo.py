"""Vehicle position decisions (issue 13), pure: inside/outside, quiet zones, area-bound
messages; properties over random shapes and points."""

from __future__ import annotations

import math
from datetime import UTC, datetime, time, timedelta

from hypothesis import given
from hypothesis import strategies as st

from broadcaster import schema
from broadcaster.client.geo import (
    ALWAYS_HEARD,
    PLAY,
    Places,
    QuietZone,
    Shape,
    decide,
    distance_m,
    in_hours,
    inside,
    quiet,
)
from broadcaster.client.plan import parse_places

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


# -- the decision function, by its properties (issue 13, item 3) -----------------------------

times = st.times()
hours = st.tuples(times, times)
point = st.tuples(st.floats(36.19, 36.22), st.floats(111.69, 111.72))
volume = st.sampled_from([0.0, 0.1, 0.3, 0.5, 0.99, 1.0])
kinds = st.sampled_from(["loop", "selftest", "urgent", "live"])


@st.composite
def zones(draw):  # type: ignore[no-untyped-def]
    """Up to four rectangles around the village with random hours and volumes."""
    out = []
    for n in range(draw(st.integers(0, 4))):
        lat, lon = draw(st.floats(36.19, 36.22)), draw(st.floats(111.69, 111.72))
        dlat, dlon = draw(st.floats(0.0005, 0.02)), draw(st.floats(0.0005, 0.02))
        ring = ((lat, lon), (lat, lon + dlon), (lat + dlat, lon + dlon), (lat + dlat, lon))
        out.append(QuietZone(f"z{n}", ring, tuple(draw(st.lists(hours, max_size=3))), draw(volume)))
    return out


@given(times, zones(), st.booleans(), kinds)
def test_no_fix_plays_as_without_gps(local, zs, bound, kind):
    assert decide(None, local, zs, [VILLAGE] if bound else []) == PLAY
    places = Places(zones=tuple(zs), message_areas={"m": (Shape.of(VILLAGE),)})
    now = datetime(2026, 12, 1, tzinfo=UTC).replace(hour=local.hour, minute=local.minute)
    assert places.decide(None, now, "m", kind) == PLAY == places.gain(None, now, kind)


@given(point, times, zones(), st.booleans())
def test_the_gain_is_between_0_and_1_and_the_quietest_active_zone_wins(position, local, zs, bound):
    d = decide(position, local, zs, [VILLAGE] if bound else [])
    assert 0.0 <= d.gain <= 1.0
    if not d.play:
        assert bound and not inside(position, VILLAGE) and d.reason == "skipped:outside_area"
        return
    here = [z.volume for z in zs if z.active(local) and inside(position, z.polygon)]
    assert d.gain == min([1.0, *here])
    assert d.reason == (
        "" if d.gain == 1.0 else "muted:quiet_zone" if d.gain == 0 else "lowered:quiet_zone"
    )
    if d.zone is not None:
        assert next(z for z in zs if z.id == d.zone).volume == d.gain


@given(point, times)
def test_outside_every_zone_and_inside_the_area_is_full_gain(position, local):
    far = QuietZone("far", ((10.0, 10.0), (10.0, 10.1), (10.1, 10.1)), (), 0.0)
    d = decide(position, local, [far], [VILLAGE])
    if inside(position, VILLAGE):
        assert d == PLAY
    else:
        assert not d.play


@given(point, times, zones(), kinds)
def test_urgents_and_live_pages_are_never_skipped_or_lowered(position, local, zs, kind):
    places = Places(zones=tuple(zs), message_areas={"m": (Shape.of(VILLAGE),)})
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC).replace(
        hour=local.hour, minute=local.minute, second=local.second
    )
    d = places.decide(position, now, "m", kind)
    if kind in ALWAYS_HEARD:
        assert d == PLAY and places.gain(position, now, kind) == PLAY
    else:
        assert d == decide(position, local.replace(microsecond=0), zs, [VILLAGE])


@given(times, times, times)
def test_hours_crossing_midnight_are_the_rest_of_the_day(local, start, end):
    if start == end:
        assert in_hours(local, (start, end))  # the whole day
    else:
        # [start, end) and [end, start) split the day: exactly one holds.
        assert in_hours(local, (start, end)) != in_hours(local, (end, start))
        if start > end:  # crossing midnight
            assert in_hours(local, (start, end)) == (local >= start or local < end)


@given(point, times, zones())
def test_a_zone_is_quiet_during_any_of_its_hours(position, local, zs):
    for z in zs:
        assert z.active(local) == (not z.hours or any(in_hours(local, h) for h in z.hours))
    assert quiet(position, local, []) == PLAY


def test_places_from_a_plan_use_the_plans_zone_and_several_hours():
    wire = schema.Plan.model_validate(
        {
            "zone": "Asia/Shanghai",
            "quiet_zones": [
                {"id": "school", "polygon": HOSPITAL, "action": "mute",
                 "hours": [{"start": "08:00", "end": "12:00"}, {"start": "14:30", "end": "17:00"}]},
                {"id": "ward", "polygon": HOSPITAL, "action": "volume", "volume": 30,
                 "hours": [{"start": "22:00", "end": "06:00"}]},
            ],
            "message_areas": {"water": ["village", "no-outline"], "roads": ["no-outline"]},
            "areas": {"village": VILLAGE},
        }
    )  # fmt: skip
    places = parse_places(wire)

    def at(h: int, m: int) -> datetime:  # Shanghai wall time, as UTC
        return datetime(2026, 12, 1, h, m, tzinfo=UTC) - timedelta(hours=8)

    in_h = (36.204, 111.704)
    assert places.decide(in_h, at(9, 0), None, "loop").reason == "muted:quiet_zone"
    assert places.decide(in_h, at(13, 0), None, "loop") == PLAY
    assert places.decide(in_h, at(15, 0), None, "loop").gain == 0.0
    night = places.decide(in_h, at(23, 30), None, "loop")
    assert (night.gain, night.reason, night.zone) == (0.3, "lowered:quiet_zone", "ward")
    assert places.decide(in_h, at(5, 59), None, "loop").gain == 0.3  # after midnight
    assert not places.decide((36.3, 111.8), at(13, 0), "water", "loop").play
    assert places.decide((36.3, 111.8), at(13, 0), "roads", "loop") == PLAY  # no outline
    assert places.decide(None, at(9, 0), "water", "loop") == PLAY
