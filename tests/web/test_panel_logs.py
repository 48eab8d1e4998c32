"""Issue 11, item 11: logs people can read. Jobs named for what they do, one access line per
request (never a token or a password), and a quiet start up to the URL and the admin line."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient

from broadcaster.scheduler import SchedulerShell
from broadcaster.service import Service
from broadcaster.store import TokenKind
from tests.integration.harness import Server, aware_now, deployment_yaml
from tests.web.conftest import NOW, PASSWORD, csrf_of

ACCESS = "broadcaster.access"


def _access_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == ACCESS]


def test_one_access_line_per_request_with_who_asked(
    client: FlaskClient, service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=ACCESS)
    token = csrf_of(client)  # GET /login
    client.post("/login", data={"name": "chief-tunli", "password": PASSWORD, "csrf_token": token})
    client.get("/reports?day=2025-05-06&speaker=tunli-village-1")
    device = service.store.people.issue_token(TokenKind.DEVICE, "tunli-village-1", NOW)[1]
    client.application.test_client().get(
        "/api/v1/speakers/tunli-village-1/plan", headers={"Authorization": f"Bearer {device}"}
    )
    lines = _access_lines(caplog)
    assert len(lines) == 4, lines
    shapes = [line.split(" ") for line in lines]
    assert [(s[0], s[1], s[2], s[4], s[5]) for s in shapes] == [
        ("GET", "/login", "200", "ms", "-"),
        ("POST", "/login", "302", "ms", "user:chief-tunli"),
        ("GET", "/reports", "200", "ms", "user:chief-tunli"),
        ("GET", "/api/v1/speakers/tunli-village-1/plan", "200", "ms", "speaker:tunli-village-1"),
    ]
    assert all(s[3].isdigit() for s in shapes)
    # Nothing secret in any log line: not the password, the device token, the CSRF token.
    everything = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (PASSWORD, device, token, "speaker=tunli-village-1"):
        assert secret not in everything


def test_refused_requests_are_logged_with_their_status(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=ACCESS)
    client.get("/api/v1/speakers/tunli-village-1/plan", headers={"Authorization": "Bearer nope"})
    client.get("/no-such-page")
    lines = _access_lines(caplog)
    assert [line.split(" ")[:3] for line in lines] == [
        ["GET", "/api/v1/speakers/tunli-village-1/plan", "401"],
        ["GET", "/no-such-page", "404"],
    ]
    assert "nope" not in "\n".join(lines)


def test_scheduler_jobs_are_named_for_what_they_do(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    shell = SchedulerShell(service, lambda: datetime.now(UTC))  # jobs start at "now"
    shell.start()
    try:
        jobs = shell.job_ids()
        assert {
            "lease",
            "pre-render",
            "offline",
            "expire-urgents",
            "clean-clips",
            "watch-schedules",
        } <= set(jobs)
        assert "rollup-plays" not in jobs  # it wrote a key nothing read (issue 11)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(
            j.startswith("pre-render-before:") for j in shell.job_ids()
        ):
            time.sleep(0.1)
        # Half an hour before each schedule's window: named for the schedule it prepares.
        assert "pre-render-before:villages-morning" in shell.job_ids()
        assert shell._scheduler is not None
        names = {job.name for job in shell._scheduler.get_jobs()}
        assert names == set(shell.job_ids())
    finally:
        shell.stop()


def test_a_failing_job_is_logged_by_its_name(
    service: Service, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from broadcaster import jobs

    def broken(*_: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(jobs, "expire_urgents", broken)
    shell = SchedulerShell(service, lambda: NOW)
    run = shell._guard(shell._expire, "expire-urgents")
    with caplog.at_level(logging.ERROR, logger="broadcaster.scheduler"):
        run()
    (record,) = [r for r in caplog.records if r.name == "broadcaster.scheduler"]
    assert record.getMessage() == "scheduled job expire-urgents failed"


@pytest.mark.integration
def test_a_real_server_starts_quietly_and_logs_each_request(tmp_path: Path) -> None:
    """`broadcaster serve`: no INFO line before the URL and the admin's password; then one
    access line per request and no APScheduler chatter about every job run."""
    now = aware_now()
    config = tmp_path / "config.yaml"
    config.write_text(
        deployment_yaml(
            window_start=now.replace(hour=0, minute=0, second=0),
            window_end=now.replace(hour=23, minute=59, second=0),
            speakers=2,
        ),
        encoding="utf-8",
    )
    server = Server(tmp_path, config)
    server.start()
    try:
        requests.get(server.url + "/login?next=/secret-looking-query", timeout=10)
        time.sleep(6)  # `offline` runs every 5 s
        requests.get(server.url + "/healthz", timeout=10)
        time.sleep(0.5)
        log = server.log_text()
    finally:
        server.stop()
    lines = log.splitlines()
    url_at = next(i for i, line in enumerate(lines) if line.startswith("broadcaster: serving"))
    assert lines[url_at + 1].startswith("broadcaster: first start: sign in as admin")
    assert [line for line in lines[:url_at] if " INFO " in line] == []
    assert "apscheduler" not in log and "_guard" not in log
    access = [line for line in lines if " broadcaster.access: " in line]
    said = [line.split(" broadcaster.access: ", 1)[1] for line in access]
    assert any(s.startswith("GET /login 200 ") and s.endswith(" ms -") for s in said), said
    assert any(s.startswith("GET /healthz 200 ") for s in said), said
    assert "secret-looking-query" not in log
