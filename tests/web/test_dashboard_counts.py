"""The dashboard counts today's plays in the database (issue 10, item 5).

With 50,000 plays today the page and its 30-second fragment still show each speaker's plays
and last play, and every statement that reads the play log is an aggregate (COUNT/MAX with
GROUP BY): no play row is loaded. (The time this takes is in benchmarks/bench_fairness.py.)
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event, insert

from broadcaster.service import Service
from broadcaster.store import schema as t
from tests.web.conftest import NOW

PLAYS = 50_000


@pytest.fixture
def statements(service: Service) -> Iterator[list[str]]:
    """The SQL the store runs while the test body runs."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        seen.append(statement)

    engine = service.store.engine
    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def add_plays(service: Service) -> tuple[Counter[str], dict[str, datetime]]:
    """PLAYS plays since local midnight (02:00 local to NOW, 10:00 local), round-robin over
    the speakers but skipping the last one; a few yesterday and tomorrow that do not count."""
    speakers = sorted(s.id for s in service.store.deployment(NOW).speakers)[:-1]
    start = NOW - timedelta(hours=8)
    rows, counts, lasts = [], Counter[str](), {}
    for i in range(PLAYS):
        speaker = speakers[i % len(speakers)]
        at = start + timedelta(seconds=i * 0.5)
        counts[speaker] += 1
        lasts[speaker] = at
        rows.append(_row(f"p{i}", speaker, at))
    rows.append(_row("yesterday", speakers[0], NOW - timedelta(hours=11)))
    rows.append(_row("tomorrow", speakers[0], NOW + timedelta(hours=15)))
    with service.store.transaction() as conn:
        conn.execute(insert(t.play_log), rows)
    return counts, lasts


def _row(entry_id: str, speaker: str, at):  # type: ignore[no-untyped-def]
    return {
        "id": entry_id, "speaker_id": speaker, "clip": "c" * 64, "message_id": "masks",
        "kind": "loop", "planned_start": at, "started_at": at, "ended_at": at + timedelta(seconds=5),
        "completed": True, "reason": "", "received_at": at,
    }  # fmt: skip


def cards_of(html: str) -> dict[str, tuple[int, str]]:
    """speaker id -> (plays today, last play) as the cards show them."""
    found: dict[str, tuple[int, str] | None] = {}
    for card in re.findall(r'data-speaker="([^"]+)".*?</article>', html, re.S):
        found[card] = None
    for speaker, plays, last in re.findall(
        r'data-speaker="([^"]+)".*?class="plays-today">(\d+)</dd>.*?class="last-play">([^<]*)</dd>',
        html,
        re.S,
    ):
        found[speaker] = (int(plays), last)
    return found  # type: ignore[return-value]


def reads_of_the_play_log(statements: list[str]) -> list[str]:
    return [s for s in statements if re.search(r"\bFROM play_log\b", s)]


def test_dashboard_with_50k_plays_counts_them_without_loading_rows(
    service: Service,
    login_as: Callable[[str], FlaskClient],
    statements: list[str],
) -> None:
    counts, lasts = add_plays(service)
    zone = service.settings.zone
    client = login_as("admin")
    statements.clear()
    for url in ("/", "/dashboard/cards"):
        response = client.get(url)
        assert response.status_code == 200
        shown = cards_of(response.get_data(as_text=True))
        assert {s: v[0] for s, v in shown.items() if v[0]} == dict(counts)
        assert {s: v[1] for s, v in shown.items() if v[0]} == {
            s: at.astimezone(zone).strftime("%H:%M") for s, at in lasts.items()
        }
        idle = set(shown) - set(counts)
        assert idle and all(shown[s] == (0, "—") for s in idle)
    reads = reads_of_the_play_log(statements)
    assert reads, "the dashboard read no plays at all"
    for sql in reads:
        assert re.search(r"count\(", sql, re.I) and "GROUP BY" in sql, sql
