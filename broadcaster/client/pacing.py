"""Real-time pacing: feeds a sink chunk by chunk on a monotonic clock, fades, stops exactly."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from audio.player import ClipInfo, Sink
from broadcaster.client.livemode import Chunk
from broadcaster.client.pcm import ClipReader, scale

CHUNK_S = 0.02
FADE_S = 0.2
# An urgent must be heard at once: the clip it preempts fades out faster (still click-free).
URGENT_FADE_S = 0.1
FAST_CUTS = frozenset({"cut:urgent", "cut:live"})  # what preempts a clip fades out fast
TAIL_GRACE_S = 0.05  # a clip that overruns its stop by less than this counts as complete
JOIN_GRACE_S = 0.005  # a clip that can start this little after its time plays from its start
# A change of gain mid-clip (a quiet zone entered or left, issue 13) ramps over this long:
# no click, and the clip goes on where it is.
GAIN_RAMP_S = 0.1


@dataclass(frozen=True, slots=True)
class PlayResult:
    """How a clip ended. ``reason`` is empty when it played to its end."""

    frames: int
    completed: bool
    reason: str
    started_mono: float
    ended_mono: float


class Pacer:
    """The only writer of a sink. Keeps the sink's audio clock (``written_until``) in step
    with ``mono``: a chunk is written when its time comes (minus the sink's ``lead_s``).

    A sink with a queue (``lead_s`` > 0: aplay's pipe and ALSA buffer, kept full with
    silence between clips) plays what is written now ``lead_s`` later. Everything heard is
    shifted by that latency, clip start and clip end alike; it must neither cut a clip's
    tail at its item's end nor make the caller's few-ms late join skip the clip's head.
    """

    def __init__(
        self,
        sink: Sink,
        mono: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        chunk_s: float = CHUNK_S,
        fade_s: float = FADE_S,
    ) -> None:
        self.sink = sink
        self._mono = mono
        self._sleep = sleep
        self._chunk = max(1, int(sink.rate * chunk_s))
        self._fade_s = fade_s
        self.written_until = mono()  # the monotonic instant at which the written audio ends

    def _wait_until(self, t: float) -> None:
        left = t - self._mono()
        if left > 0:
            self._sleep(left)

    def play(
        self,
        reader: ClipReader,
        info: ClipInfo,
        *,
        stop_at: float | None = None,
        stop_reason: str = "cut:window-end",
        check: Callable[[], str | None] = lambda: None,
        on_tick: Callable[[int], None] | None = None,
        gain: Callable[[], float] | None = None,
    ) -> PlayResult:
        """Play ``reader`` to its end, to ``stop_at`` (fading into it), or until ``check``
        returns a reason (then fade out over ``fade_s`` and stop).

        ``gain`` (asked once per chunk; 0 to 1) scales the clip as it plays: a change ramps
        over ``GAIN_RAMP_S`` and the clip goes on where it is (a quiet zone, issue 13).

        ``stop_at`` cuts only a clip that, started now, would not end by it (within
        ``TAIL_GRACE_S``); otherwise it is the clip's own end and the clip plays whole, however
        late the sink's queue makes it heard. A reader the caller moved on by how late it is
        (``now`` - the item's start) is put back to its start if the sink can still begin the
        clip on time: by ``now`` - that lateness + ``lead_s`` (within ``JOIN_GRACE_S``).
        """
        rate = self.sink.rate
        lead = self.sink.lead_s
        now = self._mono()
        # What is written now is heard after what the sink has queued, or at once if nothing is.
        self.written_until = max(self.written_until, now)
        started = self.written_until
        remaining = reader.remaining_frames()
        if stop_at is not None and remaining <= (stop_at - now + TAIL_GRACE_S) * rate:
            stop_at = None  # the clip's own end, not a cut
        skipped = reader.frames - remaining
        if skipped > 0 and started <= now - skipped / rate + lead + JOIN_GRACE_S:
            reader.seek_s(0.0)  # a late join the sink's queue absorbs: play the clip whole
        frames = 0
        reason = ""
        completed = False
        fade_end: float | None = None
        level = 1.0 if gain is None else _clamp(gain())  # a clip starts at its gain, no ramp
        self.sink.begin(info)
        try:
            while True:
                t = self.written_until
                self._wait_until(t - lead)
                if fade_end is None:
                    why = check()
                    if why:
                        fade = (
                            min(self._fade_s, URGENT_FADE_S) if why in FAST_CUTS else self._fade_s
                        )
                        reason, fade_end = why, t + fade
                n = self._chunk
                limit = min(x for x in (stop_at, fade_end, math.inf) if x is not None)
                if limit < math.inf:
                    n = min(n, math.ceil((limit - t) * rate - 1e-6))
                remaining = reader.remaining_frames()
                if remaining <= 0:
                    completed, reason = True, ""
                    break
                if n <= 0:
                    if not reason and remaining <= rate * TAIL_GRACE_S:
                        completed = True  # a rounded duration left a few ms of the tail
                    elif not reason:
                        reason = stop_reason
                    break
                pcm = reader.read(n)
                if not pcm:
                    completed, reason = True, ""
                    break
                count = len(pcm) // 2
                cut_by_deadline = (
                    stop_at is not None and stop_at < t + remaining / rate - TAIL_GRACE_S
                )
                levels, level = _ramp(level, 1.0 if gain is None else _clamp(gain()), count, rate)
                if fade_end is not None or cut_by_deadline:
                    fades = [self._gain(t + i / rate, stop_at, fade_end) for i in range(count)]
                    if levels is not None:
                        fades = [a * b for a, b in zip(fades, levels, strict=True)]
                    pcm = scale(pcm, fades)
                elif levels is not None:
                    pcm = bytes(len(pcm)) if not any(levels) else scale(pcm, levels)
                self.sink.write(pcm)
                frames += count
                self.written_until = t + count / rate
                if on_tick is not None:
                    on_tick(frames)
            # Report the end when the last frame has been heard, not when it was written.
            self._wait_until(self.written_until - lead)
        finally:
            self.sink.end(reason)
        return PlayResult(frames, completed, reason, started, self.written_until)

    def play_live(
        self,
        source: Callable[[float], Chunk | None],
        info: ClipInfo,
        *,
        check: Callable[[], str | None] = lambda: None,
        on_tick: Callable[[int], None] | None = None,
        ended: Callable[[], str | None] = lambda: None,
    ) -> PlayResult:
        """Play a live page's audio: ``source(now)`` gives what to play for the next stretch
        (PCM, or silence while its jitter buffer fills or runs dry) when its time comes, None
        once the page is over (``completed``, unless ``ended()`` then says why it was cut). ``check`` returning a reason fades out over
        ``URGENT_FADE_S`` (still reading the source) and stops."""
        rate = self.sink.rate
        lead = self.sink.lead_s
        self.written_until = max(self.written_until, self._mono())
        started = self.written_until
        frames = 0
        reason = ""
        completed = False
        fade_end: float | None = None
        self.sink.begin(info)
        try:
            while True:
                t = self.written_until
                self._wait_until(t - lead)
                if fade_end is None:
                    why = check()
                    if why:
                        reason, fade_end = why, t + URGENT_FADE_S
                if fade_end is not None and t >= fade_end:
                    break
                chunk = source(self._mono())
                if chunk is None:
                    if not reason:
                        reason = ended() or ""
                        completed = not reason
                    break
                if chunk.pcm is None:
                    self.sink.silence(chunk.frames)
                    count = chunk.frames
                else:
                    pcm = chunk.pcm
                    count = len(pcm) // 2
                    if fade_end is not None:
                        pcm = scale(
                            pcm,
                            [
                                max(0.0, (fade_end - t - i / rate) / URGENT_FADE_S)
                                for i in range(count)
                            ],
                        )
                    self.sink.write(pcm)
                    frames += count
                self.written_until = t + count / rate
                if on_tick is not None:
                    on_tick(frames)
            self._wait_until(self.written_until - lead)
        finally:
            self.sink.end(reason)
        return PlayResult(frames, completed, reason, started, self.written_until)

    def _gain(self, t: float, stop_at: float | None, fade_end: float | None) -> float:
        g = 1.0
        for end in (stop_at, fade_end):
            if end is not None:
                g = min(g, max(0.0, (end - t) / self._fade_s))
        return g

    def idle(self, until: float, wake: threading.Event) -> None:
        """Wait until ``until`` (monotonic) or ``wake``; feed silence if the sink wants it."""
        if not self.sink.wants_silence:
            left = until - self._mono()
            if left > 0:
                wake.wait(left)
            return
        rate = self.sink.rate
        lead = self.sink.lead_s
        while not wake.is_set():
            now = self._mono()
            if now >= until:
                return
            self.written_until = max(self.written_until, now)
            while self.written_until - lead <= now:
                # No silence past ``until + lead``: a clip due at ``until`` is heard then.
                room = (until + lead - self.written_until) * rate
                n = self._chunk if room >= self._chunk else max(1, math.ceil(room - 1e-6))
                self.sink.silence(n)
                self.written_until += n / rate
            wake.wait(max(0.0, min(until, self.written_until - lead) - self._mono()))


def _clamp(g: float) -> float:
    return 1.0 if not math.isfinite(g) else min(1.0, max(0.0, g))


def _ramp(level: float, target: float, count: int, rate: int) -> tuple[list[float] | None, float]:
    """Per-frame gains from ``level`` towards ``target`` (at most 1/``GAIN_RAMP_S`` a second),
    and the level reached; None when every frame is at full gain."""
    if level == target:
        return (None if level == 1.0 else [level] * count), level
    step = 1.0 / (rate * GAIN_RAMP_S)
    out = []
    for _ in range(count):
        level = min(target, level + step) if level < target else max(target, level - step)
        out.append(level)
    return out, level
