"""Every panel page is checked against the user's role and areas on the server.

Scoping: district-wide messages/programs (no owner) are seen by admins and chiefs and edited
by admins; a chief's own messages/programs belong to one of their areas and are invisible
(404) to other chiefs; schedules are visible to a chief when all their targets are theirs.
"""

from __future__ import annotations

import pytest

from broadcaster import editing
from broadcaster.models import Message, Program, Schedule
from broadcaster.service import Service
from tests.web.conftest import NOW, login, post

ADMIN_PAGES = [
    "/",
    "/dashboard/cards",
    "/messages",
    "/messages/new",
    "/messages/masks",
    "/lexicon",
    "/programs",
    "/programs/new",
    "/programs/prevention",
    "/schedules",
    "/schedules/new",
    "/schedules/vehicles-daily",
    "/speakers",
    "/speakers/new",
    "/speakers/vehicle-01",
    "/speakers/vehicle-01/sheet",
    "/areas",
    "/urgent",
    "/reports",
    "/reports/plays.csv",
    "/audit",
    "/users",
    "/users/new",
    "/users/chief-tunli",
]


@pytest.fixture
def village_objects(service: Service) -> None:
    """A message, program and schedule owned by 屯里村 (chief-tunli's village)."""
    store = service.store
    store.content.create_message(Message("tunli-msg", "屯里村通知", "屯里村今晚停水。"), NOW)
    editing.set_owner(store, "message", "tunli-msg", "tunli-village")
    store.content.create_program(Program("tunli-prog", "屯里村循环", ("tunli-msg", "masks"), 3))
    editing.set_owner(store, "program", "tunli-prog", "tunli-village")
    store.schedules.create_schedule(
        Schedule("tunli-sched", "tunli-prog", speaker_ids=("tunli-village-1",), priority=5), NOW
    )


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_admin_sees_every_page(login_as, path: str) -> None:  # type: ignore[no-untyped-def]
    client = login_as("admin")
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    response.close()


@pytest.mark.parametrize(
    "path",
    ["/users", "/users/new", "/users/admin", "/audit", "/speakers/new"],
)
def test_admin_only_pages_are_forbidden_to_a_chief(login_as, path: str) -> None:  # type: ignore[no-untyped-def]
    client = login_as("chief-tunli")
    assert client.get(path).status_code == 403


@pytest.mark.parametrize(
    "path",
    [
        "/messages",
        "/messages/new",
        "/programs",
        "/schedules",
        "/urgent",
        "/reports",
        "/lexicon",
        "/users",
        "/audit",
    ],
)
def test_an_operator_gets_only_their_vehicle(login_as, path: str) -> None:  # type: ignore[no-untyped-def]
    client = login_as("driver-01")
    assert client.get(path).status_code == 403
    dashboard = client.get("/").get_data(as_text=True)
    assert 'id="speaker-vehicle-01"' in dashboard
    assert 'id="speaker-vehicle-02"' not in dashboard
    assert client.get("/speakers/vehicle-02").status_code == 404
    assert client.get("/speakers/vehicle-01/sheet").status_code == 200


def test_nav_offers_only_what_the_role_may_use(login_as) -> None:  # type: ignore[no-untyped-def]
    page = login_as("chief-tunli").get("/").get_data(as_text=True)
    assert 'href="/users"' not in page and 'href="/audit"' not in page
    assert 'href="/urgent"' in page


@pytest.mark.usefixtures("village_objects")
@pytest.mark.parametrize(
    "path",
    [
        "/messages/tunli-msg",
        "/messages/tunli-msg/audio.wav",
        "/programs/tunli-prog",
        "/schedules/tunli-sched",
        "/speakers/tunli-village-1",
        "/speakers/tunli-village-1/sheet",
        "/reports?speaker=tunli-village-1",
    ],
)
def test_another_villages_chief_gets_404_by_url(app, path: str) -> None:  # type: ignore[no-untyped-def]
    own = app.test_client()
    login(own, "chief-tunli")
    response = own.get(path)
    assert response.status_code == 200
    response.close()  # a streamed file answer holds its file open until closed
    other = app.test_client()
    login(other, "chief-xiguan")
    response = other.get(path)
    if path.startswith("/reports"):
        assert response.status_code == 200
        assert "屯里村大喇叭" not in response.get_data(as_text=True)
    else:
        assert response.status_code == 404


@pytest.mark.usefixtures("village_objects")
def test_another_villages_chief_sees_none_of_its_objects_in_lists(login_as) -> None:  # type: ignore[no-untyped-def]
    client = login_as("chief-xiguan")
    for path in ("/", "/messages", "/programs", "/schedules", "/speakers", "/urgent", "/reports"):
        page = client.get(path).get_data(as_text=True)
        for marker in ("tunli-msg", "屯里村通知", "tunli-prog", "tunli-sched", "屯里村大喇叭"):
            assert marker not in page, (path, marker)


@pytest.mark.usefixtures("village_objects")
def test_another_villages_chief_cannot_post_to_its_objects(app, service: Service) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    login(client, "chief-xiguan")
    before = service.store.catalog_revision()
    form = {
        "title": "x",
        "text": "改掉",
        "voice": "zh",
        "rate": "170",
        "volume": "1",
        "area": "xiguan-community",
    }
    assert post(client, "/messages/tunli-msg", form).status_code == 404
    assert post(client, "/messages/tunli-msg/delete").status_code == 404
    assert post(client, "/programs/tunli-prog/delete").status_code == 404
    assert post(client, "/schedules/tunli-sched/delete").status_code == 404
    assert post(client, "/speakers/vehicle-01/route", {"stop_name": "x"}).status_code == 404
    response = post(
        client,
        "/urgent",
        {
            "source": "text",
            "text": "测试",
            "speakers": "tunli-village-1",
            "repeats": "1",
            "interval_s": "0",
            "expires_min": "10",
        },
    )
    assert response.status_code == 422
    assert service.store.catalog_revision() == before
    assert not service.store.urgents.list_urgents()


def test_chief_cannot_edit_district_wide_messages(login_as, service: Service) -> None:  # type: ignore[no-untyped-def]
    client = login_as("chief-tunli")
    page = client.get("/messages/masks").get_data(as_text=True)
    assert "只有区里可以修改" in page
    form = {
        "title": "x",
        "text": "改掉",
        "voice": "zh",
        "rate": "170",
        "volume": "1",
        "area": "tunli-village",
    }
    assert post(client, "/messages/masks", form).status_code == 403
    assert service.store.content.get_message("masks").title == "戴口罩、保持距离"
    assert service.store.journal.list_audit(action="denied")


def test_denied_requests_are_audited(login_as, service: Service) -> None:  # type: ignore[no-untyped-def]
    login_as("chief-tunli").get("/users")
    denied = service.store.journal.list_audit(action="denied")
    assert denied and denied[0].actor == "user:chief-tunli" and "/users" in denied[0].object
