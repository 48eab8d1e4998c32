"""How long the server waits for a client: the bookkeeping behind `broadcaster serve`'s
connection timeouts (the gevent side is in `broadcaster.httpserver`).

gevent's WSGI server waits for ever on a client that sends nothing or dribbles bytes: 200
such sockets held 200 greenlets and file descriptors for as long as the clients liked. Each
connection now has one deadline for whatever it is reading, by phase:

- HEADERS: the request line and headers arrive within `header_timeout_s` in total (a
  client sending one byte every few seconds is still cut at the deadline: slowloris);
- IDLE: between requests on a kept-alive connection, the next request begins within
  `idle_timeout_s` (its first byte starts its own HEADERS deadline);
- BODY: the body gets `body_timeout_s` from its first read, plus one second for every
  `body_min_bytes_per_s` bytes received (a slow but steady upload goes through; a stalled
  one does not).

Nothing counts while the application works on a request: a long poll
(`GET .../events?wait=25`) waits as long as the application wants. Writing an answer is
bounded separately (`send_budget`).
"""

from __future__ import annotations

import errno
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum


class ClientTooSlow(TimeoutError):
    """The client did not send (or take) its bytes in time; the connection is closed."""

    def __init__(self, what: str) -> None:
        super().__init__(errno.ETIMEDOUT, f"the client was too slow sending the {what}")
        self.what = what


@dataclass(frozen=True, slots=True)
class Timeouts:
    """The limits (`server.*` in config.yaml)."""

    header_s: float = 10.0
    idle_s: float = 20.0
    body_s: float = 20.0
    body_min_bytes_per_s: int = 500
    send_s: float = 60.0


class Phase(Enum):
    HEADERS = "request line and headers"
    IDLE = "next request"
    BODY = "request body"


class ReadDeadline:
    """The deadline of one connection's reads (one greenlet uses it: no locking)."""

    def __init__(self, timeouts: Timeouts, clock: Callable[[], float] = time.monotonic) -> None:
        self.timeouts = timeouts
        self.clock = clock
        self.phase = Phase.HEADERS
        self._until = clock() + timeouts.header_s
        self._body_started: float | None = None
        self._body_bytes = 0
        self.expired = False  # a read ran out of time: the stream is out of step, close it

    def headers(self) -> None:
        """A request begins: its request line and headers are due within `header_s`."""
        self.phase = Phase.HEADERS
        self._until = self.clock() + self.timeouts.header_s

    def idle(self) -> None:
        """An answer went out: the next request must begin within `idle_s`."""
        self.phase = Phase.IDLE
        self._until = self.clock() + self.timeouts.idle_s

    def body(self) -> None:
        """The headers are in: reads are now of the body (its clock starts at its first read)."""
        self.phase = Phase.BODY
        self._body_started = None
        self._body_bytes = 0

    def remaining(self) -> float:
        """Seconds the next read may wait."""
        now = self.clock()
        if self.phase is Phase.BODY:
            if self._body_started is None:
                self._body_started = now
            allowed = self.timeouts.body_s + self._body_bytes / self.timeouts.body_min_bytes_per_s
            return self._body_started + allowed - now
        return self._until - now

    def received(self, count: int) -> None:
        """`count` bytes arrived."""
        if self.phase is Phase.IDLE and count:
            self.headers()  # the next request has begun
        elif self.phase is Phase.BODY:
            self._body_bytes += count

    def too_slow(self) -> ClientTooSlow:
        """The error for a read that ran out of time (and remember that one did)."""
        self.expired = True
        return ClientTooSlow(self.phase.value)


def send_budget(timeouts: Timeouts, size: int) -> float:
    """Seconds to hand `size` bytes of an answer to the client: `send_s`, plus one second
    per `body_min_bytes_per_s` bytes (a big clip to a slow link still goes out)."""
    return timeouts.send_s + size / timeouts.body_min_bytes_per_s
