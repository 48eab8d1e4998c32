"""The client's HTTP transport and retries (issue 11, item 5): kept-alive pooled connections,
304 for an unchanged plan, the long poll beside other requests, timeouts, TLS verified as
the standard library does, proxies from the environment, and log lines on changes of state
only (one when the server stops answering, one when it is back), not on every attempt."""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from audio.player import FileSink
from broadcaster.client.api import ApiError, DeviceApi, Unauthorized, Unreachable
from broadcaster.client.app import Client, Options
from broadcaster.client.cache import ClipError, ClipStore, PlanStore
from broadcaster.client.clock import Clock
from broadcaster.client.plan import Plan, parse_plan
from broadcaster.client.retry import Link, Retry
from broadcaster.client.sync import Syncer
from tests.client.fakes import SPEAKER, TOKEN, StubServer, make_clip, plan_body

RETRY_LOG = "broadcaster.client.retry"


@pytest.fixture
def server() -> Iterator[StubServer]:
    with StubServer() as s:
        yield s


@pytest.fixture
def api(server: StubServer) -> Iterator[DeviceApi]:
    a = DeviceApi(server.url, SPEAKER, TOKEN, Clock())
    yield a
    a.close()


def _one_window_plan(server: StubServer) -> None:
    t0 = datetime.now(UTC)
    clip = make_clip("loop01", 0.3)
    server.serve(
        plan_body(
            [(t0, t0 + timedelta(hours=1))], [(t0 + timedelta(minutes=5), clip, "loop", None)]
        ),
        [clip],
    )


def test_requests_share_one_kept_alive_connection(
    server: StubServer, api: DeviceApi, tmp_path: Path
) -> None:
    _one_window_plan(server)
    for _ in range(5):
        api.heartbeat({"state": "idle"})
    first = api.get_plan(None)
    assert first.status == 200 and first.etag
    assert api.get_plan(first.etag).status == 304
    plan = parse_plan(first.body or {}, first.etag)
    assert ClipStore(tmp_path).ensure(plan.clips["loop01"], api.download)
    api.plays([])
    assert len(server.state.requests) == 9
    assert server.state.connections == 1  # urllib opened one connection per request


def test_a_kept_alive_connection_closed_meanwhile_is_replaced_at_once(
    server: StubServer, api: DeviceApi
) -> None:
    api.heartbeat({"state": "idle"})
    server.state.drop_reused = 1  # the next request on that connection finds it closed
    api.heartbeat({"state": "playing"})
    assert [h["state"] for h in server.state.heartbeats] == ["idle", "playing"]
    assert server.state.connections == 2 and api.link.online is True


def test_an_unchanged_plan_is_a_304_and_the_saved_plan_stays(
    server: StubServer, api: DeviceApi, tmp_path: Path
) -> None:
    _one_window_plan(server)
    switched: list[Plan] = []
    syncer = Syncer(
        api,
        ClipStore(tmp_path),
        PlanStore(tmp_path),
        lambda: switched[-1] if switched else None,
        switched.append,
        api.clock.now,
    )
    assert syncer.sync_once() is True
    assert syncer.sync_once() is False
    assert server.state.not_modified == 1  # asked with If-None-Match, answered without a body
    assert len(switched) == 1 and syncer.last_sync is not None
    server.state.plan = {**(server.state.plan or {}), "heartbeat_s": 7}
    assert syncer.sync_once() is True and switched[-1].heartbeat_s == 7
    assert server.state.not_modified == 1


def test_the_long_poll_waits_on_its_own_connection_while_heartbeats_go(
    server: StubServer, api: DeviceApi
) -> None:
    assert api.events(None, 5)["last"] == 0
    got: list[dict[str, object]] = []
    poll = threading.Thread(target=lambda: got.append(api.events(0, 5)))
    poll.start()
    time.sleep(0.3)
    for _ in range(3):
        api.heartbeat({"state": "idle"})  # not queued behind the waiting poll
    assert poll.is_alive()
    server.state.push_event("resync", {})
    poll.join(5)
    assert not poll.is_alive()
    events = got[0]["events"]
    assert isinstance(events, list) and [e["kind"] for e in events] == ["resync"]
    assert server.state.connections == 2


