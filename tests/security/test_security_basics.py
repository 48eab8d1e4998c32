"""Security basics: password hashes, login throttling, sessions, CSRF, cookies, headers, device
tokens (hashed, revoked, rotated) and the append-only audit log.

Uses the tests/web fixtures: `service` (a fresh SQLite store), `app`, `client`, `login_as`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, text, update

from broadcaster.config import Settings
from broadcaster.models import Role, User
from broadcaster.passwords import hash_password, verify_password
from broadcaster.service import Service
from broadcaster.store import TokenKind
from broadcaster.store import schema as t
from tests.web.conftest import NOW, PASSWORD, csrf_of, login, post
from web.app import create_app

# -- passwords ----------------------------------------------------------------------------


def test_password_hashes_are_scrypt_with_n_2_15_r_8_p_1_or_stronger() -> None:
    method, _salt, _digest = hash_password(PASSWORD).split("$")
    name, n, r, p = method.split(":")
    assert name == "scrypt"
    assert int(n) >= 2**15 and int(r) >= 8 and int(p) >= 1


def test_stored_hashes_hide_the_password_and_are_salted(service: Service) -> None:
    store = service.store
    for name in ("alice", "bob"):
        store.people.create_user(User(name, Role.ADMIN), NOW, password_hash=hash_password(PASSWORD))
    alice, bob = (
        store.people.get_user("alice").password_hash,
        store.people.get_user("bob").password_hash,
    )
    assert alice and bob and alice != bob
    for stored in (alice, bob):
        assert PASSWORD not in stored and stored != PASSWORD
        assert verify_password(stored, PASSWORD) and not verify_password(stored, PASSWORD + "x")


# -- login throttling ---------------------------------------------------------------------


def _fail(client: FlaskClient, name: str, times: int) -> list[int]:
    return [login(client, name, "wrong-password").status_code for _ in range(times)]


def test_login_throttling_holds_across_a_restart(
    app: Flask, settings: Settings, service: Service
) -> None:
    assert _fail(app.test_client(), "chief-tunli", 5) == [401] * 5
    # A new app on the same database: the count lives in the audit log, not in memory.
    again = create_app(settings, service, secret_key="another-secret", clock=lambda: NOW)
    client = again.test_client()
    refused = login(client, "chief-tunli")  # the right password, but throttled
    assert refused.status_code == 429
    assert client.get("/api/v1/speakers").status_code == 401
    # Another user from the same address is not locked out by chief-tunli's failures.
    assert login(again.test_client(), "chief-xiguan").status_code == 302


def test_login_throttling_ends_after_the_window(app: Flask, clock: list) -> None:  # type: ignore[type-arg]
    assert _fail(app.test_client(), "chief-tunli", 5) == [401] * 5
    assert login(app.test_client(), "chief-tunli").status_code == 429
    clock[0] = NOW + timedelta(minutes=16)
    assert login(app.test_client(), "chief-tunli").status_code == 302


# -- sessions -----------------------------------------------------------------------------


def test_disabling_a_user_ends_their_session_in_the_user_api(
    login_as: Callable[[str], FlaskClient], service: Service
) -> None:
    client = login_as("chief-tunli")
    assert client.get("/api/v1/speakers").status_code == 200
    service.store.people.set_user_disabled("chief-tunli", True)
    assert client.get("/api/v1/speakers").status_code == 401
    assert client.get("/api/v1/urgent").status_code == 401
    assert client.get("/messages").headers["Location"].startswith("/login")
    # Enabling the account again does not revive the old session: it was cleared.
    service.store.people.set_user_disabled("chief-tunli", False)
    assert client.get("/api/v1/speakers").status_code == 401


# -- CSRF ---------------------------------------------------------------------------------


def test_panel_forms_need_the_sessions_csrf_token(
    login_as: Callable[[str], FlaskClient], service: Service
) -> None:
    client = login_as("admin")
    form = {"title": "t", "text": "通知", "voice": "zh", "rate": "170", "volume": "1.0"}
    assert client.post("/messages/new", data={**form, "id": "m-none"}).status_code == 403
    wrong = {**form, "id": "m-wrong", "csrf_token": "forged"}
    assert client.post("/messages/new", data=wrong).status_code == 403
    ids = {m.id for m in service.store.content.list_messages()}
    assert "m-none" not in ids and "m-wrong" not in ids
    assert post(client, "/messages/new", {**form, "id": "m-ok"}).status_code == 302
    assert "m-ok" in {m.id for m in service.store.content.list_messages()}


def test_a_csrf_token_from_before_sign_in_is_useless_after(app: Flask) -> None:
    client = app.test_client()
    before = csrf_of(client)
    assert login(client, "admin").status_code == 302
    response = client.post("/logout", data={"csrf_token": before})
    assert response.status_code == 403


def test_cookie_authenticated_urgent_api_needs_the_csrf_header(
    login_as: Callable[[str], FlaskClient], service: Service
) -> None:
    client = login_as("chief-tunli")
    body = {"text": "紧急通知", "speakers": ["tunli-village-1"], "override_window": True}
    assert client.post("/api/v1/urgent", json=body).status_code == 403
    forged = client.post("/api/v1/urgent", json=body, headers={"X-CSRF-Token": "forged"})
    assert forged.status_code == 403
    assert service.store.urgents.list_urgents() == ()
    with client.session_transaction() as s:
        token = s["csrf"]
    sent = client.post("/api/v1/urgent", json=body, headers={"X-CSRF-Token": token})
    assert sent.status_code == 201
    urgent_id = sent.get_json()["id"]
    assert client.delete(f"/api/v1/urgent/{urgent_id}").status_code == 403
    cancelled = client.delete(f"/api/v1/urgent/{urgent_id}", headers={"X-CSRF-Token": token})
    assert cancelled.status_code == 200


# -- cookies ------------------------------------------------------------------------------


@pytest.mark.parametrize("secure", [True, False], ids=["secure-configured", "plain-http"])
def test_session_cookie_flags(settings: Settings, service: Service, secure: bool) -> None:
    app = create_app(settings, service, secret_key="s", clock=lambda: NOW, secure_cookies=secure)
    response = login(app.test_client(), "admin")
    assert response.status_code == 302
    cookie = next(
        c for c in response.headers.getlist("Set-Cookie") if c.startswith("broadcaster_session=")
    )
    flags = {part.strip().split("=")[0].lower(): part for part in cookie.split(";")[1:]}
    assert "httponly" in flags
    assert flags["samesite"].strip().lower() == "samesite=lax"
    assert ("secure" in flags) is secure


def test_secure_cookies_are_read_from_the_config(tmp_path: Path) -> None:
    from broadcaster.config import load_settings
    from tests.conftest import SAMPLE_CONFIG

    text = SAMPLE_CONFIG.read_text(encoding="utf-8")
    assert "\n  secure_cookies: false" in text
    path = tmp_path / "config.yaml"
    path.write_text(text.replace("secure_cookies: false", "secure_cookies: true", 1), "utf-8")
    assert load_settings(path).server.secure_cookies is True


# -- security headers ---------------------------------------------------------------------


@pytest.fixture
def device(service: Service) -> dict[str, str]:
    plain = service.store.people.issue_token(TokenKind.DEVICE, "vehicle-01", NOW)[1]
    return {"Authorization": f"Bearer {plain}"}


def _responses(client: FlaskClient, device: dict[str, str], service: Service) -> dict[str, object]:
    plan = client.get("/api/v1/speakers/vehicle-01/plan", headers=device)
    clip = plan.get_json()["items"][0]["clip"]
    login(client, "admin")
    return {
        "html page": client.get("/messages"),
        "html error": client.get("/messages/no-such"),
        "sign-in page": client.get("/login"),
        "json": client.get("/api/v1/speakers"),
        "json error": client.get("/api/v1/speakers/vehicle-01/plan"),
        "plan": plan,
        "plan 304": client.get(
            "/api/v1/speakers/vehicle-01/plan",
            headers={**device, "If-None-Match": plan.headers["ETag"]},
        ),
        "clip download": client.get(f"/api/v1/clips/{clip}", headers=device),
        "clip range": client.get(
            f"/api/v1/clips/{clip}", headers={**device, "Range": "bytes=0-99"}
        ),
        "panel clip": client.get(f"/clips/{clip}.wav"),
        "csv": client.get("/reports/plays.csv"),
        "static": client.get("/static/panel.css"),
        "openapi": client.get("/api/v1/openapi.json"),
        "healthz": client.get("/healthz"),
        "not found": client.get("/api/v1/no-such"),
        "method not allowed": client.application.test_client().put("/api/v1/urgent"),
    }


def test_every_kind_of_response_carries_the_security_headers(
    client: FlaskClient, device: dict[str, str], service: Service
) -> None:
    responses = _responses(client, device, service)
    expected_status = {"json error": 401, "html error": 404, "plan 304": 304, "clip range": 206}
    for kind, response in responses.items():
        headers = response.headers  # type: ignore[attr-defined]
        status = response.status_code  # type: ignore[attr-defined]
        assert status == expected_status.get(
            kind, 405 if "method" in kind else 404 if "not found" in kind else 200
        ), kind
        assert headers.get("X-Content-Type-Options") == "nosniff", kind
        csp = headers.get("Content-Security-Policy", "")
        assert headers.get("X-Frame-Options") == "DENY" or "frame-ancestors 'none'" in csp, kind
        assert headers.get("Referrer-Policy") in ("same-origin", "no-referrer"), kind
        if response.mimetype == "text/html":  # type: ignore[attr-defined]
            assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, kind
        response.close()  # type: ignore[attr-defined]


# -- device tokens ------------------------------------------------------------------------


def _database_bytes(service: Service) -> bytes:
    url = service.store.engine.url
    path = Path(str(url.database))
    with service.store.engine.connect() as conn:
        conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    found = b""
    for suffix in ("", "-wal", "-journal"):
        part = path.with_name(path.name + suffix)
        if part.exists():
            found += part.read_bytes()
    return found


def test_device_tokens_are_stored_hashed(service: Service) -> None:
    _record, plain = service.store.people.issue_token(TokenKind.DEVICE, "vehicle-01", NOW)
    assert service.store.people.verify_token(plain, TokenKind.DEVICE, NOW) == "vehicle-01"
    data = _database_bytes(service)
    assert plain.encode() not in data
    secret = plain.split("_", 1)[-1]  # without a kind prefix, if any
    assert secret.encode() not in data


def _new_token_of(page: str) -> str:
    match = re.search(r'<code id="new-token">([^<]+)</code>', page)
    assert match, page[:500]
    return match.group(1)


def test_device_token_rotation_and_revocation_from_the_panel(app: Flask, service: Service) -> None:
    store = service.store
    old_record, old = store.people.issue_token(TokenKind.DEVICE, "vehicle-01", NOW)
    device = app.test_client()
    plan = "/api/v1/speakers/vehicle-01/plan"

    def status(token: str) -> int:
        return device.get(plan, headers={"Authorization": f"Bearer {token}"}).status_code

    assert status(old) == 200
    admin = app.test_client()
    login(admin, "admin")
    issued = post(admin, "/speakers/vehicle-01/tokens", {"label": "rotation"})
    assert issued.status_code == 200
    new = _new_token_of(issued.get_data(as_text=True))
    assert status(new) == 200 and status(old) == 200  # both work until the old is revoked
    revoked = post(admin, f"/speakers/vehicle-01/tokens/{old_record.id}/revoke")
    assert revoked.status_code == 302
    assert status(old) == 401  # the very next request
    assert status(new) == 200


def test_a_revoked_user_token_is_refused_at_once(client: FlaskClient, service: Service) -> None:
    record, plain = service.store.people.issue_token(TokenKind.USER, "chief-tunli", NOW)
    headers = {"Authorization": f"Bearer {plain}"}
    assert client.get("/api/v1/speakers", headers=headers).status_code == 200
    service.store.people.revoke_token(record.id, NOW)
    assert client.get("/api/v1/speakers", headers=headers).status_code == 401


# -- the audit log ------------------------------------------------------------------------


def _lines(service: Service) -> list[tuple[str, str, str]]:
    return [(e.actor, e.action, e.object) for e in service.store.journal.list_audit(limit=1000)]


def test_sign_ins_and_failed_sign_ins_are_audited(app: Flask, service: Service) -> None:
    assert login(app.test_client(), "chief-tunli", "wrong-password").status_code == 401
    assert login(app.test_client(), "nobody-here", "wrong-password").status_code == 401
    assert login(app.test_client(), "chief-tunli").status_code == 302
    lines = _lines(service)
    assert ("anonymous", "login.failed", "chief-tunli") in lines
    assert ("anonymous", "login.failed", "nobody-here") in lines
    assert ("user:chief-tunli", "login", "chief-tunli") in lines


def test_failed_authorizations_are_audited(
    client: FlaskClient, service: Service, login_as: Callable[[str], FlaskClient]
) -> None:
    client.get("/api/v1/speakers")
    client.get("/api/v1/speakers", headers={"Authorization": "Bearer not-a-token"})
    device = service.store.people.issue_token(TokenKind.DEVICE, "vehicle-01", NOW)[1]
    client.get("/api/v1/speakers/vehicle-02/plan", headers={"Authorization": f"Bearer {device}"})
    login_as("chief-tunli").get("/users")
    lines = _lines(service)
    assert ("anonymous", "unauthenticated", "GET /api/v1/speakers") in lines
    assert ("speaker:vehicle-01", "denied", "GET /api/v1/speakers/vehicle-02/plan") in lines
    assert ("user:chief-tunli", "denied", "GET /users") in lines
    assert sum(1 for line in lines if line[1] == "unauthenticated") >= 2


def test_panel_edits_are_audited_with_actor_action_and_object(
    login_as: Callable[[str], FlaskClient], service: Service
) -> None:
    client = login_as("admin")
    message = {"title": "t", "text": "请注意防火。", "voice": "zh", "rate": "170", "volume": "1.0"}
    steps: list[tuple[str, dict[str, object]]] = [
        ("/messages/new", {**message, "id": "m-audit"}),
        ("/messages/m-audit", {**message, "title": "t2"}),
        (
            "/schedules/new",
            {
                "id": "s-audit",
                "program": "prevention",
                "speakers": "tunli-village-1",
                "weekdays": ["0", "1"],
                "start": "08:00",
                "end": "09:00",
                "priority": "9",
                "enabled": "1",
                "accept_conflicts": "1",
            },
        ),
        (
            "/speakers/tunli-village-1",
            {"name": "屯里村大喇叭", "kind": "fixed", "area": "tunli-village", "volume": "60"},
        ),
        (
            "/users/new",
            {
                "name": "chief-new",
                "role": "chief",
                "areas": "tunli-village",
                "password": PASSWORD,
                "password2": PASSWORD,
            },
        ),
        ("/users/chief-new", {"role": "chief", "areas": "xiaoyu-village"}),
        ("/users/chief-new/disable", {"disabled": "1"}),
        ("/schedules/s-audit/delete", {}),
        ("/messages/m-audit/delete", {}),
    ]
    for url, form in steps:
        response = post(client, url, form)
        assert response.status_code == 302, (url, response.get_data(as_text=True)[:800])
    lines = _lines(service)
    for action, obj in [
        ("message.create", "m-audit"),
        ("message.update", "m-audit"),
        ("schedule.create", "s-audit"),
        ("speaker.update", "tunli-village-1"),
        ("user.create", "chief-new"),
        ("user.update", "chief-new"),
        ("user.disable", "chief-new"),
        ("schedule.delete", "s-audit"),
        ("message.delete", "m-audit"),
    ]:
        assert ("user:admin", action, obj) in lines, (action, obj, lines[:20])


def test_urgent_sends_and_cancels_are_audited_from_the_api_and_the_panel(
    login_as: Callable[[str], FlaskClient], client: FlaskClient, service: Service
) -> None:
    _record, token = service.store.people.issue_token(TokenKind.USER, "chief-tunli", NOW)
    api = {"Authorization": f"Bearer {token}"}
    sent = client.post(
        "/api/v1/urgent",
        headers=api,
        json={"text": "紧急", "speakers": ["tunli-village-1"], "override_window": True},
    )
    assert sent.status_code == 201
    api_id = sent.get_json()["id"]
    assert client.delete(f"/api/v1/urgent/{api_id}", headers=api).status_code == 200
    panel = login_as("admin")
    form = {
        "source": "text",
        "text": "紧急通知",
        "speakers": "tunli-village-1",
        "repeats": "1",
        "interval_s": "0",
        "expires_min": "30",
        "override_window": "1",  # 10:00: outside the village's windows
    }
    preview = post(panel, "/urgent", form)  # first who will hear it, then the confirm
    assert preview.status_code == 200 and not [u for u in service.store.urgents.list_urgents()
                                               if u.id != api_id]  # fmt: skip
    key = re.search(r'name="preview_key" value="([^"]*)"', preview.get_data(as_text=True))
    assert key is not None
    confirmed = {**form, "step": "confirm", "preview_key": key.group(1), "override_confirmed": "1"}
    assert post(panel, "/urgent", confirmed).status_code == 302
    panel_id = next(u.id for u in service.store.urgents.list_urgents() if u.id != api_id)
    assert post(panel, f"/urgent/{panel_id}/cancel").status_code == 302
    lines = _lines(service)
    assert ("user:chief-tunli", "urgent.send", api_id) in lines
    assert ("user:chief-tunli", "urgent.cancel", api_id) in lines
    assert ("user:admin", "urgent.send", panel_id) in lines
    assert ("user:admin", "urgent.cancel", panel_id) in lines


def test_the_audit_log_refuses_update_and_delete(service: Service) -> None:
    store = service.store
    seq = store.journal.append_audit(NOW, "user:admin", "message.create", "m1", {}, "127.0.0.1")
    with pytest.raises(Exception, match=r"(?i)append-only|audit"), store.engine.begin() as conn:
        conn.execute(update(t.audit_log).where(t.audit_log.c.seq == seq).values(actor="x"))
    with pytest.raises(Exception, match=r"(?i)append-only|audit"), store.engine.begin() as conn:
        conn.execute(delete(t.audit_log).where(t.audit_log.c.seq == seq))
    entry = store.journal.list_audit(limit=1)[0]
    assert (entry.seq, entry.actor, entry.action, entry.object) == (
        seq,
        "user:admin",
        "message.create",
        "m1",
    )
