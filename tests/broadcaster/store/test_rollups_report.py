"""The reports page and its CSV across retirement (issue 14, item 4): the totals (all, per
message, per loudspeaker, for the admin and for a chief) are the same before and after the
`retire-plays` job folds the old days into daily totals; the list of plays, the chart and the
CSV rows then hold the kept plays only, and the page and the CSV say why. The scheduler runs
the retention jobs."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient

from broadcaster import jobs
from broadcaster.config import RetentionSettings, Settings
from broadcaster.models import PlayKind, PlayLogEntry
from broadcaster.scheduler import SchedulerShell
from broadcaster.service import Service
from tests.web.conftest import NOW, app, client, clock, login, login_as, service  # noqa: F401

SHANGHAI = ZoneInfo("Asia/Shanghai")
SPEAKERS = ("tunli-village-1", "xiaoyu-village-1")
OLD_DAYS = (date(2025, 4, 20), date(2025, 4, 21), date(2025, 4, 22))  # retired at NOW
NEW_DAYS = (date(2025, 5, 5), date(2025, 5, 6))  # NOW: 2025-05-06 10:00 local
SPAN = "from=2025-04-20&to=2025-05-06"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Per-play detail for 5 days: at NOW the plays before 2025-05-01 retire."""
    return dataclasses.replace(settings, retention=RetentionSettings(plays_days=5))


def _add(svc: Service) -> tuple[int, int]:
    """Plays on the old and the new days (received the day after each); (old, new) counts."""
    n, counts = 0, [0, 0]
    for which, days in enumerate((OLD_DAYS, NEW_DAYS)):
        for day in days:
            batch = []
            for hour in (7, 8, 9):
                for speaker in SPEAKERS:
                    n += 1
                    started = datetime(day.year, day.month, day.day, hour, n % 50, tzinfo=SHANGHAI)
                    urgent = n % 5 == 0
                    batch.append(
                        PlayLogEntry(
                            id=f"r-{n}", speaker_id=speaker, clip="c" * 64,
                            message_id=None if urgent else "fire",
                            kind=PlayKind.URGENT if urgent else PlayKind.LOOP,
                            planned_start=started, started_at=started,
                            ended_at=started + timedelta(seconds=6 + n % 7),
                            completed=n % 3 != 0, reason="" if n % 3 else "cut:urgent",
                        )
                    )  # fmt: skip
            svc.store.devices.add_plays(batch, min(NOW, started + timedelta(days=1)))
            counts[which] += len(batch)
    return counts[0], counts[1]


def _tables(html: str) -> dict[str, str]:
    found = {
        name: re.search(rf'<table class="list totals" id="{name}">.*?</table>', html, re.S)
        for name in ("totals-message", "totals-speaker")
    }
    total = re.search(r'<strong id="total-plays">(\d+)</strong>', html)
    assert total and all(found.values()), html[:2000]
    return {"total": total.group(1)} | {k: v.group(0) for k, v in found.items() if v}


def _page(who: FlaskClient, query: str = SPAN) -> str:
    response = who.get(f"/reports?{query}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _csv(who: FlaskClient) -> list[list[str]]:
    response = who.get(f"/reports/plays.csv?{SPAN}")
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(response.get_data(as_text=True)[1:], newline="")))


def _chart(html: str) -> int:
    return sum(int(cell.split("</em>")[0] or 0) for cell in html.split("<em>")[1:25])


def test_totals_are_the_same_before_and_after_the_old_days_retire(
    login_as: Any,  # noqa: F811
    service: Service,  # noqa: F811
    app: Flask,  # noqa: F811
) -> None:
    old, new = _add(service)
    admin = login_as("admin")
    before = _tables(_page(admin))
    assert before["total"] == str(old + new)
    rows_before = _csv(admin)
    blank = rows_before.index([])
    assert len(rows_before[1:blank]) == old + new
    totals_before = rows_before[blank:]
    chief = app.test_client()
    assert login(chief, "chief-tunli").status_code == 302
    chiefs_before = _tables(_page(chief))
    assert chiefs_before["total"] == str((old + new) // 2)

    assert jobs.retire_plays(service, NOW) == old
    assert service.store.retention.retired_days() > 0

    assert _tables(_page(chief)) == chiefs_before
    html = _page(admin)
    assert _tables(html) == before
    assert 'id="retired-note"' in html and "5 天" in html and "2025-05-01" in html
    assert html.count('<tr class="kind-') == new and _chart(html) == new
    assert 'id="more-plays"' not in html
    rows = _csv(admin)
    blank = rows.index([])
    assert len(rows[1:blank]) == new  # the kept plays, row by row
    assert rows[blank:] == totals_before  # the same totals per message and loudspeaker
    assert rows[-2] == [] and "2025-05-01" in rows[-1][0]
    # Days that all keep their plays say nothing of it.
    assert 'id="retired-note"' not in _page(admin, "from=2025-05-05&to=2025-05-06")


def test_the_scheduler_runs_the_retention_jobs_hourly(service: Service) -> None:  # noqa: F811
    moment = datetime.now(UTC)
    shell = SchedulerShell(service, lambda: moment)
    shell.start()
    try:
        assert shell._scheduler is not None
        found = {job.id: job for job in shell._scheduler.get_jobs()}
        for name in ("retire-plays", "prune-events", "prune-tracks"):
            assert found[name].trigger.interval == timedelta(hours=1)
            assert found[name].next_run_time == moment + timedelta(minutes=5)
    finally:
        shell.stop()
