"""The shapes in the user API (issue 13, web/shapes_api.py): areas' outlines, quiet zones,
fixed loudspeakers' locations; admins change them, refusals name the field."""

from __future__ import annotations

import pytest

from broadcaster.models import QuietAction
from broadcaster.service import Service
from broadcaster.store import TokenKind
from tests.web.conftest import NOW

SQUARE = [[36.0, 111.0], [36.0, 111.01], [36.01, 111.01], [36.01, 111.0]]
BOWTIE = [[36.0, 111.0], [36.01, 111.01], [36.0, 111.01], [36.01, 111.0]]


@pytest.fixture
def as_user(service: Service):  # type: ignore[no-untyped-def]
    def headers(name: str) -> dict[str, str]:
        token = service.store.people.issue_token(TokenKind.USER, name, NOW)[1]
        return {"Authorization": f"Bearer {token}"}

    return headers


def test_areas_are_listed_with_their_outlines_as_far_as_the_user_reaches(client, as_user) -> None:  # type: ignore[no-untyped-def]
    areas = client.get("/api/v1/areas", headers=as_user("admin")).get_json()["data"]
    tunli = next(a for a in areas if a["id"] == "tunli-village")
    assert tunli["polygon"][0] == [36.096, 111.488] and tunli["parent"] == "tunli"
    assert next(a for a in areas if a["id"] == "dayang-village")["polygon"] is None
    chief = client.get("/api/v1/areas", headers=as_user("chief-tunli")).get_json()["data"]
    assert [a["id"] for a in chief] == ["tunli-village"]
    assert client.get("/api/v1/areas", headers=as_user("driver-01")).get_json()["data"] == []


def test_an_admin_sets_and_removes_an_outline(client, as_user, service) -> None:  # type: ignore[no-untyped-def]
    admin = as_user("admin")
    saved = client.patch("/api/v1/areas/dayang-village", headers=admin, json={"polygon": SQUARE})
    assert saved.status_code == 200, saved.get_json()
    assert saved.get_json()["data"]["polygon"] == SQUARE
    assert service.store.places.get_area("dayang-village").polygon == tuple(map(tuple, SQUARE))
    removed = client.patch("/api/v1/areas/dayang-village", headers=admin, json={"polygon": None})
    assert removed.status_code == 200 and removed.get_json()["data"]["polygon"] is None
    assert service.store.places.get_area("dayang-village").polygon is None


@pytest.mark.parametrize(
    ("body", "field", "said"),
    [
        ({"polygon": BOWTIE}, "polygon", "crosses itself: edge 1 crosses edge 3"),
        ({"polygon": [[36.0, 111.0], [91, 111.0], [36.0, 112.0]]}, "polygon[1]", "latitude 91"),
        ({"polygon": SQUARE[:2]}, "polygon", "needs at least 3 different points"),
        ({"polygon": [[36.0, 111.0, 5.0], *SQUARE[1:]]}, "polygon[0]", ""),
        ({"polygon": "36,111 36,112"}, "polygon", ""),
        ({}, "polygon", "required"),
    ],
)
def test_a_bad_outline_is_refused_naming_the_field(client, as_user, body, field, said) -> None:  # type: ignore[no-untyped-def]
    answer = client.patch("/api/v1/areas/dayang-village", headers=as_user("admin"), json=body)
    assert answer.status_code == 422, answer.get_json()
    error = answer.get_json()["error"]
    assert error["field"] == field and said in error["message"], error


def test_only_admins_change_shapes(client, as_user, service) -> None:  # type: ignore[no-untyped-def]
    chief = as_user("chief-tunli")
    own = client.patch("/api/v1/areas/tunli-village", headers=chief, json={"polygon": None})
    assert own.status_code == 403
    other = client.patch("/api/v1/areas/dayang-village", headers=chief, json={"polygon": None})
    assert other.status_code == 404  # outside her areas: as if it did not exist
    zone = {"name": "x", "polygon": SQUARE}
    assert client.put("/api/v1/quiet-zones/x", headers=chief, json=zone).status_code == 403
    assert client.delete("/api/v1/quiet-zones/tunli-hospital", headers=chief).status_code == 403
    assert service.store.places.get_area("tunli-village").polygon is not None


