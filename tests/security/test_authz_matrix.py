"""The authorization matrix: every route of the app, for every kind of caller, against the
objects of another village or vehicle: refused (401/403/404), never their data.

Each route is classified in ROUTES; a route the table does not classify fails
`test_every_route_is_classified`, so a new endpoint cannot slip past the matrix. For every
cell the answer must not contain the other village's ids, names or texts (unless the caller
typed them into the request), and the database must be unchanged.

Callers: anonymous; admin (a positive control: the same GET requests answer 200, so the
refusals elsewhere are about the caller, not a wrong URL); chief of village A (屯里村) and of
B (西关社区); the operator of vehicle-01; the device token of speaker tunli-village-1; a
personal API token of chief A; a revoked device token; a revoked user token; a disabled
user's panel session and personal token. The "other" village is B for everyone but chief B,
for whom it is A.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from broadcaster import editing, urgent
from broadcaster.models import Message, Program, Role, Schedule, User
from broadcaster.service import Service
from broadcaster.store import TokenKind
from tests.security.conftest import World, snapshot
from tests.web.conftest import NOW, post

# How a route is guarded; see EXPECTED below.
PUBLIC = "public"  # no data: sign-in, health, OpenAPI, static files
DEVICE = "device"  # device API for one speaker: only that speaker's token
DEVICE_SHARED = "device-shared"  # clip bytes by content hash: any device token
USER_LIST = "user-list"  # user API lists: only what the user may see
USER_OBJECT = "user-object"  # user API on another village's object
USER_CREATE = "user-create"  # user API create naming another village's objects: 403 or 422
PANEL_LIST = "panel-list"  # panel lists and create forms: only the user's own objects
PANEL_OBJECT = "panel-object"  # panel page or action on another village's object
PANEL_ADMIN = "panel-admin"  # district-wide administration: admins only
PANEL_SHARED = "panel-shared"  # rendered clips by content hash: any signed-in user


@dataclass(frozen=True)
class Case:
    kind: str
    path: str  # with {placeholders} for the other village's objects
    form: dict[str, Any] | None = None  # panel POST fields
    json: dict[str, Any] | None = None  # API body


URGENT_FORM = {
    "source": "text",
    "text": "测试",
    "speakers": "{speaker}",
    "repeats": "1",
    "interval_s": "0",
    "expires_min": "60",
}
MESSAGE_FORM = {
    "title": "改",
    "text": "测试通知",
    "voice": "zh",
    "rate": "170",
    "volume": "1.0",
    "area": "{area}",
}
PROGRAM_FORM = {"name": "改", "gap_s": "3", "messages": "{message}", "area": "{area}"}
SCHEDULE_FORM = {
    "program": "{program}",
    "speakers": "{speaker}",
    "weekdays": "1",
    "start": "08:00",
    "end": "09:00",
    "priority": "0",
    "enabled": "1",
}
SPEAKER_FORM = {"name": "改", "kind": "fixed", "area": "{area}", "volume": "50"}
USER_FORM = {"role": "chief", "areas": "{area}", "password": "", "password2": ""}
MESSAGE_JSON = {"title": "改", "text": "测试通知", "area": "{area}"}
PROGRAM_JSON = {"name": "改", "gap_s": 3, "messages": ["{message}"], "area": "{area}"}
SCHEDULE_JSON = {
    "program": "{program}",
    "speakers": ["{speaker}"],
    "weekdays": [1],
    "start": "08:00",
    "end": "09:00",
    "accept_conflicts": True,
}
HEARTBEAT = {"state": "playing", "volume": 50}
PLAY = {
    "id": "forged-1",
    "clip": "{clip}",
    "kind": "loop",
    "started_at": "2025-05-06T01:00:00+00:00",
    "ended_at": "2025-05-06T01:01:00+00:00",
}
TRACK_POINT = {"id": "forged-1", "lat": 36.08, "lon": 111.52, "at": "2025-05-06T01:00:00+00:00"}

ROUTES: dict[tuple[str, str], Case] = {
    # public
    ("GET", "/login"): Case(PUBLIC, "/login"),
    ("POST", "/login"): Case(PUBLIC, "/login", form={"name": "nobody", "password": "x"}),
    ("POST", "/logout"): Case(PUBLIC, "/logout", form={}),
    ("GET", "/healthz"): Case(PUBLIC, "/healthz"),
    ("GET", "/api/v1/openapi.json"): Case(PUBLIC, "/api/v1/openapi.json"),
    ("GET", "/static/<path:filename>"): Case(PUBLIC, "/static/panel.css"),
    # device API
    ("GET", "/api/v1/speakers/<speaker_id>/plan"): Case(DEVICE, "/api/v1/speakers/{speaker}/plan"),
    ("GET", "/api/v1/speakers/<speaker_id>/events"): Case(
        DEVICE, "/api/v1/speakers/{speaker}/events?after=0&wait=0"
    ),
    ("POST", "/api/v1/speakers/<speaker_id>/heartbeat"): Case(
        DEVICE, "/api/v1/speakers/{speaker}/heartbeat", json=HEARTBEAT
    ),
    ("POST", "/api/v1/speakers/<speaker_id>/plays"): Case(
        DEVICE, "/api/v1/speakers/{speaker}/plays", json={"entries": [PLAY]}
    ),
    ("POST", "/api/v1/speakers/<speaker_id>/track"): Case(
        DEVICE, "/api/v1/speakers/{speaker}/track", json={"points": [TRACK_POINT]}
    ),
    ("POST", "/api/v1/speakers/<speaker_id>/acks"): Case(
        DEVICE, "/api/v1/speakers/{speaker}/acks", json={"urgent": "{urgent}", "state": "played"}
    ),
    ("GET", "/api/v1/clips/<key>"): Case(DEVICE_SHARED, "/api/v1/clips/{clip}"),
    ("GET", "/api/v1/speakers/<speaker_id>/live/<page_id>"): Case(
        DEVICE, "/api/v1/speakers/{speaker}/live/live-1"
    ),
    # user API
    ("GET", "/api/v1/speakers"): Case(USER_LIST, "/api/v1/speakers"),
    ("GET", "/api/v1/urgent"): Case(USER_LIST, "/api/v1/urgent"),
    ("GET", "/api/v1/live"): Case(USER_LIST, "/api/v1/live"),  # and the pager's WebSocket
    # CAP (issue 15): admins (and configured source keys, not a caller here) only
    ("POST", "/api/v1/cap"): Case(PANEL_ADMIN, "/api/v1/cap"),
    ("GET", "/api/v1/cap/feed"): Case(PANEL_ADMIN, "/api/v1/cap/feed"),
    ("GET", "/api/v1/urgent/<urgent_id>.cap"): Case(PANEL_ADMIN, "/api/v1/urgent/{urgent}.cap"),
    ("POST", "/api/v1/urgent"): Case(
        USER_OBJECT, "/api/v1/urgent", json={"text": "测试", "speakers": ["{speaker}"]}
    ),
    ("DELETE", "/api/v1/urgent/<urgent_id>"): Case(USER_OBJECT, "/api/v1/urgent/{urgent}"),
    ("GET", "/api/v1/urgent/<urgent_id>"): Case(USER_OBJECT, "/api/v1/urgent/{urgent}"),
    ("POST", "/api/v1/urgent/preview"): Case(
        USER_OBJECT,
        "/api/v1/urgent/preview",
        json={"text": "测试", "speakers": ["{speaker}"], "override_window": True},
    ),
    # user API: messages, programs, schedules (web/catalog_api.py)
    ("GET", "/api/v1/messages"): Case(USER_LIST, "/api/v1/messages"),
    # shapes (issue 13, web/shapes_api.py): changing is for admins
    ("GET", "/api/v1/areas"): Case(USER_LIST, "/api/v1/areas"),
    ("PATCH", "/api/v1/areas/<area_id>"): Case(
        USER_OBJECT, "/api/v1/areas/{area}", json={"polygon": None}
    ),
    ("PATCH", "/api/v1/speakers/<speaker_id>/location"): Case(
        USER_OBJECT, "/api/v1/speakers/{speaker}/location", json={"location": None}
    ),
    ("GET", "/api/v1/quiet-zones"): Case(USER_LIST, "/api/v1/quiet-zones"),
    ("PUT", "/api/v1/quiet-zones/<zone_id>"): Case(
        PANEL_ADMIN, "/api/v1/quiet-zones/tunli-hospital", json={"name": "鼹鼠", "polygon": []}
    ),
    ("DELETE", "/api/v1/quiet-zones/<zone_id>"): Case(
        PANEL_ADMIN, "/api/v1/quiet-zones/tunli-hospital"
    ),
    ("POST", "/api/v1/messages"): Case(USER_CREATE, "/api/v1/messages", json=MESSAGE_JSON),
    ("GET", "/api/v1/messages/<message_id>"): Case(USER_OBJECT, "/api/v1/messages/{message}"),
    ("PATCH", "/api/v1/messages/<message_id>"): Case(
        USER_OBJECT, "/api/v1/messages/{message}", json={"title": "改", "area": "{area}"}
    ),
    ("DELETE", "/api/v1/messages/<message_id>"): Case(USER_OBJECT, "/api/v1/messages/{message}"),
    ("GET", "/api/v1/programs"): Case(USER_LIST, "/api/v1/programs"),
    ("POST", "/api/v1/programs"): Case(USER_CREATE, "/api/v1/programs", json=PROGRAM_JSON),
    ("GET", "/api/v1/programs/<program_id>"): Case(USER_OBJECT, "/api/v1/programs/{program}"),
    ("PATCH", "/api/v1/programs/<program_id>"): Case(
        USER_OBJECT, "/api/v1/programs/{program}", json={"name": "改", "area": "{area}"}
    ),
    ("DELETE", "/api/v1/programs/<program_id>"): Case(USER_OBJECT, "/api/v1/programs/{program}"),
    ("GET", "/api/v1/schedules"): Case(USER_LIST, "/api/v1/schedules"),
    ("POST", "/api/v1/schedules"): Case(USER_CREATE, "/api/v1/schedules", json=SCHEDULE_JSON),
    ("GET", "/api/v1/schedules/<schedule_id>"): Case(USER_OBJECT, "/api/v1/schedules/{schedule}"),
    ("PATCH", "/api/v1/schedules/<schedule_id>"): Case(
        USER_OBJECT, "/api/v1/schedules/{schedule}", json={"priority": 1}
    ),
    ("DELETE", "/api/v1/schedules/<schedule_id>"): Case(
        USER_OBJECT, "/api/v1/schedules/{schedule}"
    ),
    # panel: dashboard and lists
    ("GET", "/"): Case(PANEL_LIST, "/"),
    ("GET", "/dashboard/cards"): Case(PANEL_LIST, "/dashboard/cards"),
    ("GET", "/dashboard/live"): Case(PANEL_LIST, "/dashboard/live"),
    ("GET", "/map"): Case(PANEL_LIST, "/map"),
    ("GET", "/map/live"): Case(PANEL_LIST, "/map/live"),
    ("GET", "/messages"): Case(PANEL_LIST, "/messages?q=秘密"),
    ("GET", "/messages/new"): Case(PANEL_LIST, "/messages/new"),
    ("POST", "/messages/new"): Case(PANEL_LIST, "/messages/new", form=MESSAGE_FORM),
    ("POST", "/messages/preview"): Case(PANEL_LIST, "/messages/preview", form={"text": "测试"}),
    ("GET", "/lexicon"): Case(PANEL_LIST, "/lexicon"),
    ("GET", "/programs"): Case(PANEL_LIST, "/programs"),
    ("GET", "/programs/new"): Case(PANEL_LIST, "/programs/new"),
    ("POST", "/programs/new"): Case(PANEL_LIST, "/programs/new", form=PROGRAM_FORM),
    ("GET", "/schedules"): Case(PANEL_LIST, "/schedules"),
    ("GET", "/schedules/new"): Case(PANEL_LIST, "/schedules/new"),
    ("POST", "/schedules/new"): Case(PANEL_LIST, "/schedules/new", form=SCHEDULE_FORM),
    ("GET", "/speakers"): Case(PANEL_LIST, "/speakers"),
    ("GET", "/areas"): Case(PANEL_LIST, "/areas"),
    ("GET", "/urgent"): Case(PANEL_LIST, "/urgent"),
    ("POST", "/urgent"): Case(PANEL_LIST, "/urgent", form=URGENT_FORM),
    ("GET", "/reports"): Case(PANEL_LIST, "/reports?day=2025-05-06&speaker={speaker}"),
    ("GET", "/reports/plays.csv"): Case(
        PANEL_LIST, "/reports/plays.csv?day=2025-05-06&area={area}"
    ),
    ("GET", "/reports/coverage"): Case(PANEL_LIST, "/reports/coverage?day=2025-05-06"),
    ("GET", "/reports/coverage.csv"): Case(PANEL_LIST, "/reports/coverage.csv?day=2025-05-06"),
    # panel: another village's objects
    ("GET", "/messages/<message_id>"): Case(PANEL_OBJECT, "/messages/{message}"),
    ("POST", "/messages/<message_id>"): Case(
        PANEL_OBJECT, "/messages/{message}", form=MESSAGE_FORM
    ),
    ("POST", "/messages/<message_id>/delete"): Case(
        PANEL_OBJECT, "/messages/{message}/delete", form={}
    ),
    ("GET", "/messages/<message_id>/audio.wav"): Case(
        PANEL_OBJECT, "/messages/{message}/audio.wav"
    ),
    ("GET", "/programs/<program_id>"): Case(PANEL_OBJECT, "/programs/{program}"),
    ("POST", "/programs/<program_id>"): Case(
        PANEL_OBJECT, "/programs/{program}", form=PROGRAM_FORM
    ),
    ("POST", "/programs/<program_id>/delete"): Case(
        PANEL_OBJECT, "/programs/{program}/delete", form={}
    ),
    ("GET", "/schedules/<schedule_id>"): Case(PANEL_OBJECT, "/schedules/{schedule}"),
    ("POST", "/schedules/<schedule_id>"): Case(
        PANEL_OBJECT, "/schedules/{schedule}", form=SCHEDULE_FORM
    ),
    ("POST", "/schedules/<schedule_id>/delete"): Case(
        PANEL_OBJECT, "/schedules/{schedule}/delete", form={}
    ),
    ("GET", "/speakers/<speaker_id>"): Case(PANEL_OBJECT, "/speakers/{speaker}"),
    ("POST", "/speakers/<speaker_id>"): Case(
        PANEL_OBJECT, "/speakers/{speaker}", form=SPEAKER_FORM
    ),
    ("POST", "/speakers/<speaker_id>/route"): Case(
        PANEL_OBJECT, "/speakers/{vehicle}/route", form={"stop_name": "改道"}
    ),
    ("GET", "/speakers/<speaker_id>/sheet"): Case(PANEL_OBJECT, "/speakers/{vehicle}/sheet"),
    ("POST", "/speakers/<speaker_id>/tokens"): Case(
        PANEL_OBJECT, "/speakers/{speaker}/tokens", form={"label": "x"}
    ),
    ("POST", "/speakers/<speaker_id>/tokens/<token_id>/revoke"): Case(
        PANEL_OBJECT, "/speakers/{speaker}/tokens/{token_id}/revoke", form={}
    ),
    ("GET", "/urgent/<urgent_id>"): Case(PANEL_OBJECT, "/urgent/{urgent}"),
    ("GET", "/urgent/<urgent_id>/acks"): Case(PANEL_OBJECT, "/urgent/{urgent}/acks"),
    ("POST", "/urgent/<urgent_id>/cancel"): Case(PANEL_OBJECT, "/urgent/{urgent}/cancel", form={}),
    # held CAP alerts (issue 15): the world holds none, so these are answered as missing
    ("GET", "/cap"): Case(PANEL_LIST, "/cap"),
    ("POST", "/cap/<row_id>/approve"): Case(PANEL_OBJECT, "/cap/cap-none/approve", form={}),
    ("POST", "/cap/<row_id>/reject"): Case(PANEL_OBJECT, "/cap/cap-none/reject", form={}),
    ("GET", "/urgent/live/<page_id>/audio.wav"): Case(
        PANEL_OBJECT, "/urgent/live/{live}/audio.wav"
    ),
    ("GET", "/users/<name>"): Case(PANEL_OBJECT, "/users/{user}"),
    ("POST", "/users/<name>"): Case(PANEL_OBJECT, "/users/{user}", form=USER_FORM),
    ("POST", "/users/<name>/disable"): Case(
        PANEL_OBJECT, "/users/{user}/disable", form={"disabled": "1"}
    ),
    # panel: district administration
    ("GET", "/audit"): Case(PANEL_ADMIN, "/audit"),
    ("GET", "/users"): Case(PANEL_ADMIN, "/users"),
    ("GET", "/users/new"): Case(PANEL_ADMIN, "/users/new"),
    ("POST", "/users/new"): Case(PANEL_ADMIN, "/users/new", form={**USER_FORM, "name": "mole"}),
    ("GET", "/speakers/new"): Case(PANEL_ADMIN, "/speakers/new"),
    ("POST", "/speakers/new"): Case(
        PANEL_ADMIN, "/speakers/new", form={**SPEAKER_FORM, "id": "mole-1"}
    ),
    ("POST", "/areas"): Case(
        PANEL_ADMIN,
        "/areas",
        form={"id": "mole", "name": "鼹鼠村", "kind": "village", "parent": "{area}"},
    ),
    ("POST", "/lexicon"): Case(PANEL_ADMIN, "/lexicon", form={"entries": "秘密 = mi mi"}),
    ("GET", "/map/areas/<area_id>"): Case(PANEL_ADMIN, "/map/areas/{area}"),
    ("POST", "/map/areas/<area_id>"): Case(PANEL_ADMIN, "/map/areas/{area}", form={"polygon": ""}),
    ("GET", "/map/zones/new"): Case(PANEL_ADMIN, "/map/zones/new"),
    ("POST", "/map/zones/new"): Case(PANEL_ADMIN, "/map/zones/new", form={"id": "mole"}),
    ("GET", "/map/zones/<zone_id>"): Case(PANEL_ADMIN, "/map/zones/tunli-hospital"),
    ("POST", "/map/zones/<zone_id>"): Case(
        PANEL_ADMIN, "/map/zones/tunli-hospital", form={"name": "鼹鼠"}
    ),
    ("POST", "/map/zones/<zone_id>/delete"): Case(
        PANEL_ADMIN, "/map/zones/tunli-hospital/delete", form={}
    ),
    ("POST", "/map/routes/<speaker_id>/stops"): Case(
        PANEL_ADMIN, "/map/routes/{vehicle}/stops", form={"index": "0", "lat": "36", "lon": "111"}
    ),
    # panel: clips by content hash
    ("GET", "/clips/<key>.wav"): Case(PANEL_SHARED, "/clips/{clip}.wav"),
}

ANONYMOUS = ("anonymous",)
NOBODY = (
    "anonymous",
    "revoked-device-token",
    "revoked-user-token",
    "disabled-user",
    "disabled-user-token",
)
USERS = ("chief-A", "chief-B", "operator-01", "user-token-A")
ACTORS = ("admin", *USERS, "device-A", *NOBODY)

LOGIN = "login"  # the panel's answer to 401: a redirect to the sign-in page
UNAUTH: frozenset[int | str] = frozenset({401, LOGIN})
REFUSED: frozenset[int | str] = frozenset({403, 404})
ANY = None


def expected(actor: str, case: Case, method: str) -> frozenset[int | str] | None:
    """The statuses allowed for `actor` on `case` (ANY: any status, but still no data)."""
    if case.kind == PUBLIC:
        return ANY
    if actor in NOBODY:
        if actor == "anonymous" and method != "GET" and not case.path.startswith("/api/"):
            return UNAUTH | {403}  # the CSRF check refuses a form without a session first
        return UNAUTH
    if actor == "device-A":
        if case.kind == DEVICE:
            return frozenset({403})
        return frozenset({200}) if case.kind == DEVICE_SHARED else UNAUTH
    if case.kind in (DEVICE, DEVICE_SHARED):
        return frozenset({401})  # sessions and user tokens never reach the device API
    if actor == "admin":
        return frozenset({200})  # GET only: the positive control
    if case.kind == PANEL_SHARED:
        return frozenset({200})
    if case.kind == PANEL_ADMIN:
        return frozenset({403})
    if case.kind in (PANEL_OBJECT, USER_OBJECT):
        return REFUSED
    if case.kind == USER_CREATE:
        return frozenset({403, 422})  # operators: 403; chiefs: the field naming the object
    assert case.kind in (PANEL_LIST, USER_LIST)
    return frozenset({200, 403, 422})


def _cells() -> list[Any]:
    cells = []
    for (method, rule), case in ROUTES.items():
        for actor in ACTORS:
            if actor == "admin" and method != "GET" and case.kind not in (DEVICE, DEVICE_SHARED):
                continue  # an admin may change anything: nothing to refuse
            cells.append(pytest.param(actor, method, rule, id=f"{actor}-{method}-{rule}"))
    return cells


def test_every_route_is_classified(world: World) -> None:
    routes = {
        (method, rule.rule)
        for rule in world.app.url_map.iter_rules()
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    assert routes - set(ROUTES) == set(), "classify the new routes in ROUTES"
    assert set(ROUTES) - routes == set(), "ROUTES names routes the app no longer has"


def _fill(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format_map(values)
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    return value


@pytest.mark.parametrize(("actor", "method", "rule"), _cells())
def test_no_caller_reaches_another_villages_objects(
    world: World, actor: str, method: str, rule: str
) -> None:
    case = ROUTES[(method, rule)]
    other = world.villages["A" if actor == "chief-B" else "B"]
    values = {
        "speaker": other.speaker,
        "vehicle": other.vehicle,
        "message": other.message,
        "program": other.program,
        "schedule": other.schedule,
        "urgent": other.urgent,
        "live": other.live,
        "user": other.chief,
        "token_id": other.device_token_id,
        "clip": other.clip,
        "area": other.area,
    }
    path = _fill(case.path, values)
    form = _fill(case.form, values)
    body = _fill(case.json, values)
    client, headers = world.client(actor)
    if form is not None and "X-CSRF-Token" in headers:
        form = {**form, "csrf_token": headers["X-CSRF-Token"]}
    before = snapshot(world.service)
    response = client.open(path, method=method, headers=headers, data=form, json=body)
    status: int | str = response.status_code
    location = response.headers.get("Location", "")
    if status == 302 and location.startswith("/login"):
        status = LOGIN
    allowed = expected(actor, case, method)
    text = response.get_data(as_text=True) if response.mimetype != "audio/wav" else ""
    response.close()
    if allowed is not ANY:
        assert status in allowed, f"{actor} {method} {path}: {status} {location} {text[:300]}"
    if actor != "admin" and case.kind not in (DEVICE_SHARED, PANEL_SHARED):
        typed = f"{path} {form} {body}"
        leaked = [s for s in other.secrets if s in text + location and s not in typed]
        assert leaked == [], f"{actor} {method} {path} shows {leaked}: {text[:500]}"
    if actor != "admin" and not (case.kind == PUBLIC and rule in ("/login", "/logout")):
        assert snapshot(world.service) == before, f"{actor} {method} {path} changed the database"
    if rule == "/logout" and actor in world.cookies and actor != "disabled-user":
        world.sign_in_again(actor)


def test_device_tokens_cannot_use_their_own_speakers_user_endpoints(world: World) -> None:
    """A device token is refused by the user API even with no object of another village."""
    client, headers = world.client("device-A")
    for path in ("/api/v1/speakers", "/api/v1/urgent"):
        assert client.get(path, headers=headers).status_code == 401
    sent = client.post(
        "/api/v1/urgent", headers=headers, json={"text": "x", "speakers": ["tunli-village-1"]}
    )
    assert sent.status_code == 401


@pytest.mark.parametrize("actor", ["admin", "chief-A", "user-token-A", "operator-01"])
def test_users_cannot_use_the_device_api_of_their_own_speakers(world: World, actor: str) -> None:
    """Sessions and user tokens are refused by the device API, also for speakers they see."""
    client, headers = world.client(actor)
    speaker = "vehicle-01" if actor == "operator-01" else "tunli-village-1"
    assert client.get(f"/api/v1/speakers/{speaker}/plan", headers=headers).status_code == 401
    beat = client.post(
        f"/api/v1/speakers/{speaker}/heartbeat", headers=headers, json={"state": "x"}
    )
    assert beat.status_code == 401


def test_own_device_token_reaches_its_own_speaker(world: World) -> None:
    """The positive control of the device rows: the same token works on its own speaker."""
    client, headers = world.client("device-A")
    assert client.get("/api/v1/speakers/tunli-village-1/plan", headers=headers).status_code == 200


@pytest.mark.parametrize("actor", ["chief-A", "user-token-A"])
def test_chief_sees_own_village_in_the_user_api(world: World, actor: str) -> None:
    """The positive control of the user rows: chief A's lists hold village A, not B."""
    client, headers = world.client(actor)
    speakers = client.get("/api/v1/speakers", headers=headers).get_json()["data"]
    assert [s["id"] for s in speakers] == ["tunli-village-1"]
    urgents = client.get("/api/v1/urgent", headers=headers).get_json()["data"]
    assert [u["id"] for u in urgents] == [world.villages["A"].urgent]


