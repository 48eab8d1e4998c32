"""How the client retries: one backoff for every loop, and log lines on changes of state.

Every loop that talks to the server (sync, the event long poll, heartbeats, uploads, an
urgent's clip download) retries through a ``Retry``: after a failure it waits a delay from
``Backoff`` (exponential, jittered between ``base_s`` and the doubling ceiling: never at
once), 60 s after a refused token. What is logged is a
change, not each attempt:

- whether the server answers at all is one state for the whole client (``Link``, told by
  the ``DeviceApi`` after every request): one line when it stops answering (refused, timed
  out, cut off), one when it answers again (and how long it was away);
- a loop failing for another reason (a 5xx or 429 answer, a refused token, a refused play
  batch, a clip that does not verify, a bug) says so once when it starts failing that way,
  and once when it works again; the attempts in between are logged at DEBUG.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

# A refused token is not fixed by hammering the server: retry slowly.
UNAUTHORIZED_RETRY_S = 60.0


class Backoff:
    """Delays from ``base_s`` growing to ``cap_s``: after n failures, drawn uniformly between
    ``base_s`` and ``min(cap_s, base_s * 2**n)`` (so the first is ``base_s``; not full jitter,
    which would draw from 0 and could retry at once)."""

    def __init__(
        self, base_s: float = 1.0, cap_s: float = 60.0, rng: random.Random | None = None
    ) -> None:
        self.base_s = base_s
        self.cap_s = cap_s
        self.failures = 0
        self._rng = rng or random.Random()

    def next(self) -> float:
        """The delay before the next try, after one more failure."""
        ceiling = min(self.cap_s, self.base_s * 2**self.failures)
        self.failures = min(self.failures + 1, 32)
        return self._rng.uniform(self.base_s, max(self.base_s, ceiling))

    def reset(self) -> None:
        self.failures = 0


class Link:
    """Whether the server answers, as every request of one client finds it (thread-safe).
    Logs one line when it stops answering and one when it answers again."""

    def __init__(self, server: str, mono: Callable[[], float] = time.monotonic) -> None:
        self.server = server
        self.online: bool | None = None  # unknown until the first request
        self.failures = 0  # requests without an answer since the last answer
        self._mono = mono
        self._down_since = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        return self._mono()

    def up(self, asked: float | None = None) -> None:
        """The server answered a request sent at ``asked`` (``now()``); an answer to a
        request sent before it stopped answering (a long poll) says nothing new."""
        with self._lock:
            if self.online is False and asked is not None and asked < self._down_since:
                return
            if self.online is False:
                log.info(
                    "the server %s answers again after %.0f s (%d requests failed meanwhile)",
                    self.server,
                    self._mono() - self._down_since,
                    self.failures,
                )
            self.online = True
            self.failures = 0

    def down(self, reason: str) -> None:
        with self._lock:
            self.failures += 1
            if self.online is not False:
                log.warning(
                    "the server %s does not answer (%s); playing from the cache and retrying",
                    self.server,
                    reason,
                )
                self.online = False
                self._down_since = self._mono()


class Retry:
    """One loop's retries: ``failed(exc)`` gives the delay before the next try and logs
    when the way the loop fails changes; ``succeeded()`` resets the backoff."""

    def __init__(
        self,
        what: str,
        base_s: float = 1.0,
        cap_s: float = 60.0,
        rng: random.Random | None = None,
    ) -> None:
        self.what = what
        self.backoff = Backoff(base_s, cap_s, rng)
        self.failures = 0  # since the last success
        self.state: str | None = None  # how the loop fails now; None while it works

    def succeeded(self) -> None:
        if self.state not in (None, "unreachable"):  # the Link says when the server is back
            log.info("%s works again (after %d failed tries)", self.what, self.failures)
        self.state = None
        self.failures = 0
        self.backoff.reset()

    def failed(self, exc: BaseException, cap_s: float | None = None) -> float:
        """The delay before the next try after ``exc`` (at most ``cap_s``, except after
        a refused token: 60 s)."""
        from broadcaster.client.api import Unauthorized, Unreachable
        from broadcaster.errors import BroadcasterError

        self.failures += 1
        if isinstance(exc, Unauthorized):
            state, delay = "unauthorized", UNAUTHORIZED_RETRY_S
        else:
            delay = self.backoff.next() if cap_s is None else min(self.backoff.next(), cap_s)
            if isinstance(exc, Unreachable) and exc.status is None:
                state = "unreachable"  # no answer: logged once for all loops, by the Link
            elif isinstance(exc, BroadcasterError | OSError):
                # By kind and cause: a clip that does not verify, then one whose download
                # breaks off, are two states (each ClipError of a sync, told apart).
                state = f"failing:{_kind(exc)}"
            else:
                state = f"broken:{_kind(exc)}"
        if state == self.state or state == "unreachable":
            log.debug(
                "%s failed (try %d): %s; retrying in %.1f s", self.what, self.failures, exc, delay
            )
        elif state == "unauthorized":
            log.error(
                "%s: the server rejects our token (%s); retrying every %.0f s",
                self.what,
                exc,
                UNAUTHORIZED_RETRY_S,
            )
        elif state.startswith("failing:"):
            log.warning("%s failed: %s; retrying (logged again when this changes)", self.what, exc)
        else:
            log.error(
                "%s failed unexpectedly; retrying (logged again when this changes)",
                self.what,
                exc_info=exc,
            )
        self.state = state
        return delay


def _kind(exc: BaseException) -> str:
    cause = exc.__cause__
    return type(exc).__name__ + (f"<-{type(cause).__name__}" if cause is not None else "")
