"""Issue 10, smaller item: anonymous 401/403s cannot fill the undeletable audit log.

Each client address gets 20 anonymous audit lines a minute; what is left out is counted in
the client's next line (`suppressed`). Signed-in users' denials are always written.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask

from broadcaster.service import Service
from tests.web.conftest import NOW, login


def _unauthenticated(service: Service) -> list:  # type: ignore[type-arg]
    return [
        e for e in service.store.journal.list_audit(limit=5000) if e.action == "unauthenticated"
    ]


def test_a_script_of_anonymous_requests_writes_a_bounded_number_of_lines(
    app: Flask, service: Service, clock: list
) -> None:  # type: ignore[type-arg]
    script = app.test_client()
    script.environ_base["REMOTE_ADDR"] = "198.51.100.30"
    for _ in range(300):
        assert script.get("/api/v1/speakers").status_code == 401
    lines = _unauthenticated(service)
    assert len(lines) == 20
    # Another client's denial is still written.
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "192.0.2.30"
    assert other.get("/api/v1/speakers").status_code == 401
    assert len(_unauthenticated(service)) == 21
    # A minute later the script's next line says how many were left out.
    clock[0] = NOW + timedelta(minutes=1)
    assert script.get("/api/v1/speakers").status_code == 401
    newest = _unauthenticated(service)[0]
    assert newest.remote_addr == "198.51.100.30"
    assert newest.detail["suppressed"] == 280


def test_signed_in_denials_are_always_written(app: Flask, service: Service) -> None:
    chief = app.test_client()
    assert login(chief, "chief-tunli").status_code == 302
    for _ in range(40):
        assert chief.get("/users").status_code == 403
    assert len(service.store.journal.list_audit(limit=5000, action="denied")) == 40


def test_a_locked_out_script_does_not_fill_the_log_with_throttled_lines(
    app: Flask, service: Service
) -> None:
    script = app.test_client()
    script.environ_base["REMOTE_ADDR"] = "198.51.100.31"
    for _ in range(5):
        assert login(script, "admin", "wrong-password").status_code == 401
    for _ in range(60):
        assert login(script, "admin", "wrong-password").status_code == 429
    assert len(service.store.journal.list_audit(limit=5000, action="login.throttled")) == 20
