"""The client's state on disk: verified clips, the last good plan, the play-log journal."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from broadcaster.client.api import DeviceApi
from broadcaster.client.cache import ClipError, ClipStore, PlanStore
from broadcaster.client.clock import Clock
from broadcaster.client.journal import Journal
from broadcaster.client.plan import ClipSpec, Plan
from broadcaster.client.sync import Syncer, load_saved_plan
from tests.client.fakes import SPEAKER, TOKEN, StubServer, make_clip, plan_body

DATA = b"RIFF" + bytes(range(256)) * 40


def spec_for(data: bytes, key: str = "abc123") -> ClipSpec:
    return ClipSpec(key, f"/api/v1/clips/{key}", hashlib.sha256(data).hexdigest(), len(data), 100)


class FakeDownloads:
    """Serves bytes into .part files and counts calls."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.calls = 0
        self.seen_parts: list[int] = []

    def __call__(self, spec: ClipSpec, part: Path) -> None:
        self.calls += 1
        have = part.stat().st_size if part.exists() else 0
        self.seen_parts.append(have)
        with part.open("ab") as f:
            f.write(self.data[have:])


def test_a_download_goes_to_part_is_verified_and_renamed(tmp_path: Path) -> None:
    store = ClipStore(tmp_path)
    spec = spec_for(DATA)

    def download(s: ClipSpec, part: Path) -> None:
        assert part.name.endswith(".wav.part") and not store.path(s).exists()
        part.write_bytes(DATA)

    assert store.ensure(spec, download) is True
    assert store.path(spec).read_bytes() == DATA
    assert not list(store.root.glob("*.part"))
    assert store.status(spec, full=True) == "ok"
    assert store.ensure(spec, download) is False  # present: no download


def test_a_partial_download_is_resumed(tmp_path: Path) -> None:
    store = ClipStore(tmp_path)
    spec = spec_for(DATA)
    part = store.path(spec).with_name(store.path(spec).name + ".part")
    part.write_bytes(DATA[:1000])
    fake = FakeDownloads(DATA)
    store.ensure(spec, fake)
    assert fake.seen_parts == [1000]
    assert store.path(spec).read_bytes() == DATA


def test_a_download_that_does_not_match_is_refused_and_removed(tmp_path: Path) -> None:
    store = ClipStore(tmp_path)
    spec = spec_for(DATA)
    with pytest.raises(ClipError, match="do not match"):
        store.ensure(spec, FakeDownloads(DATA[:-1] + b"X"))
    assert store.status(spec) == "missing"
    assert not list(store.root.glob("*.part"))


@pytest.mark.parametrize("damage", ["corrupt", "truncate", "delete"])
def test_a_damaged_clip_is_detected_and_downloaded_again(tmp_path: Path, damage: str) -> None:
    store = ClipStore(tmp_path)
    spec = spec_for(DATA)
    fake = FakeDownloads(DATA)
    store.ensure(spec, fake)
    path = store.path(spec)
    if damage == "corrupt":
        path.write_bytes(DATA[:100] + b"\x00" + DATA[101:])  # same size, other bytes
    elif damage == "truncate":
        path.write_bytes(DATA[:500])
    else:
        path.unlink()
    assert store.status(spec, full=True) == ("missing" if damage == "delete" else "corrupt")
    assert store.ensure(spec, fake) is True
    assert fake.calls == 2 and path.read_bytes() == DATA


def test_cache_health_counts_missing_and_corrupt_clips(tmp_path: Path) -> None:
    store = ClipStore(tmp_path)
    good, bad, gone = spec_for(DATA, "a1"), spec_for(DATA, "b2"), spec_for(DATA, "c3")
    for s in (good, bad):
        store.ensure(s, FakeDownloads(DATA))
    store.path(bad).write_bytes(DATA[:10])
    health = store.health([good, bad, gone])
    assert health.as_json() == {"clips": 1, "bytes": len(DATA), "missing": 1, "corrupt": 1}


def test_clip_keys_cannot_escape_the_cache(tmp_path: Path) -> None:
    with pytest.raises(ClipError):
        ClipStore(tmp_path).path(spec_for(DATA, "../../etc/passwd"))


@pytest.fixture
def server() -> Iterator[StubServer]:
    with StubServer() as s:
        yield s


def _syncer(tmp_path: Path, server: StubServer) -> tuple[Syncer, list[Plan]]:
    clock = Clock()
    api = DeviceApi(server.url, SPEAKER, TOKEN, clock)
    switched: list[Plan] = []

    def current() -> Plan | None:
        return switched[-1] if switched else None

    syncer = Syncer(
        api, ClipStore(tmp_path), PlanStore(tmp_path), current, switched.append, clock.now
    )
    return syncer, switched