@pytest.mark.parametrize("actor", ["chief-A", "user-token-A"])
def test_chief_sees_own_village_in_the_catalog_api(world: World, actor: str) -> None:
    """The positive control of the catalog rows: chief A reaches village A's objects."""
    client, headers = world.client(actor)
    village = world.villages["A"]
    for kind, object_id in (
        ("messages", village.message),
        ("programs", village.program),
        ("schedules", village.schedule),
    ):
        listed = client.get(f"/api/v1/{kind}", headers=headers).get_json()["data"]
        assert object_id in [x["id"] for x in listed]
        one = client.get(f"/api/v1/{kind}/{object_id}", headers=headers)
        assert one.status_code == 200 and one.get_json()["data"]["id"] == object_id


def test_a_chief_cannot_broadcast_another_villages_private_message(world: World) -> None:
    """Issue 10: the panel refused it; the API must too, and answer exactly as for a message
    that does not exist (its existence is not revealed)."""
    client, headers = world.client("chief-B")
    own_speaker = world.villages["B"].speaker
    before = snapshot(world.service)

    def send(message_id: str) -> dict:
        body = {"message": message_id, "speakers": [own_speaker], "override_window": True}
        answer = client.post("/api/v1/urgent", headers=headers, json=body)
        assert answer.status_code == 422, answer.get_data(as_text=True)
        return answer.get_json()["error"]

    hidden = send(world.villages["A"].message)
    missing = send("no-such-message")
    assert hidden["field"] == missing["field"] == "message"
    assert hidden["message"].replace(world.villages["A"].message, "X") == missing[
        "message"
    ].replace("no-such-message", "X")
    assert snapshot(world.service) == before  # nothing stored, nothing sent
    answer = client.post(
        "/api/v1/urgent",
        headers=headers,
        json={"message": world.villages["B"].message, "speakers": [own_speaker],
              "override_window": True},
    )  # fmt: skip
    assert answer.status_code == 201, answer.get_data(as_text=True)  # its own message: fine


