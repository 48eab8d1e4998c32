"""The user API for messages, programs and schedules does what the panel does, through the same
use cases (broadcaster/catalog.py): edits show on both sides, the same scoping (404 outside a
chief's areas, 403 for operators and for a chief on district-wide objects), the same
validation (the field named) and the same audit lines.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient

from broadcaster import catalog, editing
from broadcaster.models import Message, Program, Schedule
from broadcaster.service import Service
from broadcaster.store import TokenKind
from tests.web.conftest import NOW, post
from web.panel.catalog_zh import ZH

API = "/api/v1"
MESSAGE = {"title": "停水通知", "text": "今晚八点停水。", "area": "tunli-village"}
SCHEDULE = {
    "program": "prevention",
    "speakers": ["tunli-village-1"],
    "weekdays": [1],
    "start": "08:00",
    "end": "09:00",
    "priority": 3,
}
Call = Callable[..., Any]


def bearer(service: Service, name: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {service.store.people.issue_token(TokenKind.USER, name, NOW)[1]}"
    }


@pytest.fixture
def api(client: FlaskClient, service: Service) -> Callable[[str], Call]:
    """`api(user)(method, path, json=...)`: a request with the user's personal token."""

    def as_user(name: str) -> Call:
        headers = bearer(service, name)

        def call(method: str, path: str, json: Any = None) -> Any:
            return client.open(f"{API}{path}", method=method, headers=headers, json=json)

        return call

    return as_user


@pytest.fixture
def xiguan(service: Service) -> None:
    """A message, program and schedule of 西关社区 (not chief-tunli's village)."""
    store = service.store
    store.content.create_message(Message("xg-msg", "西关通知", "西关社区今晚停电。"), NOW)
    editing.set_owner(store, "message", "xg-msg", "xiguan-community")
    store.content.create_program(Program("xg-prog", "西关循环", ("xg-msg",), 3))
    editing.set_owner(store, "program", "xg-prog", "xiguan-community")
    store.schedules.create_schedule(
        Schedule("xg-sched", "xg-prog", speaker_ids=("xiguan-community-1",), priority=4), NOW
    )


def audit_of(service: Service, action: str) -> list[Any]:
    return list(service.store.journal.list_audit(limit=1000, action=action))


# -- the API and the panel show each other's edits --------------------------------------------


def test_a_message_created_in_the_api_shows_in_the_panel_and_is_audited(
    api: Callable[[str], Call], login_as: Callable[[str], FlaskClient], service: Service
) -> None:
    call = api("chief-tunli")
    response = call("POST", "/messages", MESSAGE)
    body = response.get_json()
    assert response.status_code == 201, body
    water = body["data"]["id"]  # chosen by the server: only admins choose ids
    assert re.fullmatch(r"m-[0-9a-f]{8}", water)
    assert response.headers["Location"] == f"{API}/messages/{water}"
    assert body["data"] | {"updated_at": None} == {
        "id": water,
        "title": "停水通知",
        "text": "今晚八点停水。",
        "voice": service.settings.default_voice.voice,
        "rate": service.settings.default_voice.rate,
        "volume": service.settings.default_voice.volume,
        "chime": service.settings.default_voice.chime,
        "recording": None,
        "area": "tunli-village",
        "version": 1,
        "updated_at": None,
        "editable": True,
        "used_by": [],
        "areas": [],
        "areas_elsewhere": False,
    }
    assert call("GET", f"/messages/{water}").get_json()["data"] == body["data"]
    entry = audit_of(service, "message.create")[0]
    assert (entry.actor, entry.object) == ("user:chief-tunli", water)
    assert entry.detail == {"title": "停水通知", "area": "tunli-village", "recording": None}
    page = login_as("chief-tunli").get(f"/messages/{water}").get_data(as_text=True)
    assert "停水通知" in page and "今晚八点停水。" in page


