"""broadcaster/coverage.py against cases worked out by hand (issue 13, items 4 and 5).

The village 甲村 is the square 36.000–36.010 N × 111.500–111.510 E. Vehicle v1 drives due
east along 36.005 N from 111.490 E at 08:00 to 111.520 E at 08:30, at a steady 0.01° of
longitude per 10 minutes (points at 08:00, 08:05, 08:15, 08:25, 08:30; steps of at most
`MAX_GAP`, 10 minutes, are straight-line motion): it enters at 111.500 at 08:10:00
and leaves at 111.510 at 08:20:00. Its next point is at 09:00 (a 30-minute gap: unknown,
nothing counted in it), parked inside at 111.505 until 09:05. Vehicle v3 cuts the
north-west corner from (36.014, 111.498) at 10:00 to (36.004, 111.508) at 10:10: the latitude
drops below 36.010 at 4/10 of the way (10:04:00), the longitude passes 111.500 at 2/10 (already
inside in longitude), so it is inside from 10:04:00 to its last point at 10:10:00.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from broadcaster.config import ConfigError, Settings, load_settings
from broadcaster.coverage import (
    Village,
    coverage,
    inside_spans,
    overlap_seconds,
    passed_stops,
    seconds,
    thinned,
    track_from_rows,
    track_of,
)
from broadcaster.models import PlayKind, PlayLogEntry
from broadcaster.store.tracks import TrackPoint
from tests.broadcaster.test_config import MINIMAL

DAY = datetime(2026, 12, 1, tzinfo=UTC)  # times below are UTC; the day does not matter
VILLAGE = ((36.000, 111.500), (36.000, 111.510), (36.010, 111.510), (36.010, 111.500))
ELSEWHERE = ((37.0, 112.0), (37.0, 112.01), (37.01, 112.01))


def at(hhmmss: str) -> datetime:
    h, m, s = (int(x) for x in hhmmss.split(":"))
    return DAY + timedelta(hours=h, minutes=m, seconds=s)


def pt(speaker: str, when: str, lat: float, lon: float) -> TrackPoint:
    return TrackPoint(speaker, when, lat, lon, at(when))


_V1_POINTS = [
    pt("v1", "08:00:00", 36.005, 111.490),
    pt("v1", "08:05:00", 36.005, 111.495),
    pt("v1", "08:15:00", 36.005, 111.505),
    pt("v1", "08:25:00", 36.005, 111.515),
    pt("v1", "08:30:00", 36.005, 111.520),
    pt("v1", "09:00:00", 36.005, 111.505),  # after a 30-minute gap
    pt("v1", "09:05:00", 36.005, 111.505),  # parked
]
V1 = track_of(_V1_POINTS)
V3 = track_of([pt("v3", "10:00:00", 36.014, 111.498), pt("v3", "10:10:00", 36.004, 111.508)])


def play(
    speaker: str, message: str | None, start: str, end: str, reason: str = "", kind: str = "loop"
) -> PlayLogEntry:
    return PlayLogEntry(f"{speaker}-{start}", speaker, "clip", message, PlayKind(kind),
                        None, at(start), at(end), not reason, reason)  # fmt: skip


def test_inside_spans_by_hand() -> None:
    spans = inside_spans(VILLAGE, V1)
    expected = [("08:10:00", "08:20:00"), ("09:00:00", "09:05:00")]
    assert len(spans) == 2
    for (low, high), (e_low, e_high) in zip(spans, expected, strict=True):
        assert low == pytest.approx(seconds(at(e_low)), abs=0.01)
        assert high == pytest.approx(seconds(at(e_high)), abs=0.01)
    (corner,) = inside_spans(VILLAGE, V3)
    assert corner == pytest.approx((seconds(at("10:04:00")), seconds(at("10:10:00"))), abs=0.01)
    assert inside_spans(ELSEWHERE, V1) == []
    # with a gap allowed of 40 minutes the 08:30 -> 09:00 step is motion back into the
    # village (111.520 -> 111.505): inside from 111.510, 2/3 of the way, at 08:50:00
    longer = inside_spans(VILLAGE, V1, max_gap=timedelta(minutes=40))
    assert longer[1][0] == pytest.approx(seconds(at("08:50:00")), abs=0.01)


def test_overlap_seconds() -> None:
    spans = [(10.0, 20.0), (30.0, 40.0)]
    assert overlap_seconds(0, 100, spans) == 20
    assert overlap_seconds(15, 35, spans) == 10
    assert overlap_seconds(20, 30, spans) == 0
    assert overlap_seconds(35, 34, spans) == 0


def test_coverage_by_hand() -> None:
    plays = [
        play("v1", "masks", "08:05:00", "08:12:00"),  # inside 08:10-08:12: 120 s
        play("v1", "masks", "08:14:00", "08:16:00"),  # 120 s
        play("v1", "fire", "08:18:00", "08:25:00"),  # inside 08:18-08:20: 120 s
        play("v1", "fire", "08:40:00", "08:50:00"),  # in the gap: unknown, 0
        play("v1", "masks", "09:01:00", "09:03:00", "muted:quiet_zone"),  # not heard
        play("v1", "fire", "09:02:00", "09:04:00", "lowered:quiet_zone"),  # heard: 120 s
        play("v1", "fire", "09:02:00", "09:04:00", "skipped:outside_area"),  # not heard
        play("v1", None, "09:00:00", "09:01:00", kind="selftest"),  # not an announcement
        play("v3", "fire", "10:00:00", "10:10:00"),  # inside 10:04-10:10: 360 s
        play("v3", "fire", "10:10:00", "10:15:00"),  # after its last point: 0
        play("v3", None, "10:05:00", "10:06:00", kind="urgent"),  # a typed urgent: 60 s
        play("f1", "masks", "07:00:00", "07:03:00"),  # the village's loudspeaker: 180 s
        play("f2", "masks", "07:00:00", "07:30:00"),  # another village's loudspeaker
        play("v2", "masks", "08:00:00", "09:00:00"),  # a vehicle without a track
    ]
    villages = [
        Village("jia", VILLAGE, frozenset({"f1"})),
        Village("far", ELSEWHERE, frozenset({"f3"})),
    ]
    jia, far = coverage(villages, plays, {"v1": V1, "v3": V3}, min_minutes=10)
    loop, urgent = PlayKind.LOOP, PlayKind.URGENT
    assert jia.area_id == "jia"
    assert dict(jia.by_vehicle) == pytest.approx(
        {("masks", loop): 240.0, ("fire", loop): 600.0, (None, urgent): 60.0}, abs=0.05
    )
    assert dict(jia.by_fixed) == {("masks", loop): 180.0}
    assert jia.total_seconds == pytest.approx(1080.0, abs=0.1)  # 18 minutes
    assert not jia.flagged
    assert [m[0] for m in jia.messages()] == [("fire", loop), ("masks", loop), (None, urgent)]
    assert (far.total_seconds, far.flagged) == (0.0, True)
    # the same day with a minimum of 20 minutes flags 甲村 too
    (strict,) = coverage(villages[:1], plays, {"v1": V1, "v3": V3}, min_minutes=20)
    assert strict.flagged


def test_route_progress_by_hand() -> None:
    """v1 drives east along 36.005 N (0.01° of longitude in 10 minutes). At 36° the degree of
    longitude is 111,195 m × cos 36.005° = 89,954 m. S2 is 0.0005° north of the road (55.6 m):
    within 60 m for the 2 × 22.6 m of road around 111.505 E, entered 22.6 m (0.000251°,
    15.0 s) before 08:15:00. S4 is on the road at 111.515 E: within 60 m from 0.000667° west
    of it, 40.0 s before 08:25:00. S3 is 0.002° (222 m) north: never."""
    s1, s2 = (36.005, 111.4905), (36.0055, 111.505)
    s3, s4 = (36.007, 111.510), (36.005, 111.515)
    passed = passed_stops([s1, s2, s3, s4, None], V1)
    assert passed[0] == at("08:00:00")  # the first point is within 56 m of S1
    assert passed[1] is not None and abs((passed[1] - at("08:14:45")).total_seconds()) < 0.5
    assert passed[2] is None  # skipped: the later stops still count
    assert passed[3] is not None and abs((passed[3] - at("08:24:20")).total_seconds()) < 0.5
    assert passed[4] is None  # no coordinates
    # in route order: after S4 (08:24:20), S2 counts only when the vehicle is back near it,
    # parked 55.6 m from it at 09:00; S3 never, so S4 after it still counts
    assert passed_stops([s4, s2], V1)[1] == at("09:00:00")
    before_gap = track_of(p for p in _V1_POINTS if p.at < at("09:00:00"))
    assert passed_stops([s4, s2], before_gap) == [passed[3], None]
    # the heartbeat's fix alone passes a stop next to it
    fix = track_of([pt("v1", "11:00:00", 36.0003, 111.5)])
    assert passed_stops([(36.0, 111.5)], fix) == [at("11:00:00")]
    assert passed_stops([s2], track_of([])) == [None]


def test_thinned_keeps_the_ends_and_the_bound() -> None:
    many = track_of(
        TrackPoint("v", str(i), 36 + i * 1e-4, 111.5, DAY + timedelta(seconds=5 * i))
        for i in range(10_000)
    )
    drawn = thinned(many, 300)
    assert len(drawn) <= 300 and drawn.t[0] == many.t[0] and drawn.t[-1] == many.t[-1]
    assert thinned(V1, 300) is V1


def test_the_minimum_comes_from_the_config(tmp_path: Path, settings: Settings) -> None:
    assert settings.coverage_min_minutes == 10  # config.yaml's `coverage: {min_minutes: 10}`
    path = tmp_path / "config.yaml"
    path.write_text(MINIMAL + "coverage: {min_minutes: 25}\n")
    assert load_settings(path).coverage_min_minutes == 25
    path.write_text(MINIMAL)
    assert load_settings(path).coverage_min_minutes == 10
    for bad, words in (("{min_minutes: -1}", "coverage.min_minutes"), ("{minimum: 5}", "minimum")):
        path.write_text(MINIMAL + f"coverage: {bad}\n")
        with pytest.raises(ConfigError, match=words):
            load_settings(path)


def test_rows_make_the_same_track_as_points() -> None:
    rows = [(p.at, p.lat, p.lon) for p in _V1_POINTS]
    same = track_from_rows([*rows, rows[-1]])  # a repeated time counts once
    assert [a.tolist() for a in same] == [a.tolist() for a in V1]
    assert len(track_from_rows([])) == 0
