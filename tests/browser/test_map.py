"""The map page in Chromium (issue 13, item 4): a vehicle's marker moves when its heartbeat
moves, on a real `broadcaster serve`; the page asks nothing of any other address (no tiles,
no CDN); a chief sees their own village only. A screenshot goes to
/tmp/broadcaster-browser-shots/map-*.png."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.browser.conftest import PASSWORD, Panel
from tests.conftest import require_tool
from tests.integration.harness import ADMIN_PASSWORD, ZONE, Server

pytestmark = pytest.mark.integration
SHOTS = Path("/tmp/broadcaster-browser-shots")

CONFIG = """\
deployment: {name: 地图测试, timezone: Asia/Shanghai}
server: {heartbeat_s: 2, offline_after_missed: 3}
areas:
  - id: district
    name: 测试区
    kind: district
    children:
      - id: village-a
        name: 甲村
        kind: village
        polygon: [[36.000, 111.000], [36.010, 111.000], [36.012, 111.006], [36.010, 111.012], [36.000, 111.012]]
      - id: village-b
        name: 乙村
        kind: village
        polygon: [[36.000, 111.012], [36.010, 111.012], [36.010, 111.024], [36.000, 111.024]]
quiet_zones:
  - {id: clinic, name: 甲村卫生室, polygon: [[36.003, 111.004], [36.006, 111.004], [36.006, 111.008], [36.003, 111.008]], volume: 20}
speakers:
  - {id: spk-a, name: 甲村大喇叭, kind: fixed, area: village-a, location: {lat: 36.008, lon: 111.003}}
  - {id: spk-b, name: 乙村大喇叭, kind: fixed, area: village-b, location: {lat: 36.008, lon: 111.020}}
  - id: car
    name: 宣传车一号
    kind: vehicle
    area: district
    route:
      - {name: 村口, lat: 36.001, lon: 111.001}
      - {name: 学校, lat: 36.005, lon: 111.010}
      - {name: 乙村口, lat: 36.009, lon: 111.022}
      - {name: 老槐树}
users:
  - {name: chief-a, role: chief, areas: [village-a]}
"""


@pytest.fixture(scope="module")
def map_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    require_tool("espeak-ng")
    root = tmp_path_factory.mktemp("map")
    config = root / "config.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    srv = Server(root, config)
    srv.start()
    admin = Panel(srv.url).login("admin", ADMIN_PASSWORD)
    admin.form(
        "/users/chief-a",
        {"role": "chief", "password": PASSWORD, "password2": PASSWORD, "areas": "village-a"},
    )
    try:
        yield srv
    finally:
        srv.stop()


def _open(browser: Any, server: Server, name: str, password: str) -> tuple[Any, Any, list[str]]:
    context = browser.new_context(
        base_url=server.url, locale="zh-CN", viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    page.set_default_timeout(30_000)
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url))
    page.goto("/login")
    page.fill('input[name="name"]', name)
    page.fill('input[name="password"]', password)
    page.click('button[type="submit"]')
    page.wait_for_url(server.url + "/")
    page.goto("/map")
    return context, page, asked


def _beat(server: Server, token: str, lat: float, lon: float) -> None:
    position: dict[str, Any] = {
        "lat": lat,
        "lon": lon,
        "fix_at": datetime.now(UTC).isoformat(),
        "speed": 9.0,
    }
    answer = requests.post(
        f"{server.url}/api/v1/speakers/car/heartbeat",
        json={"state": "playing", "position": position, "version": "map-test"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text


def _until(find: Callable[[], Any], what: str, timeout_s: float = 15) -> Any:
    """What `find` returns once it is truthy (the page polls every 3 s)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = find()
        if found:
            return found
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def _marker(page: Any) -> tuple[float, float] | None:
    """Where the vehicle's marker is drawn (its translate), None while hidden."""
    found = page.eval_on_selector(
        '.map-vehicle[data-id="car"]',
        "m => m.hasAttribute('hidden') ? null : m.getAttribute('transform')",
    )
    if not found:
        return None
    x, y = re.findall(r"-?[\d.]+", found)
    return float(x), float(y)