# -- a hidden object answers exactly as one that does not exist (issue 10, item 3) ----------
#
# Every place where a request names an object (in the path, the query, a JSON body or a panel
# form) is sent twice by the same caller: once naming the other village's object (it exists
# but the caller may not see it) and once naming an id that exists nowhere. The two answers
# must be the same, byte for byte, once the typed id itself is masked, and neither may change
# the database. `{ref}` is the named object; `{own_*}` are the caller's own objects, so that
# the named reference is the only thing wrong with the request.


@dataclass(frozen=True)
class Ref:
    kind: str  # what {ref} names: message, program, schedule, speaker, vehicle, area, urgent
    method: str
    path: str
    form: dict[str, Any] | None = None
    json: dict[str, Any] | None = None


MISSING = {
    "message": "no-such-msg",
    "program": "no-such-prog",
    "schedule": "no-such-sched",
    "speaker": "no-such-speaker-1",
    "vehicle": "vehicle-99",
    "area": "no-such-village",
    "urgent": "u-20250506-0badf00d",
}
OWN_MESSAGE_JSON = {"title": "改", "text": "测试通知", "area": "{own_area}"}
OWN_PROGRAM_JSON = {"name": "改", "gap_s": 3, "messages": ["{own_message}"], "area": "{own_area}"}
OWN_SCHEDULE_JSON = {**SCHEDULE_JSON, "program": "{own_program}", "speakers": ["{own_speaker}"]}
OWN_MESSAGE_FORM = {**MESSAGE_FORM, "area": "{own_area}"}
OWN_PROGRAM_FORM = {**PROGRAM_FORM, "messages": "{own_message}", "area": "{own_area}"}
OWN_SCHEDULE_FORM = {**SCHEDULE_FORM, "program": "{own_program}", "speakers": "{own_speaker}",
                     "accept_conflicts": "1"}  # fmt: skip
