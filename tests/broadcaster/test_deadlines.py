"""Connection deadlines (issue 10, item 6): the phases of `ReadDeadline` on a fake clock, the
`server.*` keys, and the gevent handler's reads and sends on real (gevent) socket pairs. The
whole server against 200 slow sockets is tests/integration/test_slow_clients.py."""

from __future__ import annotations

import errno
import time
from pathlib import Path

import gevent
import pytest
from gevent import socket as gsocket

from broadcaster.config import ServerSettings, load_settings
from broadcaster.deadlines import ClientTooSlow, Phase, ReadDeadline, Timeouts, send_budget
from broadcaster.errors import ConfigError
from broadcaster.server import timeouts_of

MINIMAL = "deployment: {name: t, timezone: Asia/Shanghai}\n"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_headers_have_one_deadline_in_total_however_the_bytes_dribble() -> None:
    clock = Clock()
    deadline = ReadDeadline(Timeouts(header_s=10), clock)
    for _ in range(9):
        clock.now += 1
        deadline.received(1)  # a byte a second does not move the deadline
    assert deadline.remaining() == pytest.approx(1)
    clock.now += 1
    assert deadline.remaining() <= 0
    error = deadline.too_slow()
    assert deadline.expired and isinstance(error, TimeoutError) and error.errno == errno.ETIMEDOUT
    assert "request line and headers" in str(error)


def test_idle_until_the_next_request_begins_then_its_headers_have_their_own_time() -> None:
    clock = Clock()
    deadline = ReadDeadline(Timeouts(header_s=10, idle_s=20), clock)
    deadline.idle()
    clock.now += 19
    assert deadline.phase is Phase.IDLE and deadline.remaining() == pytest.approx(1)
    deadline.received(0)
    assert deadline.phase is Phase.IDLE
    deadline.received(1)
    assert deadline.phase is Phase.HEADERS and deadline.remaining() == pytest.approx(10)


def test_a_body_gets_its_time_from_its_first_read_plus_a_second_per_rate_bytes() -> None:
    clock = Clock()
    deadline = ReadDeadline(Timeouts(body_s=20, body_min_bytes_per_s=500), clock)
    deadline.body()
    clock.now += 300  # the application worked (a long poll, a render) before reading
    assert deadline.remaining() == pytest.approx(20)
    clock.now += 15
    deadline.received(5000)  # ten more seconds
    assert deadline.remaining() == pytest.approx(15)
    clock.now += 15
    assert deadline.remaining() <= 0
    assert "request body" in str(deadline.too_slow())


def test_sends_get_a_base_time_plus_the_rate() -> None:
    assert send_budget(Timeouts(send_s=60, body_min_bytes_per_s=500), 5000) == 70


def test_the_server_keys_have_defaults_bounds_and_reach_the_server(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(MINIMAL)
    defaults = load_settings(path).server
    assert timeouts_of(defaults) == Timeouts(10, 45, 20, 500, 60)
    # A speaker's connection outlives the wait between two heartbeats: it is used again.
    assert defaults.idle_timeout_s > defaults.heartbeat_s
    path.write_text(
        MINIMAL + "server: {header_timeout_s: 5, idle_timeout_s: 30, body_timeout_s: 40, "
        "body_min_bytes_per_s: 2000, send_timeout_s: 90}\n"
    )
    assert timeouts_of(load_settings(path).server) == Timeouts(5, 30, 40, 2000, 90)
    for bad in ("header_timeout_s: 0", "idle_timeout_s: 3601", "body_min_bytes_per_s: 0",
                "send_timeout_s: fast"):  # fmt: skip
        path.write_text(MINIMAL + f"server: {{{bad}}}\n")
        with pytest.raises(ConfigError, match=bad.split(":")[0]):
            load_settings(path)
    sample = Path(__file__).resolve().parents[2] / "config.yaml"
    assert timeouts_of(load_settings(sample).server) == timeouts_of(ServerSettings())


# -- the gevent handler on socket pairs -----------------------------------------------------


def _handler(sock: gsocket.socket, timeouts: Timeouts):  # type: ignore[no-untyped-def]
    from broadcaster.httpserver import DeadlineHandler

    handler_class = type("H", (DeadlineHandler,), {"timeouts": timeouts})
    return handler_class(sock, ("127.0.0.1", 1), None)


def test_a_dribbled_request_line_is_cut_at_the_header_deadline() -> None:
    server_side, client_side = gsocket.socketpair()
    handler = _handler(server_side, Timeouts(header_s=0.5))

    def dribble() -> None:
        for byte in b"GET /" + b"a" * 100:
            client_side.sendall(bytes([byte]))
            gevent.sleep(0.05)

    sender = gevent.spawn(dribble)
    started = time.monotonic()
    try:
        with pytest.raises(ClientTooSlow):
            handler.rfile.readline(8192)
        took = time.monotonic() - started
        assert 0.4 <= took < 3, took
        assert handler.deadline.expired
    finally:
        sender.kill()
        server_side.close()
        client_side.close()


def test_an_answer_the_client_does_not_read_is_given_up() -> None:
    server_side, client_side = gsocket.socketpair()
    server_side.setsockopt(gsocket.SOL_SOCKET, gsocket.SO_SNDBUF, 4096)
    handler = _handler(server_side, Timeouts(send_s=0.5, body_min_bytes_per_s=10**9))
    handler.code = 200
    started = time.monotonic()
    try:
        with pytest.raises(ClientTooSlow) as raised:
            handler._sendall(b"x" * (8 * 2**20))  # the client never reads
        assert raised.value.errno in handler.ignored_socket_errors  # closed, not logged
        assert 0.4 <= time.monotonic() - started < 3
    finally:
        server_side.close()
        client_side.close()


def test_answers_on_tcp_are_sent_without_waiting_for_acks() -> None:
    """pywsgi sends headers and body apart: with Nagle on, a kept-alive answer's second send
    waited for the client's delayed ACK (~40 ms a heartbeat). The handler turns it off (and a
    unix socket, which has no such option, is still served)."""
    listener = gsocket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    client = gsocket.create_connection(listener.getsockname())
    accepted, _ = listener.accept()
    try:
        assert accepted.getsockopt(gsocket.IPPROTO_TCP, gsocket.TCP_NODELAY) == 0
        _handler(accepted, Timeouts())
        assert accepted.getsockopt(gsocket.IPPROTO_TCP, gsocket.TCP_NODELAY) == 1
    finally:
        for s in (accepted, client, listener):
            s.close()
    unix_a, unix_b = gsocket.socketpair()
    try:
        _handler(unix_a, Timeouts())
    finally:
        unix_a.close()
        unix_b.close()
