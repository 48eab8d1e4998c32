"""Today's tracks on the map, route progress on the dashboard and the route sheet, and route
stops moved on the map (issue 13, item 4), in-process with the Flask test client.

vehicle-01's route (config.yaml): 1 东关街 (36.09994, 111.49893), 2 滨河西路 (36.09766,
111.49561), 3 乡贤街 (36.09700, 111.49354), 4 解放西路, 5 五一东路. The track below drives
from 东关街 to 滨河西路 between 09:30 and 09:40 local (NOW is 10:00 in Shanghai) and stops
there, so stops 1 and 2 are passed and 3 to 5 are not.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from broadcaster.store import TokenKind
from tests.web.conftest import NOW, post

STOP_1, STOP_2 = (36.09994, 111.49893), (36.09766, 111.49561)


@pytest.fixture
def device(service: Any) -> dict[str, str]:
    token = service.store.people.issue_token(TokenKind.DEVICE, "vehicle-01", NOW)[1]
    return {"Authorization": f"Bearer {token}"}


def _upload(
    client: Any, device: dict[str, str], points: list[tuple[str, float, float, int]]
) -> None:
    body = {
        "points": [
            {"id": pid, "lat": lat, "lon": lon, "at": (NOW - timedelta(minutes=ago)).isoformat()}
            for pid, lat, lon, ago in points
        ]
    }
    answer = client.post("/api/v1/speakers/vehicle-01/track", headers=device, json=body)
    assert answer.status_code == 200, answer.get_json()


def _drive(client: Any, device: dict[str, str]) -> None:
    """Eleven points a minute apart from stop 1 to stop 2 (30 and 20 minutes ago)."""
    steps = 10
    points = [
        (
            str(i),
            STOP_1[0] + (STOP_2[0] - STOP_1[0]) * i / steps,
            STOP_1[1] + (STOP_2[1] - STOP_1[1]) * i / steps,
            30 - i,
        )
        for i in range(steps + 1)
    ]
    _upload(client, device, points)


def test_todays_track_is_drawn_and_follows_new_and_late_points(client, login_as, device) -> None:  # type: ignore[no-untyped-def]
    _drive(client, device)
    _upload(client, device, [("old", 36.0, 111.4, 60 * 24)])  # yesterday: not today's track
    login_as("admin")
    page = client.get("/map").get_data(as_text=True)
    line = re.search(r'<polyline class="map-track" data-id="vehicle-01" points="([^"]+)"', page)
    assert line is not None and len(line.group(1).split()) == 11
    assert 'class="map-track" data-id="vehicle-02"' not in page  # no points today

    assert "tracks" not in client.get("/map/live").get_json()  # the markers' poll stays small
    tracks = client.get("/map/live?tracks=1").get_json()["tracks"]
    assert list(tracks) == ["vehicle-01"] and tracks["vehicle-01"][0] == list(STOP_1)
    assert tracks["vehicle-01"][-1] == list(STOP_2)

    _upload(client, device, [("new", 36.0970, 111.4935, 5)])  # newer: appended
    _upload(client, device, [("late", 36.0990, 111.4980, 40)])  # older, arriving late
    again = client.get("/map/live?tracks=1").get_json()["tracks"]["vehicle-01"]
    assert len(again) == 13
    assert again[0] == [36.099, 111.498] and again[-1] == [36.097, 111.4935]
    # the latest heartbeat's fix, newer than the track, ends the line (where the marker is)
    beat = {
        "state": "playing",
        "position": {"lat": 36.0968, "lon": 111.4931, "fix_at": NOW.isoformat()},
    }
    assert (
        client.post("/api/v1/speakers/vehicle-01/heartbeat", headers=device, json=beat).status_code
        == 200
    )
    ended = client.get("/map/live?tracks=1").get_json()["tracks"]["vehicle-01"]
    assert len(ended) == 14 and ended[-1] == [36.0968, 111.4931]


def test_the_drawn_track_is_thinned(client, login_as, device) -> None:  # type: ignore[no-untyped-def]
    many = [(str(i), 36.09 + i * 1e-5, 111.49, 0) for i in range(1000)]
    many = [(p, lat, lon, 0) for p, lat, lon, _ in many]
    body = {
        "points": [
            {
                "id": p,
                "lat": lat,
                "lon": lon,
                "at": (NOW - timedelta(seconds=3 * (1000 - i))).isoformat(),
            }
            for i, (p, lat, lon, _) in enumerate(many)
        ]
    }
    assert (
        client.post("/api/v1/speakers/vehicle-01/track", headers=device, json=body).status_code
        == 200
    )
    login_as("admin")
    drawn = client.get("/map/live?tracks=1").get_json()["tracks"]["vehicle-01"]
    assert len(drawn) == 300 and drawn[-1] == [round(36.09 + 999e-5, 5), 111.49]


def test_route_progress_on_the_dashboard_and_the_route_sheet(
    client, login_as, device, service
) -> None:  # type: ignore[no-untyped-def]
    login_as("admin")
    before = client.get("/").get_data(as_text=True)
    assert re.search(r'class="route-progress"><a [^>]+>[^<]*0/5', before)
    _drive(client, device)
    page = client.get("/").get_data(as_text=True)
    assert re.search(r'class="route-progress"><a [^>]+>[^<]*2/5', page)
    sheet = client.get("/speakers/vehicle-01/sheet").get_data(as_text=True)
    assert sheet.count('<li class="passed">') == 2
    # stop 1 at the first point (09:30 local); stop 2 60 m before reaching it: the ~392 m
    # leg takes 10 minutes, so 1.5 minutes before 09:40
    passed = re.findall(r'class="stop-passed">✓ [^<]*?(\d\d:\d\d)', sheet)
    assert passed == ["09:30", "09:38"]
    # the latest heartbeat's fix at stop 3 passes it too (20 minutes after the track's last
    # point: a gap, so the fix alone, at 10:00)
    beat = {
        "state": "playing",
        "position": {"lat": 36.09700, "lon": 111.49354, "fix_at": NOW.isoformat()},
    }
    assert (
        client.post("/api/v1/speakers/vehicle-01/heartbeat", headers=device, json=beat).status_code
        == 200
    )
    sheet = client.get("/speakers/vehicle-01/sheet").get_data(as_text=True)
    passed = re.findall(r'class="stop-passed">✓ [^<]*?(\d\d:\d\d)', sheet)
    assert passed == ["09:30", "09:38", "10:00"]


def test_an_admin_moves_a_stop_through_the_route_code(client, login_as, service) -> None:  # type: ignore[no-untyped-def]
    admin = login_as("admin")
    url = "/map/routes/vehicle-01/stops"
    moved = post(
        admin, url, {"index": "1", "name": "滨河西路", "lat": "36.0981", "lon": "111.4962"}
    )
    assert moved.status_code == 200 and moved.get_json()["ok"] is True
    stops = service.store.places.get_speaker("vehicle-01").route.stops
    assert (stops[1].name, stops[1].lat, stops[1].lon) == ("滨河西路", 36.0981, 111.4962)
    assert (stops[0].lat, stops[2].lat, len(stops)) == (36.09994, 36.097, 5)  # others kept
    (entry,) = service.store.journal.list_audit(action="route.update")
    assert entry.object == "vehicle-01" and entry.detail["moved"] == 2

    stale = post(admin, url, {"index": "1", "name": "东关街", "lat": "36.1", "lon": "111.5"})
    assert stale.status_code == 409 and stale.get_json()["field"] == "name"
    out_of_range = post(admin, url, {"index": "1", "name": "滨河西路", "lat": "91", "lon": "111.5"})
    assert out_of_range.status_code == 422 and out_of_range.get_json()["field"] == "stops"
    assert "2" in out_of_range.get_json()["message"]  # names the stop
    assert (
        post(admin, url, {"index": "9", "name": "x", "lat": "36", "lon": "111"}).status_code == 422
    )
    assert post(admin, "/map/routes/tunli-village-1/stops", {"index": "0"}).status_code == 404
    without_csrf = admin.post(
        url, data={"index": "1", "name": "滨河西路", "lat": "36", "lon": "111"}
    )
    assert without_csrf.status_code == 403
    assert service.store.places.get_speaker("vehicle-01").route.stops[1].lat == 36.0981


def test_only_admins_move_stops_on_the_map(client, login_as, service) -> None:  # type: ignore[no-untyped-def]
    driver = login_as("driver-01")  # edits its route on the speaker page, not on the map
    body = {"index": "0", "name": "东关街", "lat": "36.1", "lon": "111.5"}
    assert post(driver, "/map/routes/vehicle-01/stops", body).status_code == 403
    page = driver.get("/map").get_data(as_text=True)
    assert "map-stop draggable" not in page
    assert service.store.places.get_speaker("vehicle-01").route.stops[0].lat == 36.09994
