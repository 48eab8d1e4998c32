"""Request bodies are read through the models of broadcaster/schema.py (issue 11, item 1):
JSON's types strictly, and every refusal names its field from where pydantic found it."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from broadcaster import schema
from broadcaster.errors import ValidationError
from broadcaster.service import Service
from broadcaster.store import TokenKind
from tests.web.conftest import NOW

URGENT = {
    "text": "紧急通知：请注意防火。",
    "speakers": ["tunli-village-1"],
    "override_window": True,
}
MESSAGE = {"title": "通知", "text": "注意安全。", "area": None}


def post(client: FlaskClient, token: str, path: str, body: Any) -> Any:
    answer = client.post(f"/api/v1{path}", json=body, headers={"Authorization": f"Bearer {token}"})
    return answer.status_code, (answer.get_json() or {}).get("error", {})


@pytest.fixture
def user(service: Service) -> str:
    return service.store.people.issue_token(TokenKind.USER, "admin", NOW)[1]


@pytest.fixture
def device(service: Service) -> str:
    return service.store.people.issue_token(TokenKind.DEVICE, "vehicle-01", NOW)[1]


# (path, body, the field refused): a string is not a number, a number is not true or false,
# one id is not a list of ids; a lax reading would have taken each of them.
NOT_COERCED = [
    ("/urgent", URGENT | {"repeats": "2"}, "repeats"),
    ("/urgent", URGENT | {"interval_s": "30"}, "interval_s"),
    ("/urgent", URGENT | {"override_window": "true"}, "override_window"),
    ("/urgent", URGENT | {"override_window": 1}, "override_window"),
    ("/urgent", URGENT | {"speakers": "tunli-village-1"}, "speakers"),
    ("/urgent", URGENT | {"repeats": True}, "repeats"),
    ("/messages", MESSAGE | {"rate": "160"}, "rate"),
    ("/messages", MESSAGE | {"rate": 160.5}, "rate"),
    ("/messages", MESSAGE | {"volume": "1"}, "volume"),
    ("/messages", MESSAGE | {"chime": "false"}, "chime"),
    ("/messages", MESSAGE | {"title": 5}, "title"),
]


@pytest.mark.parametrize(("path", "body", "field"), NOT_COERCED)
def test_json_types_are_read_strictly(
    client: FlaskClient, user: str, path: str, body: dict[str, Any], field: str
) -> None:
    status, error = post(client, user, path, body)
    assert (status, error.get("field")) == (422, field), error


def test_a_whole_number_may_be_written_with_a_decimal_point(
    client: FlaskClient, user: str, device: str
) -> None:
    """JSON (and the document's "integer") counts 2.0 as the whole number 2."""
    assert post(client, user, "/urgent", URGENT | {"repeats": 2.0})[0] == 201
    assert post(client, user, "/messages", MESSAGE | {"rate": 160.0})[0] == 201
    beat = {"state": "idle", "volume": 50.0}
    assert post(client, device, "/speakers/vehicle-01/heartbeat", beat)[0] == 200
    for volume in ("50", True, 50.5):
        status, error = post(client, device, "/speakers/vehicle-01/heartbeat", {"volume": volume})
        assert (status, error.get("field")) == (422, "volume"), (volume, error)


@pytest.mark.parametrize(
    ("model", "body", "field", "says"),
    [
        (schema.Plays, {"entries": [{"id": "x"}]}, "entries[0].clip", "required"),
        (schema.Plays, {"entries": ["x"]}, "entries[0]", "expected a JSON object"),
        (schema.ScheduleIn, {"weekdays": [1, 9]}, "weekdays", "a list of weekdays"),
        (schema.ScheduleIn, {"exceptions": ["2025-02-30"]}, "exceptions", "a list of dates"),
        (schema.Heartbeat, {"selftest": {"at": "10:00"}}, "selftest.at", "got '10:00'"),
        (schema.Heartbeat, {"cache": {"bytes": -1}}, "cache.bytes", "Must be from 0 to"),
        (schema.Ack, {"urgent": "u-1", "state": "heard"}, "state", "received, playing"),
        (schema.UrgentIn, [], "body", "expected a JSON object"),
    ],
)
def test_a_refusal_names_the_field_where_pydantic_found_it(
    model: type[schema.Request], body: Any, field: str, says: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        schema.read(model, body)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ") and says in str(caught.value)


def test_the_answers_field_is_the_one_the_refusal_carries(client: FlaskClient, user: str) -> None:
    """Never read back out of the message (a store's "schedule s-1.weekdays: ..." names no
    field of the request); the use cases' refusals say theirs (broadcaster/urgent.py)."""
    assert ValidationError("schedule s-1.weekdays: at least one weekday").field is None
    assert ValidationError.at("weekdays", "at least one").field == "weekdays"
    status, error = post(client, user, "/urgent", URGENT | {"message": "masks"})
    assert (status, error.get("field")) == (422, "text"), error  # text or message, not both
    status, error = post(client, user, "/urgent", URGENT | {"speakers": []})
    assert (status, error.get("field")) == (422, "speakers"), error


@pytest.mark.parametrize(
    ("path", "raw", "field"),
    [
        ("/messages", '{"title": "a\\ud800b", "text": "x", "area": null}', "title"),
        ("/messages", '{"title": "ab", "text": "\\udfff", "area": null}', "text"),
        ("/urgent", '{"text": "a\\ud800", "speakers": ["tunli-village-1"]}', "text"),
    ],
)
def test_a_lone_surrogate_is_refused_not_stored(
    client: FlaskClient, user: str, path: str, raw: str, field: str
) -> None:
    """JSON may escape half a UTF-16 pair, which no database column can hold: refused as
    text, as the hand-written reader did (the models read strings through pydantic-core)."""
    answer = client.post(
        f"/api/v1{path}",
        data=raw,
        content_type="application/json",
        headers={"Authorization": f"Bearer {user}"},
    )
    assert answer.status_code == 422 and answer.get_json()["error"]["field"] == field
