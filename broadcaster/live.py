"""Live pages on the server (issue 12, docs/live-paging.md): who is talking to which speakers,
and the frames on their way to each of them.

`Pages` is the registry: one live page per speaker at a time (a second pager is refused with
`SpeakerBusy`, naming who talks; an admin may take over), a maximum length, and the end of a
page for every reason (the pager let go, was taken over, ran past the maximum, went away).
A `Page` keeps its newest frames in a ring (`ring_ms`): a speaker that connects late, or
again after a stall, starts near the newest audio, never from the beginning, so no speaker
falls behind for good.

Thread-safe (under `broadcaster serve` the locks are gevent's, as everything there); times are
monotonic milliseconds passed in by the caller, so the rules are tested without a clock.
"""

from __future__ import annotations

import logging
import secrets
import struct
import threading
import wave
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from broadcaster.errors import Conflict, Forbidden, ValidationError
from broadcaster.models import Role, Urgent, User
from broadcaster.store.livepages import LiveRecord
from broadcaster.store.records import EventKind

if TYPE_CHECKING:
    from broadcaster.service import Service

log = logging.getLogger(__name__)

FRAME_MS = 20
RING_MS = 2000
MAX_LENGTH_MS = 10 * 60 * 1000
BEHIND_CLEAR_FRAMES = 50  # a speaker that skipped is `live` again after 1 s without a skip

# A target's state as the pager sees it (docs/live-paging.md): told the page starts, its
# stream reading, skipping frames to keep up, its stream closed before the end, over.
CONNECTING, LIVE, BEHIND, DROPPED, ENDED = "connecting", "live", "behind", "dropped", "ended"
# What a target's page came to, for the record (the urgent history): heard to the end (as
# far as the server can tell: the client's own play-log entry says the rest), its stream
# lost before the end, never opened, or taken over by another pager.
HEARD, LOST, NEVER = "heard", "dropped", "not-connected"


@dataclass(slots=True)
class TargetState:
    """One speaker of a page, as the server sees it."""

    state: str = CONNECTING
    frames: int = 0  # frames sent to it
    skipped: int = 0  # frames it skipped to keep up
    streams: int = 0  # times it opened the stream (more than one: it reconnected)
    outcome: str | None = None  # once the page is over for it
    _since_skip: int = 0

    def to_json(self) -> dict[str, object]:
        return {"state": self.state, "frames": self.frames, "skipped": self.skipped,
                "streams": self.streams, "outcome": self.outcome}  # fmt: skip


class SpeakerBusy(Conflict):
    """A speaker already carries someone's live page (HTTP 409 `busy`)."""

    def __init__(self, speaker_ids: Iterable[str], by: str) -> None:
        self.speaker_ids = tuple(sorted(speaker_ids))
        self.by = by
        names = ", ".join(self.speaker_ids)
        super().__init__(f"busy: {by} is talking on {names}")


@dataclass(frozen=True, slots=True)
class Frame:
    seq: int
    pcm: bytes


