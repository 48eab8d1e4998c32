"""Device acks do not reveal other speakers' urgents (issue 10, item 3): an ack for an urgent
that exists but is not aimed at the acking speaker gets exactly the answer of an ack for an
id that does not exist (status, headers that matter, body but for the id the device typed),
and nothing is stored. An urgent aimed at the speaker, by id or by an area above it, is
acknowledged as before.

Uses the tests/web fixtures: `service` (a fresh SQLite store from config.yaml) and `app`.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from broadcaster import urgent
from broadcaster.models import Role, User
from broadcaster.service import Service
from broadcaster.store import TokenKind
from tests.web.conftest import NOW

ADMIN = User("admin", Role.ADMIN)
MINE = "xiguan-community-1"  # the acking speaker (the community 西关社区)
OTHER = "tunli-village-1"  # another village's speaker


def _send(service: Service, **targets: Any) -> str:
    request = urgent.UrgentRequest(text="紧急通知", override_window=True, **targets)
    return urgent.send(service, ADMIN, request, NOW).urgent.id


def _ack(app: Flask, service: Service, urgent_id: str, state: str = "received") -> Any:
    token = service.store.people.issue_token(TokenKind.DEVICE, MINE, NOW)[1]
    return app.test_client().post(
        f"/api/v1/speakers/{MINE}/acks",
        headers={"Authorization": f"Bearer {token}"},
        json={"urgent": urgent_id, "state": state, "at": NOW.isoformat()},
    )


def _answer(response: Any, typed: str) -> tuple[int, str | None, dict[str, Any]]:
    body = response.get_json()
    body["error"]["message"] = body["error"]["message"].replace(typed, "<id>")
    return response.status_code, response.headers.get("Content-Type"), body


@pytest.mark.parametrize("state", ["received", "playing", "played", "cut"])
def test_an_ack_for_another_speakers_urgent_is_answered_as_a_missing_one(
    app: Flask, service: Service, state: str
) -> None:
    hidden = _send(service, speaker_ids=(OTHER,))
    by_area = _send(service, area_ids=("tunli-village",))
    missing = hidden[:-4] + ("0000" if not hidden.endswith("0000") else "1111")
    expected = _answer(_ack(app, service, missing, state), missing)
    assert expected[0] == 404 and expected[2]["error"]["code"] == "not_found"
    for urgent_id in (hidden, by_area):
        response = _ack(app, service, urgent_id, state)
        assert len(response.data) == len(_ack(app, service, missing, state).data)
        assert _answer(response, urgent_id) == expected
        assert service.store.urgents.urgent_acks(urgent_id) == ()


def test_an_ack_for_an_urgent_aimed_at_the_speaker_is_recorded(
    app: Flask, service: Service
) -> None:
    named = _send(service, speaker_ids=(MINE,))
    # 西关社区 lies in the township 尧庙镇 (config.yaml): an urgent to the township reaches it.
    by_area = _send(service, area_ids=("yaomiao",))
    for urgent_id in (named, by_area):
        assert _ack(app, service, urgent_id, "played").status_code == 204
        (ack,) = service.store.urgents.urgent_acks(urgent_id)
        assert ack.speaker_id == MINE and ack.played_at == NOW
