"""Retention (issue 14, item 4) on SQLite and PostgreSQL: plays older than the per-play detail
are folded into daily totals and deleted in bounded batches, and every total (per speaker,
per message, per both, by area, by speaker) is the same before and after; a play uploaded
late for a retired day is counted, then retired into the same day; events and GPS points
are pruned in batches, the newer ones kept. The jobs' day boundary is the local midnight."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, update

from broadcaster import jobs
from broadcaster.config import RetentionSettings, Settings, load_settings
from broadcaster.errors import ConfigError
from broadcaster.models import PlayKind, PlayLogEntry
from broadcaster.service import Service
from broadcaster.store import EventKind, Store
from broadcaster.store import schema as t
from broadcaster.store.devices import PlayTotal, day_bounds
from broadcaster.store.retention import seconds_span
from broadcaster.store.tracks import TrackPoint
from tests.broadcaster.store.conftest import NOW, PostgresServer

SHANGHAI = ZoneInfo("Asia/Shanghai")
TUNLI, XIAOYU, GULOU = "tunli-village-1", "xiaoyu-village-1", "gulou-community-1"
DAY = date(2026, 11, 25)  # four local days before NOW (2026-11-29 12:00 in Shanghai)
By = Literal["speaker", "message", "speaker_message"]


def _local(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=SHANGHAI)


def _play(n: int, speaker: str, started: datetime, **kw: Any) -> PlayLogEntry:
    seconds = kw.pop("seconds", 6.25)
    fields: dict[str, Any] = {
        "id": f"p-{n}", "speaker_id": speaker, "clip": "c" * 64, "message_id": "fire",
        "kind": PlayKind.LOOP, "planned_start": started, "started_at": started,
        "ended_at": started + timedelta(seconds=seconds), "completed": True, "reason": "",
    }  # fmt: skip
    return PlayLogEntry(**(fields | kw))


def _plays() -> list[PlayLogEntry]:
    """Plays over DAY..DAY+3 on three speakers, with the kinds and edges that count
    differently: a typed urgent (no message), a cut play, a play of no length, a self-test,
    one a second before local midnight and one at it."""
    out: list[PlayLogEntry] = []
    n = 0
    for offset in range(4):
        day = DAY + timedelta(days=offset)
        for hour in (7, 12, 18):
            for speaker in (TUNLI, XIAOYU, GULOU):
                n += 1
                out.append(_play(n, speaker, _local(day, hour, n % 60)))
        out.append(_play(n + 1, TUNLI, _local(day, 9), message_id=None, kind=PlayKind.URGENT))
        out.append(_play(n + 2, XIAOYU, _local(day, 10), completed=False, reason="cut:urgent"))
        out.append(_play(n + 3, GULOU, _local(day, 11), seconds=0))
        out.append(_play(n + 4, TUNLI, _local(day, 23, 59, 59), message_id="flood"))
        out.append(_play(n + 5, XIAOYU, _local(day, 0), kind=PlayKind.SELFTEST, message_id=None))
        # A slot a vehicle skipped outside the message's areas: logged, not a play.
        skipped = _local(day, 14)
        out.append(_play(n + 6, TUNLI, skipped, seconds=0, completed=False,
                         reason="skipped:outside_area"))  # fmt: skip
        n += 6
    return out


def _totals(store: Store, first: date, last: date, by: By, **where: Any) -> dict[Any, PlayTotal]:
    """What a report counts: the kept plays and the retired days' totals, in one snapshot."""
    start, end = day_bounds(first, SHANGHAI)[0], day_bounds(last, SHANGHAI)[1]
    found: dict[Any, list[float]] = {}
    with store.snapshot():
        kept = store.devices.play_totals(
            start, end, by=by, seconds_within=seconds_span(SHANGHAI), **where
        )
        retired = store.retention.play_day_totals(first, last, by=by, **where)
    for key, total in [*kept.items(), *retired.items()]:
        sums = found.setdefault(key, [0, 0, 0, 0.0])
        for i, value in enumerate(total):
            sums[i] += value
    return {k: PlayTotal(int(a), int(b), int(c), round(d, 6)) for k, (a, b, c, d) in found.items()}


VIEWS: list[tuple[date, date, By, dict[str, Any]]] = [
    (DAY, DAY + timedelta(days=3), "speaker_message", {}),
    (DAY, DAY + timedelta(days=3), "speaker", {}),
    (DAY, DAY + timedelta(days=3), "message", {}),
    (DAY + timedelta(days=1), DAY + timedelta(days=1), "speaker_message", {}),  # one day
    (DAY, DAY + timedelta(days=2), "message", {"area_id": "tunli"}),
    (DAY, DAY + timedelta(days=3), "speaker", {"speaker_ids": [XIAOYU, GULOU]}),
]


def _all_views(store: Store) -> list[dict[Any, PlayTotal]]:
    return [_totals(store, first, last, by, **where) for first, last, by, where in VIEWS]


def _kept_ids(store: Store) -> set[str]:
    start = day_bounds(DAY - timedelta(days=1), SHANGHAI)[0]
    return {p.id for p in store.devices.plays(start, NOW + timedelta(days=1))}


