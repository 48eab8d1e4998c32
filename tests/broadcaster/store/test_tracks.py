"""`store.tracks` on both databases: batch bounds, an empty batch, a big batch in one go."""

from __future__ import annotations

from datetime import timedelta

import pytest

from broadcaster.errors import ValidationError
from broadcaster.store import Store
from broadcaster.store.tracks import MAX_POINTS_PER_UPLOAD, TrackPoint
from tests.broadcaster.store.conftest import NOW


def _points(n: int, start: int = 0) -> list[TrackPoint]:
    return [
        TrackPoint("v-1", str(i), 36.0 + i * 1e-5, 111.5, NOW + timedelta(seconds=5 * i))
        for i in range(start, start + n)
    ]


def test_a_full_batch_and_its_resend_with_new_points(store: Store) -> None:
    first = store.tracks.add("v-1", _points(MAX_POINTS_PER_UPLOAD), NOW)
    assert len(first.accepted) == MAX_POINTS_PER_UPLOAD and first.duplicates == ()
    # the client resends the half it was unsure of, with the next points
    again = store.tracks.add("v-1", _points(MAX_POINTS_PER_UPLOAD, start=500), NOW)
    assert len(again.duplicates) == 500 and len(again.accepted) == 500
    assert again.accepted[0] == str(MAX_POINTS_PER_UPLOAD)
    assert store.tracks.count("v-1") == MAX_POINTS_PER_UPLOAD + 500
    day = store.tracks.between("v-1", NOW, NOW + timedelta(days=1), limit=3)
    assert [p.id for p in day] == ["0", "1", "2"] and day[0].speed is None


def test_too_many_points_are_refused_and_nothing_is_stored(store: Store) -> None:
    with pytest.raises(ValidationError, match="points"):
        store.tracks.add("v-1", _points(MAX_POINTS_PER_UPLOAD + 1), NOW)
    assert store.tracks.count() == 0
    assert store.tracks.add("v-1", [], NOW).accepted == ()
