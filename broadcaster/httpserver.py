"""gevent's WSGI server with connection deadlines (see `broadcaster.deadlines`).

pywsgi reads requests through `handler.rfile`; here that file reads the socket through
`DeadlineReader`, which gives every recv what is left of the connection's deadline. The
handler moves the deadline from phase to phase: headers at the start, body once the headers
are parsed, idle after each answer. A read that runs out of time raises `ClientTooSlow` (an
OSError with ETIMEDOUT): pywsgi then closes the connection quietly (request line), answers
408 (headers), or the application answers 408 (body, see web/errors.py); the connection is
closed in every case.

Imported only by `broadcaster serve`, after gevent has patched the standard library.
"""

from __future__ import annotations

import contextlib
import errno
import io
import logging
import socket
from typing import Any

import gevent
from gevent import Timeout, pywsgi

from broadcaster.deadlines import ClientTooSlow, ReadDeadline, Timeouts, send_budget

log = logging.getLogger(__name__)

_TIMEOUT_BODY = b"the request did not arrive in time\n"
REQUEST_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Type: text/plain\r\n"
    b"Content-Length: %d\r\n\r\n" % len(_TIMEOUT_BODY)
) + _TIMEOUT_BODY


class DeadlineReader(io.RawIOBase):
    """The socket's bytes, each recv bounded by what is left of the connection's deadline."""

    def __init__(self, sock: socket.socket, deadline: ReadDeadline) -> None:
        super().__init__()
        self.sock = sock
        self.deadline = deadline

    @property
    def _sock(self) -> socket.socket:
        """The socket itself, for a WebSocket that takes the connection over after the
        upgrade (simple-websocket looks for `wsgi.input.raw._sock` under gevent); the
        application then owns the connection and its timeouts, as with a long poll."""
        return self.sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        remaining = self.deadline.remaining()
        if remaining <= 0:
            raise self.deadline.too_slow()
        previous = self.sock.gettimeout()
        self.sock.settimeout(remaining)
        try:
            count = self.sock.recv_into(buffer)
        except TimeoutError:  # socket.timeout
            raise self.deadline.too_slow() from None
        finally:
            self.sock.settimeout(previous)
        self.deadline.received(count)
        return count


class DeadlineHandler(pywsgi.WSGIHandler):
    """pywsgi's handler with the deadlines of `timeouts` (set on a subclass per server)."""

    timeouts = Timeouts()
    # A send that ran out of time is the client's doing: no traceback, just close.
    ignored_socket_errors = (*pywsgi.WSGIHandler.ignored_socket_errors, errno.ETIMEDOUT)

    def __init__(self, sock: Any, address: Any, server: Any) -> None:
        # pywsgi writes an answer's headers and body in two sends: with Nagle's algorithm the
        # second waited ~40 ms for the client's delayed ACK on every kept-alive answer (a
        # heartbeat took 51 ms instead of 3).
        with contextlib.suppress(OSError):  # not TCP (a unix socket): nothing to turn off
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.deadline = ReadDeadline(self.timeouts)
        reader = io.BufferedReader(DeadlineReader(sock, self.deadline))
        super().__init__(sock, address, server, rfile=reader)
        self.requests = 0

    def handle_one_request(self):  # type: ignore[no-untyped-def]
        if self.requests:
            self.deadline.idle()  # the connection was kept alive for another request
            # Round robin: a client that sends its next request at once (or pipelines) must
            # not keep the loop to itself while other connections wait.
            gevent.sleep(0)
        self.requests += 1
        return super().handle_one_request()

    def read_request(self, raw_requestline: str) -> bool:
        parsed = bool(super().read_request(raw_requestline))
        self.deadline.body()
        return parsed

    def handle_one_response(self) -> None:
        super().handle_one_response()
        if self.deadline.expired:  # what is left of the request cannot be told from the next
            self.close_connection = True

    def _handle_client_error(self, ex: BaseException):  # type: ignore[no-untyped-def]
        if isinstance(ex, ClientTooSlow):
            log.info("closed a connection from %s: %s", self.client_address, ex.strerror)
            return ("408", REQUEST_TIMEOUT)
        return super()._handle_client_error(ex)

    def _sendall(self, data: bytes) -> None:
        budget = send_budget(self.timeouts, len(data))
        with Timeout(budget, ClientTooSlow("answer (it did not read it)")):
            super()._sendall(data)


STALL_MS = 100  # a loop this late is logged: every request in flight waited as long


def watch_loop(every_s: float = 0.02, clock: Any = None) -> None:
    """Forever: how late the request loop wakes a greenlet that sleeps `every_s`; a stall
    of `STALL_MS` or more (a blocking call, a long computation, or the machine's CPU taken
    by others) is logged with its length, so slow answers can be told from a busy loop."""
    import time

    now = clock or time.perf_counter
    while True:
        started = now()
        gevent.sleep(every_s)
        late_ms = (now() - started - every_s) * 1000
        if late_ms >= STALL_MS:
            log.warning("the request loop stalled for %d ms", late_ms)


def make_server(listener: tuple[str, int], application: Any, timeouts: Timeouts) -> Any:
    """A WSGI server for `application` whose connections keep to `timeouts`."""
    from gevent import pool

    handler = type("Handler", (DeadlineHandler,), {"timeouts": timeouts})
    return pywsgi.WSGIServer(
        listener, application, spawn=pool.Pool(20_000), log=None, handler_class=handler
    )
