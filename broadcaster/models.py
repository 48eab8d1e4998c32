"""Frozen, typed domain values: the words of docs/design.md as Python types.

Every value validates itself in ``__post_init__`` and raises
:class:`broadcaster.errors.ValidationError` with a message naming the field.
Collections are tuples or frozensets, datetimes are always aware, durations
carry their unit in the name (``gap_s``, ``duration_ms``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum

from broadcaster import geometry, limits
from broadcaster.errors import ValidationError


class AreaKind(StrEnum):
    DISTRICT = "district"
    TOWNSHIP = "township"
    VILLAGE = "village"
    COMMUNITY = "community"


class SpeakerKind(StrEnum):
    VEHICLE = "vehicle"
    FIXED = "fixed"


class Role(StrEnum):
    ADMIN = "admin"
    CHIEF = "chief"
    OPERATOR = "operator"


class QuietAction(StrEnum):
    """What a loudspeaker does inside an active quiet zone (issue 13)."""

    MUTE = "mute"
    VOLUME = "volume"


class PlayKind(StrEnum):
    """What a timeline item (and a play-log entry) is: a loop clip, an urgent or the self-test;
    a play-log entry may also be a live page (never a plan item)."""

    LOOP = "loop"
    URGENT = "urgent"
    SELFTEST = "selftest"
    LIVE = "live"


def _require(ok: bool, what: str, message: str) -> None:
    if not ok:
        raise ValidationError(f"{what}: {message}")


def _coerce_enum(obj: object, name: str, enum: type[StrEnum], what: str) -> None:
    """Accept the enum or its string value (as read from YAML/JSON); store the enum."""
    value = getattr(obj, name)
    try:
        object.__setattr__(obj, name, enum(value))
    except ValueError:
        allowed = ", ".join(e.value for e in enum)
        raise ValidationError(f"{what}: {value!r} is not one of {allowed}") from None


def _within(value: float, bound: limits.Bound[int] | limits.Bound[float], what: str) -> None:
    _require(value in bound, what, f"must be from {bound}")


def _nonempty(value: str, what: str) -> None:
    _require(isinstance(value, str) and value.strip() != "", what, "must be a non-empty string")


def _aware(value: datetime | None, what: str) -> None:
    if value is None:
        return
    _require(isinstance(value, datetime), what, "must be a datetime")
    _require(value.utcoffset() is not None, what, "must be timezone-aware")


def _tuple_of_ids(value: tuple[str, ...], what: str) -> None:
    _require(isinstance(value, tuple), what, "must be a tuple")
    for item in value:
        _nonempty(item, what)


@dataclass(frozen=True, slots=True)
class Area:
    """A district, township, village or community; areas nest through ``parent_id``.

    ``polygon`` (issue 13) is its outline as ``(lat, lon)`` points, checked by
    `broadcaster.geometry.polygon` (stored without the closing repeat); None: no shape.
    """

    id: str
    name: str
    kind: AreaKind
    parent_id: str | None = None
    polygon: geometry.Ring | None = None

    def __post_init__(self) -> None:
        _nonempty(self.id, "area.id")
        _nonempty(self.name, f"area {self.id}.name")
        _coerce_enum(self, "kind", AreaKind, f"area {self.id}.kind")
        _require(self.parent_id != self.id, f"area {self.id}.parent_id", "area is its own parent")
        if self.polygon is not None:
            ring = geometry.polygon(self.polygon, f"area {self.id}.polygon")
            object.__setattr__(self, "polygon", ring)


@dataclass(frozen=True, slots=True)
class Stop:
    """One stop of a vehicle route; coordinates are optional but come in pairs."""

    name: str
    lat: float | None = None
    lon: float | None = None
    note: str = ""

    def __post_init__(self) -> None:
        _nonempty(self.name, "stop.name")
        _require(
            (self.lat is None) == (self.lon is None), f"stop {self.name}", "give both lat and lon"
        )
        if self.lat is not None and self.lon is not None:
            _within(self.lat, limits.LAT, f"stop {self.name}.lat")
            _within(self.lon, limits.LON, f"stop {self.name}.lon")


@dataclass(frozen=True, slots=True)
class Route:
    """A vehicle's ordered stops."""

    stops: tuple[Stop, ...] = ()

    def __post_init__(self) -> None:
        _require(isinstance(self.stops, tuple), "route.stops", "must be a tuple")