def test_panel_and_api_edits_of_the_same_message_show_on_both_sides(
    api: Callable[[str], Call], login_as: Callable[[str], FlaskClient], service: Service
) -> None:
    call = api("chief-tunli")
    made = call("POST", "/messages", MESSAGE)
    assert made.status_code == 201
    water = made.get_json()["data"]["id"]
    panel = login_as("chief-tunli")
    form = {
        "title": "停水通知（改）",
        "text": "明晚八点停水。",
        "voice": "zh",
        "rate": "200",
        "volume": "0.8",
        "area": "tunli-village",
        "version": "1",
    }
    assert post(panel, f"/messages/{water}", form).status_code == 302
    seen = call("GET", f"/messages/{water}").get_json()["data"]
    assert (seen["title"], seen["text"], seen["rate"], seen["volume"], seen["chime"]) == (
        "停水通知（改）",
        "明晚八点停水。",
        200,
        0.8,
        False,
    )
    assert seen["version"] == 2
    changed = call("PATCH", f"/messages/{water}", {"title": "接口改的标题", "version": 2})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["data"]["text"] == "明晚八点停水。"  # not given: kept
    assert changed.get_json()["data"]["version"] == 3
    assert "接口改的标题" in panel.get(f"/messages/{water}").get_data(as_text=True)
    assert "接口改的标题" in panel.get("/messages").get_data(as_text=True)
    updates = audit_of(service, "message.update")
    assert [(e.actor, e.detail["title"]) for e in updates] == [
        ("user:chief-tunli", "接口改的标题"),
        ("user:chief-tunli", "停水通知（改）"),
    ]


def test_a_stale_version_is_a_conflict_and_changes_nothing(
    api: Callable[[str], Call], service: Service
) -> None:
    call = api("admin")
    response = call("PATCH", "/messages/masks", {"title": "新标题", "version": 99})
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "conflict"
    assert service.store.content.get_message("masks").title != "新标题"


def test_programs_and_schedules_round_trip_between_api_and_panel(
    api: Callable[[str], Call], login_as: Callable[[str], FlaskClient], service: Service
) -> None:
    call = api("chief-tunli")
    made = call("POST", "/messages", MESSAGE)
    assert made.status_code == 201
    water = made.get_json()["data"]["id"]  # ids are chosen by the server (admins only choose)
    made = call(
        "POST",
        "/programs",
        {"name": "停水循环", "messages": [water, "masks"], "gap_s": 4, "area": "tunli-village"},
    )
    assert made.status_code == 201, made.get_json()
    loop = made.get_json()["data"]["id"]
    assert made.headers["Location"] == f"{API}/programs/{loop}"
    assert made.get_json()["data"]["messages"] == [water, "masks"]
    panel = login_as("chief-tunli")
    assert "停水循环" in panel.get("/programs").get_data(as_text=True)
    form = {"name": "停水循环二", "gap_s": "6", "messages": ["masks"], "area": "tunli-village"}
    assert post(panel, f"/programs/{loop}", form).status_code == 302
    seen = call("GET", f"/programs/{loop}").get_json()["data"]
    assert (seen["name"], seen["messages"], seen["gap_s"]) == ("停水循环二", ["masks"], 6.0)

    schedule = SCHEDULE | {"program": loop, "first_date": "2025-06-01"}
    made = call("POST", "/schedules", schedule)
    assert made.status_code == 201, made.get_json()
    sched = made.get_json()["data"]["id"]
    assert made.get_json()["data"] == {
        "id": sched,
        "program": loop,
        "speakers": ["tunli-village-1"],
        "areas": [],
        "weekdays": [1],
        "start": "08:00",
        "end": "09:00",
        "first_date": "2025-06-01",
        "last_date": None,
        "exceptions": [],
        "priority": 3,
        "enabled": True,
    }
    page = panel.get(f"/schedules/{sched}").get_data(as_text=True)
    assert 'value="2025-06-01"' in page
    cleared = call("PATCH", f"/schedules/{sched}", {"first_date": None, "end": "10:30"})
    assert cleared.status_code == 200, cleared.get_json()
    assert service.store.schedules.get_schedule(sched).first_date is None
    assert cleared.get_json()["data"]["end"] == "10:30"
    assert cleared.get_json()["data"]["program"] == loop  # not given: kept
    assert 'value="10:30"' in panel.get(f"/schedules/{sched}").get_data(as_text=True)
    panel_form = {
        "program": loop,
        "speakers": "tunli-village-1",
        "weekdays": ["1", "2"],
        "start": "08:00",
        "end": "09:00",
        "priority": "3",
        "enabled": "1",
    }
    assert post(panel, f"/schedules/{sched}", panel_form).status_code == 302
    assert call("GET", f"/schedules/{sched}").get_json()["data"]["weekdays"] == [1, 2]
    assert [e.object for e in audit_of(service, "schedule.update")] == [sched] * 2
    assert audit_of(service, "program.create")[0].detail == {
        "messages": [water, "masks"],
        "area": "tunli-village",
    }


