"""Idle and slow connections are cut at their deadlines (issue 10, item 6) on a real
`broadcaster serve`, while ordinary requests and a long poll are served meanwhile.

210 sockets on loopback: 80 dribble the request line and headers one byte at a time (well
within any per-recv timeout, so only a total deadline stops them: slowloris), 40 connect and
send nothing, 40 are kept alive idle after one answer, 40 dribble a form body and 10 a
device's heartbeat far below the minimum rate. The server runs with 2 s deadlines; a long
poll of 4 s is not cut, and a kept-alive connection that asks again every second is served
throughout.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tests.integration.harness import Server, aware_now, deployment_yaml, seconds

pytestmark = pytest.mark.integration

DEADLINE_S = 2
LONG_POLL_S = 4
# Well below body_min_bytes_per_s: 1 byte per round (0.2 s).
TIMEOUTS = (
    f"header_timeout_s: {DEADLINE_S}, idle_timeout_s: {DEADLINE_S}, "
    f"body_timeout_s: {DEADLINE_S}, body_min_bytes_per_s: 100, send_timeout_s: {DEADLINE_S}"
)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    now = aware_now()
    text = deployment_yaml(
        window_start=now - seconds(60), window_end=now + seconds(3600), speakers=1
    )
    assert "long_poll_max_s: 30}" in text
    config = tmp_path / "config.yaml"
    config.write_text(text.replace("long_poll_max_s: 30}", f"long_poll_max_s: 30, {TIMEOUTS}}}"))
    found = Server(tmp_path, config)
    found.start()
    try:
        yield found
    finally:
        found.stop()


@dataclass
class Slow:
    """One slow socket: what it does each round, and when the server closed it."""

    kind: str
    sock: socket.socket
    started: float
    drip: bytes = b""
    closed_after: float | None = None
    answer: bytes = b""
    sent: int = 0
    extra: dict[str, float] = field(default_factory=dict)


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.setblocking(False)
    return sock


def _read_answer(sock: socket.socket, timeout_s: float = 5) -> bytes:
    """One whole answer (headers and a Content-Length body)."""
    sock.settimeout(timeout_s)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    sock.setblocking(False)
    return data


def open_slow_sockets(port: int, token: str) -> list[Slow]:
    found = []
    now = time.monotonic
    for i in range(80):
        sock = _connect(port)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        found.append(Slow("headers", sock, now(), drip=f"X-Slow-{i}: ".encode() + b"a" * 10000))
    for _ in range(40):
        found.append(Slow("silent", _connect(port), now()))
    for _ in range(40):
        sock = _connect(port)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = _read_answer(sock)
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
        assert b"connection: close" not in answer.lower()  # kept alive
        found.append(Slow("idle", sock, now()))
    for _ in range(40):
        sock = _connect(port)
        body = b"name=admin&password=" + b"x" * 5000
        sock.sendall(
            b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)
        )
        found.append(Slow("body", sock, now(), drip=body))
    for _ in range(10):  # the JSON API: a device's heartbeat that stalls
        sock = _connect(port)
        body = b'{"state": "idle", "version": "' + b"1" * 500 + b'"}'
        sock.sendall(
            b"POST /api/v1/speakers/spk-1/heartbeat HTTP/1.1\r\nHost: x\r\n"
            b"Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % (token.encode(), len(body))
        )
        found.append(Slow("api body", sock, now(), drip=body))
    return found


def advance(slow: list[Slow]) -> None:
    """Each open socket sends its next byte (if it dribbles) and notices a close."""
    now = time.monotonic()
    for s in slow:
        if s.closed_after is not None:
            continue
        try:
            if s.drip and s.sent < len(s.drip):
                s.sock.send(s.drip[s.sent : s.sent + 1])
                s.sent += 1
            while True:
                data = s.sock.recv(65536)
                if not data:
                    raise ConnectionResetError
                s.answer += data
        except BlockingIOError:
            continue
        except OSError:  # EOF, reset or broken pipe: the server closed it
            s.closed_after = now - s.started
            s.sock.close()


def test_slow_and_idle_connections_are_closed_at_their_deadlines_while_others_are_served(
    server: Server,
) -> None:
    token = server.device_token("spk-1")
    events = f"{server.url}/api/v1/speakers/spk-1/events"
    auth = {"Authorization": f"Bearer {token}"}
    last = requests.get(events, headers=auth, timeout=10).json()["last"]
    poll: dict[str, object] = {}

    def long_poll() -> None:
        started = time.monotonic()
        answer = requests.get(
            events, params={"after": last, "wait": LONG_POLL_S}, headers=auth, timeout=30
        )
        poll.update(status=answer.status_code, took=time.monotonic() - started)

    slow = open_slow_sockets(server.port, token)
    poller = threading.Thread(target=long_poll)
    poller.start()
    served = []
    kept = _connect(server.port)  # one connection, kept alive, a request each second
    kept_answers = []
    try:
        for i in range(150):  # at most 30 s
            advance(slow)
            started = time.monotonic()
            response = requests.get(f"{server.url}/healthz", timeout=10)
            served.append((response.status_code, time.monotonic() - started))
            if i % 5 == 0:
                kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                kept_answers.append(_read_answer(kept)[:12])
            if all(s.closed_after is not None for s in slow) and not poller.is_alive():
                break
            time.sleep(0.2)
    finally:
        poller.join(40)
        for s in slow:
            s.sock.close()
        kept.close()
    still_open = [s.kind for s in slow if s.closed_after is None]
    assert still_open == [], f"{len(still_open)} slow sockets still open: {set(still_open)}"
    # Each was cut at its deadline, not before (generous bounds: the machine is shared).
    for kind in ("headers", "silent", "idle", "body", "api body"):
        times = sorted(s.closed_after or 0 for s in slow if s.kind == kind)
        print(f"{kind}: closed after {times[0]:.2f}..{times[-1]:.2f} s")
        assert times[0] >= DEADLINE_S - 0.5, (kind, times[0])
        assert times[-1] < DEADLINE_S + 10, (kind, times[-1])
    # Headers that never ended, and bodies that never came, are told why.
    assert all(s.answer.startswith(b"HTTP/1.1 408") for s in slow if s.kind == "headers")
    assert all(b" 408 " in s.answer.split(b"\r\n")[0] for s in slow if s.kind == "body")
    for s in slow:
        if s.kind == "api body":
            assert s.answer.startswith(b"HTTP/1.1 408"), s.answer[:300]
            assert b'"code":"timeout"' in s.answer and b'"field":"body"' in s.answer
    assert all(s.answer == b"" for s in slow if s.kind in ("silent", "idle"))
    # Meanwhile: every ordinary request answered; the long poll waited its full time.
    assert served and all(status == 200 for status, _ in served)
    assert len(kept_answers) >= 3 and set(kept_answers) == {b"HTTP/1.1 200"}
    print(f"{len(served)} requests meanwhile, slowest {max(t for _, t in served):.3f} s")
    assert poll.get("status") == 200, poll
    assert float(poll["took"]) >= LONG_POLL_S - 0.5, poll  # type: ignore[arg-type]
    assert "Traceback" not in server.log_text()
