"""Speaker status, the idempotent play log, long-poll events and clip render status."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from broadcaster.config import Settings
from broadcaster.errors import NotFound, ValidationError
from broadcaster.models import PlayKind, PlayLogEntry
from broadcaster.store import ClipStatus, EventKind, SpeakerStatus, Store
from broadcaster.store.devices import MAX_PLAYS_PER_UPLOAD, day_bounds
from tests.broadcaster.store.conftest import NOW, PostgresServer

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _play(
    pid: str, speaker: str = "vehicle-01", at: datetime = NOW, **changes: object
) -> PlayLogEntry:
    fields: dict[str, object] = {
        "id": pid,
        "speaker_id": speaker,
        "clip": "c" * 64,
        "message_id": "masks",
        "kind": PlayKind.LOOP,
        "planned_start": at,
        "started_at": at + timedelta(milliseconds=40),
        "ended_at": at + timedelta(seconds=12),
        "completed": True,
    }
    fields.update(changes)
    return PlayLogEntry(**fields)  # type: ignore[arg-type]


def test_speaker_status_is_replaced_by_each_heartbeat(seeded: Store) -> None:
    assert seeded.devices.speaker_status("vehicle-01") is None
    first = SpeakerStatus(
        speaker_id="vehicle-01",
        last_heartbeat=NOW,
        state="playing",
        now_playing={"clip": "abc", "message": "masks", "kind": "loop"},
        position_ms=1234,
        volume=80,
        clock_offset_ms=-120,
        selftest_ok=True,
        selftest_at=NOW - timedelta(hours=1),
        selftest_detail="played 2.1 s",
        cache_health={"clips": 12, "bytes": 3456789, "missing": 0, "corrupt": 0},
        last_sync=NOW - timedelta(minutes=1),
        plan_etag='"etag-1"',
        client_version="0.1.0",
    )
    seeded.devices.put_speaker_status(first)
    assert seeded.devices.speaker_status("vehicle-01") == first
    second = SpeakerStatus("vehicle-01", NOW + timedelta(seconds=30), "idle")
    seeded.devices.put_speaker_status(second)
    assert seeded.devices.speaker_status("vehicle-01") == second
    assert seeded.devices.speaker_statuses() == {"vehicle-01": second}
    assert second.online(NOW + timedelta(seconds=60), timedelta(seconds=90))
    assert not second.online(NOW + timedelta(seconds=121), timedelta(seconds=90))
    with pytest.raises(NotFound):
        seeded.devices.put_speaker_status(SpeakerStatus("vehicle-99", NOW))


def test_speakers_silent_too_long_go_offline_once_and_a_newer_heartbeat_is_kept(
    seeded: Store,
) -> None:
    silence = timedelta(seconds=90)
    full = SpeakerStatus("vehicle-01", NOW - timedelta(seconds=91), "playing", volume=70)
    seeded.devices.put_speaker_status(full)
    seeded.devices.put_speaker_status(SpeakerStatus("vehicle-02", NOW - timedelta(seconds=10)))
    seeded.devices.put_speaker_status(SpeakerStatus("vehicle-03", NOW - timedelta(hours=2)))
    seeded.devices.put_speaker_status(SpeakerStatus("vehicle-04", None, "idle"))
    went = seeded.devices.mark_offline(NOW, silence)
    assert sorted(went) == [
        ("vehicle-01", NOW - timedelta(seconds=91)),
        ("vehicle-03", NOW - timedelta(hours=2)),
        ("vehicle-04", None),
    ]
    statuses = seeded.devices.speaker_statuses()
    assert statuses["vehicle-01"] == SpeakerStatus(
        "vehicle-01", NOW - timedelta(seconds=91), "offline", volume=70
    )  # only the state changes
    assert statuses["vehicle-02"].state == "unknown"  # online: untouched
    assert seeded.devices.mark_offline(NOW + timedelta(seconds=5), silence) == []  # once
    # vehicle-02 beats again just before the job's next run: kept online, not overwritten.
    beat = SpeakerStatus("vehicle-02", NOW + timedelta(seconds=95), "playing")
    seeded.devices.put_speaker_status(beat)
    assert seeded.devices.mark_offline(NOW + timedelta(seconds=100), silence) == []
    assert seeded.devices.speaker_status("vehicle-02") == beat


def test_a_resent_play_batch_is_stored_once(seeded: Store) -> None:
    batch = [_play("p1"), _play("p2", at=NOW + timedelta(seconds=20))]
    first = seeded.devices.add_plays(batch, NOW)
    assert (first.accepted, first.duplicates) == (("p1", "p2"), ())
    again = seeded.devices.add_plays([*batch, _play("p3", at=NOW + timedelta(seconds=40))], NOW)
    assert (again.accepted, again.duplicates) == (("p3",), ("p1", "p2"))
    assert [p.id for p in seeded.devices.plays(NOW, NOW + timedelta(hours=1))] == ["p1", "p2", "p3"]


def test_a_resent_entry_keeps_what_was_stored_first(seeded: Store) -> None:
    seeded.devices.add_plays([_play("p1")], NOW)
    seeded.devices.add_plays([_play("p1", completed=False, reason="cut:urgent")], NOW)
    (stored,) = seeded.devices.plays(NOW - timedelta(hours=1), NOW + timedelta(hours=1))
    assert stored == _play("p1")


def test_play_ids_are_per_speaker(seeded: Store) -> None:
    """Issue 10: ids were global, so one device's "p1" shadowed another's (never stored)."""
    first = seeded.devices.add_plays([_play("p1", "vehicle-01")], NOW)
    other = seeded.devices.add_plays(
        [_play("p1", "vehicle-02", at=NOW + timedelta(seconds=5))], NOW
    )
    assert (first.accepted, other.accepted, other.duplicates) == (("p1",), ("p1",), ())
    resent = seeded.devices.add_plays([_play("p1", "vehicle-02", completed=False)], NOW)
    assert (resent.accepted, resent.duplicates) == ((), ("p1",))
    stored = seeded.devices.plays(NOW - timedelta(hours=1), NOW + timedelta(hours=1))
    assert [(p.speaker_id, p.id, p.completed) for p in stored] == [
        ("vehicle-01", "p1", True),
        ("vehicle-02", "p1", True),
    ]
    assert seeded.devices.plays(NOW, NOW + timedelta(hours=1), speaker_id="vehicle-02") == (
        _play("p1", "vehicle-02", at=NOW + timedelta(seconds=5)),
    )


def test_one_entry_twice_in_a_batch_is_one_play(seeded: Store) -> None:
    result = seeded.devices.add_plays([_play("p1"), _play("p1")], NOW)
    assert (result.accepted, result.duplicates) == (("p1",), ())


def test_a_batch_over_the_limit_is_refused_whole(seeded: Store) -> None:
    batch = [_play(f"p{i}") for i in range(MAX_PLAYS_PER_UPLOAD + 1)]
    with pytest.raises(ValidationError, match="at most 500"):
        seeded.devices.add_plays(batch, NOW)
    assert seeded.devices.count_plays(NOW - timedelta(days=1), NOW + timedelta(days=1)) == 0


def test_concurrent_uploads_of_one_batch_store_each_entry_once(seeded: Store) -> None:
    batch = [_play(f"p{i}", at=NOW + timedelta(seconds=i)) for i in range(50)]
    results = []

    def upload() -> None:
        results.append(seeded.devices.add_plays(batch, NOW))

    threads = [threading.Thread(target=upload) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    accepted = [pid for r in results for pid in r.accepted]
    assert sorted(accepted) == sorted(p.id for p in batch)
    assert all(len(r.accepted) + len(r.duplicates) == 50 for r in results)
    assert seeded.devices.count_plays(NOW, NOW + timedelta(hours=1)) == 50


def test_plays_are_found_by_day_speaker_and_area(seeded: Store) -> None:
    # 2026-11-29 in Shanghai is [2026-11-28 16:00 UTC, 2026-11-29 16:00 UTC).
    day_start, day_end = day_bounds(date(2026, 11, 29), SHANGHAI)
    seeded.devices.add_plays(
        [
            _play("before", at=day_start - timedelta(minutes=1)),
            _play("first", at=day_start),
            _play("xiguan", "xiguan-community-1", at=NOW),
            _play("tunli", "tunli-village-1", at=NOW),
            _play("last", at=day_end - timedelta(minutes=1)),
            _play("after", at=day_end),
        ],
        NOW,
    )
    day = date(2026, 11, 29)
    ids = [p.id for p in seeded.devices.plays_on_day(day, SHANGHAI)]
    assert ids == ["first", "tunli", "xiguan", "last"]
    assert [p.id for p in seeded.devices.plays_on_day(day, SHANGHAI, speaker_id="vehicle-01")] == [
        "first",
        "last",
    ]
    # vehicle-01 is in the township `tunli`; the village `tunli-village` is inside it too.
    assert [p.id for p in seeded.devices.plays_on_day(day, SHANGHAI, area_id="tunli")] == [
        "first",
        "tunli",
        "last",
    ]
    assert [p.id for p in seeded.devices.plays_on_day(day, SHANGHAI, area_id="yaomiao")] == [
        "xiguan"
    ]


def test_day_bounds_follow_daylight_saving() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    start, end = day_bounds(date(2026, 3, 29), berlin)
    assert end - start == timedelta(hours=23)
    start, end = day_bounds(date(2026, 10, 25), berlin)
    assert end - start == timedelta(hours=25)


def test_events_come_in_sequence_for_their_speaker_and_broadcasts(seeded: Store) -> None:
    assert seeded.devices.last_event_seq() == 0
    a = seeded.devices.append_event("vehicle-01", EventKind.URGENT, {"id": "u1", "repeats": 2}, NOW)
    b = seeded.devices.append_event(None, EventKind.RESYNC, {}, NOW)
    c = seeded.devices.append_event("vehicle-02", EventKind.STOP, {"until": None}, NOW)
    d = seeded.devices.append_event("vehicle-01", EventKind.CANCEL, {"urgent": "u1"}, NOW)
    assert a < b < c < d
    assert seeded.devices.last_event_seq() == d
    mine = seeded.devices.events_after("vehicle-01", 0)
    assert [(e.seq, e.kind) for e in mine] == [
        (a, EventKind.URGENT),
        (b, EventKind.RESYNC),
        (d, EventKind.CANCEL),
    ]
    assert mine[0].payload == {"id": "u1", "repeats": 2}
    assert mine[1].speaker_id is None
    assert [e.seq for e in seeded.devices.events_after("vehicle-01", a)] == [b, d]
    assert [e.seq for e in seeded.devices.events_after("vehicle-01", a, limit=1)] == [b]
    assert seeded.devices.events_after("vehicle-01", d) == ()
    assert [e.seq for e in seeded.devices.events_after("vehicle-02", 0)] == [b, c]


def test_concurrent_appends_get_distinct_increasing_numbers(seeded: Store) -> None:
    seqs: list[int] = []
    lock = threading.Lock()

    def append(n: int) -> None:
        for i in range(10):
            seq = seeded.devices.append_event(None, EventKind.RESYNC, {"n": n, "i": i}, NOW)
            with lock:
                seqs.append(seq)

    threads = [threading.Thread(target=append, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(seqs) == list(range(1, 41))
    assert [e.seq for e in seeded.devices.events_after("any", 0, limit=100)] == list(range(1, 41))


def test_old_events_can_be_pruned_without_reusing_numbers(seeded: Store) -> None:
    seeded.devices.append_event(None, EventKind.RESYNC, {}, NOW - timedelta(days=2))
    kept = seeded.devices.append_event(None, EventKind.RESYNC, {}, NOW)
    assert seeded.devices.prune_events(NOW - timedelta(days=1)) == 1
    assert [e.seq for e in seeded.devices.events_after("vehicle-01", 0)] == [kept]
    assert seeded.devices.append_event(None, EventKind.STOP, {}, NOW) == kept + 1


def test_an_unknown_event_kind_is_refused(seeded: Store) -> None:
    with pytest.raises(ValidationError, match="'reboot' is not one of urgent"):
        seeded.devices.append_event(None, "reboot", {}, NOW)  # type: ignore[arg-type]


def test_clip_render_status_is_replaced_and_failures_are_listed(seeded: Store) -> None:
    ok = ClipStatus("k1", "wav", NOW, message_id="fire", duration_ms=10543, sha256="a" * 64, size=9)
    failed = ClipStatus("k2", "wav", NOW, message_id="masks", error="espeak-ng crashed")
    seeded.devices.record_clip(ok)
    seeded.devices.record_clip(failed)
    assert seeded.devices.clip_status("k1", "wav") == ok
    assert seeded.devices.clip_status("k1", "mp3") is None
    assert seeded.devices.clip_statuses(failed_only=True) == (failed,)
    fixed = ClipStatus("k2", "wav", NOW + timedelta(minutes=1), message_id="masks", size=5)
    seeded.devices.record_clip(fixed)
    assert seeded.devices.clip_statuses(failed_only=True) == ()
    assert seeded.devices.clip_statuses() == (fixed, ok)


def test_a_stored_time_past_year_9999_in_the_clusters_zone_reads_back(
    postgres: PostgresServer, settings: Settings
) -> None:
    """An older server stored device times as late as 9999-12-31T23:59Z. A PostgreSQL cluster
    in Shanghai's zone renders that as year 10000, which psycopg cannot read: the dashboard
    was a 500 for as long as the row stayed. Sessions run in UTC."""
    url = postgres.empty_database()
    name = url.rsplit("/", 1)[1]
    postgres.admin(f"ALTER DATABASE {name} SET timezone TO 'Asia/Shanghai'")
    beyond = datetime(9999, 12, 31, 20, 0, tzinfo=UTC)
    with Store.open(url) as store:
        store.seed_from(settings, NOW)
        store.devices.put_speaker_status(SpeakerStatus("vehicle-01", NOW, selftest_at=beyond))
        store.devices.add_plays([_play("p1", ended_at=beyond)], NOW)
        status = store.devices.speaker_status("vehicle-01")
        assert status is not None and status.selftest_at == beyond
        (play,) = store.devices.plays(NOW - timedelta(hours=1), NOW + timedelta(hours=1))
        assert play.ended_at == beyond
