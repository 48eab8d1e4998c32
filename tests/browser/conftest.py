"""A real `broadcaster serve`, a real playback client and Debian's Chromium via Playwright.

The server runs a small deployment: villages 甲村 (chief-a) and 乙村 (chief-b), two fixed
loudspeakers and a patrol vehicle with a route, one schedule around now for them; 甲村北喇叭
plays only in a window that opens 40 minutes from now (for the urgent coverage tests).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import require_tool
from tests.integration.harness import ADMIN_PASSWORD, ZONE, Client, Server, aware_now

PASSWORD = "browser-test-pw-1"
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]


def deployment() -> str:
    now = aware_now()
    start = (now - timedelta(hours=1)).astimezone(ZONE)
    end = (now + timedelta(hours=3)).astimezone(ZONE)
    later = (now + timedelta(minutes=40)).astimezone(ZONE)
    return f"""\
deployment:
  name: 浏览器测试
  timezone: Asia/Shanghai
audio: {{rate: 220, tail_ms: 200, lead_ms: 100, selftest_text: 测试}}
server: {{heartbeat_s: 2, offline_after_missed: 3, long_poll_max_s: 20}}
areas:
  - id: district
    name: 测试区
    kind: district
    children:
      - {{id: village-a, name: 甲村, kind: village}}
      - {{id: village-b, name: 乙村, kind: village}}
speakers:
  - {{id: spk-a, name: 甲村大喇叭, kind: fixed, area: village-a}}
  - {{id: spk-b, name: 乙村大喇叭, kind: fixed, area: village-b}}
  - {{id: spk-a2, name: 甲村北喇叭, kind: fixed, area: village-a}}
  - id: car-a
    name: 甲村宣传车
    kind: vehicle
    area: village-a
    route:
      - {{name: 东站}}
      - {{name: 南站}}
      - {{name: 西站}}
messages:
  - {{id: m1, title: 全区通知, text: 请大家注意防火。, chime: false}}
programs:
  - {{id: p1, name: 全区循环, messages: [m1], gap_s: 2}}
schedules:
  - id: s1
    program: p1
    speakers: [spk-a, spk-b, car-a]
    start: "{start:%H:%M:%S}"
    end: "{end:%H:%M:%S}"
  - id: s2
    program: p1
    speakers: [spk-a2]
    start: "{later:%H:%M:%S}"
    end: "{end:%H:%M:%S}"
users:
  - {{name: chief-a, role: chief, areas: [village-a]}}
  - {{name: chief-b, role: chief, areas: [village-b]}}
  - {{name: driver-a, role: operator, vehicle: car-a}}
"""


class Panel(requests.Session):
    """The panel over plain HTTP (for setting up objects), with the page's CSRF token."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url

    def token(self, path: str = "/login") -> str:
        page = self.get(self.url + path, timeout=30).text
        match = re.search(r'name="csrf-token" content="([^"]+)"', page)
        assert match, page[:300]
        return match.group(1)

    def form(self, path: str, data: dict[str, Any], **kw: Any) -> requests.Response:
        response = self.post(
            self.url + path,
            data={**data, "csrf_token": self.token()},
            timeout=60,
            allow_redirects=False,
            **kw,
        )
        assert response.status_code in (302, 303), (
            path,
            response.status_code,
            response.text[:2000],
        )
        return response

    def default_voice(self) -> str:
        """The voice a new message's form has chosen (picked from a list, issue 11)."""
        page = self.get(self.url + "/messages/new", timeout=30).text
        voice = re.search(r'<select name="voice".*?<option value="([^"]*)" selected', page, re.S)
        assert voice, page[:300]
        return voice.group(1)

    def login(self, name: str, password: str) -> Panel:
        response = self.post(
            self.url + "/login",
            data={"name": name, "password": password, "csrf_token": self.token()},
            allow_redirects=False,
            timeout=30,
        )
        assert response.status_code == 302, response.text[:500]
        return self


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    require_tool("espeak-ng")
    require_tool("ffmpeg")
    root = tmp_path_factory.mktemp("browser")
    config = root / "config.yaml"
    config.write_text(deployment(), encoding="utf-8")
    srv = Server(root, config)
    srv.start()
    admin = Panel(srv.url).login("admin", ADMIN_PASSWORD)
    for name, fields in (
        ("chief-a", {"areas": "village-a"}),
        ("chief-b", {"areas": "village-b"}),
        ("driver-a", {"vehicle": "car-a"}),
    ):
        role = "operator" if name.startswith("driver") else "chief"
        admin.form(
            f"/users/{name}", {"role": role, "password": PASSWORD, "password2": PASSWORD, **fields}
        )
    chief = Panel(srv.url).login("chief-a", PASSWORD)
    voice = chief.default_voice()
    # Only admins choose ids; the admin makes village A's message and program for chief-a.
    admin.form(
        "/messages/new",
        {
            "id": "msg-a",
            "title": "甲村停水通知",
            "text": "甲村今晚八点停水。",
            "voice": voice,
            "rate": "170",
            "volume": "1",
            "area": "village-a",
        },
    )
    admin.form(
        "/programs/new",
        {
            "id": "prog-a",
            "name": "甲村循环",
            "gap_s": "2",
            "messages": "msg-a",
            "area": "village-a",
        },
    )
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def client_a(server: Server) -> Iterator[Client]:
    """A running playback client for 甲村大喇叭."""
    client = Client("spk-a", server.root, server.url, server.device_token("spk-a"))
    client.start()
    try:
        yield client
    finally:
        client.stop()


@pytest.fixture(scope="session")
def client_a2(server: Server) -> Iterator[Client]:
    """A running playback client for 甲村北喇叭 (outside its window for the next 40 minutes)."""
    client = Client("spk-a2", server.root, server.url, server.device_token("spk-a2"))
    client.start()
    try:
        yield client
    finally:
        client.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: run `make test` (it installs the Debian packages)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def signed_in(browser: Any, base: str, name: str, password: str = PASSWORD, **context: Any) -> Any:
    """A page of a new browser context (`context`: viewport, touch, ...) signed in as `name`;
    its context is `page.context`."""
    page = browser.new_context(base_url=base, locale="zh-CN", **context).new_page()
    page.set_default_timeout(30_000)
    page.goto("/login")
    page.fill('input[name="name"]', name)
    page.fill('input[name="password"]', password)
    page.click('button[type="submit"]')
    page.wait_for_url(base + "/")
    return page


def loaded(page: Any) -> None:
    """After an action that navigated (a click on a link or a submit button, a tap, Enter):
    Playwright's click returns once the new page is committed, not once it is parsed, so what
    a test waited for (a notice at the top) can be there before the rest of the page and
    before the deferred panel.js has run (its buttons and form checks do nothing yet). Reads
    that do not wait (is_visible, is_hidden, query_selector_all, all(), count()) and clicks on
    script-driven buttons come after this."""
    page.wait_for_load_state("load", timeout=30_000)


@pytest.fixture
def page_as(browser: Any, server: Server) -> Iterator[Any]:
    """A fresh browser context signed in as the given user."""
    pages: list[Any] = []

    def sign_in(name: str, password: str = PASSWORD) -> Any:
        page = signed_in(
            browser, server.url, name, password, viewport={"width": 1280, "height": 900}
        )
        pages.append(page)
        return page

    yield sign_in
    for page in pages:
        page.context.close()