def test_a_server_that_never_answers_times_out(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)  # accepts connections (the kernel does), never answers
        api = DeviceApi(f"http://127.0.0.1:{listener.getsockname()[1]}", SPEAKER, TOKEN, Clock())
        api.timeout_s = 0.5
        started = time.monotonic()
        with pytest.raises(Unreachable, match="timed out"):
            api.heartbeat({"state": "idle"})
        assert time.monotonic() - started < 10  # generous: one try of 0.5 s, not a hang
        api.close()


def test_errors_keep_their_kinds(server: StubServer, api: DeviceApi) -> None:
    server.state.fail_with = 503
    with pytest.raises(Unreachable) as unreachable:
        api.heartbeat({})
    assert unreachable.value.status == 503 and "stub failure" in str(unreachable.value)
    server.state.fail_with = 422
    with pytest.raises(ApiError) as refused:
        api.plays([])
    assert refused.value.status == 422 and not isinstance(refused.value, Unreachable)
    server.state.fail_with = None
    bad = DeviceApi(server.url, SPEAKER, "wrong", Clock())
    with pytest.raises(Unauthorized, match="401 bad token"):
        bad.heartbeat({})
    bad.close()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    gone = DeviceApi(f"http://127.0.0.1:{port}", SPEAKER, TOKEN, Clock())
    with pytest.raises(Unreachable, match="refused"):
        gone.heartbeat({})
    gone.close()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (made by the openssl command)."""
    openssl = shutil.which("openssl")
    assert openssl, "openssl is needed (scripts/bootstrap.sh installs it)"
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_tls_is_verified_against_the_system_cas_or_ssl_cert_file(
    certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, _ = certificate
    with StubServer(tls=certificate) as tls:
        untrusted = DeviceApi(tls.url, SPEAKER, TOKEN, Clock())
        with pytest.raises(Unreachable, match="CERTIFICATE_VERIFY_FAILED"):
            untrusted.heartbeat({})
        untrusted.close()
        assert tls.state.heartbeats == []
        # A private CA, as README says: SSL_CERT_FILE in the client's environment.
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        trusted = DeviceApi(tls.url, SPEAKER, TOKEN, Clock())
        trusted.heartbeat({"state": "idle"})
        trusted.heartbeat({"state": "idle"})
        trusted.close()
        assert len(tls.state.heartbeats) == 2 and tls.state.connections == 1
        # The name is checked too: the certificate is for 127.0.0.1, not for localhost.
        by_name = DeviceApi(tls.url.replace("127.0.0.1", "localhost"), SPEAKER, TOKEN, Clock())
        with pytest.raises(Unreachable, match=r"CERTIFICATE_VERIFY_FAILED|match"):
            by_name.heartbeat({})
        by_name.close()
        assert len(tls.state.heartbeats) == 2


def test_a_proxy_from_the_environment_is_used(
    server: StubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("no_proxy", "NO_PROXY", "HTTP_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("http_proxy", server.url)  # the stub answers absolute-URI requests
    api = DeviceApi("http://broadcaster.invalid:8080", SPEAKER, TOKEN, Clock())
    api.heartbeat({"state": "idle"})
    api.close()
    assert server.state.requests == [
        f"POST http://broadcaster.invalid:8080/api/v1/speakers/{SPEAKER}/heartbeat"
    ]


def test_link_logs_one_line_going_down_and_one_coming_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, RETRY_LOG)
    now = [100.0]
    link = Link("http://server", mono=lambda: now[0])
    link.up()
    for _ in range(5):
        link.down("connection refused")
        now[0] += 10
    link.up(asked=120.0)  # a long poll sent before the outage, answered during it
    link.up()
    link.up()
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "the server http://server does not answer (connection refused); "
        "playing from the cache and retrying",
        "the server http://server answers again after 50 s (5 requests failed meanwhile)",
    ]
    assert [r.levelno for r in caplog.records] == [logging.WARNING, logging.INFO]


def test_retry_logs_when_the_way_it_fails_changes_not_each_try(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, RETRY_LOG)
    retry = Retry("sync")
    delays = [retry.failed(ClipError("2 clip(s) not available yet")) for _ in range(6)]
    assert all(1.0 <= d <= 60.0 for d in delays) and max(delays) > 1.0  # it backs off
    for _ in range(3):
        assert retry.failed(Unreachable("GET plan: refused")) <= 60.0  # the Link says it
    assert retry.failed(Unauthorized("GET plan: 401 bad token", 401)) == 60.0
    retry.failed(Unauthorized("GET plan: 401 bad token", 401))
    retry.failed(KeyError("bug"))
    retry.failed(KeyError("bug"))
    retry.succeeded()
    retry.succeeded()
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (
            logging.WARNING,
            "sync failed: 2 clip(s) not available yet; retrying (logged again when this changes)",
        ),
        (
            logging.ERROR,
            "sync: the server rejects our token (GET plan: 401 bad token); retrying every 60 s",
        ),
        (logging.ERROR, "sync failed unexpectedly; retrying (logged again when this changes)"),
        (logging.INFO, "sync works again (after 13 failed tries)"),
    ]
    assert caplog.records[2].exc_info is not None  # a bug keeps its traceback
    assert retry.backoff.failures == 0


@pytest.mark.slow  # kept out of `make test` (10 minutes); runs in `make test-slow`
def test_a_client_logs_an_outage_in_two_lines_however_often_it_retries(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "broadcaster.client")
    t0 = datetime.now(UTC)
    clip = make_clip("loop01", 0.3)
    body = plan_body(
        [(t0, t0 + timedelta(minutes=5))],
        [(t0 + timedelta(minutes=4), clip, "loop", None)],
        heartbeat_s=1,
    )
    server = StubServer().__enter__()
    server.serve(body, [clip])
    client = Client(
        Options(server.url, SPEAKER, TOKEN, tmp_path / "cache", events_wait_s=1, upload_idle_s=0.5),
        FileSink(tmp_path / "out.wav"),
    )
    client.start()
    link = client.api.link
    try:
        assert _wait(lambda: bool(server.state.heartbeats))
        # The server goes away (connections refused) for 4 s, then comes back.
        server.__exit__()
        time.sleep(4)
        failures = link.failures
        server = StubServer(port=int(server.url.rsplit(":", 1)[1]), state=server.state)
        server.__enter__()
        assert _wait(lambda: link.online is True)
        gone = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        back = [r.getMessage() for r in caplog.records if "answers again" in r.getMessage()]
        # Then it answers, but 503 to everything for 5 s: each loop says so once.
        caplog.clear()
        before = len(server.state.requests)
        server.state.fail_with = 503
        time.sleep(5)
        server.state.fail_with = None
        refused = len(server.state.requests) - before
        assert _wait(lambda: "heartbeat works again" in caplog.text)
    finally:
        client.stop(upload_timeout_s=0.5)
        server.__exit__()
    assert failures >= 6  # heartbeats, syncs, polls and uploads kept trying
    assert len(gone) == 1 and "does not answer" in gone[0] and "refused" in gone[0]
    assert len(back) == 1
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    loops = [w.split(" failed")[0] for w in warned]
    assert refused >= 6 and "heartbeat" in loops and len(loops) == len(set(loops)), warned
    assert all("503 stub failure" in w for w in warned) and "does not answer" not in caplog.text


def _wait(cond: Callable[[], bool], timeout_s: float = 10) -> bool:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_sync_failing_for_another_cause_says_so(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, RETRY_LOG)
    retry = Retry("sync")

    def summary(cause: Exception) -> ClipError:
        try:
            raise ClipError(f"1 clip(s) not available yet (abc: {cause})") from cause
        except ClipError as exc:
            return exc

    for _ in range(3):
        retry.failed(summary(ClipError("do not match the plan")))
    for _ in range(3):
        retry.failed(summary(Unreachable("GET clip: download broke off after 10 of 20 bytes")))
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert "do not match the plan" in lines[0] and "download broke off" in lines[1]
