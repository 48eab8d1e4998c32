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


def _until(find: Callable[[], Any], what: str, timeout_s: float = 30) -> Any:
    """What `find` returns once it is truthy (the page polls every 3 s; a loaded CI machine
    may be slow to answer a poll and to draw)."""
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
        # Her village is taller than wide: the drawing is held to 75vh and centred, narrower
        # than the element; names keep a readable size all the same (14 px, not ~8).
        assert _size(page, ".map-area-name")[1] >= 14
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


def _viewbox(page: Any) -> tuple[float, float, float, float]:
    x, y, w, h = (float(v) for v in (page.get_attribute("#map", "viewBox") or "").split())
    return x, y, w, h


def _centre(page: Any, selector: str) -> tuple[float, float]:
    """Where an element's middle is on the screen, in CSS pixels."""
    box = page.locator(selector).bounding_box()
    assert box is not None, selector
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def _size(page: Any, selector: str) -> tuple[float, float]:
    box = page.locator(selector).bounding_box()
    assert box is not None, selector
    return box["width"], box["height"]


def _hash(page: Any) -> str:
    return str(page.evaluate("() => window.location.hash"))


CLINIC = '.map-zone[data-id="clinic"] polygon'
VILLAGE_B = '.map-area[data-id="village-b"]'


def test_the_map_zooms_and_moves(browser: Any, map_server: Server) -> None:
    """+/- buttons, the wheel about the pointer, dragging the background, the keys, the
    whole-map button; the outlines grow on screen while names keep their size."""
    context, page, _asked = _open(browser, map_server, "admin", ADMIN_PASSWORD)
    try:
        full = _viewbox(page)
        assert full[:2] == (0, 0) and full[2] == 1000
        assert page.locator("#map-zoom-out").is_disabled()  # the whole map already
        outline = _size(page, f"{VILLAGE_B} polygon")
        name = _size(page, f"{VILLAGE_B} .map-area-name")

        page.click("#map-zoom-in")  # 放大
        assert page.get_attribute("#map-zoom-in", "aria-label") == "放大"
        x, y, w, h = _viewbox(page)
        assert abs(w - full[2] / 2) < 0.01 and abs(h - full[3] / 2) < 0.01
        assert (x + w / 2, y + h / 2) == pytest.approx(
            (500, full[3] / 2), abs=0.01
        )  # about the middle
        grown = _size(page, f"{VILLAGE_B} polygon")
        assert grown[0] == pytest.approx(2 * outline[0], rel=0.02)
        assert grown[1] == pytest.approx(2 * outline[1], rel=0.02)
        # The village's name is drawn at the same size on screen (the geometry grew, not the text).
        assert _size(page, f"{VILLAGE_B} .map-area-name")[1] == pytest.approx(name[1], rel=0.1)
        _until(lambda: _hash(page).startswith("#map="), "the view in the URL's hash")

        # The wheel zooms about the pointer: what is under the mouse stays there, what is
        # around it moves away by the zoom's factor.
        mouse = tuple(round(v) for v in _centre(page, CLINIC))
        page.mouse.move(*mouse)
        before = _centre(page, CLINIC)
        scrolled = page.evaluate("() => window.scrollY")
        page.mouse.wheel(0, -300)
        _until(lambda: _viewbox(page)[2] < w * 0.5, "the wheel to zoom in")
        factor = w / _viewbox(page)[2]
        after = _centre(page, CLINIC)
        for axis in (0, 1):
            expected = mouse[axis] + (before[axis] - mouse[axis]) * factor
            assert abs(after[axis] - expected) < 1, (mouse, before, after, factor)
        assert page.evaluate("() => window.scrollY") == scrolled  # the page did not scroll
        assert _size(page, f"{VILLAGE_B} polygon")[0] > 4 * outline[0]
        before = after

        # Dragging the background moves the map with the pointer.
        zoomed = _viewbox(page)
        page.mouse.down()
        page.mouse.move(before[0] - 120, before[1] + 40, steps=5)
        page.mouse.up()
        moved = _centre(page, CLINIC)
        assert abs(moved[0] - (before[0] - 120)) < 3 and abs(moved[1] - (before[1] + 40)) < 3
        assert _viewbox(page)[2] == pytest.approx(zoomed[2])  # moved, not zoomed

        # Keys, when the map has the focus: - zooms out, an arrow moves by a fifth.
        page.focus("#map")
        page.keyboard.press("-")
        out = _viewbox(page)
        assert out[2] == pytest.approx(2 * zoomed[2], rel=1e-3)
        page.keyboard.press("ArrowLeft")
        left = _viewbox(page)
        assert left[0] == pytest.approx(out[0] - out[2] / 5, abs=0.05) and left[1:] == out[1:]

        page.click("#map-whole")  # 全图
        assert _viewbox(page) == full
        _until(lambda: _hash(page) == "", "the hash to be cleared at the whole map")
        assert _size(page, f"{VILLAGE_B} polygon")[0] == pytest.approx(outline[0], rel=0.01)
    finally:
        context.close()


