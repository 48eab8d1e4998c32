"""The reports' reads of the play log (issue 11): totals per speaker and per message and plays
per quarter hour counted by the database (one GROUP BY each), and the plays themselves read
a page at a time, on SQLite and PostgreSQL: each the same as counting the rows `plays()`
returns."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from broadcaster.models import PlayKind, PlayLogEntry
from broadcaster.store import Store, devices
from broadcaster.store.devices import PlayTotal
from tests.broadcaster.store.conftest import NOW

SPEAKERS = ("vehicle-01", "tunli-village-1", "xiguan-community-1")
LOW = datetime(1, 1, 1, 8, 5, 43, tzinfo=UTC)  # what Shanghai (+08:05:43 then) can show
HIGH = datetime(9999, 12, 31, 15, 59, 59, 999999, tzinfo=UTC)
BEYOND = datetime(9999, 12, 31, 20, 0, tzinfo=UTC)  # after 9999-12-31 in Shanghai


def _play(n: int, **changes: Any) -> PlayLogEntry:
    started = NOW + timedelta(minutes=7 * (n // 3), milliseconds=n)  # three at each time
    fields: dict[str, Any] = {
        "id": f"p{n % 5}-{n}",
        "speaker_id": SPEAKERS[n % 3],
        "clip": "c" * 64,
        "message_id": ("masks", "fire", None)[n % 4 % 3],
        "kind": PlayKind.URGENT if n % 4 == 2 else (PlayKind.LOOP, PlayKind.SELFTEST)[n % 2],
        "planned_start": started,
        "started_at": started,
        "ended_at": started + timedelta(seconds=n % 11, milliseconds=137 * n % 1000),
        "completed": n % 5 != 0,
        "reason": "" if n % 5 else "cut:urgent",
    }
    return PlayLogEntry(**(fields | changes))


@pytest.fixture
def plays(seeded: Store) -> list[PlayLogEntry]:
    entries = [_play(n) for n in range(60)]
    entries[7] = _play(7, ended_at=entries[7].started_at)  # no time at all
    entries[8] = _play(8, ended_at=BEYOND)  # a bad row: no seconds of it count
    entries[9] = _play(9, started_at=entries[9].started_at.replace(second=0, microsecond=0))
    for n in (12, 33, 34):  # slots a vehicle skipped outside the message's areas (issue 13)
        skipped_at = entries[n].started_at
        entries[n] = _play(n, ended_at=skipped_at, completed=False, reason="skipped:outside_area")
    later = NOW + timedelta(days=2)
    entries.append(_play(60, started_at=later, ended_at=later))  # outside the span
    assert len(seeded.devices.add_plays(entries, NOW).accepted) == len(entries)
    return entries


def _seconds(p: PlayLogEntry) -> float:
    if not all(LOW <= m <= HIGH for m in (p.started_at, p.ended_at)):
        return 0.0
    return max(0.0, (p.ended_at - p.started_at).total_seconds())


def _sounded(rows: tuple[PlayLogEntry, ...]) -> tuple[PlayLogEntry, ...]:
    """What counts as a play: not a slot skipped outside a message's areas (listed, not
    played)."""
    return tuple(p for p in rows if not p.reason.startswith("skipped:"))


def _expected(rows: tuple[PlayLogEntry, ...], key: Any) -> dict[Any, PlayTotal]:
    found: dict[Any, list[PlayLogEntry]] = {}
    for p in _sounded(rows):
        found.setdefault(key(p), []).append(p)
    return {
        k: PlayTotal(
            len(ps),
            sum(p.completed for p in ps),
            sum(p.kind is PlayKind.URGENT for p in ps),
            sum(_seconds(p) for p in ps),
        )
        for k, ps in found.items()
    }


def _same(got: dict[Any, PlayTotal], want: dict[Any, PlayTotal]) -> None:
    assert got.keys() == want.keys()
    for k, total in want.items():
        assert got[k][:3] == total[:3], k
        assert got[k].seconds == pytest.approx(total.seconds, abs=0.001), k


@pytest.mark.parametrize(
    "where",
    [{}, {"speaker_ids": ["vehicle-01", "xiguan-community-1"]}, {"area_id": "tunli"},
     {"speaker_ids": ["tunli-village-1"], "area_id": "tunli"}, {"speaker_ids": []}],
    ids=["all", "two-speakers", "township", "speaker-and-area", "none"],
)  # fmt: skip
def test_totals_per_speaker_and_message_are_the_rows_counted(
    seeded: Store, plays: list[PlayLogEntry], where: dict[str, Any]
) -> None:
    start, end = NOW, NOW + timedelta(days=1)
    rows = seeded.devices.plays(start, end, area_id=where.get("area_id"))
    if "speaker_ids" in where:
        rows = tuple(p for p in rows if p.speaker_id in where["speaker_ids"])
    assert bool(rows) is (where.get("speaker_ids") != [])
    span = (LOW, HIGH)
    got = seeded.devices.play_totals(start, end, by="speaker", seconds_within=span, **where)
    _same(got, _expected(rows, lambda p: p.speaker_id))
    got = seeded.devices.play_totals(start, end, by="message", seconds_within=span, **where)
    _same(got, _expected(rows, lambda p: (p.message_id, p.kind)))
    got = seeded.devices.play_totals(start, end, by="speaker_message", seconds_within=span, **where)
    _same(got, _expected(rows, lambda p: (p.speaker_id, p.message_id, p.kind)))
    if not where:  # every kind of row is in there
        assert len(rows) == 60 and len(_sounded(rows)) == 57
        speaker = seeded.devices.play_totals(start, end, by="speaker")
        # Without a span the bad row's 8,000 years count: the report always passes one.
        assert sum(t.seconds for t in speaker.values()) > 1e11


def test_plays_per_quarter_hour_are_the_rows_bucketed(
    seeded: Store, plays: list[PlayLogEntry]
) -> None:
    start, end = NOW - timedelta(hours=1), NOW + timedelta(days=1)
    wheres: list[dict[str, Any]] = [{}, {"speaker_ids": ["vehicle-01"]}, {"area_id": "tunli"}]
    for where in wheres:
        rows = seeded.devices.plays(start, end, area_id=where.get("area_id"))
        rows = tuple(p for p in rows if p.speaker_id in where.get("speaker_ids", SPEAKERS))
        want = Counter(
            p.started_at.replace(minute=p.started_at.minute // 15 * 15, second=0, microsecond=0)
            for p in _sounded(rows)
        )
        got = seeded.devices.plays_per_quarter_hour(start, end, **where)
        assert got == dict(want) and sum(got.values()) == len(_sounded(rows))
        assert len(got) > 1 or where


@pytest.mark.parametrize("page", [1, 3, 100])
@pytest.mark.parametrize("span_min", [1440, 7])
def test_plays_read_a_page_at_a_time_are_plays_in_order(
    seeded: Store,
    plays: list[PlayLogEntry],
    page: int,
    span_min: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Pages end between plays that started at the same time (three at each time, ids out
    of order), and the day slices (here shorter, so that they fall between pages and on a
    play's time): no play is lost or read twice."""
    monkeypatch.setattr(devices, "PAGE_SPAN", timedelta(minutes=span_min))
    start, end = NOW, NOW + timedelta(days=1)
    wheres: list[dict[str, Any]] = [
        {},
        {"speaker_ids": ["vehicle-01", "tunli-village-1"]},
        {"area_id": "tunli"},
    ]
    for where in wheres:
        rows = seeded.devices.plays(start, end, area_id=where.get("area_id"))
        rows = tuple(p for p in rows if p.speaker_id in where.get("speaker_ids", SPEAKERS))
        got = list(seeded.devices.iter_plays(start, end, page=page, **where))
        assert got == list(rows) and len(got) > 10