@dataclass(frozen=True, slots=True)
class Speaker:
    """A loudspeaker endpoint running one client; ``volume`` is the amplifier level in percent.

    ``location`` (issue 13) is where a fixed loudspeaker stands, ``(lat, lon)``; a vehicle's
    place comes from its GPS.
    """

    id: str
    name: str
    kind: SpeakerKind
    area_id: str
    route: Route | None = None
    volume: int = limits.SPEAKER_VOLUME.default
    location: geometry.Point | None = None

    def __post_init__(self) -> None:
        _nonempty(self.id, "speaker.id")
        _nonempty(self.name, f"speaker {self.id}.name")
        _coerce_enum(self, "kind", SpeakerKind, f"speaker {self.id}.kind")
        _nonempty(self.area_id, f"speaker {self.id}.area_id")
        _within(self.volume, limits.SPEAKER_VOLUME, f"speaker {self.id}.volume")
        _require(
            self.route is None or self.kind is SpeakerKind.VEHICLE,
            f"speaker {self.id}.route",
            "only vehicles have a route",
        )
        if self.location is not None:
            _require(
                self.kind is SpeakerKind.FIXED,
                f"speaker {self.id}.location",
                "only fixed loudspeakers have a location (a vehicle's comes from its GPS)",
            )
            where = geometry.coordinate(self.location, f"speaker {self.id}.location")
            object.__setattr__(self, "location", where)


@dataclass(frozen=True, slots=True)
class VoiceSettings:
    """How a message is spoken: ``rate`` in words per minute, ``volume`` in [0, 1]."""

    voice: str = limits.DEFAULT_VOICE
    rate: int = limits.RATE_WPM.default
    volume: float = limits.VOLUME.default
    chime: bool = True

    def __post_init__(self) -> None:
        _nonempty(self.voice, "voice")
        _within(self.rate, limits.RATE_WPM, "voice.rate")
        _within(self.volume, limits.VOLUME, "voice.volume")