def test_a_plan_naming_a_missing_clip_is_not_switched_to_until_the_clip_arrives(
    tmp_path: Path, server: StubServer
) -> None:
    now = datetime.now(UTC)
    a, b = make_clip("aa01", 0.2), make_clip("bb02", 0.2)
    window = [(now, now + timedelta(hours=1))]
    server.serve(plan_body(window, [(now, a, "loop", None)]), [a])
    syncer, switched = _syncer(tmp_path, server)
    assert syncer.sync_once() is True
    first = switched[-1]
    server.state.plan = plan_body(window, [(now, a, "loop", None), (now, b, "loop", None)])
    with pytest.raises(ClipError, match="not available"):
        syncer.sync_once()  # b is not on the server yet
    assert switched[-1] is first and syncer.pending_etag == server.state.etag()
    server.state.clips[b.key] = b.data
    assert syncer.sync_once() is True
    assert set(switched[-1].clips) == {a.key, b.key}
    assert syncer.sync_once() is False  # 304 now
    assert server.state.requests[-1].startswith("GET /api/v1/speakers/vehicle-01/plan")


def test_the_last_good_plan_survives_a_restart(tmp_path: Path, server: StubServer) -> None:
    now = datetime.now(UTC)
    a = make_clip("aa01", 0.2)
    server.serve(plan_body([(now, now + timedelta(hours=1))], [(now, a, "loop", None)]), [a])
    syncer, switched = _syncer(tmp_path, server)
    syncer.sync_once()
    reloaded = load_saved_plan(PlanStore(tmp_path))
    assert reloaded is not None
    assert reloaded == switched[-1]
    assert reloaded.etag == server.state.etag()


def test_a_damaged_saved_plan_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "plan.json").write_text("{not json")
    assert load_saved_plan(PlanStore(tmp_path)) is None


def entry(i: int) -> dict[str, object]:
    return {
        "id": f"id-{i}",
        "clip": "k",
        "message": None,
        "kind": "loop",
        "urgent": None,
        "planned_start": "",
        "started_at": "",
        "ended_at": "",
        "completed": True,
        "reason": "",
    }


def test_the_journal_keeps_entries_until_the_server_acknowledges_them(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite3")
    for i in range(3):
        journal.close_play(entry(i))
    assert [e["id"] for e in journal.pending()] == ["id-0", "id-1", "id-2"]
    assert journal.acknowledge(["id-0", "id-2", "unknown"]) == 2
    assert [e["id"] for e in journal.pending()] == ["id-1"]
    journal.close()


def test_batches_hold_at_most_500_entries(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite3")
    for i in range(620):
        journal.close_play(entry(i))
    assert len(journal.pending()) == 500
    journal.close()


def test_a_clip_playing_at_a_crash_becomes_a_cut_entry(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite3")
    journal.open_play({**entry(1), "completed": False, "reason": "cut:shutdown"})
    assert journal.pending() == []  # still playing: not uploaded yet
    # a crash: no close_play, no close
    reopened = Journal(tmp_path / "journal.sqlite3")
    assert reopened.recovered == 1
    [recovered] = reopened.pending()
    assert recovered["id"] == "id-1" and recovered["reason"] == "cut:shutdown"
    journal.close()
    reopened.close()


def test_each_entry_reaches_the_server_exactly_once_across_a_crash(
    tmp_path: Path, server: StubServer
) -> None:
    from broadcaster.client.reporting import Uploader

    api = DeviceApi(server.url, SPEAKER, TOKEN, Clock())
    journal = Journal(tmp_path / "journal.sqlite3")
    for i in range(700):
        journal.close_play(entry(i))
    # The server takes the first batch but the client "crashes" before it forgets it.
    api.plays(journal.pending())
    journal.close()
    journal = Journal(tmp_path / "journal.sqlite3")
    assert journal.count() == 700
    assert Uploader(api, journal).flush_once() == 700
    assert journal.count() == 0
    assert len(server.state.plays) == 700  # duplicates were recognised by id
    assert server.state.duplicate_posts == 500
    assert server.state.play_posts == 3
    journal.close()


def test_urgent_acks_keep_the_first_time_per_state(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite3")
    journal.add_ack("u-1", "received", "t1")
    journal.add_ack("u-1", "received", "t2")
    journal.add_ack("u-1", "playing", "t3")
    assert journal.pending_acks() == [
        {"urgent": "u-1", "state": "received", "at": "t1"},
        {"urgent": "u-1", "state": "playing", "at": "t3"},
    ]
    journal.close()
