"""Shapes validated on the server (issue 13, broadcaster/geometry.py): rings of [lat, lon]
points, closed or closable, at least 3 distinct points, in range, not crossing themselves,
at most limits.POLYGON_POINTS points; each refusal names the field and the problem. Also the
models and config.yaml that carry them."""

from __future__ import annotations

import math
import textwrap
from datetime import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broadcaster import geometry, limits
from broadcaster.client import geo
from broadcaster.config import load_settings
from broadcaster.errors import ConfigError, ValidationError
from broadcaster.models import Area, QuietAction, QuietZone, Speaker

SQUARE = [[36.0, 111.0], [36.0, 111.01], [36.01, 111.01], [36.01, 111.0]]


def refusal(value: object) -> str:
    with pytest.raises(ValidationError) as caught:
        geometry.polygon(value, "area a.polygon")
    return str(caught.value)


def test_an_open_ring_and_its_closed_form_are_the_same_polygon() -> None:
    opened = geometry.polygon(SQUARE, "p")
    closed = geometry.polygon([*SQUARE, SQUARE[0]], "p")
    assert opened == closed == tuple(tuple(p) for p in SQUARE)
    assert geometry.polygon(tuple(tuple(p) for p in SQUARE), "p") == opened  # tuples too


def test_a_ring_that_crosses_itself_is_refused_naming_the_edges() -> None:
    bowtie = [[36.0, 111.0], [36.01, 111.01], [36.0, 111.01], [36.01, 111.0]]
    message = refusal(bowtie)
    assert message.startswith("area a.polygon: crosses itself: edge 1 crosses edge 3")


def test_a_ring_that_folds_back_on_itself_is_refused() -> None:
    # The fourth point goes back along the third edge: zero-width spike.
    spike = [[36.0, 111.0], [36.0, 111.02], [36.01, 111.02], [36.01, 111.01], [36.01, 111.03]]
    assert "crosses itself" in refusal(spike)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ([[36.0, 111.0], [36.0, 111.01]], "needs at least 3 different points"),
        ([[36.0, 111.0], [36.0, 111.01], [36.0, 111.0]], "needs at least 3 different points"),
        (
            [[36.0, 111.0], [36.0, 111.01], [36.0, 111.02]],
            "has no area: its points lie on one line",
        ),
        (
            [[36.0, 111.0], [91.0, 111.0], [36.0, 112.0]],
            "[1]: point 2: latitude 91 must be from -90 to 90 degrees",
        ),
        (
            [[36.0, 111.0], [36.0, 181.0], [37.0, 112.0]],
            "[1]: point 2: longitude 181 must be from -180 to 180 degrees",
        ),
        (
            [[36.0, 111.0], [36.0, "111"], [37.0, 112.0]],
            "[1]: point 2 must be a pair [lat, lon] of numbers",
        ),
        (
            [[36.0, 111.0], [36.0], [37.0, 112.0]],
            "[1]: point 2 must be a pair [lat, lon] of numbers",
        ),
        ([[36.0, 111.0], [True, 111.0], [37.0, 112.0]], "[1]: point 2 must be a pair"),
        ([[36.0, 111.0], [math.nan, 111.0], [37.0, 112.0]], "[1]: point 2 must be a pair"),
        ("36,111 36,112 37,112", "must be a list of [lat, lon] points"),
        ({"lat": 36}, "must be a list of [lat, lon] points"),
        (
            [[36.0, 111.0], [36.0, 111.01], [36.0, 111.01], [36.01, 111.0]],
            "points 2 and 3 are the same point",
        ),
    ],
)
def test_refusals_name_the_field_and_the_problem(value: object, problem: str) -> None:
    message = refusal(value)
    assert message.startswith("area a.polygon")
    assert problem in message, message


def test_the_number_of_points_is_bounded_once() -> None:
    n = limits.POLYGON_POINTS

    def circle(count: int) -> list[list[float]]:
        return [
            [
                36 + 0.01 * math.sin(2 * math.pi * k / count),
                111 + 0.01 * math.cos(2 * math.pi * k / count),
            ]
            for k in range(count)
        ]

    assert len(geometry.polygon(circle(n), "p")) == n
    ring = circle(n)
    assert len(geometry.polygon([*ring, ring[0]], "p")) == n  # the closing repeat is free
    assert f"has {n + 1} points; at most {n} are allowed" in refusal(circle(n + 1))
    assert "at most" in refusal(circle(n + 5))


def test_the_bounds_of_latitude_themselves_are_accepted() -> None:
    edge = [[-90.0, -180.0], [-90.0, 180.0], [90.0, 180.0], [90.0, -180.0]]
    assert geometry.polygon(edge, "p")[1] == (-90.0, 180.0)


@given(
    st.lists(
        st.tuples(st.floats(-89, 89), st.floats(-179, 179)), min_size=3, max_size=12, unique=True
    )
)
def test_what_the_server_accepts_the_vehicle_can_decide_on(
    points: list[tuple[float, float]],
) -> None:
    """Any accepted ring is a simple polygon whose vertices the client's pure `inside` sees
    as inside (on the edge) and whose far outside it sees as outside."""
    try:
        ring = geometry.polygon(points, "p")
    except ValidationError as exc:
        assert str(exc).startswith("p")
        return
    assert all(geo.inside(p, ring) for p in ring)
    _south, _west, north, east = geometry.bounds([ring]) or (0, 0, 0, 0)
    assert not geo.inside((north + 0.5, east + 0.5), ring)


