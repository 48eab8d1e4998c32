"""`POST /api/v1/speakers/{id}/track` in-process (issue 13): idempotent by point id per
speaker, bounds named by field, device times in the device window, the speaker's own token."""

from __future__ import annotations

from datetime import timedelta

import pytest

from broadcaster.store import TokenKind
from tests.web.conftest import NOW

URL = "/api/v1/speakers/vehicle-01/track"


@pytest.fixture
def device(service):
    """A device token for vehicle-01."""
    token = service.store.people.issue_token(TokenKind.DEVICE, "vehicle-01", NOW)[1]
    return {"Authorization": f"Bearer {token}"}


def point(point_id: str, at_s: int = 0, **extra: object) -> dict[str, object]:
    at = (NOW + timedelta(seconds=at_s)).isoformat()
    return {"id": point_id, "lat": 36.08, "lon": 111.52, "at": at, **extra}


def _stored(service):
    return service.store.tracks.between(
        "vehicle-01", NOW - timedelta(days=1), NOW + timedelta(days=1)
    )


def test_track_upload_is_idempotent_by_point_id(client, device, service):
    first = client.post(URL, headers=device, json={"points": [point("1"), point("2", 5)]})
    assert first.status_code == 200
    assert first.get_json()["accepted"] == ["1", "2"] and first.get_json()["duplicates"] == []
    assert first.get_json()["server_time"]
    body = {"points": [point("2", 5), point("3", 10, speed=8.25, heading=271.5)]}
    second = client.post(URL, headers=device, json=body).get_json()
    assert (second["accepted"], second["duplicates"]) == (["3"], ["2"])
    stored = _stored(service)
    assert [p.id for p in stored] == ["1", "2", "3"]
    assert (stored[2].speed, stored[2].heading, stored[2].at) == (
        8.25,
        271.5,
        NOW + timedelta(seconds=10),
    )
    assert {p.speaker_id for p in stored} == {"vehicle-01"}


def test_a_token_uploads_only_its_own_track(client, device, service):
    answer = client.post(
        "/api/v1/speakers/vehicle-02/track", headers=device, json={"points": [point("1")]}
    )
    assert answer.status_code == 403
    assert client.post(URL, json={"points": [point("1")]}).status_code == 401
    assert service.store.tracks.count() == 0


BAD = [
    ({}, "points"),
    ({"points": [{"id": "x", "lat": 36.0}]}, "points[0].lon"),
    ({"points": [point("x", lat=91)]}, "points[0].lat"),
    ({"points": [point("x", lon="111.5")]}, "points[0].lon"),
    ({"points": [point("x", speed=-1)]}, "points[0].speed"),
    ({"points": [point("x", heading=361)]}, "points[0].heading"),
    ({"points": [point("x", at="2025-05-06T10:00:00")]}, "points[0].at"),  # no offset
    ({"points": [point("x", at_s=-367 * 86400)]}, "points[0].at"),  # before the device window
    ({"points": [point("x", at_s=4 * 86400)]}, "points[0].at"),  # after it
    ({"points": [point("")]}, "points[0].id"),
    ({"points": [point("ok"), point("x", lat=None)]}, "points[1].lat"),  # all or nothing
    ({"points": [point(str(i)) for i in range(1001)]}, "points"),
]


def test_bad_track_uploads_are_refused_and_name_the_field(client, device, service):
    """One app for every case (each case its own app was ~15 s of setup)."""
    for body, field in BAD:
        answer = client.post(URL, headers=device, json=body)
        assert answer.status_code == 422, (field, answer.get_json())
        assert answer.get_json()["error"]["field"] == field, body
    huge = b'{"points": [' + b" " * (2**20) + b"]}"
    too_large = client.post(URL, headers={**device, "Content-Type": "application/json"}, data=huge)
    assert too_large.status_code == 413
    assert service.store.tracks.count() == 0


def test_a_full_batch_of_1000_points_is_accepted(client, device, service):
    body = {"points": [point(str(i), i) for i in range(1000)]}
    answer = client.post(URL, headers=device, json=body)
    assert answer.status_code == 200 and len(answer.get_json()["accepted"]) == 1000
    assert service.store.tracks.count("vehicle-01") == 1000