@dataclass(slots=True)
class Page:
    """One live page: who talks, to whom, and its frames."""

    id: str
    by: str
    speaker_ids: frozenset[str]
    started_ms: int
    max_ms: int = MAX_LENGTH_MS
    ring_ms: int = RING_MS
    ended: str | None = None  # why, once over: "released", "taken over by …", "max-length", …
    ended_for: dict[str, str] = field(default_factory=dict)  # speakers taken over mid-page
    targets: dict[str, TargetState] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # speaker -> its name
    states_version: int = 0  # moves whenever a target's state changes
    _frames: deque[Frame] = field(default_factory=deque)
    _next_seq: int = 0
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        for speaker in self.speaker_ids:
            self.targets.setdefault(speaker, TargetState())

    # -- each target's state (under `_changed`) ------------------------------------------
    def _set_state(self, speaker_id: str, state: str) -> None:
        target = self.targets[speaker_id]
        if target.state != state and target.state != ENDED:
            target.state = state
            self.states_version += 1

    def _close_for(self, speaker_id: str, outcome: str | None = None) -> None:
        """The page is over for `speaker_id`: its outcome from the state it was in."""
        target = self.targets[speaker_id]
        if target.outcome is None:
            target.outcome = outcome or {CONNECTING: NEVER, DROPPED: LOST}.get(target.state, HEARD)
        self._set_state(speaker_id, ENDED)

    def stream_opened(self, speaker_id: str) -> None:
        """The speaker's stream is reading (again)."""
        with self._changed:
            self.targets[speaker_id].streams += 1
            self.targets[speaker_id]._since_skip = 0
            if self.ended is None and speaker_id not in self.ended_for:
                self._set_state(speaker_id, LIVE)
            self._changed.notify_all()

    def stream_closed(self, speaker_id: str, *, finished: bool) -> None:
        """The speaker's stream ended: after the end flag (`finished`), or broke before it
        (it may come back while the page runs)."""
        with self._changed:
            if not finished and self.live_for(speaker_id):
                self._set_state(speaker_id, DROPPED)
            self._changed.notify_all()

    def states(self) -> tuple[int, dict[str, TargetState]]:
        """(version, each target's state): a copy, for telling the pager what changed."""
        with self._changed:
            copied = {s: TargetState(t.state, t.frames, t.skipped, t.streams, t.outcome)
                      for s, t in self.targets.items()}  # fmt: skip
            return self.states_version, copied

    def wait_states(self, version: int, wait_s: float) -> int:
        """Wait up to `wait_s` for the states to move past `version`; the version now."""
        with self._changed:
            if self.states_version == version:
                self._changed.wait(wait_s)
            return self.states_version

    def add(self, pcm: bytes) -> int:
        """Append one frame from the pager; its sequence number (refused once ended)."""
        with self._changed:
            if self.ended is not None:
                raise Conflict(f"the live page {self.id} is over ({self.ended})")
            seq = self._next_seq
            self._next_seq += 1
            self._frames.append(Frame(seq, pcm))
            while len(self._frames) * FRAME_MS > self.ring_ms:
                self._frames.popleft()
            self._changed.notify_all()
            return seq

    def end(self, reason: str) -> None:
        with self._changed:
            if self.ended is None:
                self.ended = reason
            for speaker in self.speaker_ids:
                self._close_for(speaker)
            self._changed.notify_all()

    def end_for(self, speaker_id: str, reason: str) -> None:
        """End the page for one speaker only (an admin took it over)."""
        with self._changed:
            self.ended_for.setdefault(speaker_id, reason)
            self._close_for(speaker_id, reason)
            self._changed.notify_all()

    def _delivered(self, speaker_id: str, skipped: int, sent: int) -> None:
        target = self.targets.get(speaker_id)
        if target is None:
            return
        target.frames += sent
        if skipped > 0:
            target.skipped += skipped
            target._since_skip = 0
            if self.live_for(speaker_id):
                self._set_state(speaker_id, BEHIND)
            return
        target._since_skip += sent
        if target.state == BEHIND and target._since_skip >= BEHIND_CLEAR_FRAMES:
            self._set_state(speaker_id, LIVE)

    def live_for(self, speaker_id: str) -> bool:
        return (
            self.ended is None
            and speaker_id in self.speaker_ids
            and (speaker_id not in self.ended_for)
        )

    def start_seq(self, behind_ms: int) -> int:
        """Where a speaker joining now starts: `behind_ms` of audio before the newest frame
        (the jitter buffer's target), within what the ring still holds."""
        with self._changed:
            oldest = self._frames[0].seq if self._frames else self._next_seq
            return max(oldest, self._next_seq - behind_ms // FRAME_MS)

    def frames_after(
        self, speaker_id: str, seq: int, wait_s: float
    ) -> tuple[list[Frame], int, str | None]:
        """The frames from `seq` on for `speaker_id`, waiting up to `wait_s` for one:
        (frames, the next seq to ask for, why the page is over for this speaker or None).
        Frames the ring no longer holds are skipped: the speaker catches up, it never lags
        for good."""
        with self._changed:
            while True:
                why = self.ended_for.get(speaker_id) or self.ended
                fresh = [f for f in self._frames if f.seq >= seq]
                if fresh:
                    self._delivered(speaker_id, fresh[0].seq - seq, len(fresh))
                    return fresh, fresh[-1].seq + 1, None
                if why is not None:
                    return [], seq, why
                if not self._changed.wait(wait_s):
                    return [], seq, None


def new_page_id() -> str:
    """A page's id, unique across restarts (the record in the database keeps it)."""
    return f"live-{secrets.token_hex(6)}"


class Pages:
    """The live pages of a server process."""

    def __init__(self, *, max_ms: int = MAX_LENGTH_MS, ring_ms: int = RING_MS) -> None:
        self.max_ms = max_ms
        self.ring_ms = ring_ms
        self._lock = threading.Lock()
        self._pages: dict[str, Page] = {}

    def start(
        self,
        by: str,
        speaker_ids: Iterable[str],
        now_ms: int,
        *,
        take_over: bool = False,
        page_id: str | None = None,
    ) -> Page:
        """A new page on `speaker_ids` (already checked for scope and windows). Refused with
        `SpeakerBusy` while another page holds any of them, unless `take_over` (admins): then
        that page ends for those speakers, and for good if none of its speakers remain."""
        targets = frozenset(speaker_ids)
        if not targets:
            raise ValueError("a live page needs at least one speaker")
        with self._lock:
            holders = {
                speaker: page
                for page in self._pages.values()
                for speaker in targets
                if page.live_for(speaker)
            }
            if holders and not take_over:
                first = next(iter(sorted(holders)))
                raise SpeakerBusy(holders, holders[first].by)
            for speaker, page in holders.items():
                page.end_for(speaker, f"taken over by {by}")
                if all(not page.live_for(s) for s in page.speaker_ids):
                    page.end(f"taken over by {by}")
            page = Page(
                page_id or new_page_id(),
                by,
                targets,
                now_ms,
                max_ms=self.max_ms,
                ring_ms=self.ring_ms,
            )
            self._pages[page.id] = page
            return page

    def get(self, page_id: str) -> Page | None:
        with self._lock:
            return self._pages.get(page_id)

    def running(self) -> list[Page]:
        """The pages not over yet."""
        with self._lock:
            return [p for p in self._pages.values() if p.ended is None]

    def holding(self, speaker_id: str) -> Page | None:
        """The page live on `speaker_id` now, if any."""
        with self._lock:
            return next((p for p in self._pages.values() if p.live_for(speaker_id)), None)

    def expire(self, now_ms: int) -> list[Page]:
        """End pages past their maximum length, and forget ended ones; the pages ended now."""
        ended = []
        with self._lock:
            for page in list(self._pages.values()):
                if page.ended is None and now_ms - page.started_ms >= page.max_ms:
                    page.end("max-length")
                    ended.append(page)
                if page.ended is not None and now_ms - page.started_ms >= page.max_ms + 60_000:
                    del self._pages[page.id]
        return ended


# -- starting a page: the checks of urgent announcements, then the registry -----------------


@dataclass(frozen=True, slots=True)
class PageRequest:
    """What a pager asks for (parsed from the WebSocket's first message or the CLI)."""

    speaker_ids: tuple[str, ...] = ()
    area_ids: tuple[str, ...] = ()
    override_window: bool = False
    take_over: bool = False


@dataclass(frozen=True, slots=True)
class TargetLive:
    """One target of a page: live now, or why not."""

    speaker: str
    name: str
    live: bool
    reason: str | None


def start_page(
    service: Service,
    pages: Pages,
    user: User,
    request: PageRequest,
    now: datetime,
    now_ms: int,
) -> tuple[Page, tuple[TargetLive, ...]]:
    """Check `request` as an urgent announcement is checked (role, the user's areas, the
    windows and who may override them), start the page on the targets that can play now and
    tell each of them (one `live` event per target and the audit line, in one transaction).

    Raises what an urgent send raises (`Forbidden`, `NotFound`, `ValidationError`), and
    `SpeakerBusy` when another page holds a target (unless an admin takes it over)."""
    from broadcaster import access, editing, urgent  # the use cases of urgent announcements

    if user.role is Role.OPERATOR:
        raise Forbidden("operators cannot page")
    if request.take_over and user.role is not Role.ADMIN:
        raise Forbidden("take_over: only an admin may take over a live page")
    if not request.speaker_ids and not request.area_ids:
        raise ValidationError("speakers: choose at least one loudspeaker or area")
    deployment = service.deployment(now)
    scope = editing.scope_for(user, service.store, deployment)
    for speaker_id in request.speaker_ids:
        scope.speaker(speaker_id)
    for area_id in request.area_ids:
        scope.area(area_id)
    areas = {a.id: a for a in deployment.areas}
    chosen = set(request.speaker_ids)
    chosen |= {s.id for s in access.speakers_in(request.area_ids, deployment.speakers, areas)}
    targets = sorted(chosen)
    if not targets:
        raise ValidationError("speakers: the chosen areas hold no loudspeaker")
    probe = Urgent(
        id=f"live-probe-{now_ms}",
        created_at=now,
        starts_at=now,
        expires_at=now + timedelta(milliseconds=pages.max_ms),
        text="live",
        speaker_ids=request.speaker_ids,
        area_ids=request.area_ids,
        override_window=request.override_window,
        created_by=user.name,
    )
    cover = urgent.coverage(service, probe, targets, now, deployment)
    found = []
    for c in cover:
        now_or_never = c.plays_at is not None and c.plays_at <= now + timedelta(seconds=1)
        reason = None if now_or_never else (c.reason or "not_now")
        found.append(TargetLive(c.speaker, c.name, now_or_never and c.online, reason))
    live = [t.speaker for t in found if t.live]
    if not live:
        raise ValidationError(
            "speakers: no loudspeaker can take a live page now ("
            + "; ".join(f"{t.name}: {t.reason}" for t in found)
            + ")"
        )
    by = service.store.people.display_name(user.name) or user.name
    page = pages.start(by, live, now_ms, take_over=request.take_over)
    chime = service.library.chime()
    payload = {
        "page": page.id,
        "stream": f"/api/v1/speakers/{{speaker}}/live/{page.id}",
        "chime": {"key": chime.key, **chime.to_json()},
        "rate": service.settings.render.sample_rate,
        "frame_ms": FRAME_MS,
        "max_ms": pages.max_ms,
        "by": page.by,
    }
    names = {t.speaker: t.name for t in found}
    record = LiveRecord(
        id=page.id,
        created_by=user.name,
        by_name=by,
        started_at=now,
        speaker_ids=request.speaker_ids,
        area_ids=request.area_ids,
        override_window=request.override_window,
        take_over=request.take_over,
        targets={
            t.speaker: {"name": t.name, "outcome": None if t.live else f"not-paged:{t.reason}"}
            for t in found
        },
        recording=f"live/{page.id}.wav",
    )
    store = service.store
    try:
        with store.transaction():
            last = store.devices.append_events(
                [(sid, EventKind.LIVE, payload) for sid in live], now
            )
            store.live.start(record)
            store.journal.append_audit(now, f"user:{user.name}", "live.start", page.id,
                               {"speakers": live, "override_window": request.override_window,
                                "take_over": request.take_over})  # fmt: skip
    except BaseException:
        page.end("not started")  # nobody was told: the speakers stay free
        raise
    page.names = names
    service.notifier.publish(last)
    return page, tuple(found)


def end_page(
    service: Service,
    page: Page,
    user: User,
    reason: str,
    now: datetime,
    recording: Recording | None = None,
) -> None:
    """End `page` (for every speaker still on it), keep how it went for each target and
    write the audit line; the recording becomes a clip in the background."""
    page.end(reason)
    why = page.ended or reason
    _, states = page.states()
    store = service.store
    try:
        kept = store.live.get(page.id)
        targets = {s: dict(v) for s, v in kept.targets.items()}
        for speaker, state in states.items():
            targets.setdefault(speaker, {"name": page.names.get(speaker, speaker)})
            targets[speaker].update(
                outcome=state.outcome, frames=state.frames, skipped=state.skipped,
                streams=state.streams,
            )  # fmt: skip
        with store.transaction():
            store.live.finish(page.id, now, why, targets)
            store.journal.append_audit(
                now, f"user:{user.name}", "live.end", page.id,
                {"reason": why, "outcomes": {s: v.get("outcome") for s, v in targets.items()}},
            )  # fmt: skip
    finally:
        if recording is not None:
            recording.close()
            threading.Thread(
                target=keep_clip, args=(service, page.id, recording.path), daemon=True
            ).start()


# -- keeping a page: its frames in a WAV file, then a clip ----------------------------------


class Recording:
    """The frames of a page as they come, appended to a WAV file (16-bit mono at `rate`).

    The header says how long the file is only once closed: a server killed mid-page leaves
    a file `repair_wav` mends at the next start."""

    def __init__(self, path: Path, rate: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.frames = 0
        self._file = wave.open(str(path), "wb")  # noqa: SIM115 (closed by close())
        self._file.setnchannels(1)
        self._file.setsampwidth(2)
        self._file.setframerate(rate)
        self._closed = False

    def write(self, pcm: bytes) -> None:
        if not self._closed:
            self._file.writeframesraw(pcm)
            self.frames += 1

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._file.close()


def repair_wav(path: Path) -> bool:
    """Make the RIFF and data sizes of a WAV cut short (its writer killed) match the file;
    False if it is not such a file."""
    try:
        with path.open("r+b") as f:
            head = f.read(44)
            if len(head) < 44 or head[:4] != b"RIFF" or head[36:40] != b"data":
                return False
            size = f.seek(0, 2)
            data = size - 44
            data -= data % 2
            f.seek(4)
            f.write(struct.pack("<I", 36 + data))
            f.seek(40)
            f.write(struct.pack("<I", data))
        return True
    except OSError:
        return False


def recording_path(service: Service, name: str) -> Path:
    """Where the kept WAV of a page lives (`LiveRecord.recording` is relative to it)."""
    return service.library.recordings / name


def keep_clip(service: Service, page_id: str, path: Path) -> str | None:
    """Render a page's recording as a clip (the loudness treatment of every clip) and name it
    in the page's record; None when there is nothing to hear (no frame, silence)."""
    from audio.errors import AudioError

    key, duration = None, None
    try:
        with wave.open(str(path), "rb") as f:
            empty = f.getnframes() == 0
        if not empty:
            clip = service.library.renderer.render_recording(path, chime=False)
            key, duration = clip.key, clip.entry.duration_ms
    except (AudioError, OSError, EOFError, wave.Error) as exc:
        log.info("live page %s: no clip kept (%s)", page_id, exc)
    except Exception:  # a bug: the page is over all the same; say so in the log
        log.exception("live page %s: keeping its clip failed", page_id)
    try:
        service.store.live.set_clip(page_id, key, duration)
    except Exception:
        log.exception("live page %s: cannot name its clip", page_id)
    return key


def close_unfinished(service: Service, now: datetime) -> tuple[str, ...]:
    """At start: close the pages a server killed mid-page left open (`server restart`),
    audit it, and keep what their recordings hold."""
    closed = service.store.live.close_unfinished(now, "server restart")
    for record in closed:
        service.store.journal.append_audit(
            now, "server", "live.end", record.id, {"reason": "server restart"}
        )
        if record.recording:
            path = recording_path(service, record.recording)
            if repair_wav(path):
                threading.Thread(
                    target=keep_clip, args=(service, record.id, path), daemon=True
                ).start()
    return tuple(r.id for r in closed)
