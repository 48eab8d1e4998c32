"""The client's view of a plan (GET /speakers/{id}/plan) and of urgent events, parsed once
through the wire models the server builds them with (broadcaster/schema.py)."""

from __future__ import annotations

import bisect
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from broadcaster import schema
from broadcaster.client.geo import NO_PLACES, Places, QuietZone, Shape
from broadcaster.errors import ValidationError

log = logging.getLogger(__name__)


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
    places: Places = NO_PLACES  # quiet zones and area-bound messages (a vehicle; issue 13)
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


def _spec(key: str, clip: schema.Clip) -> ClipSpec:
    return ClipSpec(
        key=key,
        url=clip.url or f"/api/v1/clips/{key}",
        sha256=clip.sha256.lower(),
        size=clip.size,
        duration_ms=clip.duration_ms,
        fmt=clip.format,
    )


def parse_clip(key: str, raw: Any, where: str) -> ClipSpec:
    """A clip descriptor of the plan's `clips` (schema.Clip)."""
    return _spec(key, schema.parse(schema.Clip, raw, where))


def parse_plan(body: dict[str, Any], etag: str | None = None) -> Plan:
    """A Plan from the JSON body (schema.Plan); raises ValidationError naming the field."""
    wire = schema.parse(schema.Plan, _tolerant(body), "plan")
    clips = {key: _spec(key, clip) for key, clip in wire.clips.items()}
    for n, item in enumerate(wire.items):
        if item.clip not in clips:
            raise ValidationError(f"plan.items[{n}].clip: {item.clip!r} is not in plan.clips")
    items = [
        Item(
            start=it.start,
            end=it.end,
            kind=it.kind,
            clip=it.clip,
            message=it.message,
            urgent=it.urgent or None,
            window_end=it.window_end,
        )
        for it in wire.items
    ]
    windows = [Window(w.start, w.end) for w in wire.windows]
    # optional (older servers); one not in ``clips`` is ignored
    chime = wire.chime if wire.chime in clips else None
    return Plan(
        speaker=wire.speaker,
        windows=tuple(sorted(windows, key=lambda w: w.start)),
        items=tuple(sorted(items, key=lambda i: i.start)),
        clips=clips,
        heartbeat_s=max(1.0, float(wire.heartbeat_s)),
        etag=etag,
        zone=wire.zone,
        chime=chime,
        places=parse_places(wire),
    )


def parse_places(wire: schema.PlanContent) -> Places:
    """The plan's quiet zones and area-bound messages, ready to decide with. Lenient where a
    mistake would be loud: hours that do not read make their zone quiet at all hours."""
    if not (wire.quiet_zones or wire.message_areas):
        return NO_PLACES
    zone: tzinfo
    try:
        zone = ZoneInfo(wire.zone)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("zone %s unknown here: quiet zones' hours read in UTC", wire.zone)
        zone = UTC
    zones = []
    for q in wire.quiet_zones:
        try:
            hours = tuple((time.fromisoformat(h.start), time.fromisoformat(h.end)) for h in q.hours)
        except ValueError:
            log.warning("quiet zone %s: hours %s do not read; quiet at all hours", q.id, q.hours)
            hours = ()
        volume = 0.0 if q.action == "mute" or q.volume is None else q.volume / 100
        zones.append(QuietZone(q.id, q.polygon, hours, min(1.0, max(0.0, volume))))
    shapes = {a: Shape.of(polygon) for a, polygon in wire.areas.items() if len(polygon) >= 3}
    bound = {
        message: tuple(shapes[a] for a in areas if a in shapes)
        for message, areas in wire.message_areas.items()
    }
    return Places(zone, tuple(zones), {m: s for m, s in bound.items() if s})


def _tolerant(body: Any) -> Any:
    """What older servers sent, as the model reads it: nulls for lists, maps and defaults, and
    an item's urgent as an object carrying the id."""
    if not isinstance(body, dict):
        return body
    fixed = {k: v for k, v in body.items() if v is not None or k == "chime"}
    items = fixed.get("items")
    if isinstance(items, list):
        fixed["items"] = [
            {**it, "urgent": it["urgent"].get("id")}
            if isinstance(it, dict) and isinstance(it.get("urgent"), dict)
            else it
            for it in items
        ]
    return fixed


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
    """A clip descriptor carrying its ``key`` (schema.KeyedClip; None for a JSON null)."""
    if raw is None:
        return None
    clip = schema.parse(schema.KeyedClip, raw, where)
    return _spec(clip.key, clip)


def parse_urgent(seq: int, payload: dict[str, Any], received: datetime) -> UrgentEvent:
    """An UrgentEvent from an ``urgent`` event payload (schema.UrgentEvent)."""
    where = f"event {seq}"
    wire = schema.parse(schema.UrgentEvent, payload, where)
    return UrgentEvent(
        id=wire.id,
        seq=seq,
        clip=None if wire.clip is None else _spec(wire.clip.key, wire.clip),
        chime=None if wire.chime is None else _spec(wire.chime.key, wire.chime),
        speech_offset_ms=wire.speech_offset_ms,
        message=wire.message,
        repeats=max(1, wire.repeats),
        interval_s=max(0.0, wire.interval_s),
        starts_at=wire.starts_at or received,
        expires_at=wire.expires_at,
        override_window=wire.override_window,
    )
