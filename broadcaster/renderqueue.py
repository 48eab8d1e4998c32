"""Fair rendering: how many renders run at once, who waits, who is refused, and where the
CPU-bound part of a render runs (issue 10, item 5).

A render that misses the cache holds a slot from start to end (the TTS engine's process,
the loudness pass, the export, the cache write). At most `slots` run at once; requests
beyond wait in a queue ordered by priority, then arrival:

- system work (an urgent's speech, a plan for a speaker, a clip a speaker downloads) comes
  first, is never refused and may use `reserve` extra slots, so an urgent never waits for
  previews to finish;
- people's renders (a preview in the panel) come next: at most `per_user` at a time for
  one user and at most `limit` for everyone (running and waiting); beyond that, or after
  waiting `wait_s`, `Busy` (HTTP 429 with Retry-After).

Who asks is a context variable (per greenlet under gevent): `on_behalf_of(user)` around a
request's rendering; anything else is system work. (The pre-render job is system work too:
at a lower priority it could hold a clip's lock while an urgent or a plan needs that clip.)

`run(work)` runs the CPU-bound part. Under `broadcaster serve` (gevent) it runs in a pool of
real OS threads: numpy and scipy release the GIL in their loops, so the request loop goes on
(measured: 8 renders of 500 characters stalled a 10 ms ticker for 4.4 s in the loop, 5 ms
from the pool; a process per render cost 0.6 s of start-up each for the same isolation).
Subprocesses (the TTS engine, ffmpeg) stay in the caller: gevent waits for them cooperatively,
and cannot start them from another thread.
"""

from __future__ import annotations

import contextlib
import ctypes
import heapq
import itertools
import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

from broadcaster.errors import Busy

log = logging.getLogger(__name__)
T = TypeVar("T")

SYSTEM, USER = 0, 1


@dataclass(frozen=True, slots=True)
class Requester:
    """Who a render is for: a user name (None: the system) and its priority."""

    who: str | None
    priority: int


_SYSTEM = Requester(None, SYSTEM)
_requester: ContextVar[Requester | None] = ContextVar("render_requester", default=None)


@contextlib.contextmanager
def on_behalf_of(user: str) -> Iterator[None]:
    """Renders inside the block are `user`'s: counted, limited, refused when too many."""
    token = _requester.set(Requester(user, USER))
    try:
        yield
    finally:
        _requester.reset(token)


def current() -> Requester:
    """Who renders inside the current context (the system unless `on_behalf_of`)."""
    return _requester.get() or _SYSTEM


@dataclass(eq=False, slots=True)
class _Waiter:
    requester: Requester
    event: threading.Event = field(default_factory=threading.Event)
    granted: bool = False
    cancelled: bool = False


@dataclass(frozen=True, slots=True)
class QueueStats:
    running: int
    waiting: int
    users_admitted: int  # people's renders running or waiting
    admitted: int  # since start
    refused_user: int
    refused_queue: int