def test_deleting_answers_204_and_in_use_objects_are_409(
    api: Callable[[str], Call], login_as: Callable[[str], FlaskClient], service: Service
) -> None:
    call = api("admin")
    used = call("DELETE", "/messages/masks")
    assert used.status_code == 409 and used.get_json()["error"]["code"] == "conflict"
    assert call("DELETE", "/programs/prevention").status_code == 409
    assert service.store.content.get_message("masks") and service.store.content.get_program(
        "prevention"
    )
    assert (
        call("POST", "/messages", {"id": "gone", "title": "临时", "text": "临时通知。"}).status_code
        == 201
    )
    deleted = call("DELETE", "/messages/gone")
    assert deleted.status_code == 204 and deleted.get_data() == b""
    assert call("GET", "/messages/gone").status_code == 404
    assert audit_of(service, "message.delete")[0].object == "gone"
    panel = login_as("admin")
    assert panel.get("/messages/gone").status_code == 404
    assert call("DELETE", "/schedules/vehicles-daily").status_code == 204
    assert "vehicles-daily" not in panel.get("/schedules").get_data(as_text=True)
    assert audit_of(service, "schedule.delete")[0].actor == "user:admin"


def test_an_overlapping_schedule_is_409_until_accepted(
    api: Callable[[str], Call], service: Service
) -> None:
    call = api("admin")
    clash = {
        "id": "clash",
        "program": "prevention",
        "speakers": ["vehicle-01"],
        "weekdays": [0, 1, 2, 3, 4, 5, 6],
        "start": "08:00",
        "end": "09:00",
    }
    refused = call("POST", "/schedules", clash)
    assert refused.status_code == 409
    assert "vehicles-daily" in refused.get_json()["error"]["message"]
    assert not [s for s in service.store.schedules.list_schedules() if s.id == "clash"]
    accepted = call("POST", "/schedules", clash | {"accept_conflicts": True})
    assert accepted.status_code == 201
    assert audit_of(service, "schedule.create")[0].detail["conflicts"] >= 1


# -- scoping ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("xiguan")
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/messages/xg-msg", None),
        ("PATCH", "/messages/xg-msg", {"title": "改"}),
        ("DELETE", "/messages/xg-msg", None),
        ("GET", "/programs/xg-prog", None),
        ("PATCH", "/programs/xg-prog", {"name": "改"}),
        ("DELETE", "/programs/xg-prog", None),
        ("GET", "/schedules/xg-sched", None),
        ("PATCH", "/schedules/xg-sched", {"priority": 1}),
        ("DELETE", "/schedules/xg-sched", None),
        ("GET", "/messages/no-such", None),
    ],
)
def test_a_chief_gets_404_for_another_villages_objects(
    api: Callable[[str], Call], service: Service, method: str, path: str, body: Any
) -> None:
    before = (service.store.catalog_revision(), editing.owners(service.store))
    response = api("chief-tunli")(method, path, body)
    assert response.status_code == 404, response.get_json()
    assert response.get_json()["error"]["code"] == "not_found"
    assert "西关" not in response.get_data(as_text=True)
    assert (service.store.catalog_revision(), editing.owners(service.store)) == before
    # the positive control: the village's own chief reaches the same object
    own = api("chief-xiguan")("GET", path, None)
    assert own.status_code == (404 if "no-such" in path else 200)