def test_quiet_zones_are_put_and_deleted(client, as_user, service) -> None:  # type: ignore[no-untyped-def]
    admin = as_user("admin")
    plan = client.get(
        "/api/v1/speakers/vehicle-01/plan",
        headers={
            "Authorization": "Bearer "
            + service.store.people.issue_token(TokenKind.DEVICE, "vehicle-01", NOW)[1]
        },
    )
    zone = {"name": "考场", "polygon": SQUARE, "hours": [{"start": "08:00", "end": "11:30"}],
            "action": "volume", "volume": 20}  # fmt: skip
    made = client.put("/api/v1/quiet-zones/exam", headers=admin, json=zone)
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["data"]["hours"] == [{"start": "08:00", "end": "11:30"}]
    again = client.put("/api/v1/quiet-zones/exam", headers=admin, json={**zone, "action": "mute"})
    assert again.status_code == 200 and again.get_json()["data"]["volume"] is None
    kept = service.store.places.get_quiet_zone("exam")
    assert (kept.action, kept.volume) == (QuietAction.MUTE, None)
    listed = client.get("/api/v1/quiet-zones", headers=as_user("chief-tunli")).get_json()["data"]
    assert "exam" in {z["id"] for z in listed}
    device = plan.request.headers["Authorization"]
    newer = client.get("/api/v1/speakers/vehicle-01/plan", headers={"Authorization": device})
    assert newer.headers["ETag"] != plan.headers["ETag"]  # vehicles fetch the new zone
    assert "exam" in {z["id"] for z in newer.get_json()["quiet_zones"]}

    for body, field in (
        ({**zone, "volume": None}, "volume"),
        ({**zone, "hours": [{"start": "25:00", "end": "11:30"}]}, "hours[0].start"),
        ({**zone, "polygon": BOWTIE}, "polygon"),
        ({**zone, "name": ""}, "name"),
    ):
        refused = client.put("/api/v1/quiet-zones/exam2", headers=admin, json=body)
        assert refused.status_code == 422 and refused.get_json()["error"]["field"] == field
    assert client.put("/api/v1/quiet-zones/bad id", headers=admin, json=zone).status_code == 422

    assert client.delete("/api/v1/quiet-zones/exam", headers=admin).status_code == 204
    assert client.delete("/api/v1/quiet-zones/exam", headers=admin).status_code == 404


def test_a_fixed_loudspeaker_location(client, as_user, service) -> None:  # type: ignore[no-untyped-def]
    admin = as_user("admin")
    url = "/api/v1/speakers/dayang-village-1/location"
    placed = client.patch(url, headers=admin, json={"location": {"lat": 36.05, "lon": 111.6}})
    assert placed.status_code == 200
    assert placed.get_json()["data"] == {
        "id": "dayang-village-1",
        "location": {"lat": 36.05, "lon": 111.6},
    }
    assert service.store.places.get_speaker("dayang-village-1").location == (36.05, 111.6)
    far = client.patch(url, headers=admin, json={"location": {"lat": 95, "lon": 111.6}})
    assert far.status_code == 422 and far.get_json()["error"]["field"] == "location"
    car = client.patch(
        "/api/v1/speakers/vehicle-05/location",
        headers=admin,
        json={"location": {"lat": 36, "lon": 111}},
    )
    assert car.status_code == 422 and "only fixed" in car.get_json()["error"]["message"]
    assert client.patch(url, headers=admin, json={"location": None}).status_code == 200
    assert service.store.places.get_speaker("dayang-village-1").location is None
    chief = client.patch(url, headers=as_user("chief-tunli"), json={"location": None})
    assert chief.status_code == 404