OWN_URGENT_FORM = {**URGENT_FORM, "speakers": "{own_speaker}"}
URGENT_BODY = {"text": "测试", "speakers": ["{own_speaker}"], "override_window": True}

API_REFS = [
    # urgent sends and previews: speakers, areas, message
    Ref("speaker", "POST", "/api/v1/urgent", json={**URGENT_BODY, "speakers": ["{ref}"]}),
    Ref("area", "POST", "/api/v1/urgent", json={**URGENT_BODY, "speakers": [], "areas": ["{ref}"]}),
    Ref("message", "POST", "/api/v1/urgent", json={**URGENT_BODY, "text": None, "message": "{ref}"}),
    Ref("speaker", "POST", "/api/v1/urgent/preview", json={**URGENT_BODY, "speakers": ["{ref}"]}),
    Ref("area", "POST", "/api/v1/urgent/preview",
        json={**URGENT_BODY, "speakers": [], "areas": ["{ref}"]}),
    Ref("message", "POST", "/api/v1/urgent/preview",
        json={**URGENT_BODY, "text": None, "message": "{ref}"}),
    Ref("urgent", "GET", "/api/v1/urgent/{ref}"),
    Ref("urgent", "DELETE", "/api/v1/urgent/{ref}"),
    Ref("urgent", "GET", "/api/v1/urgent?before={ref}"),
    # messages
    Ref("message", "POST", "/api/v1/messages", json={**OWN_MESSAGE_JSON, "id": "{ref}"}),
    Ref("area", "POST", "/api/v1/messages", json={**OWN_MESSAGE_JSON, "area": "{ref}"}),
    Ref("area", "PATCH", "/api/v1/messages/{own_message}", json={"area": "{ref}"}),
    # Where vehicles play a message (issue 13): a hidden area is a missing one.
    Ref("area", "POST", "/api/v1/messages", json={**OWN_MESSAGE_JSON, "areas": ["{ref}"]}),
    Ref("area", "PATCH", "/api/v1/messages/{own_message}", json={"areas": ["{ref}"]}),
    Ref("message", "GET", "/api/v1/messages/{ref}"),
    Ref("message", "PATCH", "/api/v1/messages/{ref}", json={"title": "改"}),
    Ref("message", "DELETE", "/api/v1/messages/{ref}"),
    # programs
    Ref("program", "POST", "/api/v1/programs", json={**OWN_PROGRAM_JSON, "id": "{ref}"}),
    Ref("message", "POST", "/api/v1/programs", json={**OWN_PROGRAM_JSON, "messages": ["{ref}"]}),
    Ref("area", "POST", "/api/v1/programs", json={**OWN_PROGRAM_JSON, "area": "{ref}"}),
    Ref("message", "PATCH", "/api/v1/programs/{own_program}", json={"messages": ["{ref}"]}),
    Ref("area", "PATCH", "/api/v1/programs/{own_program}", json={"area": "{ref}"}),
    Ref("program", "GET", "/api/v1/programs/{ref}"),
    Ref("program", "PATCH", "/api/v1/programs/{ref}", json={"name": "改"}),
    Ref("program", "DELETE", "/api/v1/programs/{ref}"),
    # schedules
    Ref("schedule", "POST", "/api/v1/schedules", json={**OWN_SCHEDULE_JSON, "id": "{ref}"}),
    Ref("program", "POST", "/api/v1/schedules", json={**OWN_SCHEDULE_JSON, "program": "{ref}"}),
    Ref("speaker", "POST", "/api/v1/schedules", json={**OWN_SCHEDULE_JSON, "speakers": ["{ref}"]}),
    Ref("vehicle", "POST", "/api/v1/schedules", json={**OWN_SCHEDULE_JSON, "speakers": ["{ref}"]}),
    Ref("area", "POST", "/api/v1/schedules", json={**OWN_SCHEDULE_JSON, "areas": ["{ref}"]}),
    Ref("program", "PATCH", "/api/v1/schedules/{own_schedule}", json={"program": "{ref}"}),
    Ref("speaker", "PATCH", "/api/v1/schedules/{own_schedule}", json={"speakers": ["{ref}"]}),
    Ref("area", "PATCH", "/api/v1/schedules/{own_schedule}", json={"areas": ["{ref}"]}),
    Ref("schedule", "GET", "/api/v1/schedules/{ref}"),
    Ref("schedule", "PATCH", "/api/v1/schedules/{ref}", json={"priority": 1}),
    Ref("schedule", "DELETE", "/api/v1/schedules/{ref}"),
]  # fmt: skip
PANEL_REFS = [
    # messages
    Ref("message", "POST", "/messages/new", form={**OWN_MESSAGE_FORM, "id": "{ref}"}),
    Ref("area", "POST", "/messages/new", form={**OWN_MESSAGE_FORM, "area": "{ref}"}),
    Ref("area", "POST", "/messages/{own_message}", form={**OWN_MESSAGE_FORM, "area": "{ref}"}),
    Ref("area", "POST", "/messages/{own_message}",
        form={**OWN_MESSAGE_FORM, "areas_field": "1", "areas": "{ref}"}),
    Ref("message", "GET", "/messages/{ref}"),
    Ref("message", "POST", "/messages/{ref}", form=OWN_MESSAGE_FORM),
    Ref("message", "POST", "/messages/{ref}/delete", form={}),
    Ref("message", "GET", "/messages/{ref}/audio.wav"),
    # programs
    Ref("program", "POST", "/programs/new", form={**OWN_PROGRAM_FORM, "id": "{ref}"}),
    Ref("message", "POST", "/programs/new", form={**OWN_PROGRAM_FORM, "messages": "{ref}"}),
    Ref("area", "POST", "/programs/new", form={**OWN_PROGRAM_FORM, "area": "{ref}"}),
    Ref("message", "POST", "/programs/{own_program}", form={**OWN_PROGRAM_FORM, "messages": "{ref}"}),
    Ref("program", "GET", "/programs/{ref}"),
    Ref("program", "POST", "/programs/{ref}", form=OWN_PROGRAM_FORM),
    Ref("program", "POST", "/programs/{ref}/delete", form={}),
    # schedules
    Ref("schedule", "POST", "/schedules/new", form={**OWN_SCHEDULE_FORM, "id": "{ref}"}),
    Ref("program", "POST", "/schedules/new", form={**OWN_SCHEDULE_FORM, "program": "{ref}"}),
    Ref("speaker", "POST", "/schedules/new", form={**OWN_SCHEDULE_FORM, "speakers": "{ref}"}),
    Ref("area", "POST", "/schedules/new", form={**OWN_SCHEDULE_FORM, "areas": "{ref}"}),
    Ref("program", "POST", "/schedules/{own_schedule}",
        form={**OWN_SCHEDULE_FORM, "program": "{ref}"}),
    Ref("speaker", "POST", "/schedules/{own_schedule}",
        form={**OWN_SCHEDULE_FORM, "speakers": "{ref}"}),
    Ref("program", "GET", "/schedules/new?program={ref}"),
    Ref("speaker", "GET", "/schedules/new?speakers={ref}"),
    Ref("area", "GET", "/schedules/new?areas={ref}"),
    Ref("schedule", "GET", "/schedules/{ref}"),
    Ref("schedule", "POST", "/schedules/{ref}", form=OWN_SCHEDULE_FORM),
    Ref("schedule", "POST", "/schedules/{ref}/delete", form={}),
    # speakers
    Ref("speaker", "GET", "/speakers/{ref}"),
    Ref("speaker", "POST", "/speakers/{ref}", form={**SPEAKER_FORM, "area": "{own_area}"}),
    Ref("vehicle", "POST", "/speakers/{ref}/route", form={"stop_name": "改道"}),
    Ref("vehicle", "GET", "/speakers/{ref}/sheet"),
    Ref("speaker", "POST", "/speakers/{ref}/tokens", form={"label": "x"}),
    # urgent announcements
    Ref("speaker", "POST", "/urgent", form={**OWN_URGENT_FORM, "speakers": "{ref}"}),
    Ref("area", "POST", "/urgent", form={**OWN_URGENT_FORM, "speakers": "", "areas": "{ref}"}),
    Ref("message", "POST", "/urgent",
        form={**OWN_URGENT_FORM, "source": "message", "message": "{ref}"}),
    Ref("urgent", "GET", "/urgent/{ref}"),
    Ref("urgent", "GET", "/urgent/{ref}/acks"),
    Ref("urgent", "POST", "/urgent/{ref}/cancel", form={}),
    # reports: the day's plays filtered by a speaker or an area
    Ref("speaker", "GET", "/reports?day=2025-05-06&speaker={ref}"),
    Ref("area", "GET", "/reports?day=2025-05-06&area={ref}"),
    Ref("speaker", "GET", "/reports/plays.csv?day=2025-05-06&speaker={ref}"),
    Ref("area", "GET", "/reports/plays.csv?day=2025-05-06&area={ref}"),
]  # fmt: skip
API_CALLERS = ("chief-B", "user-token-A", "operator-01")
PANEL_CALLERS = ("chief-A", "chief-B", "operator-01")