@pytest.mark.usefixtures("xiguan")
def test_a_chiefs_lists_hold_only_what_they_may_see(api: Callable[[str], Call]) -> None:
    call = api("chief-tunli")
    messages = {m["id"] for m in call("GET", "/messages").get_json()["data"]}
    programs = {p["id"] for p in call("GET", "/programs").get_json()["data"]}
    schedules = {s["id"] for s in call("GET", "/schedules").get_json()["data"]}
    assert "masks" in messages and "xg-msg" not in messages
    assert "prevention" in programs and "xg-prog" not in programs
    assert "xg-sched" not in schedules
    every = {m["id"] for m in api("admin")("GET", "/messages").get_json()["data"]}
    assert {"masks", "xg-msg"} <= every


@pytest.mark.usefixtures("xiguan")
def test_a_chief_cannot_create_in_another_village(
    api: Callable[[str], Call], service: Service
) -> None:
    call = api("chief-tunli")
    before = service.store.catalog_revision()
    for path, body, field in [
        ("/messages", MESSAGE | {"area": "xiguan-community"}, "area"),
        ("/messages", {"title": "x", "text": "通知。"}, "area"),  # a chief names an area
        ("/programs", {"name": "x", "messages": ["xg-msg"], "area": "tunli-village"}, "messages"),
        ("/schedules", SCHEDULE | {"program": "xg-prog"}, "program"),
        ("/schedules", SCHEDULE | {"speakers": ["xiguan-community-1"]}, "speakers"),
        ("/schedules", SCHEDULE | {"areas": ["xiguan-community"]}, "areas"),
    ]:
        response = call("POST", path, body)
        assert response.status_code == 422, (path, body, response.get_json())
        assert response.get_json()["error"]["field"] == field
    assert service.store.catalog_revision() == before


def test_a_chief_may_not_change_district_wide_objects(
    api: Callable[[str], Call], service: Service
) -> None:
    call = api("chief-tunli")
    assert call("GET", "/messages/masks").get_json()["data"]["editable"] is False
    for method, path, body in [
        ("PATCH", "/messages/masks", {"title": "改"}),
        ("DELETE", "/messages/masks", None),
        ("PATCH", "/programs/prevention", {"name": "改"}),
        ("DELETE", "/programs/prevention", None),
    ]:
        response = call(method, path, body)
        assert response.status_code == 403, (method, path)
    assert service.store.content.get_message("masks").title != "改"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/messages", None),
        ("GET", "/messages/masks", None),
        ("POST", "/messages", {"title": "x", "text": "通知。"}),
        ("PATCH", "/messages/masks", {"title": "x"}),
        ("DELETE", "/messages/masks", None),
        ("GET", "/programs", None),
        ("POST", "/programs", {"name": "x", "messages": ["masks"]}),
        ("DELETE", "/programs/prevention", None),
        ("GET", "/schedules", None),
        ("GET", "/schedules/vehicles-daily", None),
        ("PATCH", "/schedules/vehicles-daily", {"priority": 1}),
        ("DELETE", "/schedules/vehicles-daily", None),
    ],
)
def test_operators_are_refused(
    api: Callable[[str], Call], service: Service, method: str, path: str, body: Any
) -> None:
    before = service.store.catalog_revision()
    response = api("driver-01")(method, path, body)
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"
    assert service.store.catalog_revision() == before


def test_without_credentials_the_api_answers_401(client: FlaskClient) -> None:
    for method, path in [("GET", "/messages"), ("POST", "/programs"), ("DELETE", "/schedules/x")]:
        assert client.open(f"{API}{path}", method=method, json={}).status_code == 401


