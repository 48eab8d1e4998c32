"""The speaker in live mode (issue 12, docs/live-paging.md): the decisions of a live page.

Pure: times are passed in (monotonic milliseconds, or the server's times from the long poll);
nothing here reads a clock, sleeps or does I/O. The runner (broadcaster/client/runner.py) plays
what `LiveSession.next_chunk` says; the stream reader (broadcaster/client/live.py) feeds it.

A page on a speaker:

- its `live` event is taken only while fresh: one the long poll brings more than `STALE_MS`
  after the server sent it (a client that was away, a poll that came back late) is not
  resumed: the page is live, late audio is not;
- it preempts whatever plays (the urgents' 100 ms fade), plays the chime, then the frames
  through the jitter buffer (broadcaster/client/jitter.py);
- it ends on the end flag (`completed`: the sender ended it), after `GIVE_UP_MS` without
  audio (`cut:stream-lost`: the stream was lost or stalled and did not come back; no frame
  at all counts from the moment the audio was due), at the page's `max_ms` on the speaker's
  own clock (`cut:max-length`), or by a command: `cut:stop` (a `stop` sent after the page
  began), `cut:live` (a newer page took the speaker), `cut:shutdown`;
- it outranks urgent announcements and the loop: nothing else starts until it is over; then
  the loop resumes with its next clip.
"""

from __future__ import annotations

import array
import sys
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from broadcaster.client.jitter import JitterBuffer, Pulled, State
from broadcaster.client.plan import ClipSpec, parse_event_clip, parse_time
from broadcaster.errors import ValidationError

STALE_MS = 2000  # a page's event older than this when it arrives is not resumed
GIVE_UP_MS = 2000  # no audio for this long: the page is over for this speaker
RECONNECT_MS = 250  # between attempts to (re)open a broken stream, while the page lasts
MAX_PAGE_MS = 60 * 60 * 1000  # whatever the event says, a page ends within an hour here

COMPLETED = ""  # the sender ended the page (the end flag): `completed: true`
STREAM_LOST = "cut:stream-lost"
MAX_LENGTH = "cut:max-length"
STOPPED = "cut:stop"
TAKEN = "cut:live"  # a newer page took the speaker (also: a clip a page preempted)
SHUTDOWN = "cut:shutdown"


@dataclass(frozen=True, slots=True)
class LivePage:
    """A `live` event: the page, where this speaker's stream is, its chime and limits."""

    page: str
    seq: int  # the event's sequence number (a later `stop` ends the page)
    stream: str  # this speaker's stream path, `{speaker}` filled in
    chime: ClipSpec | None
    rate: int
    frame_ms: int
    max_ms: int
    by: str

    def stream_path(self, behind_ms: int) -> str:
        """The stream's path asking to start `behind_ms` before the newest frame."""
        sep = "&" if "?" in self.stream else "?"
        return f"{self.stream}{sep}behind_ms={max(0, min(2000, behind_ms))}"


def _whole(payload: dict[str, Any], key: str, low: int, high: int, default: int) -> int:
    value = payload.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ValidationError(f"live.{key}: expected a whole number, got {value!r}")
    if not low <= int(value) <= high:
        raise ValidationError(f"live.{key}: expected {low} to {high}, got {value!r}")
    return int(value)


def parse_live(seq: int, payload: dict[str, Any], speaker: str) -> LivePage:
    """A LivePage from a `live` event's payload (docs/device-api.md); ValidationError naming
    the field when it is not one."""
    page = payload.get("page")
    if not isinstance(page, str) or not 0 < len(page) <= 100 or not page.isprintable():
        raise ValidationError(f"event {seq}.page: expected a page id, got {page!r}")
    stream = payload.get("stream")
    if not isinstance(stream, str) or not stream.startswith("/") or "{speaker}" not in stream:
        raise ValidationError(f"event {seq}.stream: expected a path with {{speaker}}")
    by = payload.get("by")
    return LivePage(
        page=page,
        seq=seq,
        stream=stream.replace("{speaker}", urllib.parse.quote(speaker, safe="")),
        chime=parse_event_clip(payload.get("chime"), f"event {seq}.chime"),
        rate=_whole(payload, "rate", 1000, 192_000, 22050),
        frame_ms=_whole(payload, "frame_ms", 5, 200, 20),
        max_ms=_whole(payload, "max_ms", 1000, MAX_PAGE_MS, 10 * 60 * 1000),
        by=by if isinstance(by, str) else "",
    )


def event_age_ms(created_at: Any, server_time: Any) -> int | None:
    """How old an event was when the server answered the poll that brought it, by the
    server's clock alone (the speaker's clock may be off); None if either time is missing."""
    try:
        made = parse_time(created_at, "created_at")
        sent = parse_time(server_time, "server_time")
    except ValidationError:
        return None
    return round((sent - made).total_seconds() * 1000)


def is_stale(age_ms: int | None) -> bool:
    """Whether a page's event arrived too late to be resumed (unknown age: it is fresh)."""
    return age_ms is not None and age_ms > STALE_MS


