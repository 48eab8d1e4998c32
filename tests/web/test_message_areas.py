"""A message's "plays only in these villages" (issue 13, `Message.area_ids`) in the panel's
message form and the user API: shown, changed and cleared through broadcaster/catalog.py with
its scope checks (an area outside a chief's reach is refused as one that does not exist),
areas without an outline refused for a new binding, bindings outside the user's reach kept
and told without being named, the audit line, the list's badge and the vehicle's plan.

In config.yaml 屯里村 (tunli-village) and 小榆村 (xiaoyu-village) have outlines, both in the
township 屯里镇 (tunli); 西关社区 (xiguan-community) has none. chief-tunli's reach is 屯里村,
chief-xiguan's 西关社区.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from flask.testing import FlaskClient

from broadcaster import editing
from broadcaster.models import Message
from broadcaster.service import Service
from broadcaster.store import TokenKind
from tests.web.conftest import NOW, post
from web.panel.catalog_zh import ZH

FORM = {
    "title": "核酸检测",
    "text": "核酸检测在村委会广场。",
    "voice": "zh",
    "rate": "170",
    "volume": "1",
    "chime": "1",
    "area": "tunli-village",
    "areas_field": "1",
}
NOT_IN_LIST = ZH["Choose areas from the list."]
NO_OUTLINE = (
    "%(area)s has no outline on the map yet: vehicles could not tell when they are inside it. "
    "Draw the outline first."
)
Call = Callable[..., Any]


def _bound(service: Service, message_id: str) -> tuple[str, ...]:
    return service.store.content.get_message(message_id).area_ids


def _checked(page: str) -> list[str]:
    """The ticked boxes of the "plays only in these villages" field."""
    field = page.split('id="bound-areas"', 1)[1].split("</div>\n", 1)[0]
    return re.findall(r'name="areas" value="([^"]+)" checked', field)


def _box(page: str, area_id: str) -> str:
    match = re.search(rf'<label class="check[^"]*"[^>]*><input type="checkbox" name="areas" '
                      rf'value="{area_id}"[^>]*>[^<]*(?:<small>[^<]*</small>)?', page)  # fmt: skip
    assert match, area_id
    return match.group(0)


@pytest.fixture
def chief_message(service: Service) -> str:
    """A message of 屯里村 (chief-tunli's)."""
    service.store.content.create_message(Message("tl-msg", "屯里通知", "屯里村今晚停水。"), NOW)
    editing.set_owner(service.store, "message", "tl-msg", "tunli-village")
    return "tl-msg"


@pytest.fixture
def api(client: FlaskClient, service: Service) -> Callable[[str], Call]:
    def as_user(name: str) -> Call:
        token = service.store.people.issue_token(TokenKind.USER, name, NOW)[1]
        headers = {"Authorization": f"Bearer {token}"}

        def call(method: str, path: str, json: Any = None) -> Any:
            return client.open(f"/api/v1{path}", method=method, headers=headers, json=json)

        return call

    return as_user


# -- the panel --------------------------------------------------------------------------------


def test_the_admin_binds_a_message_and_the_vehicle_plan_carries_it(  # type: ignore[no-untyped-def]
    login_as, service: Service, client: FlaskClient
) -> None:
    panel = login_as("admin")
    page = panel.get("/messages/masks").get_data(as_text=True)
    assert ZH["Plays only in these villages (vehicles)"] in page
    assert "固定喇叭不受影响" in page  # the one line that says what it does
    assert _checked(page) == []
    assert "disabled" not in _box(page, "tunli-village")
    assert "disabled" not in _box(page, "tunli")  # a township: its villages have outlines
    assert "disabled" in _box(page, "xiguan-community") and "尚无村界" in _box(
        page, "xiguan-community"
    )

    form = FORM | {"title": "戴口罩", "text": "请戴口罩。", "area": "", "areas": "tunli-village"}
    response = post(panel, "/messages/masks", form)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    assert _bound(service, "masks") == ("tunli-village",)
    entry = service.store.journal.list_audit(action="message.update")[0]
    assert (entry.actor, entry.detail["areas"]) == ("user:admin", ["tunli-village"])
    assert _checked(panel.get("/messages/masks").get_data(as_text=True)) == ["tunli-village"]
    listed = panel.get("/messages").get_data(as_text=True)
    row = listed.split('id="message-masks"', 1)[1].split("</tr>", 1)[0]
    assert "只在屯里村播放" in row and "bound-areas" in row
    fire = listed.split('id="message-fire"', 1)[1].split("</tr>", 1)[0]
    assert "bound-areas" not in fire

    # The vehicle that plays it gets the village's outline for it with its next plan.
    plain = service.store.people.issue_token(TokenKind.DEVICE, "vehicle-01", NOW)[1]
    plan = client.get(
        "/api/v1/speakers/vehicle-01/plan", headers={"Authorization": f"Bearer {plain}"}
    ).get_json()
    assert "masks" in {i["message"] for i in plan["items"]}
    assert plan["message_areas"]["masks"] == ["tunli-village"]
    village = service.store.places.get_area("tunli-village").polygon
    assert village is not None
    assert plan["areas"]["tunli-village"] == [list(p) for p in village]


def test_an_edit_keeps_the_binding_unless_the_field_is_sent_and_none_ticked_clears(  # type: ignore[no-untyped-def]
    login_as, service: Service, chief_message: str
) -> None:
    panel = login_as("chief-tunli")
    url = f"/messages/{chief_message}"
    assert post(panel, url, FORM | {"areas": "tunli-village"}).status_code == 302
    assert _bound(service, chief_message) == ("tunli-village",)
    # a form without the field (an older page, a script) changes the text, keeps the binding
    without = {k: v for k, v in FORM.items() if k != "areas_field"} | {"title": "改过"}
    assert post(panel, url, without).status_code == 302
    assert service.store.content.get_message(chief_message).title == "改过"
    assert _bound(service, chief_message) == ("tunli-village",)
    # the page's form with nothing ticked: everywhere again, and the audit line says so
    assert post(panel, url, FORM).status_code == 302
    assert _bound(service, chief_message) == ()
    entry = service.store.journal.list_audit(action="message.update")[0]
    assert entry.detail["areas"] == []
    assert _checked(panel.get(url).get_data(as_text=True)) == []


def test_a_chief_binds_her_new_message_to_her_village(login_as, service: Service) -> None:  # type: ignore[no-untyped-def]
    panel = login_as("chief-tunli")
    page = panel.get("/messages/new").get_data(as_text=True)
    assert re.findall(r'name="areas" value="([^"]+)"', page) == ["tunli-village"]
    response = post(panel, "/messages/new", FORM | {"areas": "tunli-village"})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    made = response.headers["Location"].rsplit("/", 1)[-1]
    assert _bound(service, made) == ("tunli-village",)
    assert service.store.content.owner("message", made) == "tunli-village"
    entry = service.store.journal.list_audit(action="message.create")[0]
    assert (entry.object, entry.detail["areas"]) == (made, ["tunli-village"])


def test_an_area_outside_a_chiefs_reach_is_refused_as_a_missing_one(  # type: ignore[no-untyped-def]
    login_as, service: Service, chief_message: str
) -> None:
    panel = login_as("chief-tunli")
    before = service.store.catalog_revision()
    for url in ("/messages/new", f"/messages/{chief_message}"):
        answers = []
        for area in ("xiaoyu-village", "no-such-village"):  # hidden (with an outline), missing
            response = post(panel, url, FORM | {"areas": ["tunli-village", area]})
            assert response.status_code == 422
            answers.append(response.get_data(as_text=True))
        assert answers[0] == answers[1]  # byte for byte: nothing tells that 小榆村 exists
        assert f'<span class="error" id="err-areas">{NOT_IN_LIST}</span>' in answers[0]
        assert "xiaoyu" not in answers[0] and "小榆村" not in answers[0]
        assert _checked(answers[0]) == ["tunli-village"]  # what she ticked stays ticked
    assert service.store.catalog_revision() == before
    assert _bound(service, chief_message) == ()
    assert not service.store.journal.list_audit(action="message.create")


def test_an_area_without_an_outline_is_shown_disabled_and_refused(  # type: ignore[no-untyped-def]
    login_as, service: Service
) -> None:
    panel = login_as("chief-xiguan")
    page = panel.get("/messages/new").get_data(as_text=True)
    box = _box(page, "xiguan-community")
    assert "disabled" in box and ZH["(no outline yet)"] in box
    assert 'id="no-outline-note"' in page
    form = FORM | {"area": "xiguan-community", "areas": "xiguan-community"}
    response = post(panel, "/messages/new", form)  # sent anyway (a hand-made form)
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert ZH[NO_OUTLINE] % {"area": "西关社区"} in text
    assert 'id="err-areas"' in text
    assert not service.store.journal.list_audit(action="message.create")


def test_an_existing_binding_to_an_area_without_outline_may_stay(  # type: ignore[no-untyped-def]
    login_as, service: Service
) -> None:
    """config.yaml may bind a message to an area that has no outline yet (it then plays
    everywhere): the form shows it ticked and enabled, and saving it back keeps it."""
    fire = service.store.content.get_message("fire")
    service.store.content.update_message(replace(fire, area_ids=("yaomiao-village",)), NOW)
    panel = login_as("admin")
    page = panel.get("/messages/fire").get_data(as_text=True)
    assert _checked(page) == ["yaomiao-village"]
    assert "disabled" not in _box(page, "yaomiao-village")
    form = FORM | {"title": "冬季防火", "area": "", "areas": "yaomiao-village"}
    assert post(panel, "/messages/fire", form).status_code == 302
    assert _bound(service, "fire") == ("yaomiao-village",)
    # and it can be unticked (the page's form with nothing ticked)
    assert post(panel, "/messages/fire", form | {"areas": []}).status_code == 302
    assert _bound(service, "fire") == ()


def test_a_binding_outside_the_chiefs_reach_is_told_not_named_and_kept(  # type: ignore[no-untyped-def]
    login_as, service: Service, chief_message: str
) -> None:
    message = service.store.content.get_message(chief_message)
    bound = replace(message, area_ids=("tunli-village", "xiaoyu-village"))
    service.store.content.update_message(bound, NOW)  # the district office bound it to both
    panel = login_as("chief-tunli")
    page = panel.get(f"/messages/{chief_message}").get_data(as_text=True)
    assert _checked(page) == ["tunli-village"]
    assert 'id="bound-elsewhere"' in page
    assert "xiaoyu" not in page and "小榆村" not in page
    row = panel.get("/messages").get_data(as_text=True).split(f'id="message-{chief_message}"')[1]
    assert "只在屯里村及辖区外的区域播放" in row.split("</tr>", 1)[0]
    # she unticks her village: what she cannot see stays as the district office set it
    assert post(panel, f"/messages/{chief_message}", FORM).status_code == 302
    assert _bound(service, chief_message) == ("xiaoyu-village",)


def test_copy_as_my_message_does_not_copy_the_binding(login_as, service: Service) -> None:  # type: ignore[no-untyped-def]
    masks = service.store.content.get_message("masks")
    service.store.content.update_message(replace(masks, area_ids=("tunli-village",)), NOW)
    page = login_as("chief-tunli").get("/messages/new?copy=masks").get_data(as_text=True)
    assert 'id="copy-note"' in page and _checked(page) == []


# -- the user API -----------------------------------------------------------------------------


def test_the_api_creates_shows_keeps_and_clears_the_binding(  # type: ignore[no-untyped-def]
    api: Callable[[str], Call], service: Service, login_as
) -> None:
    call = api("chief-tunli")
    body = {
        "title": "停水",
        "text": "今晚停水。",
        "area": "tunli-village",
        "areas": ["tunli-village"],
    }
    created = call("POST", "/messages", body)
    assert created.status_code == 201, created.get_json()
    data = created.get_json()["data"]
    assert (data["areas"], data["areas_elsewhere"]) == (["tunli-village"], False)
    made = data["id"]
    assert _bound(service, made) == ("tunli-village",)
    assert service.store.journal.list_audit(action="message.create")[0].detail["areas"] == [
        "tunli-village"
    ]
    # the panel shows what the API saved
    page = login_as("chief-tunli").get(f"/messages/{made}").get_data(as_text=True)
    assert _checked(page) == ["tunli-village"]

    for kept in ({"title": "停水（改）"}, {"areas": None}):  # left out or null: kept
        changed = call("PATCH", f"/messages/{made}", kept)
        assert changed.status_code == 200, changed.get_json()
        assert changed.get_json()["data"]["areas"] == ["tunli-village"]
    cleared = call("PATCH", f"/messages/{made}", {"areas": []})
    assert cleared.status_code == 200 and cleared.get_json()["data"]["areas"] == []
    assert _bound(service, made) == ()
    got = call("GET", f"/messages/{made}").get_json()["data"]
    assert (got["areas"], got["areas_elsewhere"]) == ([], False)
    listed = {m["id"]: m for m in call("GET", "/messages").get_json()["data"]}
    assert listed[made]["areas"] == [] and listed["masks"]["areas"] == []


def test_the_api_refuses_hidden_and_missing_areas_alike(  # type: ignore[no-untyped-def]
    api: Callable[[str], Call], service: Service, chief_message: str
) -> None:
    call = api("chief-tunli")
    base = {"title": "停水", "text": "今晚停水。", "area": "tunli-village"}
    for method, path, body in (
        ("POST", "/messages", base),
        ("PATCH", f"/messages/{chief_message}", {}),
    ):
        answers = []
        for area in ("xiaoyu-village", "no-such-village"):
            response = call(method, path, body | {"areas": [area]})
            assert response.status_code == 422
            answers.append(response.get_data(as_text=True).replace(area, "X"))
        assert answers[0] == answers[1]
        error = call(method, path, body | {"areas": ["tunli"]}).get_json()["error"]
        assert error["field"] == "areas"  # her township is above her reach: not in the list
    assert _bound(service, chief_message) == ()


def test_the_api_refuses_an_area_without_an_outline_and_says_why(  # type: ignore[no-untyped-def]
    api: Callable[[str], Call],
) -> None:
    response = api("admin")("PATCH", "/messages/masks", {"areas": ["xiguan-community"]})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["field"] == "areas"
    assert "西关社区 has no outline on the map yet" in error["message"]
    bad = api("admin")("PATCH", "/messages/masks", {"areas": "tunli-village"})
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "areas"


def test_the_api_tells_a_chief_of_areas_outside_her_reach_without_naming_them(  # type: ignore[no-untyped-def]
    api: Callable[[str], Call], service: Service, chief_message: str
) -> None:
    message = service.store.content.get_message(chief_message)
    bound = replace(message, area_ids=("xiaoyu-village", "tunli-village"))
    service.store.content.update_message(bound, NOW)
    response = api("chief-tunli")("GET", f"/messages/{chief_message}")
    assert "xiaoyu" not in response.get_data(as_text=True)
    data = response.get_json()["data"]
    assert (data["areas"], data["areas_elsewhere"]) == (["tunli-village"], True)
    admin = api("admin")("GET", f"/messages/{chief_message}").get_json()["data"]
    assert (admin["areas"], admin["areas_elsewhere"]) == (
        ["xiaoyu-village", "tunli-village"],
        False,
    )
    cleared = api("chief-tunli")("PATCH", f"/messages/{chief_message}", {"areas": []})
    assert cleared.get_json()["data"]["areas_elsewhere"] is True
    assert _bound(service, chief_message) == ("xiaoyu-village",)


def test_the_openapi_document_has_the_field(client: FlaskClient) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    text = str(doc)
    assert "vehicles play it only inside these areas' outlines" in text  # the request field
    assert "it is also bound to areas outside the caller's reach" in text  # the answer