def test_the_vehicle_marker_follows_its_heartbeats(browser: Any, map_server: Server) -> None:
    token = map_server.device_token("car")
    context, page, asked = _open(browser, map_server, "admin", ADMIN_PASSWORD)
    try:
        assert page.locator(".map-area").count() == 2
        assert page.locator(".map-zone").count() == 1
        assert page.locator(".map-speaker").count() == 2
        assert page.locator(".map-route .map-stop").count() == 3
        assert page.locator(".map-zone-name").text_content() == "甲村卫生室"
        tip = page.locator(".map-zone title").text_content()
        assert tip == "甲村卫生室（音量 20%）"  # what it does there, in Chinese
        assert _marker(page) is None  # no fix yet: not drawn

        _beat(map_server, token, 36.002, 111.002)  # near 村口, in 甲村
        first = _until(lambda: _marker(page), "the marker to appear")
        assert page.locator('.map-vehicle-list tr[data-id="car"] .state').text_content() == "在线"

        _beat(map_server, token, 36.008, 111.020)  # east, in 乙村
        second = _until(lambda: (m := _marker(page)) != first and m, "the marker to move")
        assert second[0] > first[0] + 300  # 0.018 degrees east: most of the map's width
        assert second[1] < first[1]  # and north: up
        # The marker sits where the server draws 乙村大喇叭 (the same place, same projection).
        fixed_b = page.get_attribute('.map-speaker[data-id="spk-b"]', "transform")
        fx, fy = (float(v) for v in re.findall(r"-?[\d.]+", fixed_b))
        assert abs(second[0] - fx) < 1.5 and abs(second[1] - fy) < 1.5
        fix_text = page.locator('.map-vehicle-list tr[data-id="car"] .fix').text_content()
        assert "36.00800, 111.02000" in fix_text
        # Times in the deployment's zone (Asia/Shanghai), whatever the browser's zone.
        updated = page.locator("#map-updated").text_content()
        now = datetime.now(ZONE)
        minutes = {(now - timedelta(minutes=m)).strftime("%H:%M") for m in (0, 1)}
        assert any(m in updated for m in minutes), (updated, minutes)

        SHOTS.mkdir(exist_ok=True)
        page.wait_for_timeout(1000)  # the marker's glide (0.8 s) ends
        page.screenshot(path=str(SHOTS / "map-admin.png"), full_page=True)
        strangers = [u for u in asked if not u.startswith(map_server.url)]
        assert strangers == [], strangers  # drawn from coordinates alone
    finally:
        context.close()


def test_a_chief_sees_their_village_only(browser: Any, map_server: Server) -> None:
    context, page, _asked = _open(browser, map_server, "chief-a", PASSWORD)
    try:
        areas = page.eval_on_selector_all(".map-area", "els => els.map(e => e.dataset.id)")
        assert areas == ["village-a"]
        speakers = page.eval_on_selector_all(".map-speaker", "els => els.map(e => e.dataset.id)")
        assert speakers == ["spk-a"]
        assert page.locator(".map-vehicle").count() == 0  # the district's vehicle is not hers
        assert page.locator(".map-zone").count() == 1  # the clinic lies in her village
        page.screenshot(path=str(SHOTS / "map-chief.png"), full_page=True)
    finally:
        context.close()


def test_the_map_fits_a_phone(browser: Any, map_server: Server) -> None:
    _beat(map_server, map_server.device_token("car"), 36.008, 111.020)  # at 乙村大喇叭
    context, page, _asked = _open(browser, map_server, "admin", ADMIN_PASSWORD)
    try:
        page.set_viewport_size({"width": 390, "height": 844})
        page.reload()
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, overflow
        box = page.locator("#map").bounding_box()
        assert box is not None and 300 < box["width"] <= 390
        # The vehicle (last seen at 乙村大喇叭) is drawn there at once, not gliding in from
        # the map's corner; names and markers are scaled up to stay readable.
        car = page.locator('.map-vehicle[data-id="car"] circle').bounding_box()
        fixed = page.locator('.map-speaker[data-id="spk-b"] rect').bounding_box()
        assert car is not None and fixed is not None
        centre = (car["x"] + car["width"] / 2, car["y"] + car["height"] / 2)
        there = (fixed["x"] + fixed["width"] / 2, fixed["y"] + fixed["height"] / 2)
        assert abs(centre[0] - there[0]) < 3 and abs(centre[1] - there[1]) < 3, (centre, there)
        assert car["width"] >= 14  # 9 units of radius would be 7 px across at this width
        page.screenshot(path=str(SHOTS / "map-phone.png"), full_page=True)
    finally:
        context.close()