def _ref_cells() -> list[Any]:
    cells = []
    for refs, callers in ((API_REFS, API_CALLERS), (PANEL_REFS, PANEL_CALLERS)):
        for ref in refs:
            for actor in callers:
                shown = f"{actor}-{ref.method}-{ref.path}-{ref.kind}"
                cells.append(pytest.param(actor, ref, id=shown))
    return cells


def _answer(world: World, actor: str, ref: Ref, values: dict[str, str]) -> tuple[int, str, str]:
    """Status, Location and body of the request, with the named id masked."""
    client, headers = world.client(actor)
    form = _fill(ref.form, values)
    if form is not None and "X-CSRF-Token" in headers:
        form = {**form, "csrf_token": headers["X-CSRF-Token"]}
    response = client.open(
        _fill(ref.path, values),
        method=ref.method,
        headers=headers,
        data=form,
        json=_fill(ref.json, values),
    )
    body = response.get_data(as_text=True) if response.mimetype != "audio/wav" else "<audio>"
    location = response.headers.get("Location", "")
    response.close()
    named = values["ref"]
    return response.status_code, location.replace(named, "<ref>"), body.replace(named, "<ref>")


@pytest.mark.parametrize(("actor", "ref"), _ref_cells())
def test_a_hidden_object_answers_exactly_as_a_missing_one(
    world: World, actor: str, ref: Ref
) -> None:
    """Issue 10, item 3: naming another village's object, anywhere a request names one, gets
    the same status and the same text as naming an id that does not exist."""
    own = world.villages["B" if actor == "chief-B" else "A"]
    other = world.villages["A" if actor == "chief-B" else "B"]
    values = {
        "own_message": own.message,
        "own_program": own.program,
        "own_schedule": own.schedule,
        "own_speaker": own.speaker,
        "own_area": own.area,
    }
    hidden_id = {
        "message": other.message,
        "program": other.program,
        "schedule": other.schedule,
        "speaker": other.speaker,
        "vehicle": other.vehicle,
        "area": other.area,
        "urgent": other.urgent,
    }[ref.kind]
    before = snapshot(world.service)
    hidden = _answer(world, actor, ref, values | {"ref": hidden_id})
    assert snapshot(world.service) == before, f"{actor} {ref}: {hidden}"
    missing = _answer(world, actor, ref, values | {"ref": MISSING[ref.kind]})
    assert snapshot(world.service) == before, f"{actor} {ref}: {missing}"
    assert hidden[0] in (403, 404, 409, 422) or hidden[2] == missing[2], hidden
    assert hidden == missing, f"{actor} {ref.method} {ref.path}:\n{hidden}\n{missing}"


