"""Frozen, typed domain values: the words of DESIGN.md as Python types.

Every value validates itself in ``__post_init__`` and raises
:class:`broadcaster.errors.ValidationError` with a message naming the field.
Collections are tuples or frozensets, datetimes are always aware, durations
carry their unit in the name (``gap_s``, ``duration_ms``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum

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


class PlayKind(StrEnum):
    """What a timeline item (and a play-log entry) is: a loop clip, an urgent or the self-test."""

    LOOP = "loop"
    URGENT = "urgent"
    SELFTEST = "selftest"


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
    """A district, township, village or community; areas nest through ``parent_id``."""

    id: str
    name: str
    kind: AreaKind
    parent_id: str | None = None

    def __post_init__(self) -> None:
        _nonempty(self.id, "area.id")
        _nonempty(self.name, f"area {self.id}.name")
        _coerce_enum(self, "kind", AreaKind, f"area {self.id}.kind")
        _require(self.parent_id != self.id, f"area {self.id}.parent_id", "area is its own parent")


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
            _require(-90 <= self.lat <= 90, f"stop {self.name}.lat", "must be in [-90, 90]")
            _require(-180 <= self.lon <= 180, f"stop {self.name}.lon", "must be in [-180, 180]")


@dataclass(frozen=True, slots=True)
class Route:
    """A vehicle's ordered stops."""

    stops: tuple[Stop, ...] = ()

    def __post_init__(self) -> None:
        _require(isinstance(self.stops, tuple), "route.stops", "must be a tuple")


@dataclass(frozen=True, slots=True)
class Speaker:
    """A loudspeaker endpoint running one client; ``volume`` is the amplifier level in percent."""

    id: str
    name: str
    kind: SpeakerKind
    area_id: str
    route: Route | None = None
    volume: int = 80

    def __post_init__(self) -> None:
        _nonempty(self.id, "speaker.id")
        _nonempty(self.name, f"speaker {self.id}.name")
        _coerce_enum(self, "kind", SpeakerKind, f"speaker {self.id}.kind")
        _nonempty(self.area_id, f"speaker {self.id}.area_id")
        _require(0 <= self.volume <= 100, f"speaker {self.id}.volume", "must be in [0, 100]")
        _require(
            self.route is None or self.kind is SpeakerKind.VEHICLE,
            f"speaker {self.id}.route",
            "only vehicles have a route",
        )


@dataclass(frozen=True, slots=True)
class VoiceSettings:
    """How a message is spoken: ``rate`` in words per minute, ``volume`` in [0, 1]."""

    voice: str = "zh"
    rate: int = 170
    volume: float = 1.0
    chime: bool = True

    def __post_init__(self) -> None:
        _nonempty(self.voice, "voice")
        _require(50 <= self.rate <= 400, "voice.rate", "must be in [50, 400] words per minute")
        _require(0.0 <= self.volume <= 1.0, "voice.volume", "must be in [0, 1]")


@dataclass(frozen=True, slots=True)
class Message:
    """Announcement text and voice; ``recording`` names a human recording used instead of TTS."""

    id: str
    title: str
    text: str
    voice: VoiceSettings = VoiceSettings()
    recording: str | None = None

    def __post_init__(self) -> None:
        _nonempty(self.id, "message.id")
        _nonempty(self.title, f"message {self.id}.title")
        _require(
            self.text.strip() != "" or self.recording is not None,
            f"message {self.id}.text",
            "needs text or a recording",
        )


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
    gap_s: float = 5.0

    def __post_init__(self) -> None:
        _nonempty(self.id, "program.id")
        _tuple_of_ids(self.message_ids, f"program {self.id}.message_ids")
        _require(self.gap_s >= 0, f"program {self.id}.gap_s", "must be >= 0")


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
    start: time = time(7, 0)
    end: time = time(19, 0)
    first_date: date | None = None
    last_date: date | None = None
    exceptions: frozenset[date] = frozenset()
    priority: int = 0
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
    repeats: int = 1
    interval_s: float = 0.0
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
        _require(1 <= self.repeats <= 100, f"{what}.repeats", "must be in [1, 100]")
        _require(self.interval_s >= 0, f"{what}.interval_s", "must be >= 0")
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
