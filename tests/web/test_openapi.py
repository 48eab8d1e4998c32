"""The OpenAPI document: every route of /api/v1 documented, and the wire models' schemas
taken from the models themselves (broadcaster/schema.py, issue 11, item 1)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from broadcaster import schema
from broadcaster.service import Service
from broadcaster.store import TokenKind
from tests.web.conftest import NOW
from web import answers, shapes_api
from web.openapi import openapi_document


def test_every_api_route_is_documented_and_every_documented_route_exists(app: Flask) -> None:
    routes = {
        (method.lower(), re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1")))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and rule.rule != "/api/v1/openapi.json"
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    documented = {
        (method, path)
        for path, methods in openapi_document()["paths"].items()
        for method in methods
    }
    assert routes - documented == set(), "document these routes in web/openapi.py (schemathesis "
    "fuzzes what is documented: tests/security/test_api_fuzz.py)"
    assert documented - routes == set(), "the document names routes the app does not have"


def test_the_wire_models_schemas_are_the_documents() -> None:
    components = openapi_document()["components"]["schemas"]
    models = schema.json_schemas()
    assert {"Plan", "PlanItem", "Window", "Clip", "UrgentEvent", "UrgentClipEvent"} <= set(models)
    for name, found in models.items():
        assert components[name] == found, name
    plan = openapi_document()["paths"]["/speakers/{speaker_id}/plan"]["get"]
    answer = plan["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/Plan"}
    # what the server always sends is required in the answer's schema
    assert set(models["Plan"]["required"]) == set(schema.Plan.model_fields)


# Every request body, and the model its handler reads it with (web/payloads.py,
# web/catalog_api.py).
REQUESTS: dict[tuple[str, str], type[schema.Request]] = {
    ("post", "/speakers/{speaker_id}/heartbeat"): schema.Heartbeat,
    ("post", "/speakers/{speaker_id}/plays"): schema.Plays,
    ("post", "/speakers/{speaker_id}/track"): schema.Track,
    ("post", "/speakers/{speaker_id}/acks"): schema.Ack,
    ("post", "/urgent"): schema.UrgentIn,
    ("post", "/urgent/preview"): schema.UrgentIn,
    ("post", "/messages"): schema.MessageCreate,
    ("patch", "/messages/{message_id}"): schema.MessagePatch,
    ("post", "/programs"): schema.ProgramCreate,
    ("patch", "/programs/{program_id}"): schema.ProgramIn,
    ("post", "/schedules"): schema.ScheduleCreate,
    ("patch", "/schedules/{schedule_id}"): schema.ScheduleIn,
    ("patch", "/areas/{area_id}"): shapes_api.AreaShapeIn,
    ("patch", "/speakers/{speaker_id}/location"): shapes_api.LocationIn,
    ("put", "/quiet-zones/{zone_id}"): shapes_api.QuietZoneIn,
}


def test_every_request_body_is_its_models_json_schema() -> None:
    """The document's request schemas are the models' (issue 11): a bound, a field or a type
    changed in a model is changed in the document, and nothing is added by hand."""
    found = {
        (method, path): operation["requestBody"]["content"]["application/json"]["schema"]
        for path, methods in openapi_document()["paths"].items()
        for method, operation in methods.items()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    }
    assert set(found) == set(REQUESTS), "a request body without its model here (or gone)"
    for operation, model in REQUESTS.items():
        expected = schema.request_schema(model)
        assert found[operation] == expected, operation
        # the model's own JSON Schema, with its $refs inlined and nothing else changed
        own = model.model_json_schema(mode="validation")
        assert set(expected["properties"]) == set(own["properties"]), operation
        assert expected.get("required", []) == own.get("required", []), operation


# Every answer documented from a model of web/answers.py (or broadcaster/schema.py, the plan).
ANSWERS: dict[tuple[str, str, str], Any] = {
    ("get", "/speakers/{speaker_id}/events", "200"): answers.schema_of(answers.EventsOut),
    ("post", "/speakers/{speaker_id}/heartbeat", "200"): answers.schema_of(answers.HeartbeatOut),
    ("post", "/speakers/{speaker_id}/plays", "200"): answers.schema_of(answers.PlaysOut),
    ("post", "/speakers/{speaker_id}/track", "200"): answers.schema_of(answers.PlaysOut),
    ("get", "/speakers", "200"): answers.listed(answers.SpeakerStatusOut),
    ("get", "/live", "200"): answers.schema_of(answers.LivePagesOut),
    ("post", "/urgent", "201"): answers.schema_of(answers.UrgentSentOut),
    ("get", "/urgent", "200"): answers.listed(answers.UrgentOut),
    ("post", "/urgent/preview", "200"): answers.one(answers.Coverage),
    ("get", "/urgent/{urgent_id}", "200"): answers.one(answers.UrgentOut),
    ("delete", "/urgent/{urgent_id}", "200"): answers.schema_of(answers.UrgentCancelledOut),
    ("get", "/messages", "200"): answers.listed(answers.MessageOut),
    ("post", "/messages", "201"): answers.one(answers.MessageOut),
    ("get", "/messages/{message_id}", "200"): answers.one(answers.MessageOut),
    ("patch", "/messages/{message_id}", "200"): answers.one(answers.MessageOut),
    ("get", "/programs", "200"): answers.listed(answers.ProgramOut),
    ("post", "/programs", "201"): answers.one(answers.ProgramOut),
    ("get", "/programs/{program_id}", "200"): answers.one(answers.ProgramOut),
    ("patch", "/programs/{program_id}", "200"): answers.one(answers.ProgramOut),
    ("get", "/schedules", "200"): answers.listed(answers.ScheduleOut),
    ("post", "/schedules", "201"): answers.one(answers.ScheduleOut),
    ("get", "/schedules/{schedule_id}", "200"): answers.one(answers.ScheduleOut),
    ("patch", "/schedules/{schedule_id}", "200"): answers.one(answers.ScheduleOut),
    ("get", "/speakers/{speaker_id}/plan", "200"): {"$ref": "#/components/schemas/Plan"},
    ("get", "/areas", "200"): answers.listed(shapes_api.AreaOut),
    ("patch", "/areas/{area_id}", "200"): answers.one(shapes_api.AreaOut),
    ("patch", "/speakers/{speaker_id}/location", "200"): answers.one(shapes_api.LocationOut),
    ("get", "/quiet-zones", "200"): answers.listed(shapes_api.QuietZoneOut),
    ("put", "/quiet-zones/{zone_id}", "200"): answers.one(shapes_api.QuietZoneOut),
    ("put", "/quiet-zones/{zone_id}", "201"): answers.one(shapes_api.QuietZoneOut),
}


def test_every_json_answer_is_a_models_json_schema() -> None:
    document = openapi_document()
    found = {
        (method, path, status): answer["content"]["application/json"]["schema"]
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
        for status, answer in operation["responses"].items()
        if "application/json" in answer.get("content", {}) and status < "400"
    }
    assert found == ANSWERS
    errors = {
        answer["content"]["application/json"]["schema"]["$ref"]
        for methods in document["paths"].values()
        for operation in methods.values()
        for status, answer in operation["responses"].items()
        if status >= "400" and "application/json" in answer.get("content", {})
    }
    assert errors == {"#/components/schemas/Error"}
    assert document["components"]["schemas"]["Error"] == answers.schema_of(answers.ErrorOut)


BASES: list[tuple[str, type[schema.Request], dict[str, Any]]] = [
    ("/messages", schema.MessageCreate, {"title": "通知", "text": "注意安全。", "area": None}),
    ("/programs", schema.ProgramCreate, {"name": "循环", "messages": ["masks"], "area": None}),
    ("/schedules", schema.ScheduleCreate,
     {"program": "prevention", "speakers": ["tunli-village-1"], "weekdays": [1],
      "start": "03:00", "end": "03:10", "accept_conflicts": True}),
    ("/urgent", schema.UrgentIn,
     {"text": "紧急通知：请注意防火。", "speakers": ["tunli-village-1"], "override_window": True}),
]  # fmt: skip


@pytest.mark.parametrize(("path", "model", "base"), BASES, ids=[b[0] for b in BASES])
def test_the_user_api_reads_every_field_the_models_declare(
    client: FlaskClient, service: Service, path: str, model: type[schema.Request], base: Any
) -> None:
    """A wrong type in any field of the model is refused naming that field: the parser reads
    the names the document shows."""
    token = service.store.people.issue_token(TokenKind.USER, "admin", NOW)[1]
    for name in model.model_fields:
        response = client.post(
            f"/api/v1{path}",
            json={**base, name: {"not": "this"}},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 422, (name, response.get_json())
        assert response.get_json()["error"].get("field") == name, (name, response.get_json())