# -- the leaks found by that audit, each with its own test ----------------------------------


def _api(app: Flask, service: Service, name: str) -> Callable[..., Any]:
    """`call(method, path, json)` with a personal token of `name`."""
    token = service.store.people.issue_token(TokenKind.USER, name, NOW)[1]
    client = app.test_client()

    def call(method: str, path: str, json: Any = None) -> Any:
        return client.open(
            f"/api/v1{path}", method=method, json=json, headers={"Authorization": f"Bearer {token}"}
        )

    return call


def _own(service: Service, kind: str, object_id: str, area: str | None) -> None:
    if area is not None:
        editing.set_owner(service.store, kind, object_id, area)


def _xiguan_message(service: Service) -> None:
    service.store.content.create_message(Message("xg-msg", "西关通知", "西关社区今晚停电。"), NOW)
    _own(service, "message", "xg-msg", "xiguan-community")


CHIEF_BODIES: dict[str, dict[str, object]] = {
    "messages": {"title": "停水通知", "text": "今晚八点停水。", "area": "tunli-village"},
    "programs": {"name": "停水循环", "messages": ["masks"], "area": "tunli-village"},
    "schedules": {"program": "prevention", "speakers": ["tunli-village-1"], "weekdays": [1],
                  "start": "12:00", "end": "12:30", "accept_conflicts": True},
}  # fmt: skip


@pytest.mark.parametrize("kind", ["messages", "programs", "schedules"])
def test_only_admins_choose_ids_and_a_chiefs_id_gets_one_answer_whatever_it_names(
    app: Flask, service: Service, kind: str
) -> None:
    """'This id is taken' told a chief that another village's object had that id. Only admins
    choose ids now; a chief's `id`, free, taken by a visible or by a hidden object, or not
    even a valid id, gets the same 422; without it the server picks one."""
    _xiguan_message(service)
    service.store.content.create_program(Program("xg-prog", "西关循环", ("xg-msg",), 3))
    _own(service, "program", "xg-prog", "xiguan-community")
    service.store.schedules.create_schedule(
        Schedule("xg-sched", "xg-prog", speaker_ids=("xiguan-community-1",)), NOW
    )
    chief, admin = _api(app, service, "chief-tunli"), _api(app, service, "admin")
    body = CHIEF_BODIES[kind]
    hidden = {"messages": "xg-msg", "programs": "xg-prog", "schedules": "xg-sched"}[kind]
    visible = {"messages": "masks", "programs": "prevention", "schedules": "vehicles-daily"}[kind]
    before = snapshot(service)
    answers = set()
    for chosen in (hidden, visible, "fresh-id", "bad id!", ""):
        answer = chief("POST", f"/{kind}", body | {"id": chosen})
        assert answer.status_code == 422, (chosen, answer.get_json())
        answers.add(answer.get_data())
    assert snapshot(service) == before
    (only,) = answers
    error = json.loads(only)["error"]
    assert error == {"code": "invalid", "field": "id",
                     "message": "id: Chosen by the server; leave it out."}  # fmt: skip
    made = chief("POST", f"/{kind}", body)
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["data"]["id"][:2] == f"{kind[0]}-"
    taken = admin("POST", f"/{kind}", body | {"id": visible})
    assert taken.status_code == 422 and "This id is taken." in taken.get_json()["error"]["message"]
    chosen = admin("POST", f"/{kind}", body | {"id": f"admin-{kind}"})
    assert chosen.status_code == 201 and chosen.get_json()["data"]["id"] == f"admin-{kind}"


