"""The client's clock: server time anchored to the monotonic clock.

Each timed server response gives ``server_time``; taken at the middle of the round trip it
anchors "now" to ``mono()``. From then on "now" advances with the monotonic clock, so a
stepped system clock does not move playback. Before any anchor (a restart with no network)
"now" is the system clock. Nothing is persisted: monotonic time is per boot.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

MAX_ANCHOR_RTT_S = 1.0  # a slower round trip only replaces an anchor it clearly contradicts


class Clock:
    """Anchored time. ``wall`` and ``mono`` are injectable for tests."""

    def __init__(
        self,
        wall: Callable[[], float] = time.time,
        mono: Callable[[], float] = time.monotonic,
    ) -> None:
        self._wall = wall
        self.mono = mono
        self._lock = threading.Lock()
        self._anchor: tuple[datetime, float] | None = None  # (server time, mono at that time)

    @property
    def anchored(self) -> bool:
        return self._anchor is not None

    def anchor(self, server_time: datetime, sent_mono: float, received_mono: float) -> bool:
        """Learn the server's time from a response; returns whether the anchor moved."""
        rtt = max(0.0, received_mono - sent_mono)
        at = sent_mono + rtt / 2
        with self._lock:
            if self._anchor is not None and rtt > MAX_ANCHOR_RTT_S:
                old_t, old_mono = self._anchor
                predicted = old_t + timedelta(seconds=at - old_mono)
                if abs((server_time - predicted).total_seconds()) <= rtt / 2 + 1.0:
                    return False  # consistent within what this slow sample can tell
            self._anchor = (server_time.astimezone(UTC), at)
            return True

    def now(self) -> datetime:
        """Anchored server time (system time before the first anchor), aware, UTC."""
        with self._lock:
            anchor = self._anchor
        if anchor is None:
            return datetime.fromtimestamp(self._wall(), UTC)
        t, at = anchor
        return t + timedelta(seconds=self.mono() - at)

    def system_now(self) -> datetime:
        return datetime.fromtimestamp(self._wall(), UTC)

    def offset_ms(self) -> int | None:
        """System clock minus anchored time (positive: the system clock is ahead)."""
        if self._anchor is None:
            return None
        return round((self.system_now() - self.now()).total_seconds() * 1000)

    def to_mono(self, t: datetime) -> float:
        """The monotonic instant at which the anchored clock reads ``t``."""
        return self.mono() + (t - self.now()).total_seconds()

    def from_mono(self, m: float) -> datetime:
        """The anchored time at monotonic instant ``m``."""
        return self.now() + timedelta(seconds=m - self.mono())