def test_a_panel_session_needs_the_csrf_header(
    login_as: Callable[[str], FlaskClient], service: Service
) -> None:
    client = login_as("admin")
    body = {"id": "by-session", "title": "会话", "text": "会话通知。"}
    assert client.post(f"{API}/messages", json=body).status_code == 403
    with client.session_transaction() as s:
        token = s["csrf"]
    made = client.post(f"{API}/messages", json=body, headers={"X-CSRF-Token": token})
    assert made.status_code == 201
    assert audit_of(service, "message.create")[0].actor == "user:admin"


# -- validation -------------------------------------------------------------------------------

BAD = [
    ("POST", "/messages", MESSAGE | {"title": ""}, "title", "Required."),
    ("POST", "/messages", MESSAGE | {"title": "长" * 101}, "title", "At most 100 characters."),
    ("POST", "/messages", MESSAGE | {"text": ""}, "text", "Type the text or add a recording."),
    ("POST", "/messages", MESSAGE | {"text": "！！！"}, "text", "This text cannot be spoken"),
    ("POST", "/messages", MESSAGE | {"rate": 999}, "rate", "Must be from 80 to 400."),
    ("POST", "/messages", MESSAGE | {"rate": "fast"}, "rate", "expected a whole number"),
    ("POST", "/messages", MESSAGE | {"volume": 2}, "volume", "Must be from 0.01 to 1.0."),
    ("POST", "/messages", MESSAGE | {"voice": "no-such-voice"}, "voice", "No such voice"),
    ("POST", "/messages", MESSAGE | {"id": "bad id!", "area": None}, "id", "Use only letters"),
    ("POST", "/messages", MESSAGE | {"id": "masks", "area": None}, "id", "This id is taken."),
    ("POST", "/messages", MESSAGE | {"id": ""}, "id", "Chosen by the server; leave it out."),
    ("POST", "/messages", MESSAGE | {"id": "", "area": None}, "id", "Leave it out (or null)"),
    ("POST", "/messages", MESSAGE | {"recording": "a.wav"}, "recording", "in the panel"),
    ("POST", "/messages", MESSAGE | {"chime": "yes"}, "chime", "expected true or false"),
    ("PATCH", "/messages/masks", {"title": " "}, "title", "Required."),
    ("PATCH", "/messages/masks", {"id": "other"}, "id", "cannot be changed"),
    ("PATCH", "/messages/masks", {"text": ""}, "text", "Type the text"),
    ("PATCH", "/messages/masks", {"recording": "x.wav"}, "recording", "in the panel"),
    ("POST", "/programs", {"name": "循环", "messages": []}, "messages", "at least one"),
    ("POST", "/programs", {"name": "循环", "messages": ["ghost"]}, "messages", "from the list"),
    ("POST", "/programs", {"name": "循环", "messages": ["masks"], "gap_s": -1}, "gap_s", "0 to"),
    ("PATCH", "/programs/prevention", {"name": ""}, "name", "Required."),
    ("POST", "/schedules", SCHEDULE | {"program": "ghost"}, "program", "Choose a program."),
    ("POST", "/schedules", SCHEDULE | {"start": "25:99"}, "start", "a time like 07:30"),
    ("POST", "/schedules", SCHEDULE | {"weekdays": []}, "weekdays", "at least one weekday"),
    ("POST", "/schedules", SCHEDULE | {"weekdays": [7]}, "weekdays", "0 (Monday) to 6"),
    ("POST", "/schedules", SCHEDULE | {"speakers": []}, "speakers", "at least one"),
    (
        "POST",
        "/schedules",
        SCHEDULE | {"first_date": "2025-06-01", "last_date": "2025-05-01"},
        "last_date",
        "before the first day",
    ),
    ("POST", "/schedules", SCHEDULE | {"exceptions": ["2025-13-01"]}, "exceptions", "dates like"),
    ("POST", "/schedules", SCHEDULE | {"priority": 1001}, "priority", "-1000 to 1000"),
    ("PATCH", "/schedules/vehicles-daily", {"areas": ["nowhere"]}, "areas", "from the list"),
    ("POST", "/schedules", ["not", "an", "object"], "body", "a JSON object"),
]


