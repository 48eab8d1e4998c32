"""Play counts in SQL for the dashboard and the hourly rollup (issue 10, item 5), on SQLite
and PostgreSQL: per speaker, the day's span in the deployment's zone, local hours on a
daylight-saving day and in a half-hour zone."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from broadcaster.models import PlayKind, PlayLogEntry
from broadcaster.store import Store
from broadcaster.store.devices import PlayCount, day_bounds
from tests.broadcaster.store.conftest import NOW

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _play(pid: str, speaker: str, at: datetime) -> PlayLogEntry:
    return PlayLogEntry(
        id=pid, speaker_id=speaker, clip="c" * 64, message_id="masks", kind=PlayKind.LOOP,
        planned_start=at, started_at=at, ended_at=at + timedelta(seconds=12), completed=True,
    )  # fmt: skip


def _add(store: Store, plays: list[tuple[str, datetime]]) -> None:
    entries = [_play(f"p{i}", speaker, at) for i, (speaker, at) in enumerate(plays)]
    for i in range(0, len(entries), 500):
        store.devices.add_plays(entries[i : i + 500], NOW)


def test_counts_and_last_play_per_speaker_for_a_local_day(seeded: Store) -> None:
    day = NOW.astimezone(SHANGHAI).date()
    start, end = day_bounds(day, SHANGHAI)
    plays = [("vehicle-01", start + timedelta(minutes=i)) for i in range(30)]
    plays += [("tunli-village-1", start + timedelta(hours=5, seconds=i)) for i in range(7)]
    plays += [("tunli-village-1", start - timedelta(seconds=1))]  # the day before
    plays += [("vehicle-01", end)]  # the next day
    _add(seeded, plays)
    counts = seeded.devices.play_counts_on_day(day, SHANGHAI)
    assert counts == {
        "vehicle-01": PlayCount(30, start + timedelta(minutes=29)),
        "tunli-village-1": PlayCount(7, start + timedelta(hours=5, seconds=6)),
    }
    assert counts["vehicle-01"].last_started_at.tzinfo is not None  # type: ignore[union-attr]
    only = seeded.devices.play_counts_on_day(
        day, SHANGHAI, speaker_ids=["tunli-village-1", "nobody"]
    )
    assert list(only) == ["tunli-village-1"]
    assert seeded.devices.play_counts_on_day(day + timedelta(days=3), SHANGHAI) == {}


def test_hours_of_the_day_are_local_hours(seeded: Store) -> None:
    day = NOW.astimezone(SHANGHAI).date()
    start, _ = day_bounds(day, SHANGHAI)
    moments = [start + timedelta(minutes=7 * i) for i in range(200)]  # 00:00 to 23:13
    _add(
        seeded,
        [("vehicle-01" if i % 3 else "xiguan-community-1", m) for i, m in enumerate(moments)],
    )
    expected: Counter[tuple[str, int]] = Counter(
        ("vehicle-01" if i % 3 else "xiguan-community-1", m.astimezone(SHANGHAI).hour)
        for i, m in enumerate(moments)
    )
    found = seeded.devices.play_counts_by_hour(day, SHANGHAI)
    assert {(s, h): n for s, h, n in found} == dict(expected)
    until = start + timedelta(hours=3)
    early = seeded.devices.play_counts_by_hour(day, SHANGHAI, until=until)
    assert sum(n for _, _, n in early) == sum(1 for m in moments if m < until)
    assert {h for _, h, _ in early} == {0, 1, 2}


def test_a_daylight_saving_day_has_its_repeated_hour_once_with_both_parts(seeded: Store) -> None:
    zone = ZoneInfo("America/New_York")
    day = date(2026, 11, 1)  # 01:00-02:00 happens twice: 25 hours
    start, end = day_bounds(day, zone)
    assert end - start == timedelta(hours=25)
    moments = [start + timedelta(minutes=30 * i) for i in range(50)]
    _add(seeded, [("vehicle-01", m) for m in moments])
    found = {h: n for _, h, n in seeded.devices.play_counts_by_hour(day, zone)}
    assert found[1] == 4 and sum(found.values()) == 50 and sorted(found) == list(range(24))


def test_a_half_hour_zone_is_bucketed_by_its_own_hours(seeded: Store) -> None:
    zone = ZoneInfo("Asia/Kolkata")  # UTC+05:30
    day = date(2026, 11, 29)
    start, _ = day_bounds(day, zone)
    assert start == datetime(2026, 11, 28, 18, 30, tzinfo=UTC)
    moments = [start + timedelta(minutes=20 * i) for i in range(72)]
    _add(seeded, [("vehicle-01", m) for m in moments])
    found = {h: n for _, h, n in seeded.devices.play_counts_by_hour(day, zone)}
    assert found == {h: 3 for h in range(24)}
