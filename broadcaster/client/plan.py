"""The client's view of a plan (GET /speakers/{id}/plan) and of urgent events, parsed once."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from broadcaster.errors import ValidationError


def parse_time(value: Any, where: str) -> datetime:
    """An aware datetime from an ISO 8601 string with its UTC offset."""
    if not isinstance(value, str):
        raise ValidationError(f"{where}: expected an ISO 8601 time, got {value!r}")
    try:
        t = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError(f"{where}: not an ISO 8601 time: {value!r}") from exc
    if t.tzinfo is None:
        raise ValidationError(f"{where}: time without a UTC offset: {value!r}")
    return t


@dataclass(frozen=True, slots=True)
class ClipSpec:
    """A clip as the plan names it: where to get it and how to check it."""

    key: str
    url: str
    sha256: str
    size: int
    duration_ms: int
    fmt: str = "wav"


@dataclass(frozen=True, slots=True)
class Window:
    """A hard playback window ``[start, end)``."""

    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Item:
    """One timeline entry: a clip to start at ``start``."""

    start: datetime
    end: datetime
    kind: str  # loop | urgent | selftest
    clip: str
    message: str | None
    urgent: str | None
    window_end: datetime | None  # None: an override_window urgent, not bound to a window


@dataclass(frozen=True, slots=True)
class Plan:
    """A speaker's plan; ``items`` and ``windows`` are sorted by start."""

    speaker: str
    windows: tuple[Window, ...]
    items: tuple[Item, ...]
    clips: dict[str, ClipSpec]
    heartbeat_s: float = 30.0
    etag: str | None = None
    zone: str = "UTC"
    chime: str | None = None  # the pre-announce chime's key (in ``clips``), None without one
    _item_starts: list[datetime] = field(default_factory=list, repr=False, compare=False)
    _window_starts: list[datetime] = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._item_starts[:] = [i.start for i in self.items]
        self._window_starts[:] = [w.start for w in self.windows]

    def window_at(self, t: datetime) -> Window | None:
        """The window containing ``t``, if any."""
        i = bisect.bisect_right(self._window_starts, t) - 1
        # Windows may touch; look back a little in case an earlier one is longer.
        for w in self.windows[max(0, i - 2) : i + 1][::-1]:
            if w.start <= t < w.end:
                return w
        return None

    def next_window_start(self, t: datetime) -> datetime | None:
        """The first window start strictly after ``t``."""
        i = bisect.bisect_right(self._window_starts, t)
        return self.windows[i].start if i < len(self.windows) else None

    def items_from(self, t: datetime) -> tuple[Item, ...]:
        """Items starting at or after ``t``, in order."""
        return self.items[bisect.bisect_left(self._item_starts, t) :]