@pytest.mark.parametrize(("method", "path", "body", "field", "says"), BAD)
def test_invalid_input_is_422_naming_the_field_and_changes_nothing(
    api: Callable[[str], Call],
    service: Service,
    method: str,
    path: str,
    body: Any,
    field: str,
    says: str,
) -> None:
    before = (service.store.catalog_revision(), len(service.store.journal.list_audit(limit=1000)))
    chief = isinstance(body, dict) and body.get("area") == "tunli-village"
    response = api("chief-tunli" if chief else "admin")(method, path, body)
    error = response.get_json()["error"]
    assert response.status_code == 422, error
    assert error["code"] == "invalid"
    assert error["field"] == field, error
    assert says in error["message"], error
    assert (
        service.store.catalog_revision(),
        len(service.store.journal.list_audit(limit=1000)),
    ) == before


def test_the_panel_still_shows_every_refused_field_at_once(
    login_as: Callable[[str], FlaskClient],
) -> None:
    """A value the form cannot parse (rate) and the use case's refusals (title, area) together."""
    client = login_as("chief-tunli")
    form = {"title": "", "text": "通知。", "voice": "zh", "rate": "fast", "volume": "1"}
    page = post(client, "/messages/new", form).get_data(as_text=True)
    for field in ("title", "rate", "area"):
        assert f'id="err-{field}"' in page, field


def test_every_text_the_use_cases_refuse_with_has_a_chinese_translation() -> None:
    """The panel translates the use cases' English texts (tests/web/test_i18n.py covers its own)."""
    source = Path(catalog.__file__).read_text(encoding="utf-8")
    texts = set(catalog.REFUSALS.values())
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) in ("add", "Problem")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            texts.add(node.args[1].value)
    assert len(texts) > 15
    assert sorted(t for t in texts if t not in ZH) == []


# -- through a real server --------------------------------------------------------------------


@pytest.mark.integration
def test_the_catalog_api_through_a_real_server(tmp_path: Path) -> None:
    from tests.integration.harness import Server, aware_now, deployment_yaml, seconds

    now = aware_now()
    config = tmp_path / "config.yaml"
    config.write_text(
        deployment_yaml(
            window_start=now - seconds(3600), window_end=now + seconds(3600), speakers=2
        ),
        encoding="utf-8",
    )
    server = Server(tmp_path, config)
    server.start()
    try:
        admin = {"Authorization": f"Bearer {server.user_token('admin')}"}
        chief = {"Authorization": f"Bearer {server.user_token('chief-a')}"}
        made = requests.post(
            f"{server.url}{API}/messages",
            json={"id": "m9", "title": "新通知", "text": "请注意安全。", "area": "village-b"},
            headers=admin,
            timeout=10,
        )
        assert made.status_code == 201, made.text
        assert made.headers["Location"] == f"{API}/messages/m9"
        assert (
            requests.get(f"{server.url}{API}/messages/m9", headers=chief, timeout=10).status_code
            == 404
        )
        changed = requests.patch(
            f"{server.url}{API}/programs/p1",
            json={"messages": ["m1", "m9"]},
            headers=admin,
            timeout=10,
        )
        assert changed.status_code == 200, changed.text
        listed = requests.get(f"{server.url}{API}/programs", headers=admin, timeout=10).json()
        assert listed["data"][0]["messages"] == ["m1", "m9"]
        assert re.match(r"\d{4}-\d\d-\d\dT", listed["server_time"])
        used = requests.delete(f"{server.url}{API}/messages/m1", headers=admin, timeout=10)
        assert used.status_code == 409  # p1 still plays it
        gone = requests.delete(f"{server.url}{API}/messages/m2", headers=admin, timeout=10)
        assert gone.status_code == 204  # p1 no longer does
    finally:
        server.stop()
