"""The coverage report (issue 13, item 5) in-process: the page, the CSV, what a chief sees.

屯里村 (tunli-village, config.yaml) spans 111.4880–111.4950 E at 36.0985 N; 小榆村
(xiaoyu-village) starts at 111.4950. vehicle-01 drives due east along 36.0985 N from
111.4850 at 09:00 local, 0.001° a minute, a point a minute, to 111.4980 at 09:13: in 屯里村
from 09:03 to 09:10, in 小榆村 from 09:10. Its plays of “masks”: 09:00–09:05 (2 minutes
inside 屯里村), 09:05–09:08 muted in a quiet zone (not heard), 09:08–09:12 (2 minutes in each
village). 屯里村's own loudspeaker plays “masks” 08:00–08:08 (8 minutes). So 屯里村 heard
4 + 8 = 12 minutes (not flagged at the sample's minimum of 10) and 小榆村 2 (flagged).
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from broadcaster.models import PlayKind, PlayLogEntry
from broadcaster.store.tracks import TrackPoint
from tests.web.conftest import NOW

ZONE = ZoneInfo("Asia/Shanghai")


def _at(day_offset: int, hh: int, mm: int) -> datetime:
    local = NOW.astimezone(ZONE).replace(hour=hh, minute=mm, second=0, microsecond=0)
    return local + timedelta(days=day_offset)


def _play(speaker: str, start: datetime, end: datetime, reason: str = "") -> PlayLogEntry:
    return PlayLogEntry(f"{speaker}-{start.isoformat()}", speaker, "c" * 64, "masks",
                        PlayKind.LOOP, None, start, end, not reason, reason)  # fmt: skip


def _day(service: Any, offset: int) -> None:
    points = [
        TrackPoint("vehicle-01", f"{offset}-{i}", 36.0985, 111.4850 + 0.001 * i, _at(offset, 9, i))
        for i in range(14)
    ]
    service.record_track("vehicle-01", points, NOW)
    service.record_plays(
        "vehicle-01",
        [
            _play("vehicle-01", _at(offset, 9, 0), _at(offset, 9, 5)),
            _play("vehicle-01", _at(offset, 9, 5), _at(offset, 9, 8), "muted:quiet_zone"),
            _play("vehicle-01", _at(offset, 9, 8), _at(offset, 9, 12)),
        ],
        NOW,
    )
    service.record_plays(
        "tunli-village-1", [_play("tunli-village-1", _at(offset, 8, 0), _at(offset, 8, 8))], NOW
    )


def _rows(page: str) -> dict[str, tuple[str, ...]]:
    import re

    found = {}
    for area, cls, cells in re.findall(
        r'<tr data-id="([^"]+)" class="(\w+)">(.*?)</tr>', page, flags=re.S
    ):
        numbers = re.findall(r"<td(?: class=\"total\")?>(?:<strong>)?([\d.]+)", cells)
        found[area] = (cls, *numbers)
    return found


@pytest.mark.parametrize("offset", [0, -1], ids=["today", "yesterday"])
def test_the_coverage_page_by_hand(client, login_as, service, offset) -> None:  # type: ignore[no-untyped-def]
    _day(service, offset)
    login_as("admin")
    day = _at(offset, 12, 0).date().isoformat()
    answer = client.get(f"/reports/coverage?day={day}" if offset else "/reports/coverage")
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    rows = _rows(page)
    assert rows["tunli-village"] == ("ok", "4.0", "8.0", "12.0")
    assert rows["xiaoyu-village"] == ("flagged", "2.0", "0.0", "2.0")
    assert "戴口罩、保持距离" in page and "各村覆盖情况" in page
    order = list(rows)
    assert order.index("xiaoyu-village") < order.index("tunli-village")  # flagged first
    # a day nothing was heard: every village is flagged, none has minutes
    empty = _rows(
        client.get(f"/reports/coverage?day={_at(offset - 3, 12, 0).date()}").get_data(as_text=True)
    )
    assert empty["tunli-village"] == ("flagged", "0.0", "0.0", "0.0")


def test_the_coverage_csv(client, login_as, service) -> None:  # type: ignore[no-untyped-def]
    _day(service, 0)
    login_as("admin")
    answer = client.get(f"/reports/coverage.csv?day={_at(0, 12, 0).date()}")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    text = answer.get_data(as_text=True)
    assert text.startswith("\ufeff")
    table = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert table[0] == ["村", "乡镇", "消息", "宣传车分钟数", "固定喇叭分钟数", "分钟"]
    assert ["屯里村", "屯里镇", "戴口罩、保持距离", "4.0", "8.0", "12.0"] in table
    totals = table[table.index(next(r for r in table if r and r[0] == "各村合计")) + 1 :]
    assert ["屯里村", "屯里镇", "4.0", "8.0", "12.0", "否"] in totals
    assert ["小榆村", "屯里镇", "2.0", "0.0", "2.0", "是"] in totals
    assert table[-1] == ["每村每天最低分钟数", "10"]
    assert client.get("/reports/coverage.csv?day=yesterday").status_code == 400


def test_a_chief_sees_their_villages_only(client, login_as, service) -> None:  # type: ignore[no-untyped-def]
    _day(service, 0)
    login_as("chief-tunli")
    page = client.get("/reports/coverage").get_data(as_text=True)
    assert set(_rows(page)) == {"tunli-village"}  # heard from the township's vehicle too
    assert _rows(page)["tunli-village"][1:] == ("4.0", "8.0", "12.0")
    login_as("chief-xiguan")  # a community without an outline
    page = client.get("/reports/coverage").get_data(as_text=True)
    assert _rows(page) == {} and "没有可显示" in page
    login_as("driver-01")
    assert client.get("/reports/coverage").status_code == 403


def test_a_bad_day_is_refused_next_to_the_field(client, login_as) -> None:  # type: ignore[no-untyped-def]
    login_as("admin")
    answer = client.get("/reports/coverage?day=2025-13-01")
    assert answer.status_code == 400 and "2025-05-01" in answer.get_data(as_text=True)
