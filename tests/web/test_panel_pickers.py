"""Issue 11, item 9: areas grouped by township, voices by name, a district message copied as
a chief's own."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from broadcaster.service import Service
from tests.web.conftest import post
from web.panel.choices import area_groups, voice_options


def _optgroups(page: str, select: str) -> dict[str, list[str]]:
    """The options of a <select name=...> under each optgroup label ("" for none)."""
    body = page[page.index(f'<select name="{select}"') :]
    body = body[: body.index("</select>")]
    groups: dict[str, list[str]] = {}
    label = ""
    for match in re.finditer(r'<optgroup label="([^"]*)">|</optgroup>|<option[^>]*>([^<]*)<', body):
        if match.group(0).startswith("<optgroup"):
            label = match.group(1)
        elif match.group(0) == "</optgroup>":
            label = ""
        else:
            groups.setdefault(label, []).append(match.group(2))
    return groups


def test_the_area_picker_is_grouped_by_township(login_as: Any) -> None:
    client = login_as("admin")
    groups = _optgroups(client.get("/messages/new").get_data(as_text=True), "area")
    assert groups[""] == ["全区通用", "尧都区"]
    # Each township first, then its villages and communities.
    for township, members in (
        ("屯里镇", {"屯里村", "小榆村"}),
        ("尧庙镇", {"尧庙村", "西关社区"}),
        ("汾河街道", {"鼓楼社区"}),
    ):
        assert groups[township][0] == township and set(groups[township][1:]) == members
    page = client.get("/schedules/new").get_data(as_text=True)
    group = page[page.index('<span class="group-name">乔李镇</span>') :]
    group = group[: group.index("</div></div>")]
    found = re.findall(r'value="([^"]+)"', group)
    assert found[0] == "qiaoli" and set(found[1:]) == {"qiaoli-village", "dongzhang-village"}
    for path in ("/urgent", "/users/new", "/programs/new"):
        assert "屯里镇" in client.get(path).get_data(as_text=True), path


def test_a_chief_sees_their_own_township(app: Flask, login_as: Any) -> None:
    client = login_as("chief-tunli")
    groups = _optgroups(client.get("/messages/new").get_data(as_text=True), "area")
    assert groups == {"屯里镇": ["屯里村"]}
    with app.test_request_context():
        from broadcaster.editing import scope_for
        from broadcaster.models import Role, User

        service = app.extensions["broadcaster"].service
        me = scope_for(User("x", Role.ADMIN), service.store, service.deployment(service.clock()))
        # An area the deployment does not know is shown ungrouped.
        assert area_groups(me, [("ghost", "幽灵村")]) == [("", [("ghost", "幽灵村")])]


def test_the_voice_is_chosen_by_name(app: Flask, login_as: Any) -> None:
    page = login_as("chief-tunli").get("/messages/new").get_data(as_text=True)
    select = page[page.index('<select name="voice"') :]
    select = select[: select.index("</select>")]
    assert '<option value="sit/cmn-latn-pinyin" selected>普通话（标准）</option>' in select
    assert 'type="text" name="voice"' not in page
    with app.test_request_context():
        # The engine here knows only "zh": the default keeps its name, a message's own
        # unknown voice is offered as it is, so a form saves back unchanged.
        assert voice_options("zh") == [
            ("sit/cmn-latn-pinyin", "普通话（标准）"),
            ("zh", "其他语音：zh"),
        ]


def test_a_chief_copies_a_district_message_as_their_own(
    login_as: Any, service: Service, client: FlaskClient
) -> None:
    admin = login_as("admin")
    made = post(
        admin,
        "/messages/new",
        {"title": "西关停水", "text": "西关今晚停水。", "voice": "zh", "rate": "160",
         "volume": "1", "area": "xiguan-community"},
    )  # fmt: skip
    assert made.status_code in (302, 303)
    xiguan_message = made.headers["Location"].rsplit("/", 1)[-1]
    post(admin, "/logout")
    chief = login_as("chief-tunli")
    district = chief.get("/messages/fire").get_data(as_text=True)
    assert 'id="copy-message" href="/messages/new?copy=fire"' in district
    assert "复制为我的消息" in district
    page = chief.get("/messages/new?copy=fire").get_data(as_text=True)
    assert "这是“冬季防火”的副本" in page
    assert "冬季天干物燥" in page  # the text, ready to change
    saved = post(
        chief,
        "/messages/new",
        {"title": "屯里防火", "text": "屯里村请注意防火。", "voice": "sit/cmn-latn-pinyin",
         "rate": "160", "volume": "1", "area": "tunli-village"},
    )  # fmt: skip
    assert saved.status_code in (302, 303), saved.get_data(as_text=True)[:1000]
    copy_id = saved.headers["Location"].rsplit("/", 1)[-1]
    assert copy_id != "fire"
    mine = chief.get(f"/messages/{copy_id}").get_data(as_text=True)
    assert "屯里村请注意防火" in mine and 'class="danger"' in mine  # theirs: they may delete it
    assert service.store.content.get_message("fire").text.startswith("冬季天干物燥")  # untouched
    # Another village's message cannot be copied (404, as an id that does not exist).
    assert chief.get(f"/messages/new?copy={xiguan_message}").status_code == 404
    assert chief.get("/messages/new?copy=no-such").status_code == 404