def _track_points(page: Any) -> int:
    found = page.eval_on_selector_all(
        '.map-track[data-id="car"]', "ls => ls.map(l => (l.getAttribute('points') || '').trim())"
    )
    return len(found[0].split()) if found and found[0] else 0


@pytest.mark.slow  # 6-9 s on the shared machine: over the fast suite's few seconds
def test_todays_track_follows_the_vehicle_and_an_admin_drags_a_stop(
    browser: Any, map_server: Server
) -> None:
    """Runs last in the module: it moves the route's second stop (学校)."""
    token = map_server.device_token("car")
    now = datetime.now(UTC)
    midnight = datetime.now(ZONE).replace(hour=0, minute=0, second=0, microsecond=0)
    base = max(now - timedelta(seconds=30), midnight.astimezone(UTC) + timedelta(seconds=1))
    points: list[dict[str, Any]] = [
        {"id": str(i), "lat": 36.001 + 0.001 * i, "lon": 111.001 + 0.002 * i,
         "at": (base + timedelta(seconds=5 * i)).isoformat()}
        for i in range(3)
    ]  # fmt: skip
    answer = requests.post(
        f"{map_server.url}/api/v1/speakers/car/track",
        json={"points": points},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert answer.json()["accepted"] == ["0", "1", "2"], answer.text
    _beat(map_server, token, 36.003, 111.005)  # where the track ends, a little on
    context, page, asked = _open(browser, map_server, "admin", ADMIN_PASSWORD)
    try:
        assert _track_points(page) == 4  # today's three points and the heartbeat's fix
        _beat(map_server, token, 36.004, 111.008)  # the vehicle drives on
        _until(lambda: _track_points(page) == 5, "the track to follow the marker")

        stop = page.locator('.map-route[data-id="car"] .map-stop[data-index="1"] circle')
        box = stop.bounding_box()
        assert box is not None
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x + 60, y + 40, steps=6)
        page.mouse.up()
        _until(
            lambda: page.locator("#map-stop-status").text_content() == "第 2 站已保存。",
            "the stop to be saved",
        )
        dropped = (float(stop.get_attribute("cx") or 0), float(stop.get_attribute("cy") or 0))
        view = page.eval_on_selector("#map", "m => JSON.parse(m.dataset.view)")
        lat = view["north"] - dropped[1] / view["scale"]
        lon = view["west"] + dropped[0] / (view["cos_lat"] * view["scale"])
        assert lat < 36.005 and lon > 111.010  # dragged south-east of where 学校 was

        page.goto("/speakers/car/sheet")  # saved: the route sheet shows the new place
        line = page.locator(".sheet-stops li").nth(1).text_content() or ""
        found = [float(v) for v in re.findall(r"\d+\.\d{5}", line)]
        assert "学校" in line and len(found) == 2, line
        assert abs(found[0] - lat) < 2e-5 and abs(found[1] - lon) < 2e-5, (found, lat, lon)
        page.goto("/map")  # drawn there after a reload, by the server
        again = page.locator('.map-route[data-id="car"] .map-stop[data-index="1"] circle')
        cx, cy = float(again.get_attribute("cx") or 0), float(again.get_attribute("cy") or 0)
        assert abs(cx - dropped[0]) < 0.5 and abs(cy - dropped[1]) < 0.5

        # 老槐树 has no coordinates yet: its button, then a click on the map places it there
        page.click("text=放置 4. 老槐树")
        assert page.locator("#map-stop-status").text_content() == "请在地图上点击第 4 站的位置。"
        page.locator("#map").scroll_into_view_if_needed()  # the button is below the map
        area = page.locator("#map").bounding_box()
        assert area is not None
        with page.expect_navigation():  # saved, then the page draws it
            page.mouse.click(area["x"] + area["width"] * 0.5, area["y"] + area["height"] * 0.2)
        placed = page.locator('.map-route[data-id="car"] .map-stop[data-index="3"]')
        assert placed.count() == 1 and page.locator(".place-stop").count() == 0
        page.screenshot(path=str(SHOTS / "map-track-drag.png"), full_page=True)
        strangers = [u for u in asked if not u.startswith(map_server.url)]
        assert strangers == [], strangers
    finally:
        context.close()
