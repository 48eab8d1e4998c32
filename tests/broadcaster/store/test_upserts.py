"""Upserts are one INSERT ... ON CONFLICT DO UPDATE on SQLite and PostgreSQL (issue 11, item
3): a meta value, a speaker's status and a clip's render outcome, first written then replaced,
each by a single statement, also when many writers race for a new key."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select

from broadcaster.store import ClipStatus, SpeakerStatus, Store
from broadcaster.store import schema as t
from tests.broadcaster.store.conftest import NOW


@contextmanager
def statements(store: Store) -> Iterator[list[str]]:
    """The SQL statements the store sends to the database inside the block."""
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()).upper())

    event.listen(store.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", note)


def _writes(seen: list[str], table: str) -> list[str]:
    verbs = ("INSERT INTO", "UPDATE", "DELETE FROM")
    return [s for s in seen if any(s.startswith(f"{v} {table.upper()}") for v in verbs)]


def _status(state: str, offset: int) -> SpeakerStatus:
    return SpeakerStatus("tunli-village-1", NOW, state=state, clock_offset_ms=offset,
                         now_playing={"clip": "c", "state": state})  # fmt: skip


def _clip(error: str | None, at_min: int) -> ClipStatus:
    return ClipStatus("k" * 64, "wav", NOW + timedelta(minutes=at_min), message_id="masks",
                      duration_ms=None if error else 900, error=error)  # fmt: skip


# table, write value number n, read back what matters, what it is after writing n
CASES: dict[str, tuple[str, Callable[[Store, int], None], Callable[[Store], object]]] = {
    "meta": (
        "meta",
        lambda s, n: s.set_meta("probe", f"v{n}"),
        lambda s: s.get_meta("probe"),
    ),
    "speaker_status": (
        "speaker_status",
        lambda s, n: s.devices.put_speaker_status(_status(f"state{n}", n)),
        lambda s: s.devices.speaker_status("tunli-village-1"),
    ),
    "clips": (
        "clips",
        lambda s, n: s.devices.record_clip(_clip("boom" if n == 1 else None, n)),
        lambda s: s.devices.clip_status("k" * 64, "wav"),
    ),
}
EXPECTED: dict[str, Callable[[int], object]] = {
    "meta": lambda n: f"v{n}",
    "speaker_status": lambda n: _status(f"state{n}", n),
    "clips": lambda n: _clip("boom" if n == 1 else None, n),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_an_upsert_is_one_insert_on_conflict_update(seeded: Store, case: str) -> None:
    table, write, read = CASES[case]
    for n in (1, 2):  # the first inserts, the second replaces
        with statements(seeded) as seen:
            write(seeded, n)
        [one] = _writes(seen, table)
        assert one.startswith(f"INSERT INTO {table.upper()}") and "ON CONFLICT" in one, one
        assert read(seeded) == EXPECTED[case](n)
    rows = select(func.count()).select_from(getattr(t, table))
    if table == "meta":
        rows = rows.where(t.meta.c.key == "probe")
    with seeded.transaction(write=False) as conn:
        assert conn.execute(rows).scalar() == 1


def test_upserts_keep_what_was_written_last(seeded: Store) -> None:
    seeded.set_meta("probe", "one")
    seeded.set_meta("probe", "two")
    assert seeded.get_meta("probe") == "two"
    seeded.devices.put_speaker_status(_status("playing", 5))
    seeded.devices.put_speaker_status(_status("idle", -7))
    status = seeded.devices.speaker_status("tunli-village-1")
    assert status is not None
    assert (status.state, status.clock_offset_ms, status.now_playing) == (
        "idle", -7, {"clip": "c", "state": "idle"},
    )  # fmt: skip
    seeded.devices.record_clip(_clip("boom", 1))
    seeded.devices.record_clip(_clip(None, 2))
    clip = seeded.devices.clip_status("k" * 64, "wav")
    assert clip is not None and clip.ok and clip.duration_ms == 900
    assert clip.rendered_at == NOW + timedelta(minutes=2)


def test_racing_writers_of_a_new_key_all_succeed(seeded: Store) -> None:
    """Eight threads upsert the same new keys at once: no clash, one row each."""
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: seeded.devices.put_speaker_status(_status(f"s{n}", n)), range(16)))
        list(pool.map(lambda n: seeded.devices.record_clip(_clip(None, n)), range(16)))
        list(pool.map(lambda n: seeded.set_meta("race", str(n)), range(16)))
    with seeded.transaction(write=False) as conn:
        for table in (t.speaker_status, t.clips):
            assert conn.execute(select(func.count()).select_from(table)).scalar() == 1
    assert seeded.get_meta("race") in {str(n) for n in range(16)}