def test_names_that_would_overlap_are_hidden_until_zoomed_in(
    browser: Any, map_server: Server
) -> None:
    context, page, _asked = _open(browser, map_server, "admin", ADMIN_PASSWORD)
    try:
        name = f"{VILLAGE_B} .map-area-name"
        assert page.locator(name).is_visible()
        # A loudspeaker 3 units (a few pixels) from 乙村's name: its name would cover it.
        page.eval_on_selector(
            name,
            """label => {
                const g = document.createElementNS("http://www.w3.org/2000/svg", "g");
                g.setAttribute("class", "map-speaker");
                g.setAttribute("transform", "translate(" + (Number(label.getAttribute("x")) + 3)
                               + "," + label.getAttribute("y") + ")");
                const t = document.createElementNS("http://www.w3.org/2000/svg", "text");
                t.setAttribute("id", "near");
                t.textContent = "乙村小喇叭";
                g.appendChild(t);
                document.querySelector(".map-fixed").appendChild(g);
                window.dispatchEvent(new Event("resize"));
            }""",
        )
        _until(lambda: "crowded" in (page.get_attribute("#near", "class") or ""), "a hidden name")
        assert not page.locator("#near").is_visible()
        assert page.locator(name).is_visible()  # the village's name goes first
        for _ in range(5):
            page.click("#map-zoom-in")  # 32 times: 3 units are ~100 px apart
        _until(lambda: page.locator("#near").is_visible(), "the name shown when zoomed in")
        assert page.locator(name).is_visible()
    finally:
        context.close()


def test_a_phone_pinches_and_pans_the_map(browser: Any, map_server: Server) -> None:
    context = browser.new_context(
        base_url=map_server.url,
        locale="zh-CN",
        viewport={"width": 390, "height": 844},
        has_touch=True,
        is_mobile=True,
    )
    page = context.new_page()
    try:
        page.goto("/login")
        page.fill('input[name="name"]', "admin")
        page.fill('input[name="password"]', ADMIN_PASSWORD)
        page.click('button[type="submit"]')
        page.wait_for_url(map_server.url + "/")
        page.goto("/map")
        full = _viewbox(page)
        box = page.locator("#map").bounding_box()
        assert box is not None
        cx, cy = _centre(page, CLINIC)  # no stop there (a finger on a stop drags the stop)
        touch = context.new_cdp_session(page)

        def fingers(kind: str, *points: tuple[float, float]) -> None:
            touch.send(
                "Input.dispatchTouchEvent",
                {
                    "type": kind,
                    "touchPoints": [{"x": x, "y": y, "id": i} for i, (x, y) in enumerate(points)],
                },
            )

        # Two fingers 40 px apart spread to 120 px: three times closer, about their middle
        # (the clinic stays under them).
        fingers("touchStart", (cx - 20, cy), (cx + 20, cy))
        for spread in range(30, 70, 10):
            fingers("touchMove", (cx - spread, cy), (cx + spread, cy))
        fingers("touchEnd")
        x, y, w, h = _viewbox(page)
        assert w == pytest.approx(full[2] / 3, rel=0.05)
        after = _centre(page, CLINIC)
        assert abs(after[0] - cx) < 2 and abs(after[1] - cy) < 2, (cx, cy, after)
        assert page.evaluate("() => window.visualViewport.scale") == 1  # not the page's zoom

        # One finger moves the map (and not the page).
        scrolled = page.evaluate("() => window.scrollY")
        fingers("touchStart", (cx, cy))
        for step in range(1, 6):
            fingers("touchMove", (cx - 20 * step, cy))
        fingers("touchEnd")
        moved = _viewbox(page)
        units_per_px = w / box["width"]
        assert moved[0] == pytest.approx(x + 100 * units_per_px, rel=0.05)
        assert moved[1:] == pytest.approx((y, w, h))
        assert page.evaluate("() => window.scrollY") == scrolled
        page.screenshot(path=str(SHOTS / "map-phone-pinched.png"))
    finally:
        context.close()


