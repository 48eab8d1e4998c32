"""The map page (issue 13, item 4) in-process: what each role sees, the live JSON the page
polls, drawn from coordinates alone (no tiles, no external address). The browser test is
tests/browser/test_map.py."""

from __future__ import annotations

import re

from broadcaster.store import TokenKind
from tests.web.conftest import NOW
from web.panel.map_views import fit


def _move(client, service, lat: float, lon: float) -> None:  # type: ignore[no-untyped-def]
    token = service.store.people.issue_token(TokenKind.DEVICE, "vehicle-01", NOW)[1]
    beat = {"state": "playing", "position": {"lat": lat, "lon": lon, "fix_at": NOW.isoformat()}}
    answer = client.post(
        "/api/v1/speakers/vehicle-01/heartbeat",
        headers={"Authorization": f"Bearer {token}"},
        json=beat,
    )
    assert answer.status_code == 200


def _ids(page: str, kind: str) -> set[str]:
    return set(re.findall(rf'class="map-{kind}[^"]*" data-id="([^"]+)"', page))


def test_an_admin_sees_every_shape_and_vehicle(client, login_as, service) -> None:  # type: ignore[no-untyped-def]
    _move(client, service, 36.0985, 111.4915)
    login_as("admin")
    page = client.get("/map").get_data(as_text=True)
    assert {"tunli-village", "xiaoyu-village"} <= _ids(page, "area")
    assert _ids(page, "zone") == {"tunli-hospital", "tunli-school"}
    assert {"tunli-village-1", "xiaoyu-village-1"} == _ids(page, "speaker")
    assert len(_ids(page, "vehicle")) == 23 and "vehicle-01" in _ids(page, "route")
    assert 'data-id="vehicle-01" data-name="宣传车01"\n       data-lat="36.0985"' in page
    assert "http://" not in page and "https://" not in page  # no tiles, no CDN
    assert "屯里村" in page and "地图" in page  # names and words in Chinese

    live = client.get("/map/live").get_json()
    mine = {v["id"]: v for v in live["vehicles"]}
    assert mine["vehicle-01"]["online"] is True
    assert (mine["vehicle-01"]["fix"]["lat"], mine["vehicle-01"]["fix"]["lon"]) == (
        36.0985,
        111.4915,
    )
    assert mine["vehicle-02"]["fix"] is None
    _move(client, service, 36.0990, 111.4930)
    moved = {v["id"]: v for v in client.get("/map/live").get_json()["vehicles"]}
    assert moved["vehicle-01"]["fix"]["lon"] == 111.4930


def test_a_chief_sees_their_areas_and_loudspeakers_only(client, login_as, service) -> None:  # type: ignore[no-untyped-def]
    _move(client, service, 36.0985, 111.4915)  # vehicle-01 is the township's, not the village's
    login_as("chief-tunli")
    page = client.get("/map").get_data(as_text=True)
    assert _ids(page, "area") == {"tunli-village"}
    assert _ids(page, "speaker") == {"tunli-village-1"}
    assert _ids(page, "vehicle") == set() and _ids(page, "route") == set()
    assert _ids(page, "zone") == {"tunli-hospital"}  # the one that lies in the view
    assert client.get("/map/live").get_json()["vehicles"] == []


def test_a_chief_without_shapes_gets_an_empty_map(client, login_as) -> None:  # type: ignore[no-untyped-def]
    login_as("chief-xiguan")
    page = client.get("/map")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert _ids(text, "area") == set() and _ids(text, "zone") == set()
    assert "西关社区" in text  # listed as an area without an outline


def test_an_operator_sees_their_vehicle_and_its_area(client, login_as, service) -> None:  # type: ignore[no-untyped-def]
    _move(client, service, 36.0985, 111.4915)
    login_as("driver-01")
    page = client.get("/map").get_data(as_text=True)
    assert _ids(page, "vehicle") == {"vehicle-01"} and _ids(page, "route") == {"vehicle-01"}
    assert _ids(page, "area") == {"tunli-village", "xiaoyu-village"}
    live = client.get("/map/live").get_json()["vehicles"]
    assert [v["id"] for v in live] == ["vehicle-01"] and live[0]["fix"]["age_s"] == 0


def test_signed_out_the_map_is_not_shown(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/map").status_code == 302
    assert client.get("/map/live").status_code in (302, 401)


def test_the_projection_keeps_shapes_and_fits_the_view() -> None:
    view = fit([(36.0, 111.0), (36.01, 111.01)])
    west, north = view.point(36.01, 111.0)
    east, south = view.point(36.0, 111.01)
    assert 0 < west < east < 1000 and 0 < north < south < view.height
    # 0.01 degree of longitude is cos(36 deg) of 0.01 degree of latitude on the ground.
    assert abs((east - west) / (south - north) - 0.809) < 0.01
    one = fit([(36.0, 111.0)])  # a single point still gets a view around it
    assert one.height > 0 and 0 < one.point(36.0, 111.0)[0] < 1000
    assert fit([]).height > 0
