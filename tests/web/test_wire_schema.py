"""The device API's wire format is declared once (broadcaster/schema.py, issue 11, item 1):
what the server sends is exactly a model's serialization, the client reads it through the same
models, and a malformed message is refused naming the field."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pydantic
import pytest
from flask.testing import FlaskClient

from broadcaster import schema, urgent
from broadcaster.client.plan import parse_plan, parse_urgent
from broadcaster.errors import ValidationError
from broadcaster.models import Role, User
from broadcaster.service import Service
from broadcaster.store import TokenKind
from tests.web.conftest import NOW

PLAN = "/api/v1/speakers/vehicle-01/plan"


@pytest.fixture
def device(service: Service) -> dict[str, str]:
    token = service.store.people.issue_token(TokenKind.DEVICE, "vehicle-01", NOW)[1]
    return {"Authorization": f"Bearer {token}"}


def test_the_served_plan_is_the_models_serialization(
    client: FlaskClient, device: dict[str, str]
) -> None:
    body = client.get(PLAN, headers=device).get_json()
    assert body["items"] and body["clips"] and body["windows"]
    assert schema.dump(schema.Plan.model_validate(body)) == body
    # every key the server sends is a field of the model (none added beside it)
    assert set(body) == set(schema.Plan.model_fields)
    assert all(set(item) == set(schema.PlanItem.model_fields) for item in body["items"])
    assert all(set(clip) == set(schema.Clip.model_fields) for clip in body["clips"].values())


def test_the_client_reads_the_served_plan_through_the_models(
    client: FlaskClient, device: dict[str, str]
) -> None:
    response = client.get(PLAN, headers=device)
    body = response.get_json()
    plan = parse_plan(body, response.headers["ETag"])
    assert plan.speaker == "vehicle-01" and plan.zone == body["zone"]
    assert [i.clip for i in plan.items] == [i["clip"] for i in body["items"]]
    assert [i.start.isoformat(timespec="milliseconds") for i in plan.items] == [
        i["start"] for i in body["items"]
    ]
    assert set(plan.clips) == set(body["clips"]) and plan.chime == body["chime"]
    assert plan.heartbeat_s == body["heartbeat_s"]


def test_urgent_events_are_the_models_serialization_and_the_client_reads_them(
    client: FlaskClient, device: dict[str, str], service: Service
) -> None:
    request = urgent.UrgentRequest(
        text="紧急通知：请注意防火。", speaker_ids=("vehicle-01",), repeats=3, override_window=True
    )
    sent = urgent.send(service, User("admin", Role.ADMIN), request, NOW)
    events = client.get("/api/v1/speakers/vehicle-01/events?after=0&wait=0", headers=device)
    found = [e for e in events.get_json()["events"] if e["kind"] in ("urgent", "urgent_clip")]
    assert found, events.get_json()
    for event in found:
        model = schema.UrgentEvent if event["kind"] == "urgent" else schema.UrgentClipEvent
        assert schema.dump(model.model_validate(event["payload"])) == event["payload"]
    first = next(e for e in found if e["kind"] == "urgent")
    parsed = parse_urgent(first["seq"], first["payload"], NOW)
    assert (parsed.id, parsed.repeats, parsed.override_window) == (sent.urgent.id, 3, True)
    assert parsed.expires_at == sent.urgent.expires_at


def plan_body() -> dict[str, Any]:
    clip = {"url": "/api/v1/clips/c1", "sha256": "AB" * 32, "size": 10, "duration_ms": 5}
    return {
        "speaker": "s1",
        "zone": "Asia/Shanghai",
        "windows": [{"start": "2026-12-01T07:00:00.000+08:00", "end": "2026-12-01T19:00:00+08:00"}],
        "items": [
            {"start": "2026-12-01T07:00:00+08:00", "end": "2026-12-01T07:00:05+08:00",
             "kind": "loop", "message": "m", "clip": "c1", "urgent": None, "window_end": None}
        ],
        "clips": {"c1": clip},
        "chime": None,
        "heartbeat_s": 30,
    }  # fmt: skip


def broken(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    body = json.loads(json.dumps(plan_body()))
    change(body)
    return body


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda b: b["items"][0].pop("clip"), "plan.items[0].clip: Field required"),
        (lambda b: b["items"][0].update(start="07:00"), "plan.items[0].start: "),
        (lambda b: b["items"][0].update(start="2026-12-01T07:00:00"), "plan.items[0].start: "),
        (lambda b: b["items"][0].update(clip="c9"), "plan.items[0].clip: 'c9' is not in"),
        (lambda b: b["items"][0].update(kind="song"), "plan.items[0].kind: "),
        (lambda b: b["windows"][0].update(end=5), "plan.windows[0].end: "),
        (lambda b: b["clips"]["c1"].pop("sha256"), "plan.clips.c1.sha256: Field required"),
        (lambda b: b["clips"]["c1"].update(size=-1), "plan.clips.c1.size: "),
        (lambda b: b.update(heartbeat_s="often"), "plan.heartbeat_s: "),
    ],
)
def test_a_malformed_plan_is_refused_naming_the_field(
    change: Callable[[dict[str, Any]], None], says: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_plan(broken(change))
    assert str(caught.value).startswith(says), caught.value


def test_what_older_servers_sent_still_reads() -> None:
    plan = parse_plan(
        broken(lambda b: b.update(heartbeat_s=None, chime="nowhere", speaker=None, extra=[1]))
    )
    assert (plan.heartbeat_s, plan.chime, plan.speaker) == (30.0, None, "")
    assert plan.clips["c1"].sha256 == "ab" * 32
    legacy = parse_plan(broken(lambda b: b["items"][0].update(urgent={"id": "u-1"})))
    assert legacy.items[0].urgent == "u-1"
    no_url = parse_plan(broken(lambda b: b["clips"]["c1"].pop("url")))
    assert no_url.clips["c1"].url == "/api/v1/clips/c1"


def test_an_urgent_event_without_its_clip_field_is_refused_naming_it() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_urgent(7, {"id": "u-1", "repeats": 1}, NOW)
    assert str(caught.value) == "event 7.clip: Field required"


def test_what_the_client_sends_fits_the_request_models() -> None:
    from tests.web.test_device_payloads import beat, play

    assert schema.Heartbeat.model_validate(beat()).volume == 100
    plays = schema.Plays.model_validate({"entries": [play(), play(reason="cut:urgent")]})
    assert [e.reason for e in plays.entries] == ["", "cut:urgent"]
    with pytest.raises(pydantic.ValidationError):
        schema.Plays.model_validate({"entries": [play(clip="../../etc/passwd")]})
    ack = schema.Ack.model_validate({"urgent": "u-1", "state": "played", "at": None})
    assert ack.state == "played"


def test_times_in_a_zone_whose_offset_has_seconds_still_read() -> None:
    """The server writes times with `isoformat()` in the deployment's zone; a zone's offset may
    have seconds (the fault tests place a zone's midnight to the second; old local mean times
    had them), which pydantic's own parser refuses: the client read no plan at all then."""
    plan = parse_plan(
        broken(
            lambda b: b["items"][0].update(
                start="2026-12-01T07:00:00+05:23:17", end="2026-12-01T07:00:30+05:23:17"
            )
        )
    )
    first = plan.items[0]
    assert first.start.utcoffset() is not None
    assert first.start.utcoffset().total_seconds() == 5 * 3600 + 23 * 60 + 17  # type: ignore[union-attr]