@pytest.mark.parametrize("page", ["/messages/new", "/programs/new", "/schedules/new"])
def test_the_panel_asks_only_admins_for_an_id(
    login_as: Callable[[str], FlaskClient], service: Service, page: str
) -> None:
    client = login_as("chief-tunli")
    assert 'name="id"' not in client.get(page).get_data(as_text=True)
    form = {
        "/messages/new": {"title": "停水", "text": "今晚停水。", "voice": "zh", "rate": "170",
                          "volume": "1.0", "area": "tunli-village"},
        "/programs/new": {"name": "循环", "gap_s": "3", "messages": "masks",
                          "area": "tunli-village"},
        "/schedules/new": {"program": "prevention", "speakers": "tunli-village-1",
                           "weekdays": "1", "start": "12:00", "end": "12:30", "priority": "0",
                           "enabled": "1", "accept_conflicts": "1"},
    }[page]  # fmt: skip
    before = snapshot(service)
    refused = {}
    for chosen in ("masks", "prevention", "vehicles-daily", "fresh-id"):
        answer = post(client, page, form | {"id": chosen})
        assert answer.status_code == 422
        refused[chosen] = answer.get_data(as_text=True)
    assert snapshot(service) == before
    assert len(set(refused.values())) == 1
    assert "由服务器分配，请留空。" in refused["masks"]
    assert post(client, page, form).status_code == 302
    client.post("/logout", data={"csrf_token": _csrf(client)})
    admin = login_as("admin")
    assert 'name="id"' in admin.get(page).get_data(as_text=True)


def _csrf(client: FlaskClient) -> str:
    with client.session_transaction() as s:
        return str(s.get("csrf", ""))


MORNING: dict[str, Any] = {
    "program": "prevention",
    "speakers": ["tunli-village-1"],
    "weekdays": [0, 1, 2, 3, 4, 5, 6],
    "start": "07:30",
    "end": "08:00",
    "priority": 0,
}


def test_an_overlap_with_a_schedule_the_chief_cannot_see_is_told_without_its_name(
    app: Flask, service: Service, login_as: Callable[[str], FlaskClient]
) -> None:
    """`villages-morning` (config.yaml) plays on 屯里村's loudspeaker but also elsewhere, so
    chief-tunli cannot see it (404); the overlap is still told, without its id."""
    chief = _api(app, service, "chief-tunli")
    assert chief("GET", "/schedules/villages-morning").status_code == 404
    before = snapshot(service)
    refused = chief("POST", "/schedules", MORNING)
    assert refused.status_code == 409
    message = refused.get_json()["error"]["message"]
    assert "villages-morning" not in refused.get_data(as_text=True)
    assert "overlaps a schedule set outside your areas" in message, message
    assert "屯里村大喇叭" in message and "accept_conflicts" in message
    panel = login_as("chief-tunli")
    form = {**MORNING, "weekdays": [str(d) for d in MORNING["weekdays"]], "priority": "0",
            "speakers": "tunli-village-1", "enabled": "1", "action": "check"}  # fmt: skip
    page = post(panel, "/schedules/new", form)
    text = page.get_data(as_text=True)
    assert page.status_code == 409 and 'id="conflicts"' in text
    assert "villages-morning" not in text
    assert "与辖区外设置的一个排程" in text, text
    assert snapshot(service) == before
    named = _api(app, service, "admin")("POST", "/schedules", MORNING)
    assert named.status_code == 409 and "villages-morning" in named.get_json()["error"]["message"]


def test_deleting_a_message_used_outside_the_chiefs_areas_names_no_hidden_user(
    app: Flask, service: Service, login_as: Callable[[str], FlaskClient]
) -> None:
    """A chief's message played by a program of another village and by a live urgent sent
    elsewhere: the refusal says so, naming only the chief's own program."""
    store = service.store
    store.content.create_message(Message("water", "停水通知", "今晚八点停水。"), NOW)
    _own(service, "message", "water", "tunli-village")
    store.content.create_program(Program("tl-water", "屯里停水循环", ("water",), 3))
    _own(service, "program", "tl-water", "tunli-village")
    store.content.create_program(Program("xg-water", "西关借用循环", ("water", "masks"), 3))
    _own(service, "program", "xg-water", "xiguan-community")
    service.library.for_message(store.content.get_message("water"))  # rendered: sent at once
    sent = urgent.send(
        service,
        User("admin", Role.ADMIN),
        urgent.UrgentRequest(message_id="water", speaker_ids=("xiguan-community-1",),
                             override_window=True),
        NOW,
    ).urgent  # fmt: skip
    secrets = ("xg-water", "西关借用循环", sent.id)
    chief = _api(app, service, "chief-tunli")
    seen = chief("GET", "/messages/water").get_json()["data"]
    assert seen["used_by"] == ["tl-water"]
    before = snapshot(service)
    refused = chief("DELETE", "/messages/water")
    assert refused.status_code == 409
    text = refused.get_data(as_text=True)
    assert [s for s in secrets if s in text] == [], text
    message = refused.get_json()["error"]["message"]
    assert "'tl-water'" in message and "programs outside your areas" in message, message
    assert "a live urgent announcement" in message, message
    panel = login_as("chief-tunli")
    page = panel.get("/messages/water").get_data(as_text=True)
    assert "屯里停水循环" in page and [s for s in secrets if s in page] == []
    deleted = post(panel, "/messages/water/delete")
    page = deleted.get_data(as_text=True)
    assert deleted.status_code == 409 and "无法删除" in page
    assert "屯里停水循环" in page and "辖区外的节目在播放它" in page, page
    assert "正在生效的紧急广播正在使用它" in page
    assert [s for s in secrets if s in page] == []
    assert snapshot(service) == before
    admin = _api(app, service, "admin")
    assert set(admin("GET", "/messages/water").get_json()["data"]["used_by"]) == {
        "tl-water",
        "xg-water",
    }
    assert "'xg-water'" in admin("DELETE", "/messages/water").get_json()["error"]["message"]


def test_deleting_a_program_a_hidden_schedule_uses_names_no_hidden_schedule(
    app: Flask, service: Service, login_as: Callable[[str], FlaskClient]
) -> None:
    store = service.store
    store.content.create_program(Program("tl-loop", "屯里循环", ("masks",), 3))
    _own(service, "program", "tl-loop", "tunli-village")
    store.schedules.create_schedule(
        Schedule("tl-noon", "tl-loop", speaker_ids=("tunli-village-1",)), NOW
    )
    store.schedules.create_schedule(
        Schedule("district-noon", "tl-loop", area_ids=("tunli-village", "xiguan-community")), NOW
    )
    chief = _api(app, service, "chief-tunli")
    assert chief("GET", "/schedules/district-noon").status_code == 404
    assert chief("GET", "/programs/tl-loop").get_json()["data"]["used_by"] == ["tl-noon"]
    before = snapshot(service)
    refused = chief("DELETE", "/programs/tl-loop")
    assert refused.status_code == 409
    message = refused.get_json()["error"]["message"]
    assert "district-noon" not in refused.get_data(as_text=True)
    assert "'tl-noon'" in message and "schedules outside your areas" in message, message
    panel = login_as("chief-tunli")
    assert "district-noon" not in panel.get("/programs/tl-loop").get_data(as_text=True)
    deleted = post(panel, "/programs/tl-loop/delete")
    page = deleted.get_data(as_text=True)
    assert deleted.status_code == 409 and "tl-noon" in page and "district-noon" not in page
    assert "辖区外的排程在使用它" in page, page
    assert snapshot(service) == before
    admin = _api(app, service, "admin")
    assert "district-noon" in admin("DELETE", "/programs/tl-loop").get_data(as_text=True)