def parse_clip(key: str, raw: Any, where: str) -> ClipSpec:
    if not isinstance(raw, dict):
        raise ValidationError(f"{where}: expected an object")
    try:
        return ClipSpec(
            key=key,
            url=str(raw.get("url") or f"/api/v1/clips/{key}"),
            sha256=str(raw["sha256"]).lower(),
            size=int(raw["size"]),
            duration_ms=int(raw.get("duration_ms") or 0),
            fmt=str(raw.get("format") or "wav"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValidationError(f"{where}: missing or bad field {exc}") from exc


def parse_plan(body: dict[str, Any], etag: str | None = None) -> Plan:
    """A Plan from the JSON body; raises ValidationError with where it went wrong."""
    if not isinstance(body, dict):
        raise ValidationError("plan: expected a JSON object")
    raw_clips = body.get("clips") or {}
    if not isinstance(raw_clips, dict):
        raise ValidationError("plan.clips: expected an object")
    clips = {k: parse_clip(k, v, f"plan.clips.{k}") for k, v in raw_clips.items()}
    windows = []
    for n, w in enumerate(body.get("windows") or []):
        where = f"plan.windows[{n}]"
        if not isinstance(w, dict):
            raise ValidationError(f"{where}: expected an object")
        windows.append(Window(parse_time(w.get("start"), where), parse_time(w.get("end"), where)))
    items = []
    for n, it in enumerate(body.get("items") or []):
        where = f"plan.items[{n}]"
        if not isinstance(it, dict):
            raise ValidationError(f"{where}: expected an object")
        clip = it.get("clip")
        if clip not in clips:
            raise ValidationError(f"{where}.clip: {clip!r} is not in plan.clips")
        end = parse_time(it.get("end"), where)
        urgent = it.get("urgent")
        if isinstance(urgent, dict):  # tolerate an object carrying the id
            urgent = urgent.get("id")
        items.append(
            Item(
                start=parse_time(it.get("start"), where),
                end=end,
                kind=str(it.get("kind") or "loop"),
                clip=str(clip),
                message=it.get("message"),
                urgent=str(urgent) if urgent else None,
                window_end=parse_time(it["window_end"], where) if it.get("window_end") else None,
            )
        )
    chime = body.get("chime")  # optional (older servers); one not in ``clips`` is ignored
    chime = chime if isinstance(chime, str) and chime in clips else None
    try:
        heartbeat_s = float(body.get("heartbeat_s") or 30)
    except (TypeError, ValueError) as exc:
        raise ValidationError("plan.heartbeat_s: expected a number") from exc
    return Plan(
        speaker=str(body.get("speaker") or ""),
        windows=tuple(sorted(windows, key=lambda w: w.start)),
        items=tuple(sorted(items, key=lambda i: i.start)),
        clips=clips,
        heartbeat_s=max(1.0, heartbeat_s),
        etag=etag,
        zone=str(body.get("zone") or "UTC"),
        chime=chime,
    )


@dataclass(frozen=True, slots=True)
class UrgentEvent:
    """An urgent announcement as received on the event stream.

    ``clip`` is None when the speech was still being rendered (an ``urgent_clip`` event
    brings it later); ``chime`` is the pre-announce chime to play meanwhile, and
    ``speech_offset_ms`` where the speech begins in the clip (after its own chime).
    """

    id: str
    seq: int
    clip: ClipSpec | None
    message: str | None
    repeats: int
    interval_s: float
    starts_at: datetime
    expires_at: datetime | None
    override_window: bool
    chime: ClipSpec | None = None
    speech_offset_ms: int = 0


def parse_event_clip(raw: Any, where: str) -> ClipSpec | None:
    """A clip descriptor carrying its ``key`` (None for a JSON null)."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or not raw.get("key"):
        raise ValidationError(f"{where}: expected an object with a key")
    return parse_clip(str(raw["key"]), raw, where)


def parse_urgent(seq: int, payload: dict[str, Any], received: datetime) -> UrgentEvent:
    """An UrgentEvent from an ``urgent`` event payload."""
    where = f"event {seq}"
    if "clip" not in payload:
        raise ValidationError(f"{where}.clip: missing")
    expires = payload.get("expires_at")
    starts = payload.get("starts_at")
    try:
        offset_ms = max(0, int(payload.get("speech_offset_ms") or 0))
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{where}.speech_offset_ms: expected a number") from exc
    return UrgentEvent(
        id=str(payload.get("id") or ""),
        seq=seq,
        clip=parse_event_clip(payload.get("clip"), f"{where}.clip"),
        chime=parse_event_clip(payload.get("chime"), f"{where}.chime"),
        speech_offset_ms=offset_ms,
        message=payload.get("message"),
        repeats=max(1, int(payload.get("repeats") or 1)),
        interval_s=max(0.0, float(payload.get("interval_s") or 0)),
        starts_at=parse_time(starts, f"{where}.starts_at") if starts else received,
        expires_at=parse_time(expires, f"{where}.expires_at") if expires else None,
        override_window=bool(payload.get("override_window")),
    )