def test_retired_plays_keep_every_total_and_lose_their_rows(seeded: Store) -> None:
    plays = _plays()
    seeded.devices.add_plays(plays, NOW - timedelta(days=30))
    before = _all_views(seeded)
    heard = [p for p in plays if not p.reason.startswith("skipped:")]
    assert before[0] and sum(t.plays for t in before[1].values()) == len(heard) < len(plays)

    cutoff = day_bounds(DAY + timedelta(days=2), SHANGHAI)[0]  # DAY and DAY+1 retire
    old = {p.id for p in plays if p.started_at < cutoff}
    moved = sum(iter(lambda: seeded.retention.retire_plays(cutoff, NOW, SHANGHAI), 0))
    assert moved == len(old) > 0
    assert _kept_ids(seeded) == {p.id for p in plays} - old
    assert _all_views(seeded) == before
    # The play a second before midnight is in its own day's total, the one at it in the next.
    flood = _totals(seeded, DAY, DAY, "message")
    assert flood[("flood", PlayKind.LOOP)].plays == 1
    assert seeded.retention.retired_days() > 0


def test_retiring_goes_in_batches_of_at_most_the_limit(seeded: Store) -> None:
    plays = _plays()
    seeded.devices.add_plays(plays, NOW - timedelta(days=30))
    before = _all_views(seeded)
    cutoff = day_bounds(DAY + timedelta(days=4), SHANGHAI)[0]  # every play
    done = []
    while moved := seeded.retention.retire_plays(cutoff, NOW, SHANGHAI, limit=5):
        done.append(moved)
    # A batch is at most 5 rows of one local day: 15 rows a day (a skipped slot among
    # them) are 5 + 5 + 5.
    assert done == [5, 5, 5] * 4 and sum(done) == len(plays)
    assert _kept_ids(seeded) == set()
    assert _all_views(seeded) == before


def test_a_late_play_for_a_retired_day_is_counted_and_then_retired(seeded: Store) -> None:
    seeded.devices.add_plays(_plays(), NOW - timedelta(days=30))
    cutoff = day_bounds(DAY + timedelta(days=2), SHANGHAI)[0]
    while seeded.retention.retire_plays(cutoff, NOW, SHANGHAI):
        pass
    before = _totals(seeded, DAY, DAY, "speaker")

    late = _play(9001, TUNLI, _local(DAY, 15), seconds=30.5, completed=False)
    arrived = NOW + timedelta(hours=1)
    assert seeded.devices.add_plays([late], arrived).accepted == ("p-9001",)
    counted = _totals(seeded, DAY, DAY, "speaker")
    assert counted[TUNLI] == PlayTotal(
        before[TUNLI].plays + 1,
        before[TUNLI].completed,
        before[TUNLI].urgent,
        round(before[TUNLI].seconds + 30.5, 6),
    )
    # Received within the resend window: it stays a row, and a resend is a duplicate.
    assert seeded.retention.retire_plays(cutoff, arrived, SHANGHAI) == 0
    assert seeded.devices.add_plays([late], arrived).duplicates == ("p-9001",)
    # Later it is retired into the same day: the totals do not move.
    assert seeded.retention.retire_plays(cutoff, arrived + timedelta(seconds=1), SHANGHAI) == 1
    assert _totals(seeded, DAY, DAY, "speaker") == counted
    assert "p-9001" not in _kept_ids(seeded)


def test_events_are_pruned_in_batches_and_newer_ones_kept(seeded: Store) -> None:
    old = NOW - timedelta(days=10)
    for n in range(7):
        seeded.devices.append_event(TUNLI, EventKind.RESYNC, {"n": n}, old + timedelta(minutes=n))
    seeded.devices.append_event(None, EventKind.RESYNC, {"n": 7}, NOW)
    last = seeded.devices.append_event(TUNLI, EventKind.RESYNC, {"n": 8}, NOW)
    before = NOW - timedelta(days=7)
    assert [seeded.retention.prune_events(before, limit=3) for _ in range(4)] == [3, 3, 1, 0]
    left = seeded.devices.events_after(TUNLI, 0)
    assert [e.payload["n"] for e in left] == [7, 8]
    assert seeded.devices.last_event_seq() == last  # numbering goes on


def test_track_points_are_pruned_in_batches_and_newer_ones_kept(seeded: Store) -> None:
    vehicle = "vehicle-01"
    points = [
        TrackPoint(vehicle, f"t-{n}", 36.09, 111.5, NOW - timedelta(days=100, minutes=-n))
        for n in range(5)
    ] + [TrackPoint(vehicle, "t-new", 36.09, 111.5, NOW - timedelta(days=1))]
    seeded.tracks.add(vehicle, points, NOW)
    before = NOW - timedelta(days=90)
    assert [seeded.retention.prune_tracks(before, limit=2) for _ in range(4)] == [2, 2, 1, 0]
    assert [p.id for p in seeded.tracks.between(vehicle, NOW - timedelta(days=365), NOW)] == [
        "t-new"
    ]


