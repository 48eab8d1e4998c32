"""Issue 11, item 9: users get a display name in Chinese (login names stay ASCII): set in the
users form, shown in the header, the users list, the audit log and on an urgent's page."""

from __future__ import annotations

from typing import Any

from broadcaster import urgent
from broadcaster.models import Role, User
from broadcaster.service import Service
from tests.web.conftest import NOW, post

FORM = {"role": "chief", "areas": "tunli-village", "vehicle": ""}


def test_a_display_name_is_set_and_shown_everywhere(
    login_as: Any, service: Service, client: Any
) -> None:
    admin = login_as("admin")
    saved = post(admin, "/users/chief-tunli", {**FORM, "display_name": " 张建国 · 屯里村 "})
    assert saved.status_code in (302, 303), saved.get_data(as_text=True)[:2000]
    assert service.store.people.display_name("chief-tunli") == "张建国 · 屯里村"
    users = admin.get("/users").get_data(as_text=True)
    assert '>张建国 · 屯里村</a></td><td class="opt">chief-tunli</td>' in users
    edit = admin.get("/users/chief-tunli").get_data(as_text=True)
    assert 'name="display_name" value="张建国 · 屯里村"' in edit
    post(admin, "/logout")
    chief = login_as("chief-tunli")
    page = chief.get("/").get_data(as_text=True)
    assert '<span class="user" title="chief-tunli">张建国 · 屯里村 · 村社负责人</span>' in page
    sent = urgent.send(
        service,
        User("chief-tunli", Role.CHIEF, ("tunli-village",)),
        urgent.UrgentRequest(
            text="紧急通知", speaker_ids=("tunli-village-1",), override_window=True
        ),
        NOW,
    ).urgent
    detail = chief.get(f"/urgent/{sent.id}").get_data(as_text=True)
    assert "发送人：张建国 · 屯里村" in detail
    post(chief, "/logout")
    audit = login_as("admin").get("/audit?action=login").get_data(as_text=True)
    assert '<td class="actor">张建国 · 屯里村（chief-tunli）</td>' in audit
    changed = login_as("admin").get("/audit?action=user.update").get_data(as_text=True)
    assert "<dt>显示名称</dt><dd>张建国 · 屯里村</dd>" in changed


def test_a_display_name_too_long_is_refused_and_blank_clears_it(
    login_as: Any, service: Service
) -> None:
    admin = login_as("admin")
    refused = post(admin, "/users/chief-tunli", {**FORM, "display_name": "长" * 41})
    assert refused.status_code == 422
    assert 'id="err-display_name"' in refused.get_data(as_text=True)
    assert service.store.people.display_name("chief-tunli") is None
    post(admin, "/users/chief-tunli", {**FORM, "display_name": "李主任"})
    assert service.store.people.display_name("chief-tunli") == "李主任"
    post(admin, "/users/chief-tunli", {**FORM, "display_name": "  "})
    assert service.store.people.display_name("chief-tunli") is None
    assert ">chief-tunli</a>" in admin.get("/users").get_data(as_text=True)
