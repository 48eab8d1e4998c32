"""A chief binds her message to her village in Chromium (issue 13): the real form posts the
ticked box, the page shows it ticked after the save, the list shows the badge, a village
without an outline cannot be ticked, and the vehicle that plays the message gets the
village's outline for it in its plan. Own server, the session's browser; slow."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.browser.conftest import PASSWORD, Panel, signed_in
from tests.conftest import require_tool
from tests.integration.harness import ADMIN_PASSWORD, ZONE, Server, aware_now

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OUTLINE = "[[36.0960, 111.4880], [36.1010, 111.4880], [36.1015, 111.4920], [36.0965, 111.4925]]"


def deployment() -> str:
    now = aware_now()
    start = (now - timedelta(hours=1)).astimezone(ZONE)
    end = (now + timedelta(hours=3)).astimezone(ZONE)
    return f"""\
deployment:
  name: 限村播放测试
  timezone: Asia/Shanghai
audio: {{rate: 220, tail_ms: 200, lead_ms: 100, selftest_text: 测试}}
areas:
  - id: district
    name: 测试区
    kind: district
    children:
      - id: town
        name: 测试镇
        kind: township
        children:
          - {{id: village-a, name: 甲村, kind: village, polygon: {OUTLINE}}}
          - {{id: village-c, name: 丙村, kind: village}}
speakers:
  - {{id: car-a, name: 甲村宣传车, kind: vehicle, area: town}}
messages:
  - {{id: m1, title: 全区通知, text: 请大家注意防火。, chime: false}}
programs:
  - {{id: p1, name: 全区循环, messages: [m1], gap_s: 2}}
schedules:
  - id: s1
    program: p1
    speakers: [car-a]
    start: "{start:%H:%M:%S}"
    end: "{end:%H:%M:%S}"
users:
  - {{name: chief-t, role: chief, areas: [town]}}
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    require_tool("espeak-ng")
    require_tool("ffmpeg")
    config = tmp_path / "config.yaml"
    config.write_text(deployment(), encoding="utf-8")
    srv = Server(tmp_path, config)
    srv.start()
    try:
        admin = Panel(srv.url).login("admin", ADMIN_PASSWORD)
        admin.form(
            "/users/chief-t",
            {"role": "chief", "areas": "town", "password": PASSWORD, "password2": PASSWORD},
        )
        voice = admin.default_voice()
        # 甲村's message in the program the vehicle plays (only admins choose ids)
        admin.form(
            "/messages/new",
            {"id": "msg-a", "title": "核酸检测", "text": "核酸检测在村委会广场。",
             "voice": voice, "rate": "170", "volume": "1", "area": "village-a"},
        )  # fmt: skip
        admin.form("/programs/p1", {"name": "全区循环", "gap_s": "2", "messages": ["m1", "msg-a"]})
        yield srv
    finally:
        srv.stop()


def test_a_chief_ticks_her_village_and_the_vehicle_plan_carries_its_outline(
    server: Server, browser: Any
) -> None:
    # The session's Chromium (tests/browser/conftest.py): a second sync Playwright in the
    # same worker would fail ("Sync API inside the asyncio loop").
    page = signed_in(browser, server.url, "chief-t")
    try:
        page.goto("/messages/msg-a")
        field = page.locator("#bound-areas")
        assert "只在这些村播放（宣传车）" in field.inner_text()
        assert page.locator('#bound-areas input[value="village-c"]').is_disabled()
        assert "尚无村界" in field.inner_text()
        page.check('#bound-areas input[value="village-a"]')
        page.click('#message-form button[type="submit"].primary')
        page.wait_for_url(server.url + "/messages/msg-a")
        assert page.locator('#bound-areas input[value="village-a"]').is_checked()
        assert not page.locator('#bound-areas input[value="town"]').is_checked()

        page.goto("/messages")
        badge = page.locator("#message-msg-a .bound-areas")
        assert badge.inner_text() == "只在甲村播放"
        assert page.locator("#message-m1 .bound-areas").count() == 0
    finally:
        page.context.close()

    token = server.device_token("car-a")
    plan = requests.get(
        f"{server.url}/api/v1/speakers/car-a/plan",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    ).json()
    assert "msg-a" in {i["message"] for i in plan["items"]}
    assert plan["message_areas"] == {"msg-a": ["village-a"]}
    assert len(plan["areas"]["village-a"]) == 4
