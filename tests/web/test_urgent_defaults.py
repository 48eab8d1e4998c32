"""An urgent's repeats and interval default to what broadcaster/limits.py declares, in the
panel's form and in the user API alike (issue 11: the panel proposed 2 repeats 10 s apart
while the API sent 1 repeat, 0 s). Changing the declaration moves both."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from broadcaster import limits
from broadcaster.service import Service
from broadcaster.store import TokenKind
from tests.web.conftest import NOW

BODY = {"text": "紧急通知：请注意防火。", "speakers": ["tunli-village-1"], "override_window": True}


def _field(page: str, name: str) -> str:
    found = re.search(rf'<input[^>]*name="{name}"[^>]*>', page)
    assert found, name
    value = re.search(r'value="([^"]*)"', found.group(0))
    assert value, found.group(0)
    return value.group(1)


@pytest.mark.parametrize(("repeats", "interval_s"), [(None, None), (3, 7.5)])
def test_the_panel_and_the_api_take_the_declared_urgent_defaults(
    login_as: Any,
    client: FlaskClient,
    service: Service,
    monkeypatch: pytest.MonkeyPatch,
    repeats: int | None,
    interval_s: float | None,
) -> None:
    if repeats is not None:  # the declaration changed, in limits.py only
        monkeypatch.setattr(limits, "REPEATS", dataclasses.replace(limits.REPEATS, default=repeats))
    if interval_s is not None:
        changed = dataclasses.replace(limits.INTERVAL_S, default=interval_s)
        monkeypatch.setattr(limits, "INTERVAL_S", changed)
    want = (limits.REPEATS.default, limits.INTERVAL_S.default)
    page = login_as("admin").get("/urgent").get_data(as_text=True)
    assert (int(_field(page, "repeats")), float(_field(page, "interval_s"))) == want
    token = service.store.people.issue_token(TokenKind.USER, "admin", NOW)[1]
    answer = client.post("/api/v1/urgent", json=BODY, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code < 300, answer.get_json()
    [sent] = service.store.urgents.list_urgents()
    assert (sent.repeats, sent.interval_s) == want