def test_a_recording_another_village_sent_today_does_not_block_or_reveal_itself(
    app: Flask, service: Service, login_as: Callable[[str], FlaskClient]
) -> None:
    """The urgent page reused the message made of the same file the same day, even when it
    belonged to another village: the send was then refused as naming a message that does not
    exist, again and again. Each village gets its own message."""
    from tests.web.test_forms import tone_wav
    from tests.web.test_urgent_panel import beat, confirm, hidden

    sent = {}
    audio = tone_wav(1.5)
    for chief, speaker in (("chief-tunli", "tunli-village-1"),
                           ("chief-xiguan", "xiguan-community-1")):  # fmt: skip
        beat(app, service, speaker)
        client = login_as(chief)
        data = {"source": "recording", "speakers": speaker, "repeats": "1", "interval_s": "0",
                "expires_min": "30", "override_window": "1"}  # fmt: skip
        page = post(
            client,
            "/urgent",
            data | {"recording": (io.BytesIO(audio), "rec.wav")},
            content_type="multipart/form-data",
        ).get_data(as_text=True)
        kept = hidden(page, "recording_file")
        answer = confirm(client, data | {"recording_file": kept}, page, override_confirmed="1")
        assert answer.status_code == 302, answer.get_data(as_text=True)[:3000]
        sent[chief] = answer.headers["Location"].rsplit("/", 1)[-1]
        client.post("/logout", data={"csrf_token": _csrf(client)})
    tunli, xiguan = (
        service.store.urgents.get_urgent(sent[c]) for c in ("chief-tunli", "chief-xiguan")
    )
    assert tunli.message_id and xiguan.message_id and tunli.message_id != xiguan.message_id
    owners = editing.owners(service.store)
    assert owners[f"message:{tunli.message_id}"] == "tunli-village"
    assert owners[f"message:{xiguan.message_id}"] == "xiguan-community"


def test_plans_shown_to_a_chief_do_not_name_hidden_schedules_or_urgents(
    app: Flask, service: Service, login_as: Callable[[str], FlaskClient]
) -> None:
    """The dashboard's timelines and the route sheet show what plays on the user's own
    loudspeakers, but named the district's schedules and urgent announcements, which are 404
    for a chief or an operator. They show them without their ids (by program and messages
    since issue 11, item 7, as everything else)."""
    store = service.store
    noon = Schedule(
        "tl-noon", "prevention", speaker_ids=("tunli-village-1",), start=time(12), end=time(13)
    )
    store.schedules.create_schedule(noon, NOW)
    district = urgent.send(
        service,
        User("admin", Role.ADMIN),
        urgent.UrgentRequest(text="全区紧急通知", speaker_ids=("tunli-village-1", "vehicle-01"),
                             area_ids=("xiguan-community",), override_window=True),
        NOW,
    ).urgent  # fmt: skip
    hidden = ("villages-morning", "villages-evening", "vehicles-daily", district.id)
    for name, sheet in (("chief-tunli", "tunli-village-1"), ("driver-01", "vehicle-01")):
        client = login_as(name)
        for path in ("/", "/dashboard/cards", f"/speakers/{sheet}/sheet"):
            page = client.get(path)
            assert page.status_code == 200, (name, path)
            text = page.get_data(as_text=True)
            assert [h for h in hidden if h in text] == [], (name, path)
            # named by what they play (issue 11: names, not codes): a district-wide program
            assert "疫情防控循环播报" in text or path != f"/speakers/{sheet}/sheet"
        cards = client.get("/dashboard/cards").get_data(as_text=True)
        assert 'class="bar kind-urgent"' in cards and 'class="bar kind-loop"' in cards
        client.post("/logout", data={"csrf_token": _csrf(client)})
    chief = login_as("chief-tunli")
    cards = chief.get("/dashboard/cards").get_data(as_text=True)
    assert "12:00-12:59 疫情防控循环播报：" in cards  # its own: by program and messages
    chief.post("/logout", data={"csrf_token": _csrf(chief)})
    admin = login_as("admin")
    seen = admin.get("/dashboard/cards").get_data(as_text=True)
    assert "村早间广播：" in seen and "紧急：全区紧急通知" in seen  # names for admins too
    assert "疫情防控循环播报：" in admin.get("/speakers/vehicle-01/sheet").get_data(as_text=True)


@pytest.mark.parametrize(("name", "speaker"), [("chief-tunli", "tunli-village-1"),
                                               ("driver-01", "vehicle-01")])  # fmt: skip
def test_a_loudspeakers_page_lists_no_area_beyond_the_users_reach(
    login_as: Callable[[str], FlaskClient], name: str, speaker: str
) -> None:
    """The settings form (read-only for them) offered every area of the district, ids and
    names, to a chief or an operator looking at their own loudspeaker."""
    page = login_as(name).get(f"/speakers/{speaker}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert [a for a in ("xiguan-community", "西关社区", "yaodu") if a in text] == []


def test_the_areas_page_names_no_parent_beyond_the_chiefs_reach(
    login_as: Callable[[str], FlaskClient],
) -> None:
    """屯里村's parent, the township 屯里镇, is beyond chief-tunli's reach (404 as a target)."""
    page = login_as("chief-tunli").get("/areas").get_data(as_text=True)
    assert "屯里村" in page and "屯里镇" not in page


OWN_PAGES = [
    "/messages/{message}",
    "/programs/{program}",
    "/schedules/{schedule}",
    "/schedules/new?program={program}",
    "/speakers/{speaker}",
    "/speakers/{speaker}/sheet",
    "/speakers/{vehicle}",
    "/speakers/{vehicle}/sheet",
    "/urgent/{urgent}",
    "/urgent/{urgent}/acks",
    "/reports?day=2025-05-06&speaker={speaker}",
    "/reports/plays.csv?day=2025-05-06&area={area}",
    "/api/v1/messages/{message}",
    "/api/v1/programs/{program}",
    "/api/v1/schedules/{schedule}",
    "/api/v1/urgent/{urgent}",
]


@pytest.mark.parametrize("path", OWN_PAGES)
@pytest.mark.parametrize("actor", ["chief-A", "chief-B", "operator-01", "user-token-A"])
def test_pages_of_the_users_own_objects_show_nothing_of_another_village(
    world: World, actor: str, path: str
) -> None:
    """The matrix above sends another village's ids; this sends the caller's own (a chief's
    village, the operator's vehicle), whose pages must not carry the other village's ids,
    names or texts either (a form's options, what uses an object, a timeline's labels)."""
    own = world.villages["B" if actor == "chief-B" else "A"]
    other = world.villages["A" if actor == "chief-B" else "B"]
    filled = path.format(
        message=own.message, program=own.program, schedule=own.schedule, speaker=own.speaker,
        vehicle=own.vehicle, urgent=own.urgent, area=own.area,
    )  # fmt: skip
    client, headers = world.client(actor)
    response = client.get(filled, headers=headers)
    text = response.get_data(as_text=True) if response.mimetype != "audio/wav" else ""
    assert response.status_code in (200, 401, 403, 404), (actor, filled, response.status_code)
    assert [s for s in other.secrets if s in text] == [], (actor, filled)
