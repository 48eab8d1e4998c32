"""The jitter buffer of a live page (issue 12): frames in as the network brings them, one frame
out per frame time, with a bounded delay.

Pure: the caller passes the monotonic time in milliseconds; nothing here reads a clock, sleeps
or does I/O. The player asks for one frame every `frame_ms` of audio it has written; what it
gets:

- nothing yet while the buffer fills to `target_ms` at the start (or after an underrun), unless
  the first frame has waited `start_wait_ms`: a short page is not held back;
- the next frame in order; a frame that comes after a later one was played is dropped (late);
- silence (`None`) when the buffer ran dry (an underrun: the stream stalls); after `give_up_ms`
  without any frame the page is over (`ended`: the speaker goes back to its loop);
- when frames pile up beyond `max_ms` (the network delivered a burst after a stall, or the
  sender runs fast), the oldest are dropped down to `target_ms`: the delay never drifts.

No frame waits longer than `bound_ms`: `max_ms`, or a start (or restart after an underrun)
that waited `start_wait_ms` with less than `target_ms` buffered, plus one frame (420 ms with the
defaults; tested for any arrival pattern).
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field


class State(enum.Enum):
    FILLING = "filling"  # waiting for target_ms of audio before playing
    PLAYING = "playing"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class Pulled:
    """What to play for the next frame time: `pcm` (None: silence or nothing) and the state."""

    pcm: bytes | None
    state: State
    seq: int | None = None


@dataclass(slots=True)
class Stats:
    """Counts for the play log and the page's outcome."""

    played: int = 0
    late: int = 0  # arrived after a later frame was played
    dropped: int = 0  # dropped to keep the delay bounded
    underruns: int = 0  # frame times with nothing to play while playing
    max_delay_ms: int = 0  # the most audio ever waiting in the buffer, in ms


@dataclass(slots=True)
class JitterBuffer:
    frame_ms: int = 20
    target_ms: int = 120
    max_ms: int = 400
    start_wait_ms: int = 200
    give_up_ms: int = 2000
    state: State = State.FILLING
    stats: Stats = field(default_factory=Stats)
    _frames: deque[tuple[int, bytes]] = field(default_factory=deque)
    _next_seq: int = 0
    _last_arrival_ms: int | None = None
    _first_waiting_ms: int | None = None
    _finished: bool = False

    def __post_init__(self) -> None:
        if not 0 < self.frame_ms <= self.target_ms <= self.max_ms:
            raise ValueError("expected 0 < frame_ms <= target_ms <= max_ms")

    @property
    def bound_ms(self) -> int:
        """The longest any frame waits between its arrival and its turn."""
        return max(self.max_ms, self.start_wait_ms + self.target_ms) + self.frame_ms

    @property
    def buffered_ms(self) -> int:
        return len(self._frames) * self.frame_ms

    @property
    def last_arrival_ms(self) -> int | None:
        """When the newest frame arrived (None: none yet)."""
        return self._last_arrival_ms

    def trim(self) -> int:
        """Drop the oldest frames down to `target_ms` (the player starts late, e.g. after a
        chime, and wants the newest audio); how many were dropped."""
        n = 0
        while self.buffered_ms > self.target_ms:
            self._frames.popleft()
            self.stats.dropped += 1
            n += 1
        if n:
            self._next_seq = self._frames[0][0]
        return n

    def push(self, seq: int, pcm: bytes, now_ms: int) -> None:
        """A frame arrived. Frames carry their sequence number: one that arrives after a later
        one was played is late and dropped; a gap in the numbers is not waited for (the stream
        runs over TCP, which loses nothing: a gap means the sender dropped frames)."""
        if self.state is State.ENDED:
            return
        self._last_arrival_ms = now_ms
        if seq < self._next_seq:
            self.stats.late += 1
            return
        if self._frames and seq <= self._frames[-1][0]:
            # Out of order (or repeated) within the buffer: keep the order by sequence.
            if any(s == seq for s, _ in self._frames):
                return
            items = sorted([*self._frames, (seq, pcm)])
            self._frames = deque(items)
        else:
            self._frames.append((seq, pcm))
        if self._first_waiting_ms is None:
            self._first_waiting_ms = now_ms
        self.stats.max_delay_ms = max(self.stats.max_delay_ms, self.buffered_ms)
        if self.buffered_ms > self.max_ms:
            while self.buffered_ms > self.target_ms:
                self._frames.popleft()
                self.stats.dropped += 1
            self._next_seq = self._frames[0][0]

    def finish(self) -> None:
        """The sender ended the page: play what is buffered, then end."""
        self._finished = True

    def pull(self, now_ms: int) -> Pulled:
        """The frame to play now (one frame time)."""
        if self.state is State.ENDED:
            return Pulled(None, State.ENDED)
        last = self._last_arrival_ms
        silent_for = 0 if last is None else now_ms - last
        if not self._frames and (self._finished or silent_for >= self.give_up_ms):
            self.state = State.ENDED
            return Pulled(None, State.ENDED)
        if self.state is State.FILLING:
            waited = 0 if self._first_waiting_ms is None else now_ms - self._first_waiting_ms
            ready = self.buffered_ms >= self.target_ms or (
                self._frames and (waited >= self.start_wait_ms or self._finished)
            )
            if not ready:
                return Pulled(None, State.FILLING)
            self.state = State.PLAYING
        if not self._frames:
            self.stats.underruns += 1
            self.state = State.FILLING
            self._first_waiting_ms = None
            return Pulled(None, State.FILLING)
        seq, pcm = self._frames.popleft()
        self._next_seq = seq + 1
        self.stats.played += 1
        return Pulled(pcm, State.PLAYING, seq)
