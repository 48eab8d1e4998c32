"""What a vehicle needs to decide offline, and where it is (issue 13): the plan carries the
quiet zones and the polygons of the areas its messages are bound to; the heartbeat carries
the GPS fix, kept with the speaker's status."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from broadcaster.store import TokenKind
from tests.web.conftest import NOW


def _token(service, speaker_id: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    plain = service.store.people.issue_token(TokenKind.DEVICE, speaker_id, NOW)[1]
    return {"Authorization": f"Bearer {plain}"}


@pytest.fixture
def device(service):  # type: ignore[no-untyped-def]
    return _token(service, "vehicle-01")


def test_a_vehicle_plan_carries_quiet_zones_and_bound_areas(client, device, service) -> None:  # type: ignore[no-untyped-def]
    first = client.get("/api/v1/speakers/vehicle-01/plan", headers=device)
    body = first.get_json()
    zones = {z["id"]: z for z in body["quiet_zones"]}
    assert zones["tunli-hospital"]["action"] == "volume" and zones["tunli-hospital"]["volume"] == 30
    assert zones["tunli-hospital"]["hours"] == []
    assert zones["tunli-school"]["action"] == "mute" and zones["tunli-school"]["volume"] is None
    assert zones["tunli-school"]["hours"] == [
        {"start": "08:00", "end": "12:00"}, {"start": "14:30", "end": "17:00"}]  # fmt: skip
    assert zones["tunli-school"]["polygon"][0] == [36.0995, 111.496]
    assert body["message_areas"] == {} and body["areas"] == {}

    played = sorted({i["message"] for i in body["items"] if i["message"]})
    assert played, "vehicle-01 plays messages today"
    message = service.store.content.get_message(played[0])
    # A township without a shape stands for its villages that have one.
    service.store.content.update_message(replace(message, area_ids=("tunli",)), NOW)
    second = client.get("/api/v1/speakers/vehicle-01/plan", headers=device)
    assert second.headers["ETag"] != first.headers["ETag"]
    bound = second.get_json()
    assert bound["message_areas"] == {played[0]: ["tunli-village", "xiaoyu-village"]}
    village = service.store.places.get_area("tunli-village").polygon
    assert bound["areas"]["tunli-village"] == [list(p) for p in village]
    assert set(bound["areas"]) == {"tunli-village", "xiaoyu-village"}


def test_a_fixed_loudspeaker_plan_carries_no_shapes(client, service) -> None:  # type: ignore[no-untyped-def]
    headers = _token(service, "tunli-village-1")
    body = client.get("/api/v1/speakers/tunli-village-1/plan", headers=headers).get_json()
    assert body["quiet_zones"] == [] and body["message_areas"] == {} and body["areas"] == {}


def _beat(client, headers, position=None):  # type: ignore[no-untyped-def]
    beat = {"state": "playing"} | ({"position": position} if position is not None else {})
    return client.post("/api/v1/speakers/vehicle-01/heartbeat", headers=headers, json=beat)


def test_the_heartbeat_carries_the_fix(client, device, service) -> None:  # type: ignore[no-untyped-def]
    at = NOW - timedelta(seconds=3)
    position = {
        "lat": 36.0985,
        "lon": 111.4915,
        "fix_at": at.isoformat(),
        "speed": 8.5,
        "heading": 90,
    }
    assert _beat(client, device, position).status_code == 200
    fix = service.store.devices.speaker_status("vehicle-01").fix
    assert (fix.lat, fix.lon, fix.at, fix.speed, fix.heading) == (36.0985, 111.4915, at, 8.5, 90.0)

    assert _beat(client, device).status_code == 200  # lost the fix: the last one stays
    assert service.store.devices.speaker_status("vehicle-01").fix == fix
    late = {"lat": 36.0, "lon": 111.0, "fix_at": (at - timedelta(minutes=1)).isoformat()}
    assert _beat(client, device, late).status_code == 200  # an older fix sent late
    assert service.store.devices.speaker_status("vehicle-01").fix == fix
    bare = {"lat": 36.1, "lon": 111.5, "fix_at": NOW.isoformat()}
    assert _beat(client, device, bare).status_code == 200
    newer = service.store.devices.speaker_status("vehicle-01").fix
    assert (newer.lat, newer.lon, newer.speed, newer.heading) == (36.1, 111.5, None, None)


@pytest.mark.parametrize(
    ("position", "field"),
    [
        ({"lat": 91, "lon": 111.0, "fix_at": NOW.isoformat()}, "position.lat"),
        ({"lat": 36.0, "lon": -181, "fix_at": NOW.isoformat()}, "position.lon"),
        ({"lat": "36.0", "lon": 111.0, "fix_at": NOW.isoformat()}, "position.lat"),
        ({"lon": 111.0, "fix_at": NOW.isoformat()}, "position.lat"),
        ({"lat": 36.0, "lon": 111.0}, "position.fix_at"),
        ({"lat": 36.0, "lon": 111.0, "fix_at": NOW.isoformat(), "speed": 1000}, "position.speed"),
        (
            {"lat": 36.0, "lon": 111.0, "fix_at": NOW.isoformat(), "heading": 361},
            "position.heading",
        ),
        ("36.0,111.0", "position"),
    ],
)
def test_a_bad_position_is_refused_naming_the_field(client, device, position, field) -> None:  # type: ignore[no-untyped-def]
    answer = _beat(client, device, position)
    assert answer.status_code == 422, answer.get_json()
    assert answer.get_json()["error"]["field"] == field


def test_a_fix_whose_time_is_outside_the_device_window_is_dropped(client, device, service) -> None:  # type: ignore[no-untyped-def]
    stale = {"lat": 36.0, "lon": 111.0, "fix_at": "1970-01-01T00:00:05+00:00"}
    assert _beat(client, device, stale).status_code == 200  # the heartbeat still counts
    status = service.store.devices.speaker_status("vehicle-01")
    assert status.last_heartbeat == NOW and status.fix is None


def test_editing_a_message_keeps_the_areas_it_is_bound_to(client, service) -> None:  # type: ignore[no-untyped-def]
    """The panel and the API do not edit the binding yet: an edit must not drop it."""
    message = service.store.content.list_messages()[0]
    service.store.content.update_message(replace(message, area_ids=("tunli-village",)), NOW)
    token = service.store.people.issue_token(TokenKind.USER, "admin", NOW)[1]
    answer = client.patch(
        f"/api/v1/messages/{message.id}",
        headers={"Authorization": f"Bearer {token}"},
        json={"title": "改过的标题"},
    )
    assert answer.status_code == 200, answer.get_json()
    edited = service.store.content.get_message(message.id)
    assert edited.title == "改过的标题" and edited.area_ids == ("tunli-village",)
