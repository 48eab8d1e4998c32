"""Schemathesis against `/api/v1/openapi.json`, in process (WSGI): no 5xx, and every answer is
one the document describes (status code, content type, body schema, headers).

Device operations run with the device token of vehicle-01 (and that speaker in the path, so
the handlers are reached); user operations with a personal API token of the admin (who may
see everything, so the most code runs).

Every default check runs except `positive_data_acceptance`: it expects a 2xx (or 404) for
any schema-valid body, but some rules cannot be said in JSON Schema (a play that ends
before it starts, an expiry in the past, `text` or `message` but not both, an unknown
message id), and the server answers those with the documented 422. `SCHEMATHESIS_EXAMPLES` raises the bound per
operation; the slow run below uses 500.
"""

from __future__ import annotations

import dataclasses
import os

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from broadcaster.config import Settings
from broadcaster.service import Service
from broadcaster.store import TokenKind
from tests.web.conftest import NOW
from web.app import create_app
from web.openapi import openapi_document

SPEAKER = "vehicle-01"
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "25"))


@pytest.fixture
def app(settings: Settings, service: Service) -> Flask:
    """The app with long polls cut to 0 s: a fuzzed `wait` must not make the run slow."""
    quick = dataclasses.replace(
        settings, server=dataclasses.replace(settings.server, long_poll_max_s=0)
    )
    return create_app(quick, service, secret_key="test-secret", clock=lambda: NOW)


@pytest.fixture
def tokens(service: Service) -> dict[str, str]:
    store = service.store
    return {
        "device": store.people.issue_token(TokenKind.DEVICE, SPEAKER, NOW)[1],
        "user": store.people.issue_token(TokenKind.USER, "admin", NOW)[1],
    }


OPERATIONS = [
    (method.upper(), path, mode)
    for path, methods in openapi_document()["paths"].items()
    for method in methods
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    # Any string is a valid path parameter: only a body or a query can be made invalid.
    if mode is GenerationMode.POSITIVE
    or methods[method].get("requestBody")
    or any(p["in"] == "query" for p in methods[method].get("parameters", ()))
]


def fuzz(
    app: Flask, tokens: dict[str, str], method: str, path: str, mode: GenerationMode, examples: int
) -> int:
    """Run up to `examples` generated requests against one operation; how many ran."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    # Unknown query parameters are ignored, as by most servers; the token is set below.
    schema.config.generation.update(allow_extra_parameters=False, with_security_parameters=False)
    operation = schema[path][method]
    device = "deviceToken" in str(operation.definition.raw.get("security", ""))
    token = tokens["device" if device else "user"]
    ran = 0

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        derandomize=True,
    )
    def run(case: schemathesis.Case) -> None:
        nonlocal ran
        ran += 1
        if "speaker_id" in (case.path_parameters or {}):
            case.path_parameters["speaker_id"] = SPEAKER
        case.call_and_validate(
            # The in-process transport does not undo gzip as an HTTP client would.
            headers={"Authorization": f"Bearer {token}", "Accept-Encoding": "identity"},
            excluded_checks=[positive_data_acceptance],
        )

    run()
    print(f"schemathesis {method} {path} {mode.value}: {ran} cases")
    return ran


IDS = [f"{m} {p} {mode.value}" for m, p, mode in OPERATIONS]


@pytest.mark.parametrize(("method", "path", "mode"), OPERATIONS, ids=IDS)
def test_api_answers_as_documented(
    app: Flask, tokens: dict[str, str], method: str, path: str, mode: GenerationMode
) -> None:
    assert fuzz(app, tokens, method, path, mode, EXAMPLES) > 0


@pytest.mark.slow
@pytest.mark.parametrize(("method", "path", "mode"), OPERATIONS, ids=IDS)
def test_api_answers_as_documented_long_run(
    app: Flask, tokens: dict[str, str], method: str, path: str, mode: GenerationMode
) -> None:
    assert fuzz(app, tokens, method, path, mode, 500) > 0
