"""An acknowledgement is one atomic statement (issue 11, item 3): INSERT ... ON CONFLICT DO
UPDATE that keeps each state's first time, so speakers resending the same ack at once (a
retry racing the original, two server workers) never clash, on SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from broadcaster.models import Urgent
from broadcaster.store import AckState, Store, UrgentAck
from tests.broadcaster.store.conftest import NOW
from tests.broadcaster.store.test_upserts import _writes, statements


def _urgent(uid: str) -> Urgent:
    return Urgent(id=uid, created_at=NOW, starts_at=NOW, expires_at=NOW + timedelta(hours=1),
                  text="请注意：前方道路封闭。", speaker_ids=("vehicle-01",), repeats=1,
                  interval_s=0.0, created_by="admin")  # fmt: skip


def test_an_ack_is_one_insert_on_conflict_that_keeps_the_first_time(seeded: Store) -> None:
    seeded.urgents.create_urgent(_urgent("u1"))
    t1, t2 = NOW + timedelta(seconds=1), NOW + timedelta(seconds=9)
    for state, at, kept in (
        (AckState.RECEIVED, t1, t1),  # the row is new
        (AckState.RECEIVED, t2, t1),  # a resent ack: the first time stays
        (AckState.PLAYING, t2, t2),  # another state of the same row
    ):
        with statements(seeded) as seen:
            ack = seeded.urgents.ack_urgent("u1", "vehicle-01", state, at)
        [one] = _writes(seen, "urgent_acks")
        assert one.startswith("INSERT INTO URGENT_ACKS") and "ON CONFLICT" in one, one
        assert not any(s.startswith("SELECT") and "FROM URGENT_ACKS" in s for s in seen), seen
        assert getattr(ack, f"{state.value}_at") == kept
    assert (ack.received_at, ack.playing_at, ack.played_at) == (t1, t2, None)


def test_concurrent_duplicate_acks_never_raise_and_the_first_time_stays(seeded: Store) -> None:
    """Sixteen threads ack the same new (urgent, speaker) at once, each with its own time:
    none raises, one row, every answer shows the one time that was stored first, which a
    later (or earlier-dated) resend does not move."""
    seeded.urgents.create_urgent(_urgent("u1"))
    times = [NOW + timedelta(seconds=n) for n in range(1, 17)]

    def ack(at: datetime) -> UrgentAck:
        return seeded.urgents.ack_urgent("u1", "vehicle-01", AckState.RECEIVED, at)

    with statements(seeded) as seen, ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ack, times))
        played = list(pool.map(lambda n: seeded.urgents.ack_urgent(
            "u1", "vehicle-01", AckState.PLAYED, times[n]), range(16)))  # fmt: skip
    writes = _writes(seen, "urgent_acks")
    assert len(writes) == 32 and all("ON CONFLICT" in w for w in writes)
    [stored] = seeded.urgents.urgent_acks("u1")
    assert stored.received_at in times and stored.played_at in times
    assert {a.received_at for a in answers} == {stored.received_at}
    assert {a.played_at for a in played} == {stored.played_at}
    again = seeded.urgents.ack_urgent("u1", "vehicle-01", AckState.RECEIVED, NOW)
    assert again.received_at == stored.received_at
    assert seeded.urgents.urgent_acks("u1") == (again,)