def _service(store: Store, settings: Settings, plays_days: int) -> Service:
    """What the retention jobs read of a service: its settings and its store."""
    retention = RetentionSettings(plays_days=plays_days, track_days=90, events_days=7)
    changed = dataclasses.replace(settings, retention=retention)
    return cast(Service, SimpleNamespace(settings=changed, store=store))


@pytest.mark.parametrize("local_time", [(23, 59, 59), (0, 0, 0)], ids=["23:59:59", "00:00"])
def test_the_job_keeps_plays_days_whole_local_days(
    seeded: Store, settings: Settings, local_time: tuple[int, int, int]
) -> None:
    """Run at 23:59:59 or at midnight local time: the days kept are `plays_days` whole local
    days before today, whatever the hour (and a play received within a week stays)."""
    today = DAY + timedelta(days=3)
    now = _local(today, *local_time)
    plays = _plays()
    seeded.devices.add_plays(plays, NOW - timedelta(days=30))
    service = _service(seeded, settings, plays_days=2)
    before = _all_views(seeded)
    moved = jobs.retire_plays(service, now, batch=5)
    first_kept = day_bounds(today - timedelta(days=2), SHANGHAI)[0]
    assert moved == sum(p.started_at < first_kept for p in plays) > 0
    assert _kept_ids(seeded) == {p.id for p in plays if p.started_at >= first_kept}
    assert _all_views(seeded) == before


def test_the_retention_section_is_read_and_checked(tmp_path: Path, settings: Settings) -> None:
    assert settings.retention == RetentionSettings(plays_days=400, track_days=90, events_days=7)
    base = "deployment: {name: t, timezone: Asia/Shanghai}\n"
    good = tmp_path / "good.yaml"
    good.write_text(base + "retention: {plays_days: 30}\n")
    assert load_settings(good).retention == RetentionSettings(plays_days=30)
    for body, field in [
        ("retention: {plays_days: 0}\n", "plays_days"),
        ("retention: {events_days: 400}\n", "events_days"),
        ("retention: {audit_days: 30}\n", "audit_days"),
    ]:
        bad = tmp_path / "bad.yaml"
        bad.write_text(base + body)
        with pytest.raises(ConfigError, match=f"retention.*{field}"):
            load_settings(bad)


def test_a_play_arriving_mid_batch_undoes_the_batch_on_postgresql(
    postgres: PostgresServer,
) -> None:
    """PostgreSQL reads each statement afresh: a play for the day being retired, committed
    between the count and the DELETE, would be deleted uncounted. The DELETE's count then
    differs from the totals added: the batch is undone, and the next one counts it."""
    url = postgres.reset("seeded")
    with Store.open(url) as store, Store.open(url) as other:
        plays = _plays()
        store.devices.add_plays(plays, NOW - timedelta(days=30))
        before = _all_views(store)
        late = _play(9002, GULOU, _local(DAY, 13), seconds=12.0)
        arrived: list[bool] = []

        def insert_first(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
            if statement.startswith("DELETE FROM play_log") and not arrived:
                arrived.append(True)  # another server process takes a late upload now
                other.devices.add_plays([late], NOW - timedelta(days=10))

        cutoff = day_bounds(DAY + timedelta(days=1), SHANGHAI)[0]  # DAY only
        event.listen(store.engine, "before_cursor_execute", insert_first)
        try:
            assert store.retention.retire_plays(cutoff, NOW, SHANGHAI) == 0
        finally:
            event.remove(store.engine, "before_cursor_execute", insert_first)
        assert arrived and store.retention.retired_days() == 0  # undone: nothing added
        assert _kept_ids(store) == {p.id for p in plays} | {"p-9002"}
        assert store.retention.retire_plays(cutoff, NOW, SHANGHAI) == 16  # 15 + the late one
        after = _totals(store, DAY, DAY + timedelta(days=3), "speaker")
        grown = before[1][GULOU]
        assert after[GULOU] == PlayTotal(
            grown.plays + 1, grown.completed + 1, grown.urgent, round(grown.seconds + 12.0, 6)
        )


def test_plays_without_a_message_fold_into_one_row(seeded: Store) -> None:
    """A play with no message id and one with an empty id (a row the store accepted from
    elsewhere) are counted in the same daily row, whose message id reads back as None."""
    started = _local(DAY, 9)
    rows = [
        _play(1, TUNLI, started, message_id=None, kind=PlayKind.URGENT),
        _play(2, TUNLI, started + timedelta(minutes=1), message_id=None, kind=PlayKind.URGENT),
    ]
    seeded.devices.add_plays(rows, NOW - timedelta(days=30))
    with seeded.engine.begin() as conn:
        conn.execute(update(t.play_log).where(t.play_log.c.id == "p-2").values(message_id=""))
    cutoff = day_bounds(DAY + timedelta(days=1), SHANGHAI)[0]
    assert seeded.retention.retire_plays(cutoff, NOW, SHANGHAI) == 2
    assert seeded.retention.retired_days() == 1
    totals = seeded.retention.play_day_totals(DAY, DAY, by="speaker_message")
    assert totals == {(TUNLI, None, PlayKind.URGENT): PlayTotal(2, 2, 2, 12.5)}
