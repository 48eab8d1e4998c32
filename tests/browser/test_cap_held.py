"""Held CAP warnings approved and rejected in Chromium (issue 15).

A server of its own (the browser deployment plus a `cap:` section mapping a geocode to 甲村);
the test posts Severe (held by the default policy) warnings with the admin's token. 甲村's
chief sees them on 预警 in Chinese, approves one with one click: it becomes an urgent that
甲村大喇叭's client plays; rejects the other: it goes from the list; 乙村's chief sees
neither. The menu's 预警 shows how many wait. Every decision is in the audit log.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests

from broadcaster.store import Store, sqlite_url
from tests.browser.conftest import PASSWORD, Panel, deployment, loaded
from tests.conftest import require_tool
from tests.integration.harness import (
    ADMIN_PASSWORD,
    Client,
    Server,
    aware_now,
    starts,
    wait_for,
)

pytestmark = pytest.mark.integration

CAP = """\
cap:
  geocodes:
    "GB/T 2260:141002001": [village-a]
"""


def alert(identifier: str, headline: str, description: str) -> bytes:
    sent = aware_now().replace(microsecond=0)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>{identifier}</identifier>
  <sender>met@example.cn</sender>
  <sent>{sent.isoformat()}</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <info>
    <language>zh-CN</language>
    <category>Met</category>
    <event>暴雨</event>
    <urgency>Expected</urgency>
    <severity>Severe</severity>
    <certainty>Likely</certainty>
    <expires>{(sent + timedelta(minutes=30)).isoformat()}</expires>
    <headline>{headline}</headline>
    <description>{description}</description>
    <area><areaDesc>甲村</areaDesc>
      <geocode><valueName>GB/T 2260</valueName><value>141002001</value></geocode></area>
  </info>
</alert>""".encode()


@pytest.fixture(scope="module")
def cap_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    require_tool("espeak-ng")
    root = tmp_path_factory.mktemp("cap-browser")
    config = root / "config.yaml"
    config.write_text(deployment() + CAP, encoding="utf-8")
    server = Server(root, config)
    server.start()
    admin = Panel(server.url).login("admin", ADMIN_PASSWORD)
    for name, area in (("chief-a", "village-a"), ("chief-b", "village-b")):
        admin.form(f"/users/{name}", {"role": "chief", "password": PASSWORD,
                                      "password2": PASSWORD, "areas": area})  # fmt: skip
    try:
        yield server
    finally:
        server.stop()


def _sign_in(browser: Any, server: Server, name: str) -> Any:
    context = browser.new_context(base_url=server.url, locale="zh-CN",
                                  viewport={"width": 1280, "height": 900})  # fmt: skip
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto("/login")
    page.fill('input[name="name"]', name)
    page.fill('input[name="password"]', PASSWORD)
    page.click('button[type="submit"]')
    page.wait_for_url(server.url + "/")
    return page


def _post(server: Server, body: bytes) -> dict[str, Any]:
    answer = requests.post(
        f"{server.url}/api/v1/cap", data=body, timeout=30,
        headers={"Authorization": f"Bearer {server.user_token('admin')}"},
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    found: dict[str, Any] = answer.json()
    return found


def test_a_chief_approves_one_held_warning_and_rejects_another(browser: Any, cap_server: Server) -> None:  # fmt: skip
    server = cap_server
    client = Client("spk-a", server.root, server.url, server.device_token("spk-a"))
    client.start()
    try:
        (approve_id,) = _post(server, alert("B-1", "暴雨橙色预警", "请远离河道。"))["held"]
        (reject_id,) = _post(server, alert("B-2", "大风蓝色预警", "请收好晾晒物品。"))["held"]

        other = _sign_in(browser, server, "chief-b")
        other.goto("/cap")
        assert other.locator(".cap-held").count() == 0  # 乙村 is not covered
        assert other.locator("#cap-waiting").count() == 0
        other.context.close()

        page = _sign_in(browser, server, "chief-a")
        assert page.locator("#cap-waiting").inner_text() == "2"  # on every page's menu
        page.click("#nav-cap")
        loaded(page)  # the card's text is read at once below
        assert page.locator("h1").inner_text() == "待批准的预警"
        card = page.locator(f"#cap-{approve_id}")
        assert "暴雨橙色预警。请远离河道。" in card.inner_text()
        assert "甲村大喇叭" in card.inner_text()
        # played at once whatever the hour (the shared deployment's window may cross midnight)
        card.locator("input[name=override_window]").check()
        card.locator("button:has-text('批准并播出')").click()
        page.wait_for_url("**/urgent/u-*")
        assert "已批准" in page.content()
        urgent_id = page.url.rsplit("/", 1)[1]

        (late_id,) = _post(server, alert("B-3", "雷电黄色预警", "请勿在树下避雨。"))["held"]
        page.goto("/cap")
        page.locator(f"#cap-{reject_id}").locator("button:has-text('不播出')").click()
        page.wait_for_url(server.url + "/cap")
        # the admin rejects B-3 while the chief's page still offers it
        Panel(server.url).login("admin", ADMIN_PASSWORD).form(f"/cap/{late_id}/reject", {})
        page.locator(f"#cap-{late_id}").locator("button:has-text('批准并播出')").click()
        page.wait_for_url(server.url + "/cap")
        assert "此预警已由其他人处理。" in page.content()
        assert page.locator(".cap-held").count() == 0
        assert page.locator("#cap-none").is_visible()
        assert page.locator("#cap-waiting").count() == 0
        page.context.close()

        # rendered, fetched by the client's long poll and played: a minute on a loaded machine
        assert wait_for(lambda: starts(client, "urgent"), 90), client.log_text()[-2000:]
    finally:
        client.stop()
    with Store.open(sqlite_url(server.data), upgrade=False) as store:
        approved, rejected = store.cap.get(approve_id), store.cap.get(reject_id)
        assert (approved.state, approved.urgent_id) == ("approved", urgent_id)
        assert approved.decided_by == "user:chief-a"
        assert rejected.state == "rejected"
        urgent = store.urgents.get_urgent(urgent_id)
        assert urgent.text == "暴雨橙色预警。请远离河道。" and urgent.area_ids == ("village-a",)
        assert urgent.created_by == "chief-a" and urgent.override_window
        actions = {(e.action, e.object) for e in store.journal.list_audit(limit=50)}
        assert {("cap.approve", approve_id), ("cap.reject", reject_id),
                ("urgent.send", urgent_id)} <= actions  # fmt: skip
