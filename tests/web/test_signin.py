"""Sign-in, sessions, cookie flags, CSRF and login throttling."""

from __future__ import annotations

from flask.testing import FlaskClient

from broadcaster.service import Service
from tests.web.conftest import PASSWORD, csrf_of, login, post


def session_cookie_header(response) -> str:  # type: ignore[no-untyped-def]
    return next(h for h in response.headers.getlist("Set-Cookie") if "broadcaster_session" in h)


def test_sign_in_sets_a_secure_http_only_same_site_cookie(client: FlaskClient) -> None:
    response = login(client, "chief-tunli")
    assert response.status_code == 302
    cookie = session_cookie_header(response)
    assert "HttpOnly" in cookie
    assert "Secure" in cookie
    assert "SameSite=Lax" in cookie


def test_pages_need_a_session_and_send_you_to_sign_in(client: FlaskClient) -> None:
    response = client.get("/messages")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_wrong_password_is_refused_and_audited(client: FlaskClient, service: Service) -> None:
    response = login(client, "chief-tunli", "wrong-password")
    assert response.status_code == 401
    assert "用户名或密码错误" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302
    failed = service.store.journal.list_audit(action="login.failed")
    assert [e.object for e in failed] == ["chief-tunli"]


def test_five_failures_lock_the_name_for_this_address(
    client: FlaskClient, service: Service
) -> None:
    for _ in range(5):
        assert login(client, "chief-tunli", "nope-nope").status_code == 401
    response = login(client, "chief-tunli")  # even the right password now
    assert response.status_code == 429
    assert "15 分钟" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302
    assert service.store.journal.list_audit(action="login.throttled")
    # Another name from the same address is not affected.
    assert login(client, "chief-xiguan").status_code == 302


def test_failures_older_than_15_minutes_do_not_count(client: FlaskClient, clock) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    for _ in range(5):
        login(client, "chief-tunli", "nope-nope")
    clock[0] = clock[0] + timedelta(minutes=16)
    assert login(client, "chief-tunli").status_code == 302


def test_login_without_csrf_token_is_refused(client: FlaskClient, service: Service) -> None:
    csrf_of(client)
    response = client.post("/login", data={"name": "chief-tunli", "password": PASSWORD})
    assert response.status_code == 403
    assert not service.store.journal.list_audit(action="login")


def test_form_post_without_or_with_wrong_csrf_changes_nothing(login_as, service: Service) -> None:  # type: ignore[no-untyped-def]
    client = login_as("admin")
    before = service.store.catalog_revision()
    data = {"title": "新标题", "text": "注意安全。", "voice": "zh", "rate": "170", "volume": "1"}
    assert client.post("/messages/new", data=data).status_code == 403
    assert client.post("/messages/new", data={**data, "csrf_token": "forged"}).status_code == 403
    assert service.store.catalog_revision() == before
    assert post(client, "/messages/new", data).status_code == 302
    assert service.store.catalog_revision() == before + 1


def test_cookie_authenticated_urgent_api_needs_the_csrf_header(login_as, service: Service) -> None:  # type: ignore[no-untyped-def]
    client = login_as("chief-tunli")
    # 10:00: the village's windows are 07-09 and 17:30-19, so the chief overrides them
    body = {"text": "紧急通知", "speakers": ["tunli-village-1"], "override_window": True}
    response = client.post("/api/v1/urgent", json=body)
    assert response.status_code == 403
    assert not service.store.urgents.list_urgents()
    with client.session_transaction() as s:
        token = s["csrf"]
    response = client.post("/api/v1/urgent", json=body, headers={"X-CSRF-Token": token})
    assert response.status_code == 201, response.get_json()
    urgent_id = response.get_json()["id"]
    assert client.delete(f"/api/v1/urgent/{urgent_id}").status_code == 403
    assert (
        client.delete(f"/api/v1/urgent/{urgent_id}", headers={"X-CSRF-Token": token}).status_code
        == 200
    )


def test_bearer_token_api_stays_free_of_csrf(client: FlaskClient, service: Service, clock) -> None:  # type: ignore[no-untyped-def]
    from broadcaster.store import TokenKind

    _record, token = service.store.people.issue_token(TokenKind.USER, "chief-tunli", clock[0])
    body = {"text": "紧急通知", "speakers": ["tunli-village-1"], "override_window": True}
    response = client.post(
        "/api/v1/urgent", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 201


def test_disabling_a_user_ends_their_session(app, service: Service) -> None:  # type: ignore[no-untyped-def]
    chief = app.test_client()
    assert login(chief, "chief-tunli").status_code == 302
    assert chief.get("/messages").status_code == 200
    admin = app.test_client()
    assert login(admin, "admin").status_code == 302
    assert post(admin, "/users/chief-tunli/disable", {"disabled": "1"}).status_code == 302
    assert service.store.people.get_user("chief-tunli").disabled
    response = chief.get("/messages")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert login(chief, "chief-tunli").status_code == 401


def test_password_change_ends_old_sessions(app) -> None:  # type: ignore[no-untyped-def]
    chief = app.test_client()
    login(chief, "chief-tunli")
    admin = app.test_client()
    login(admin, "admin")
    response = post(
        admin,
        "/users/chief-tunli",
        {
            "role": "chief",
            "areas": "tunli-village",
            "password": "another-pass-9",
            "password2": "another-pass-9",
        },
    )
    assert response.status_code == 302
    assert chief.get("/").status_code == 302


def test_logout_needs_csrf_and_ends_the_session(login_as) -> None:  # type: ignore[no-untyped-def]
    client = login_as("chief-tunli")
    assert client.post("/logout").status_code == 403
    assert client.get("/").status_code == 200
    assert post(client, "/logout").status_code == 302
    assert client.get("/").status_code == 302


def test_a_cookie_copied_before_logout_is_refused_after_it(app, login_as) -> None:  # type: ignore[no-untyped-def]
    client = login_as("chief-tunli")
    cookie = client.get_cookie("broadcaster_session")
    assert cookie is not None
    copy = app.test_client()
    copy.set_cookie(cookie.key, cookie.value, domain=cookie.domain)
    assert copy.get("/").status_code == 200  # the copy works while the session lasts
    assert post(client, "/logout").status_code == 302
    response = copy.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert login_as("chief-tunli").get("/").status_code == 200  # signing in again works


def test_an_ended_session_cannot_sign_out_the_new_one(app, login_as) -> None:  # type: ignore[no-untyped-def]
    client = login_as("chief-tunli")
    cookie = client.get_cookie("broadcaster_session")
    assert cookie is not None
    with client.session_transaction() as s:
        stale_csrf = s["csrf"]
    assert post(client, "/logout").status_code == 302
    fresh = login_as("chief-tunli")
    stale = app.test_client()
    stale.set_cookie(cookie.key, cookie.value, domain=cookie.domain)
    assert stale.post("/logout", data={"csrf_token": stale_csrf}).status_code == 302
    assert fresh.get("/").status_code == 200


def test_sign_in_redirects_only_within_the_site(client: FlaskClient) -> None:
    token = csrf_of(client)
    response = client.post(
        "/login",
        data={
            "name": "admin",
            "password": PASSWORD,
            "csrf_token": token,
            "next": "//evil.example/",
        },
    )
    assert response.headers["Location"] == "/"


def test_english_on_request(client: FlaskClient) -> None:
    assert "登录" in client.get("/login").get_data(as_text=True)
    page = client.get("/login?lang=en").get_data(as_text=True)
    assert "Sign in" in page and "登录" not in page
