"""The month-long report (issue 11): the reports page and the CSV never load every play.
The totals and the chart come from the database's GROUP BYs, the page lists the first 500
plays with the count of all, and the CSV streams every play a page at a time."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest

from broadcaster.models import PlayKind, PlayLogEntry
from broadcaster.service import Service
from tests.web.conftest import NOW
from web.panel import reports

SPEAKERS = ("tunli-village-1", "xiaoyu-village-1")  # 屯里村大喇叭 (chief-tunli's), 小榆村大喇叭
COUNT = 1234


def _plays(service: Service) -> list[PlayLogEntry]:
    """COUNT plays over the two days before NOW, two at each time (one per speaker)."""
    entries = []
    for n in range(COUNT):
        started = NOW - timedelta(days=2) + timedelta(minutes=2 * (n // 2))
        urgent = n % 10 == 3
        entries.append(
            PlayLogEntry(
                id=f"r-{COUNT - n}", speaker_id=SPEAKERS[n % 2], clip="c" * 64,
                message_id=None if urgent else "fire",
                kind=PlayKind.URGENT if urgent else PlayKind.LOOP, planned_start=started,
                started_at=started, ended_at=started + timedelta(seconds=6),
                completed=n % 3 != 0, reason="" if n % 3 else "cut:urgent",
            )
        )  # fmt: skip
    for i in range(0, COUNT, 500):
        service.store.devices.add_plays(entries[i : i + 500], NOW)
    return entries


@pytest.fixture
def no_row_loading(service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    """The store's method that returns every play of a span at once is off limits."""

    def refused(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("the report loaded every play")

    monkeypatch.setattr(service.store.devices, "plays", refused)
    monkeypatch.setattr(service.store.devices, "plays_on_day", refused)


def test_the_page_counts_all_plays_and_lists_the_first_500(
    login_as: Any, service: Service, no_row_loading: None
) -> None:
    entries = _plays(service)
    page = login_as("admin").get("/reports?from=2025-05-04&to=2025-05-06")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'<strong id="total-plays">{COUNT}</strong>' in html
    assert html.count('<tr class="kind-') == reports.SHOWN
    assert 'id="more-plays"' in html and "只显示前 500 条" in html
    # The chart: the plays per local hour add up to all of them.
    hours = [int(n or 0) for n in _chart(html)]
    assert sum(hours) == COUNT and hours[10] == 2 * 30  # 10:00-11:00 local: 30 times x 2
    # Totals per loudspeaker, from the database: plays, urgent plays, minutes.
    urgent = sum(e.kind is PlayKind.URGENT and e.speaker_id == SPEAKERS[1] for e in entries)
    minutes = f"{COUNT // 2 * 6 / 60:.1f}"
    assert f"<td>小榆村大喇叭</td><td>{COUNT // 2}</td><td>{urgent}</td><td>{minutes}</td>" in html


def _chart(html: str) -> list[str]:
    return [cell.split("</em>")[0] for cell in html.split("<em>")[1:25]]


def test_a_chiefs_page_counts_only_their_plays(
    login_as: Any, service: Service, no_row_loading: None
) -> None:
    _plays(service)
    html = login_as("chief-tunli").get("/reports?from=2025-05-04&to=2025-05-06").get_data(True)
    assert f'<strong id="total-plays">{COUNT // 2}</strong>' in html
    assert "小榆村大喇叭" not in html


def test_the_csv_streams_every_play_in_order_with_the_totals(
    login_as: Any, service: Service, no_row_loading: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = _plays(service)
    monkeypatch.setattr(reports, "CSV_PAGE", 7)  # pages end between plays of the same time
    response = login_as("admin").get("/reports/plays.csv?from=2025-05-04&to=2025-05-06")
    assert response.status_code == 200 and response.is_streamed
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True)[1:], newline="")))
    blank = rows.index([])
    plays = rows[1:blank]
    assert len(plays) == COUNT
    started = [r[6] for r in plays]
    assert started == sorted(started)
    ordered = sorted(entries, key=lambda e: (e.started_at, e.speaker_id, e.id))
    names = {"tunli-village-1": "屯里村大喇叭", "xiaoyu-village-1": "小榆村大喇叭"}
    assert [r[0] for r in plays] == [names[e.speaker_id] for e in ordered]
    per_message = rows[blank + 2 : rows.index([], blank + 1)]
    urgent = sum(e.kind is PlayKind.URGENT for e in entries)
    completed = sum(e.completed for e in entries if e.kind is PlayKind.LOOP)
    minutes = f"{(COUNT - urgent) * 6 / 60:.1f}"
    assert ["冬季防火", "", str(COUNT - urgent), str(completed), "0", minutes] in per_message
