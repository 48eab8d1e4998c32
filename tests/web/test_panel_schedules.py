"""Issue 11, item 8: a chief sees every schedule that drives their loudspeakers (the district's
read only) and the week as a calendar; one-off schedules; a warning for late windows."""

from __future__ import annotations

import re
from datetime import date, time
from typing import Any

from broadcaster import urgent
from broadcaster.models import Role, User
from broadcaster.service import Service
from tests.web.conftest import NOW, post
from web.panel.week import Block, _side_by_side, outside_hours


def _day(page: str, day: str) -> str:
    column = page[page.index(f'data-day="{day}"') :]
    return column[
        : column.index('<div class="week-day') if '<div class="week-day' in column else None
    ]


def test_a_chief_sees_the_district_schedules_on_their_loudspeakers_read_only(
    login_as: Any,
) -> None:
    page = login_as("chief-tunli").get("/schedules").get_data(as_text=True)
    district = page[page.index('id="district-list"') :]
    district = district[: district.index("</table>")]
    # villages-morning and villages-evening play on 屯里村大喇叭 among other villages'.
    assert "村早间广播" in district and "07:00–09:00" in district
    assert "疫情防控循环播报" in district and "17:30–19:00" in district
    assert "屯里村大喇叭" in district
    # Read only, unnamed: no id, no link, nothing of the other villages.
    assert "<a " not in district
    for hidden in ("villages-morning", "villages-evening", "小榆村大喇叭", "乔李村"):
        assert hidden not in page, hidden
    # A schedule that does not touch the chief's loudspeakers is not there at all.
    assert "交通与防火" not in district  # yaomiao-noon


def test_the_week_calendar_shows_windows_and_urgents_by_day(
    login_as: Any, service: Service
) -> None:
    urgent.send(
        service,
        User("admin", Role.ADMIN),
        urgent.UrgentRequest(
            text="河水上涨请远离河道", speaker_ids=("tunli-village-1",), override_window=True
        ),
        NOW,
    )
    client = login_as("chief-tunli")
    page = client.get("/schedules").get_data(as_text=True)  # NOW: Tuesday 2025-05-06
    assert 'data-day="2025-05-05"' in page and 'data-day="2025-05-11"' in page
    tuesday = _day(page, "2025-05-06")
    assert "week-day today" in page[page.index('data-day="2025-05-06"') - 40 :][:60]
    blocks = re.findall(r'class="block kind-(\w+)[^"]*"[^>]*title="([^"]*)"', tuesday)
    assert ("loop", "07:00–09:00 村早间广播（屯里村大喇叭）") in blocks
    assert ("loop", "17:30–19:00 疫情防控循环播报（屯里村大喇叭）") in blocks
    assert any(kind == "urgent" and "河水上涨" in title for kind, title in blocks), blocks
    assert "河水上涨" not in _day(page, "2025-05-08")  # expired long before
    # Another week; a bad week is said, not a 500.
    later = client.get("/schedules?week=2025-05-14").get_data(as_text=True)
    assert 'data-day="2025-05-12"' in later and "河水上涨" not in later
    bad = client.get("/schedules?week=9999-99-99")
    assert bad.status_code == 400 and "请输入日期" in bad.get_data(as_text=True)


def test_a_new_schedule_plays_today_only_unless_told_otherwise(
    login_as: Any, service: Service
) -> None:
    client = login_as("chief-tunli")
    page = client.get("/schedules/new").get_data(as_text=True)
    assert re.search(r'name="how_often" value="once"\s+checked', page)
    assert 'name="on_date" value="2025-05-06"' in page
    form = {"program": "prevention", "start": "10:30", "end": "11:00", "priority": "3",
            "speakers": "tunli-village-1", "enabled": "1", "action": "save"}  # fmt: skip
    once = post(client, "/schedules/new", {**form, "how_often": "once", "on_date": "2025-05-09"})
    assert once.status_code in (302, 303), once.get_data(as_text=True)[:2000]
    saved = service.store.schedules.get_schedule(once.headers["Location"].rsplit("/", 1)[-1])
    assert (saved.first_date, saved.last_date) == (date(2025, 5, 9), date(2025, 5, 9))
    assert saved.weekdays == frozenset(range(7))  # whatever weekday the day is
    ranged = post(
        client,
        "/schedules/new",
        {**form, "start": "12:00", "end": "12:30", "how_often": "range", "weekdays": ["0", "2"],
         "first_date": "2025-05-06", "last_date": "2025-05-20"},
    )  # fmt: skip
    assert ranged.status_code in (302, 303)
    saved = service.store.schedules.get_schedule(ranged.headers["Location"].rsplit("/", 1)[-1])
    assert (saved.first_date, saved.last_date) == (date(2025, 5, 6), date(2025, 5, 20))
    assert saved.weekdays == frozenset({0, 2})
    edit = client.get(ranged.headers["Location"]).get_data(as_text=True)
    assert re.search(r'name="how_often" value="range"\s+checked', edit)
    missing = post(client, "/schedules/new", {**form, "how_often": "range", "weekdays": "1"})
    assert missing.status_code == 422
    assert 'id="err-first_date"' in missing.get_data(as_text=True)


def test_a_window_at_night_or_past_the_stop_is_warned_about(
    login_as: Any, service: Service
) -> None:
    client = login_as("chief-tunli")
    page = client.get("/schedules/new").get_data(as_text=True)
    assert 'data-hours-from="07:00" data-hours-to="19:00"' in page  # config.yaml's window
    assert "区里规定的播放时间：07:00 到 19:00。" in page
    assert '<p class="late-warning" id="late-warning" role="status" hidden>' in page
    form = {"program": "prevention", "start": "18:30", "end": "21:00", "priority": "4",
            "speakers": "tunli-village-1", "enabled": "1", "how_often": "once",
            "on_date": "2025-05-06"}  # fmt: skip
    checked = post(client, "/schedules/new", {**form, "action": "check"})
    text = checked.get_data(as_text=True)
    assert '<p class="late-warning" id="late-warning" role="status" >' in text
    assert "之外：夜间或停播时间之后也会播放" in text
    saved = post(client, "/schedules/new", {**form, "action": "save"}, follow_redirects=True)
    assert "注意：它在区里规定的播放时间之外播放。" in saved.get_data(as_text=True)
    hours = (time(7), time(19))
    assert outside_hours(time(18), time(19, 30), hours)
    assert outside_hours(time(6, 30), time(8), hours)
    assert outside_hours(time(22), time(1), hours)  # over midnight
    assert not outside_hours(time(7), time(19), hours)


def test_overlapping_blocks_stand_side_by_side() -> None:
    from datetime import UTC, datetime

    at = datetime(2025, 5, 6, tzinfo=UTC)

    def block(top: float, height: float) -> Block:
        return Block(top, height, "loop", "", at, at, False)

    placed = _side_by_side([block(0, 10), block(5, 10), block(20, 5)])
    assert [(b.left, b.width) for b in placed] == [(0.0, 50.0), (50.0, 50.0), (0.0, 100.0)]
