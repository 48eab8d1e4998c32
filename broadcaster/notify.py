"""Wake-ups for long polls: a new event sequence number wakes every waiting request.

In one process `publish` wakes waiters at once. Events written by another process (a
second web worker, the CLI) are noticed by `watch`, which polls the database's last
sequence number once a second: waiting requests never poll the database themselves.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Notifier:
    """The highest event sequence number known, and a condition to wait for a higher one."""

    def __init__(self, last_seq: int = 0) -> None:
        self._cond = threading.Condition()
        self._seq = last_seq

    @property
    def seq(self) -> int:
        return self._seq

    def publish(self, seq: int) -> None:
        """A new event exists: wake everyone waiting for something after an older one."""
        with self._cond:
            if seq > self._seq:
                self._seq = seq
                self._cond.notify_all()

    def wait_beyond(self, after: int, timeout_s: float) -> bool:
        """Block until an event with `seq > after` may exist, or the timeout; True if woken."""
        with self._cond:
            return self._cond.wait_for(lambda: self._seq > after, timeout=timeout_s)

    def watch(
        self, last_seq: Callable[[], int], stop: threading.Event, every_s: float = 1.0
    ) -> None:
        """Publish what other processes wrote, until `stop` is set (run in its own thread)."""
        while not stop.wait(every_s):
            try:
                self.publish(last_seq())
            except Exception:  # a database hiccup must not end the watcher
                log.exception("cannot read the last event sequence; trying again")
