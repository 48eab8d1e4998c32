"""Urgent announcements: create, list, cancel, acknowledgements, and what the planner sees."""

from __future__ import annotations

from datetime import timedelta

import pytest

from broadcaster.errors import Conflict, NotFound, ValidationError
from broadcaster.models import Urgent
from broadcaster.store import AckState, Store
from broadcaster.store.urgents import RECENT
from tests.broadcaster.store.conftest import NOW

HOUR = timedelta(hours=1)


def _urgent(uid: str, minutes_ago: int = 0, **changes: object) -> Urgent:
    created = NOW - timedelta(minutes=minutes_ago)
    fields: dict[str, object] = {
        "id": uid,
        "created_at": created,
        "starts_at": created,
        "expires_at": created + HOUR,
        "text": "请注意：前方道路封闭。",
        "speaker_ids": ("vehicle-01", "vehicle-02"),
        "repeats": 3,
        "interval_s": 5.0,
        "created_by": "admin",
    }
    fields.update(changes)
    return Urgent(**fields)  # type: ignore[arg-type]


def test_an_urgent_round_trips(seeded: Store) -> None:
    urgent = _urgent(
        "u1",
        text=None,
        message_id="fire",
        speaker_ids=("vehicle-03",),
        area_ids=("tunli", "xiguan-community"),
        override_window=True,
        created_by="chief-tunli",
    )
    seeded.urgents.create_urgent(urgent)
    assert seeded.urgents.get_urgent("u1") == urgent
    with pytest.raises(Conflict):
        seeded.urgents.create_urgent(urgent)


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"speaker_ids": ("vehicle-99",)}, "no such id 'vehicle-99'"),
        ({"speaker_ids": (), "area_ids": ("atlantis",)}, "no such id 'atlantis'"),
        ({"text": None, "message_id": "nope"}, "no message 'nope'"),
    ],
    ids=["unknown-speaker", "unknown-area", "unknown-message"],
)
def test_an_urgent_with_unknown_references_is_refused(
    seeded: Store, changes: dict, error: str
) -> None:
    with pytest.raises(ValidationError, match=error):
        seeded.urgents.create_urgent(_urgent("bad", **changes))
    assert seeded.urgents.list_urgents() == ()


def test_urgents_list_newest_first_and_filter_live(seeded: Store) -> None:
    old = seeded.urgents.create_urgent(_urgent("old", minutes_ago=120))  # expired an hour ago
    mid = seeded.urgents.create_urgent(_urgent("mid", minutes_ago=30))
    new = seeded.urgents.create_urgent(_urgent("new", minutes_ago=1))
    assert [u.id for u in seeded.urgents.list_urgents()] == ["new", "mid", "old"]
    assert [u.id for u in seeded.urgents.list_urgents(limit=2)] == ["new", "mid"]
    assert seeded.urgents.list_urgents(live_at=NOW) == (new, mid)
    assert not old.is_live(NOW)


def test_cancelling_keeps_the_first_time_and_the_planner_stops_seeing_it_later(
    seeded: Store,
) -> None:
    seeded.urgents.create_urgent(_urgent("u1"))
    assert [u.id for u in seeded.deployment(NOW).urgents] == ["u1"]
    later = NOW + timedelta(minutes=5)
    cancelled = seeded.urgents.cancel_urgent("u1", later)
    assert cancelled.cancelled_at == later
    assert seeded.urgents.cancel_urgent("u1", later + HOUR).cancelled_at == later
    # The planner still sees it, cancelled, while it can shape today's plans (the loop goes on
    # from the cancel), and no longer once that is over.
    (seen,) = seeded.deployment(later).urgents
    assert seen.id == "u1" and seen.cancelled_at == later
    assert seeded.deployment(later + RECENT + timedelta(seconds=1)).urgents == ()
    assert [u.id for u in seeded.deployment(NOW).urgents] == ["u1"]  # before the cancel
    with pytest.raises(NotFound):
        seeded.urgents.cancel_urgent("nope", later)


def test_an_urgent_that_starts_later_is_live_until_it_expires(seeded: Store) -> None:
    seeded.urgents.create_urgent(_urgent("soon", starts_at=NOW + HOUR, expires_at=NOW + 2 * HOUR))
    assert [u.id for u in seeded.deployment(NOW).urgents] == ["soon"]
    assert [u.id for u in seeded.deployment(NOW + 2 * HOUR).urgents] == ["soon"]  # just ended
    assert seeded.deployment(NOW + 2 * HOUR + RECENT).urgents == ()


def test_acknowledgements_keep_the_first_time_of_each_state(seeded: Store) -> None:
    seeded.urgents.create_urgent(_urgent("u1"))
    t1, t2, t3 = (NOW + timedelta(seconds=s) for s in (1, 2, 30))
    seeded.urgents.ack_urgent("u1", "vehicle-01", AckState.RECEIVED, t1)
    seeded.urgents.ack_urgent("u1", "vehicle-01", AckState.PLAYING, t2)
    seeded.urgents.ack_urgent("u1", "vehicle-01", AckState.RECEIVED, t3)  # a resent ack
    seeded.urgents.ack_urgent("u1", "vehicle-02", AckState.RECEIVED, t2)
    acks = {a.speaker_id: a for a in seeded.urgents.urgent_acks("u1")}
    assert (acks["vehicle-01"].received_at, acks["vehicle-01"].playing_at) == (t1, t2)
    assert acks["vehicle-01"].played_at is None
    assert (acks["vehicle-02"].received_at, acks["vehicle-02"].playing_at) == (t2, None)
    done = seeded.urgents.ack_urgent("u1", "vehicle-01", AckState.PLAYED, t3)
    assert done.played_at == t3
    with pytest.raises(NotFound):
        seeded.urgents.ack_urgent("nope", "vehicle-01", AckState.RECEIVED, t1)


def test_an_ack_for_an_urgent_aimed_elsewhere_is_answered_as_a_missing_one(seeded: Store) -> None:
    """Issue 10, item 3: a device must not learn that another speaker's urgent exists."""
    seeded.urgents.create_urgent(_urgent("u1", speaker_ids=("vehicle-01",)))
    seeded.urgents.create_urgent(_urgent("u2", speaker_ids=(), area_ids=("tunli",)))
    with pytest.raises(NotFound) as missing:
        seeded.urgents.ack_urgent("nope", "vehicle-02", AckState.RECEIVED, NOW)
    with pytest.raises(NotFound) as elsewhere:
        seeded.urgents.ack_urgent("u1", "vehicle-02", AckState.RECEIVED, NOW)
    assert str(elsewhere.value) == str(missing.value).replace("nope", "u1")
    assert seeded.urgents.urgent_acks("u1") == ()
    # Aimed by area: vehicle-01 is in the township tunli, tunli-village-1 in a village of it;
    # xiguan-community-1 is elsewhere.
    seeded.urgents.ack_urgent("u2", "vehicle-01", AckState.RECEIVED, NOW)
    seeded.urgents.ack_urgent("u2", "tunli-village-1", AckState.PLAYED, NOW)
    with pytest.raises(NotFound):
        seeded.urgents.ack_urgent("u2", "xiguan-community-1", AckState.RECEIVED, NOW)
    assert [a.speaker_id for a in seeded.urgents.urgent_acks("u2")] == [
        "tunli-village-1",
        "vehicle-01",
    ]
