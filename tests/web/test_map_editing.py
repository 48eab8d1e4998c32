"""Editing shapes in the panel (issue 13, item 2): an area's outline typed as lines of
"latitude, longitude", quiet zones, a fixed loudspeaker's location. Refusals are said in
Chinese next to the field; only admins edit."""

from __future__ import annotations

import re
from datetime import time
from typing import Any

from broadcaster.models import QuietAction
from broadcaster.service import Service
from tests.web.conftest import post

OUTLINE = "36.0960, 111.4880\n36.1010，111.4880\n36.1010 111.4950\n\n36.0960, 111.4950\n"
BOWTIE = "36.0, 111.0\n36.01, 111.01\n36.0, 111.01\n36.01, 111.0"


def _error(page: str, field: str) -> str:
    found = re.search(
        rf'name="{field}"[^>]*>(?:[^<]*</textarea>)?\s*<span class="error" id="err-{field}">([^<]*)</span>',
        page,
    )
    assert found, page[-3000:]
    return found.group(1)


def test_an_admin_types_an_outline(login_as: Any, service: Service) -> None:
    admin = login_as("admin")
    form = admin.get("/map/areas/tunli-village").get_data(as_text=True)
    assert "36.096, 111.488" in form  # the saved outline, one point a line
    saved = post(admin, "/map/areas/dayang-village", {"polygon": OUTLINE})
    assert saved.status_code == 302, saved.get_data(as_text=True)[-2000:]
    assert service.store.places.get_area("dayang-village").polygon == (
        (36.096, 111.488), (36.101, 111.488), (36.101, 111.495), (36.096, 111.495))  # fmt: skip
    assert 'data-id="dayang-village"' in admin.get("/map").get_data(as_text=True)
    assert post(admin, "/map/areas/dayang-village", {"polygon": "  "}).status_code == 302
    assert service.store.places.get_area("dayang-village").polygon is None  # emptied: removed


def test_a_bad_outline_is_refused_in_chinese_next_to_the_field(
    login_as: Any, service: Service
) -> None:
    admin = login_as("admin")
    cases = {
        BOWTIE: "边界自相交：第 1 条边与第 3 条边相交",
        "36.0, 111.0\n36.01, 111.01": "至少需要 3 个不同的点",
        "36.0, 111.0\n91, 111.0\n36.0, 112.0": "第 2 个点：纬度 91 应在 -90 到 90 度之间",
        "36.0, 111.0\n36.01 东经111度\n36.0, 112.0": "第 2 行：请写成“纬度, 经度”",
        "[[36.0, 111.0], [36.01": "这不是点的列表",
    }
    for typed, said in cases.items():
        refused = post(admin, "/map/areas/dayang-village", {"polygon": typed})
        assert refused.status_code == 422
        page = refused.get_data(as_text=True)
        assert said in _error(page, "polygon"), typed
        assert typed.split("\n")[0] in page  # what was typed stays in the field
    assert service.store.places.get_area("dayang-village").polygon is None


def test_quiet_zones_are_made_edited_and_deleted(login_as: Any, service: Service) -> None:
    admin = login_as("admin")
    form = {"id": "exam-school", "name": "尧庙中学（考试）", "polygon": OUTLINE,
            "hours": "08:00-11:30\n22:00～06:00", "action": "mute", "volume": "30"}  # fmt: skip
    made = post(admin, "/map/zones/new", form)
    assert made.status_code == 302, made.get_data(as_text=True)[-2000:]
    zone = service.store.places.get_quiet_zone("exam-school")
    assert zone.action is QuietAction.MUTE and zone.volume is None
    assert [(h.start, h.end) for h in zone.hours] == [(time(8), time(11, 30)), (time(22), time(6))]
    edit = admin.get("/map/zones/exam-school").get_data(as_text=True)
    assert "08:00-11:30" in edit and "36.096, 111.488" in edit
    changed = post(
        admin, "/map/zones/exam-school", {**form, "action": "volume", "volume": "25", "hours": ""}
    )
    assert changed.status_code == 302
    zone = service.store.places.get_quiet_zone("exam-school")
    assert (zone.action, zone.volume, zone.hours) == (QuietAction.VOLUME, 25, ())
    assert "尧庙中学（考试）（音量 25%）" in admin.get("/map").get_data(as_text=True)

    bad = post(admin, "/map/zones/exam-school", {**form, "hours": "8点到12点", "polygon": BOWTIE})
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    assert "第 1 行：请写成 08:00-12:00 这样的时段。" in _error(page, "hours")
    assert "边界自相交" in _error(page, "polygon")
    taken = post(admin, "/map/zones/new", form)
    assert taken.status_code == 422 and _error(taken.get_data(as_text=True), "id")

    assert post(admin, "/map/zones/exam-school/delete").status_code == 302
    assert "exam-school" not in {z.id for z in service.store.places.list_quiet_zones()}


def test_a_fixed_loudspeaker_gets_a_location(login_as: Any, service: Service) -> None:
    admin = login_as("admin")
    fields = {"name": "大阳村大喇叭", "kind": "fixed", "area": "dayang-village", "volume": "80"}
    saved = post(admin, "/speakers/dayang-village-1", {**fields, "lat": "36.05", "lon": "111.6"})
    assert saved.status_code == 302, saved.get_data(as_text=True)[-2000:]
    assert service.store.places.get_speaker("dayang-village-1").location == (36.05, 111.6)
    page = admin.get("/speakers/dayang-village-1").get_data(as_text=True)
    assert 'name="lat" value="36.05"' in page

    far = post(admin, "/speakers/dayang-village-1", {**fields, "lat": "96", "lon": "111.6"})
    assert far.status_code == 422
    assert _error(far.get_data(as_text=True), "lat") == "纬度 96 应在 -90 到 90 度之间"
    half = post(admin, "/speakers/dayang-village-1", {**fields, "lat": "36.05", "lon": ""})
    assert _error(half.get_data(as_text=True), "lon") == "纬度和经度请都填数字，或都不填。"
    car = {"name": "宣传车05", "kind": "vehicle", "area": "dayang", "volume": "85"}
    moving = post(admin, "/speakers/vehicle-05", {**car, "lat": "36.05", "lon": "111.6"})
    assert "只有固定喇叭需要填写位置" in _error(moving.get_data(as_text=True), "lat")
    # Cleared: no location; the route of a vehicle is kept when its settings are saved.
    assert (
        post(admin, "/speakers/dayang-village-1", {**fields, "lat": "", "lon": ""}).status_code
        == 302
    )
    assert service.store.places.get_speaker("dayang-village-1").location is None


def test_only_admins_edit_shapes(login_as: Any, service: Service) -> None:
    chief = login_as("chief-tunli")
    assert chief.get("/map/areas/tunli-village").status_code == 403
    assert post(chief, "/map/areas/tunli-village", {"polygon": OUTLINE}).status_code == 403
    assert post(chief, "/map/zones/tunli-hospital/delete").status_code == 403
    assert "tunli-hospital" in {z.id for z in service.store.places.list_quiet_zones()}
    assert "/map/zones/new" not in chief.get("/map").get_data(as_text=True)