def cut_by_stop(page: LivePage, stop_seq: int | None, stopped_now: bool) -> bool:
    """A `stop` ends a page when it came after the page's event and holds now; one from
    before the page does not (the server paged this speaker knowing of it)."""
    return stopped_now and stop_seq is not None and stop_seq > page.seq


def resample(pcm: bytes, src: int, dst: int) -> bytes:
    """16-bit mono PCM from `src` to `dst` Hz (nearest sample: the rates normally match)."""
    if src == dst or not pcm:
        return pcm
    samples = array.array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % 2])
    if sys.byteorder == "big":
        samples.byteswap()
    count = len(samples) * dst // src
    out = array.array("h", (samples[i * src // dst] for i in range(count)))
    if sys.byteorder == "big":
        out.byteswap()
    return out.tobytes()


@dataclass(frozen=True, slots=True)
class Chunk:
    """What to play for the next stretch: `pcm` (None: `frames` of silence)."""

    pcm: bytes | None
    frames: int


@dataclass(slots=True)
class LiveSession:
    """One page on this speaker, from its event to its end: the jitter buffer, the end flag,
    the limits. Not thread-safe (broadcaster/client/live.py holds it under a lock)."""

    page: LivePage
    started_ms: int  # when the page began here (its event was taken)
    sink_rate: int
    buffer: JitterBuffer = field(init=False)
    audio_from_ms: int | None = None  # when the audio was due (the chime was over)
    end_flag: bool = False
    ended: str | None = None  # why, once over (COMPLETED: the sender ended it)
    streams: int = 0  # times a stream was opened

    def __post_init__(self) -> None:
        frame = self.page.frame_ms
        self.buffer = JitterBuffer(
            frame_ms=frame,
            target_ms=max(frame, 120),
            max_ms=max(frame, 400),
            start_wait_ms=200,
            give_up_ms=GIVE_UP_MS,
        )

    @property
    def behind_ms(self) -> int:
        """Where a (re)opened stream starts: the buffer's target before the newest frame."""
        return self.buffer.target_ms

    @property
    def over(self) -> bool:
        return self.ended is not None

    def push(self, seq: int, pcm: bytes, now_ms: int) -> None:
        """A frame came from the stream."""
        if self.ended is None:
            self.buffer.push(seq, pcm, now_ms)

    def finish(self) -> None:
        """The end flag: play what is buffered, then the page is over (completed)."""
        self.end_flag = True
        self.buffer.finish()

    def end(self, reason: str) -> None:
        """Over now, for `reason` (the first reason stays)."""
        if self.ended is None:
            self.ended = reason

    def limit(self, now_ms: int) -> str | None:
        """The page's own limit: `cut:max-length` once `max_ms` have passed since it began
        here (the server ends it first; this is the speaker's own clock)."""
        if now_ms - self.started_ms >= self.page.max_ms:
            return MAX_LENGTH
        return None

    def wants_stream(self, now_ms: int) -> bool:
        """Whether a broken stream is worth opening again now: the page is not over here
        (a reconnect within the 2 s without audio rejoins at the newest frame)."""
        if self.ended is not None or self.end_flag:
            return False
        return self.limit(now_ms) is None and not self._silent_too_long(now_ms)

    def _silent_too_long(self, now_ms: int) -> bool:
        """No frame has come for GIVE_UP_MS since the audio was due (or since the last frame
        came). While the chime plays, the audio is not due yet."""
        if self.audio_from_ms is None:
            return False
        last = self.buffer.last_arrival_ms
        since = self.audio_from_ms if last is None else max(last, self.audio_from_ms)
        return now_ms - since >= GIVE_UP_MS

    def begin_audio(self, now_ms: int) -> None:
        """The chime is over: the audio is due from now, from the newest frames (what came
        during the chime beyond the buffer's target is dropped: live, not late)."""
        if self.audio_from_ms is None:
            self.audio_from_ms = now_ms
            self.buffer.trim()

    def next_chunk(self, now_ms: int) -> Chunk | None:
        """What to play for the next frame time, or None once the page is over (`ended`
        says why): the sender's end after the last buffered frame, 2 s without audio, or
        a cut."""
        if self.ended is not None:
            return None
        self.begin_audio(now_ms)
        if self.buffer.buffered_ms == 0 and not self.end_flag and self._silent_too_long(now_ms):
            self.end(STREAM_LOST)
            return None
        pulled: Pulled = self.buffer.pull(now_ms)
        if pulled.state is State.ENDED:
            self.end(COMPLETED if self.end_flag else STREAM_LOST)
            return None
        silence = self.sink_rate * self.page.frame_ms // 1000
        if pulled.pcm is None:
            return Chunk(None, max(1, silence))
        pcm = resample(pulled.pcm, self.page.rate, self.sink_rate)
        return Chunk(pcm, len(pcm) // 2) if pcm else Chunk(None, max(1, silence))

    def counts(self) -> dict[str, int]:
        """The jitter buffer's counts, for the play log."""
        s = self.buffer.stats
        return {
            "played": s.played,
            "dropped": s.dropped,
            "late": s.late,
            "underruns": s.underruns,
            "max_delay_ms": s.max_delay_ms,
            "streams": self.streams,
        }
