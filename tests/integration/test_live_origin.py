"""The pager's socket behind the TLS reverse proxy the README recommends: the browser's Origin
says https:// while the server sees http://; the same host is the panel, another host is not."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.integration.harness import ADMIN_PASSWORD, Server, aware_now, deployment_yaml, seconds

UPGRADE = {
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = Path(tmp_path_factory.mktemp("origin"))
    config = root / "config.yaml"
    now = aware_now()
    config.write_text(
        deployment_yaml(window_start=now - seconds(60), window_end=now + seconds(3600), speakers=1)
    )
    found = Server(root, config)
    found.start()
    yield found
    found.stop()


def _signed_in(server: Server) -> tuple[requests.Session, str]:
    session = requests.Session()
    pattern = r'name="csrf-token" content="([^"]+)"'
    token = re.search(pattern, session.get(server.url + "/login").text)
    assert token is not None
    session.post(
        server.url + "/login",
        data={"name": "admin", "password": ADMIN_PASSWORD, "csrf_token": token.group(1)},
        allow_redirects=False,
    )
    csrf = re.search(pattern, session.get(server.url + "/").text)
    assert csrf is not None
    return session, csrf.group(1)


@pytest.mark.parametrize(
    ("scheme_host", "status"),
    [("http://{host}", 101), ("https://{host}", 101), ("https://evil.example", 403)],
    ids=["same-http", "same-host-behind-tls", "other-host"],
)
def test_the_panel_behind_tls_may_open_the_pager_socket(
    server: Server, scheme_host: str, status: int
) -> None:
    session, csrf = _signed_in(server)
    origin = scheme_host.format(host=server.url.split("//", 1)[1])
    answer = session.get(
        f"{server.url}/api/v1/live?csrf={csrf}",
        headers={**UPGRADE, "Origin": origin},
        timeout=10,
        stream=True,
    )
    try:
        assert answer.status_code == status, answer.text[:200] if status != 101 else ""
    finally:
        answer.close()