def _malloc_trim() -> Callable[[], object]:
    """glibc's malloc_trim(0), or nothing elsewhere."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return lambda: None
    return lambda: trim(0)


_trim = _malloc_trim()


def _trimmed(work: Callable[[], T]) -> T:
    """`work()`, then give the freed memory of this thread's malloc arena back: each worker
    thread has its own arena, and a render's arrays (tens of MB) freed there stayed in the
    process (measured: RSS 146 -> 623 MB after 8 renders of 500 characters; 176 MB trimmed)."""
    try:
        return work()
    finally:
        _trim()


def _gevent_patched() -> bool:
    try:
        from gevent import monkey
    except ImportError:
        return False
    return bool(monkey.is_module_patched("threading"))


class RenderQueue:
    """Admission (`slot`) and off-loop execution (`run`) for `audio.render.Renderer`."""

    def __init__(
        self,
        *,
        slots: int = 2,
        limit: int = 8,
        per_user: int = 2,
        wait_s: float = 60.0,
        reserve: int = 1,
        threads: bool | None = None,
    ) -> None:
        if slots < 1 or limit < 1 or per_user < 1 or reserve < 0:
            raise ValueError("slots, limit and per_user must be at least 1, reserve at least 0")
        self.slots, self.limit, self.per_user = slots, limit, per_user
        self.wait_s, self.reserve = wait_s, reserve
        self._lock = threading.Lock()
        self._heap: list[tuple[int, int, _Waiter]] = []
        self._order = itertools.count()
        self._running = 0
        self._per_user: Counter[str] = Counter()
        self._admitted = self._refused_user = self._refused_queue = 0
        self._mean_s = 5.0  # a render's duration, smoothed (for Retry-After)
        self._threads = _gevent_patched() if threads is None else threads
        self._pool: Any = None

    # -- admission -----------------------------------------------------------------------------
    def _may_start(self, priority: int) -> bool:
        while self._heap and self._heap[0][2].cancelled:
            heapq.heappop(self._heap)
        ahead = bool(self._heap) and self._heap[0][0] <= priority
        room = self.slots + (self.reserve if priority == SYSTEM else 0)
        return not ahead and self._running < room

    def _users(self) -> int:
        return sum(self._per_user.values())

    def retry_after_s(self) -> int:
        """About how long until a refused person's render would get in."""
        rounds = 1 + self._users() / self.slots
        return max(1, min(300, math.ceil(self._mean_s * rounds)))

    def _refuse(self, reason: str, user: str) -> Busy:
        retry = self.retry_after_s()
        if reason == "user":
            self._refused_user += 1
            message = (
                f"{user} already has {self.per_user} clip(s) being made; try again when one is done"
            )
            limit = self.per_user
        else:
            self._refused_queue += 1
            message = f"the server is busy making {self.limit} clips; try again in {retry} s"
            limit = self.limit
        log.warning("render refused for %s (%s): %s", user, reason, self._describe())
        return Busy(message, reason=reason, retry_after_s=retry, limit=limit)

    def _describe(self) -> str:
        return (
            f"running {self._running}, waiting {len(self._heap)}, "
            f"users' {self._users()}/{self.limit}"
        )

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """Hold a render slot for the block (waiting for one in priority order); Busy for
        a person over their limit, when the queue is full, or after waiting `wait_s`."""
        requester = current()
        user = requester.who
        with self._lock:
            if user is not None:
                if self._per_user[user] >= self.per_user:
                    raise self._refuse("user", user)
                if self._users() >= self.limit:
                    raise self._refuse("queue", user)
                self._per_user[user] += 1
            waiter = None
            if self._may_start(requester.priority):
                self._running += 1
            else:
                waiter = _Waiter(requester)
                heapq.heappush(self._heap, (requester.priority, next(self._order), waiter))
            self._admitted += 1
            # Every admission at DEBUG; the one that fills the queue at INFO: from now on
            # people are refused (429), which an operator wants to see in the log.
            full = user is not None and self._users() >= self.limit
            log.log(
                logging.INFO if full else logging.DEBUG,
                "render admitted for %s: %s%s",
                user or "system",
                self._describe(),
                " (the queue is full: more renders are refused until one ends)" if full else "",
            )
        try:
            if waiter is not None:
                self._wait(waiter)
            started = time.monotonic()
            try:
                yield
            finally:
                self._release(time.monotonic() - started)
        finally:
            if user is not None:
                with self._lock:
                    self._per_user[user] -= 1
                    if self._per_user[user] <= 0:
                        del self._per_user[user]

    def _wait(self, waiter: _Waiter) -> None:
        user = waiter.requester.who
        timeout = self.wait_s if user is not None else None
        if waiter.event.wait(timeout):
            return
        with self._lock:
            if waiter.granted:  # granted between the timeout and the lock
                return
            waiter.cancelled = True
            raise self._refuse("queue", user or "system")

    def _release(self, took_s: float) -> None:
        with self._lock:
            self._mean_s = 0.8 * self._mean_s + 0.2 * took_s
            self._running -= 1
            while self._heap:
                priority, _, waiter = self._heap[0]
                if waiter.cancelled:
                    heapq.heappop(self._heap)
                    continue
                room = self.slots + (self.reserve if priority == SYSTEM else 0)
                if self._running >= room:
                    break
                heapq.heappop(self._heap)
                self._running += 1
                waiter.granted = True
                waiter.event.set()

    def stats(self) -> QueueStats:
        with self._lock:
            return QueueStats(
                self._running,
                sum(1 for _, _, w in self._heap if not w.cancelled),
                self._users(),
                self._admitted,
                self._refused_user,
                self._refused_queue,
            )

    # -- execution -----------------------------------------------------------------------------
    def run(self, work: Callable[[], T]) -> T:
        """`work()` in a real OS thread under gevent (the loop goes on), else in the caller."""
        if not self._threads:
            return work()
        if self._pool is None:
            from gevent.threadpool import ThreadPool

            self._pool = ThreadPool(self.slots + self.reserve)
        result: T = self._pool.apply(_trimmed, (work,))
        return result

    def close(self) -> None:
        """Stop the worker threads (after the server stopped taking requests)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.kill()