@dataclass(frozen=True, slots=True)
class Message:
    """Announcement text and voice; ``recording`` names a human recording used instead of TTS.

    ``area_ids`` (issue 13): a vehicle plays it only while inside one of these areas' polygons;
    empty: everywhere.
    """

    id: str
    title: str
    text: str
    voice: VoiceSettings = VoiceSettings()
    recording: str | None = None
    area_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _nonempty(self.id, "message.id")
        _tuple_of_ids(self.area_ids, f"message {self.id}.areas")
        _nonempty(self.title, f"message {self.id}.title")
        _require(
            self.text.strip() != "" or self.recording is not None,
            f"message {self.id}.text",
            "needs text or a recording",
        )


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily window ``[start, end)`` of a quiet zone in the deployment's zone; ``end <=
    start`` crosses midnight, ``end == start`` is the whole day."""

    start: time
    end: time

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            _require(isinstance(value, time), f"hours.{name}", "must be a time")
            _require(value.tzinfo is None, f"hours.{name}", "is a wall time: no tzinfo")


@dataclass(frozen=True, slots=True)
class QuietZone:
    """A place where vehicles go quiet (issue 13): a hospital, a school during exams.

    Inside ``polygon`` during one of ``hours`` (none: always) a vehicle mutes (``action``
    mute) or plays at ``volume`` percent of its level (``action`` volume).
    """

    id: str
    name: str
    polygon: geometry.Ring
    hours: tuple[QuietHours, ...] = ()
    action: QuietAction = QuietAction.MUTE
    volume: int | None = None

    def __post_init__(self) -> None:
        what = f"quiet zone {self.id}"
        _nonempty(self.id, "quiet_zone.id")
        _nonempty(self.name, f"{what}.name")
        object.__setattr__(self, "polygon", geometry.polygon(self.polygon, f"{what}.polygon"))
        _require(isinstance(self.hours, tuple), f"{what}.hours", "must be a tuple")
        _coerce_enum(self, "action", QuietAction, f"{what}.action")
        if self.action is QuietAction.MUTE:
            _require(self.volume is None, f"{what}.volume", "a muted zone has no volume")
        else:
            _require(self.volume is not None, f"{what}.volume", "give the volume inside the zone")
            assert self.volume is not None
            _within(self.volume, limits.QUIET_VOLUME, f"{what}.volume")


@dataclass(frozen=True, slots=True)
class ClipRef:
    """A rendered clip: content hash and exact duration."""

    hash: str
    duration_ms: int

    def __post_init__(self) -> None:
        _nonempty(self.hash, "clip.hash")
        _require(self.duration_ms > 0, f"clip {self.hash}.duration_ms", "must be positive")


@dataclass(frozen=True, slots=True)
class Program:
    """An ordered list of messages played in a loop with ``gap_s`` seconds between clips."""

    id: str
    name: str
    message_ids: tuple[str, ...]
    gap_s: float = limits.GAP_S.default

    def __post_init__(self) -> None:
        _nonempty(self.id, "program.id")
        _tuple_of_ids(self.message_ids, f"program {self.id}.message_ids")
        _within(self.gap_s, limits.GAP_S, f"program {self.id}.gap_s")


@dataclass(frozen=True, slots=True)
class Schedule:
    """A program on speakers/areas in daily windows ``[start, end)`` in the deployment's zone.

    ``weekdays`` uses Monday=0. ``end <= start`` means the window crosses midnight (``end ==
    start`` is a full day). Weekdays, the date range ``first_date..last_date`` (inclusive) and
    the exception dates all apply to the window's START date.
    """

    id: str
    program_id: str
    speaker_ids: tuple[str, ...] = ()
    area_ids: tuple[str, ...] = ()
    weekdays: frozenset[int] = frozenset(range(7))
    start: time = limits.DEFAULT_WINDOW[0]
    end: time = limits.DEFAULT_WINDOW[1]
    first_date: date | None = None
    last_date: date | None = None
    exceptions: frozenset[date] = frozenset()
    priority: int = limits.PRIORITY.default
    enabled: bool = True

    def __post_init__(self) -> None:
        what = f"schedule {self.id}"
        _nonempty(self.id, "schedule.id")
        _nonempty(self.program_id, f"{what}.program_id")
        _tuple_of_ids(self.speaker_ids, f"{what}.speaker_ids")
        _tuple_of_ids(self.area_ids, f"{what}.area_ids")
        _require(isinstance(self.weekdays, frozenset), f"{what}.weekdays", "must be a frozenset")
        _require(
            all(isinstance(d, int) and 0 <= d <= 6 for d in self.weekdays),
            f"{what}.weekdays",
            "days are 0 (Monday) to 6 (Sunday)",
        )
        for name in ("start", "end"):
            value = getattr(self, name)
            _require(isinstance(value, time), f"{what}.{name}", "must be a time")
            _require(value.tzinfo is None, f"{what}.{name}", "is a wall time: no tzinfo")
        _require(isinstance(self.exceptions, frozenset), f"{what}.exceptions", "not a frozenset")
        _within(self.priority, limits.PRIORITY, f"{what}.priority")
        if self.first_date is not None and self.last_date is not None:
            _require(self.first_date <= self.last_date, f"{what}.last_date", "before first_date")

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start


@dataclass(frozen=True, slots=True)
class Urgent:
    """A one-off announcement that preempts every schedule.

    Give ``text`` (rendered on the fly) or ``message_id``. Repeats are ``interval_s`` apart
    (from the end of one to the start of the next). It never plays from ``expires_at`` on,
    nor once ``cancelled_at`` is set.
    """

    id: str
    created_at: datetime
    starts_at: datetime
    expires_at: datetime
    text: str | None = None
    message_id: str | None = None
    speaker_ids: tuple[str, ...] = ()
    area_ids: tuple[str, ...] = ()
    repeats: int = limits.REPEATS.default
    interval_s: float = limits.INTERVAL_S.default
    override_window: bool = False
    cancelled_at: datetime | None = None
    created_by: str = ""

    def __post_init__(self) -> None:
        what = f"urgent {self.id}"
        _nonempty(self.id, "urgent.id")
        for name in ("created_at", "starts_at", "expires_at", "cancelled_at"):
            _aware(getattr(self, name), f"{what}.{name}")
        _require(
            (self.text is None) != (self.message_id is None),
            what,
            "give exactly one of text and message_id",
        )
        if self.text is not None:
            _nonempty(self.text, f"{what}.text")
        _tuple_of_ids(self.speaker_ids, f"{what}.speaker_ids")
        _tuple_of_ids(self.area_ids, f"{what}.area_ids")
        _require(bool(self.speaker_ids or self.area_ids), f"{what}.targets", "no speaker or area")
        _within(self.repeats, limits.REPEATS, f"{what}.repeats")
        _within(self.interval_s, limits.INTERVAL_S, f"{what}.interval_s")
        _require(self.expires_at > self.starts_at, f"{what}.expires_at", "not after starts_at")

    def is_live(self, at: datetime) -> bool:
        """True if not cancelled by ``at`` and not expired at ``at``."""
        if self.cancelled_at is not None and self.cancelled_at <= at:
            return False
        return at < self.expires_at


@dataclass(frozen=True, slots=True)
class User:
    """A panel user; chiefs are limited to ``area_ids``, operators to ``vehicle_id``."""

    name: str
    role: Role
    area_ids: tuple[str, ...] = ()
    vehicle_id: str | None = None

    def __post_init__(self) -> None:
        _nonempty(self.name, "user.name")
        _coerce_enum(self, "role", Role, f"user {self.name}.role")
        _tuple_of_ids(self.area_ids, f"user {self.name}.area_ids")


@dataclass(frozen=True, slots=True)
class PlayLogEntry:
    """Proof of play: one clip a speaker actually played (``id`` is set by the client, idempotent).

    ``reason`` says why it ended early or was played (e.g. "cut:urgent", "stop", "selftest").
    """

    id: str
    speaker_id: str
    clip: str
    message_id: str | None
    kind: PlayKind
    planned_start: datetime | None
    started_at: datetime
    ended_at: datetime
    completed: bool
    reason: str = ""

    def __post_init__(self) -> None:
        what = f"play {self.id}"
        _nonempty(self.id, "play.id")
        _nonempty(self.speaker_id, f"{what}.speaker_id")
        _coerce_enum(self, "kind", PlayKind, f"{what}.kind")
        _nonempty(self.clip, f"{what}.clip")
        for name in ("planned_start", "started_at", "ended_at"):
            _aware(getattr(self, name), f"{what}.{name}")
        _require(self.ended_at >= self.started_at, f"{what}.ended_at", "before started_at")