@pytest.mark.slow  # ~8 s: waits for the page's polls (every 3 s)
def test_centre_and_follow_a_vehicle_and_the_poll_keeps_the_view(
    browser: Any, map_server: Server
) -> None:
    token = map_server.device_token("car")
    _beat(map_server, token, 36.002, 111.002)  # near 村口, in 甲村
    context, page, _asked = _open(browser, map_server, "admin", ADMIN_PASSWORD)

    def off_middle() -> float:
        """How far (px) the vehicle's marker is from the middle of the map's box."""
        box = page.locator("#map").bounding_box()
        assert box is not None
        car = _centre(page, '.map-vehicle[data-id="car"] circle')
        return max(
            abs(car[0] - (box["x"] + box["width"] / 2)),
            abs(car[1] - (box["y"] + box["height"] / 2)),
        )

    try:
        _until(lambda: _marker(page), "the marker")
        page.click("#map-zoom-in")
        page.click("#map-zoom-in")
        view = _viewbox(page)
        # The live redraw (a poll that moves the marker) keeps the zoom and the centre.
        first = _marker(page)
        _beat(map_server, token, 36.003, 111.004)
        _until(lambda: (m := _marker(page)) != first and m, "the marker to move")
        assert _viewbox(page) == view

        # Its row in the table centres the map on it, zoomed in to 1.5 km across (the whole
        # map here is ~2.4 km).
        page.click("#map-whole")
        assert off_middle() > 50
        page.click('.map-vehicle-list tr[data-id="car"] td >> nth=0')
        _until(lambda: off_middle() < 6, "the vehicle in the middle")
        scale = page.eval_on_selector("#map", "m => JSON.parse(m.dataset.view).scale")
        assert _viewbox(page)[2] * 111_320 / scale == pytest.approx(1500, abs=1)
        page.click("#map-whole")  # and its marker does the same
        assert off_middle() > 50
        page.click('.map-vehicle[data-id="car"] circle')
        _until(lambda: off_middle() < 6, "the vehicle in the middle")

        # Followed, the view keeps it in the middle as its heartbeats move it.
        page.click('.map-vehicle-list tr[data-id="car"] .map-follow')  # 跟随
        follow = page.locator('.map-vehicle-list tr[data-id="car"] .map-follow')
        assert follow.get_attribute("aria-pressed") == "true"
        assert page.locator("#map-following").is_visible()
        assert page.locator("#map-following-name").text_content() == "正在跟随宣传车一号"
        before = _marker(page)
        _beat(map_server, token, 36.006, 111.011)  # east, 乙村's side
        _until(lambda: (m := _marker(page)) != before and m, "the marker to move")
        # The marker's glide and the view's (0.8 s) end, later when frames are late.
        page.wait_for_timeout(1000)
        _until(lambda: off_middle() < 6, "the followed vehicle in the middle")
        _until(lambda: _hash(page).endswith(",car"), "the followed vehicle in the hash")
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / "map-follow.png"), full_page=True)

        # Zoomed out a little (about the followed vehicle), the link shows the same view (and
        # follows the same vehicle) in another tab.
        map_box = page.locator("#map").bounding_box()
        assert map_box is not None
        page.mouse.move(map_box["x"] + 100, map_box["y"] + 100)
        page.mouse.wheel(0, 70)
        _until(lambda: _viewbox(page)[2] * 111_320 / scale > 1900, "the wheel to zoom out")
        assert off_middle() < 6
        _until(
            lambda: int(_hash(page).split(",")[2]) > 1900 and _hash(page).endswith(",car"),
            "the hash to follow",
        )
        link, followed_view = page.url, _viewbox(page)
        other = context.new_page()
        other.goto(link)
        shown = _viewbox(other)
        assert all(abs(a - b) < 0.5 for a, b in zip(shown, followed_view, strict=True)), (
            shown,
            followed_view,
        )
        assert other.locator("#map-following").is_visible()
        other.set_viewport_size({"width": 390, "height": 844})
        other.reload()
        other.wait_for_timeout(300)
        overflow = other.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, overflow
        other.screenshot(path=str(SHOTS / "map-phone-zoomed.png"), full_page=True)
        other.close()

        # Dragging the map stops following; a quiet zone's "show on map" fits it in the box.
        box = page.locator("#map").bounding_box()
        assert box is not None
        page.mouse.move(box["x"] + 40, box["y"] + box["height"] - 40)
        page.mouse.down()
        page.mouse.move(box["x"] + 140, box["y"] + box["height"] - 60, steps=4)
        page.mouse.up()
        assert follow.get_attribute("aria-pressed") == "false"
        assert not page.locator("#map-following").is_visible()
        page.click('.map-show-shape[data-kind="zone"][data-id="clinic"]')
        zone = _size(page, ".map-zone polygon")
        fill = max(zone[0] / map_box["width"], zone[1] / map_box["height"])
        assert 0.6 < fill < 0.9, fill
    finally:
        context.close()


def _clear_of_midnight(margin_s: float = 90) -> None:
    """Waits for the deployment's midnight if it is less than `margin_s` away: today's track,
    posted now, must still be today's when the page draws it."""
    now = datetime.now(ZONE)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    left = (midnight - now).total_seconds()
    if left < margin_s:
        time.sleep(left + 1)


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
    _clear_of_midnight()
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
        shown = _viewbox(page)
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x + 60, y + 40, steps=6)
        page.mouse.up()
        assert _viewbox(page) == shown  # the stop moved, not the map
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