def test_models_carry_shapes() -> None:
    area = Area("tl", "屯里村", "village", polygon=[*SQUARE, SQUARE[0]])  # type: ignore[arg-type]
    assert area.polygon == tuple(tuple(p) for p in SQUARE)
    with pytest.raises(ValidationError, match=r"^area tl\.polygon: crosses itself"):
        Area("tl", "屯里村", "village", polygon=[SQUARE[0], SQUARE[2], SQUARE[1], SQUARE[3]])  # type: ignore[arg-type]
    fixed = Speaker("s", "喇叭", "fixed", "tl", location=[36.0, 111.0])  # type: ignore[arg-type]
    assert fixed.location == (36.0, 111.0)
    with pytest.raises(ValidationError, match=r"^speaker v\.location: only fixed loudspeakers"):
        Speaker("v", "车", "vehicle", "tl", location=(36.0, 111.0))  # type: ignore[arg-type]
    with pytest.raises(
        ValidationError, match=r"^speaker s\.location: latitude 95 must be from -90 to 90 degrees$"
    ):
        Speaker("s", "喇叭", "fixed", "tl", location=(95.0, 111.0))  # type: ignore[arg-type]
    ring = tuple((p[0], p[1]) for p in SQUARE)
    zone = QuietZone("h", "医院", ring, action="volume", volume=30)  # type: ignore[arg-type]
    assert zone.action is QuietAction.VOLUME
    with pytest.raises(ValidationError, match=r"^quiet zone h\.volume: give the volume"):
        QuietZone("h", "医院", zone.polygon, action="volume")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"^quiet zone h\.volume: a muted zone"):
        QuietZone("h", "医院", zone.polygon, action="mute", volume=10)  # type: ignore[arg-type]
    with pytest.raises(
        ValidationError, match=r"^quiet zone h\.volume: must be from 0 to 100 percent"
    ):
        QuietZone("h", "医院", zone.polygon, action="volume", volume=101)  # type: ignore[arg-type]


def _config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "config.yaml"
    head = """\
        deployment: {name: 测试, timezone: Asia/Shanghai}
        areas:
          - id: tl
            name: 屯里村
            kind: village
            polygon: POLYGON
        """
    path.write_text(textwrap.dedent(head) + textwrap.dedent(body), encoding="utf-8")
    return path


def test_config_reads_polygons_locations_and_quiet_zones(tmp_path: Path) -> None:
    path = _config(
        tmp_path,
        """\
        speakers:
          - {id: s, name: 喇叭, kind: fixed, area: tl, location: {lat: 36.005, lon: 111.005}}
        messages:
          - {id: m, title: 通知, text: 今晚停水。, areas: [tl]}
        quiet_zones:
          - {id: h, name: 卫生院, polygon: POLYGON, volume: 30}
          - id: school
            name: 中学
            polygon: POLYGON
            hours: [{start: "08:00", end: "12:00"}, {start: "22:00", end: "06:00"}]
            action: mute
        """,
    )
    path.write_text(path.read_text().replace("POLYGON", str(SQUARE)), encoding="utf-8")
    settings = load_settings(path)
    assert settings.areas[0].polygon == tuple(tuple(p) for p in SQUARE)
    assert settings.speakers[0].location == (36.005, 111.005)
    assert settings.messages[0].area_ids == ("tl",)
    volume, school = settings.quiet_zones
    assert (volume.action, volume.volume, volume.hours) == (QuietAction.VOLUME, 30, ())
    assert (school.action, school.volume) == (QuietAction.MUTE, None)
    assert [(h.start, h.end) for h in school.hours] == [
        (time(8), time(12)), (time(22), time(6))]  # fmt: skip


@pytest.mark.parametrize(
    ("polygon", "problem"),
    [
        ("[[36.0, 111.0], [36.01, 111.01], [36.0, 111.01], [36.01, 111.0]]", "crosses itself"),
        ("[[36.0, 111.0], [36.0, 200.0], [36.01, 111.01]]", "polygon[1]: point 2: longitude 200"),
        ("36.0, 111.0", "expected a list of [lat, lon] points"),
    ],
)
def test_config_errors_name_the_file_and_the_field(
    tmp_path: Path, polygon: str, problem: str
) -> None:
    path = _config(tmp_path, "")
    path.write_text(path.read_text().replace("POLYGON", polygon), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: areas[0]"), message
    assert problem in message, message


def test_config_refuses_a_bad_quiet_zone(tmp_path: Path) -> None:
    path = _config(
        tmp_path,
        """\
        quiet_zones:
          - {id: h, name: 卫生院, polygon: [[36.0, 111.0], [36.0, 111.01]], volume: 30}
        """,
    )
    path.write_text(path.read_text().replace("POLYGON", str(SQUARE)), encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"quiet_zones\[0\]: quiet zone h\.polygon: needs at least 3"
    ):
        load_settings(path)


def test_check_names_unknown_bound_areas_and_duplicate_quiet_zones() -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from broadcaster.checks import check_deployment
    from broadcaster.models import Message
    from broadcaster.store.records import Deployment

    ring = tuple((p[0], p[1]) for p in SQUARE)
    zone = QuietZone("h", "医院", ring)
    deployment = Deployment(
        (Area("tl", "屯里村", "village"),),  # type: ignore[arg-type]
        (),
        (Message("m", "通知", "今晚停水。", area_ids=("tl", "gone")),),
        (),
        (),
        (),
        0,
        (zone, zone),
    )
    found = {
        str(p)
        for p in check_deployment(
            deployment, zone=ZoneInfo("Asia/Shanghai"), now=datetime(2026, 12, 1, tzinfo=UTC)
        )
    }
    assert "messages.m.areas: unknown area 'gone'" in found
    assert "quiet_zones.h: the id is used 2 times" in found
