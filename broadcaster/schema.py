"""The device API's wire format, declared once (issue 11, item 1): the plan and the urgent
events the server sends, as pydantic models. The server builds its answers through them
(broadcaster/plans.py, broadcaster/urgent.py), the client parses them through them
(broadcaster/client/plan.py), and the OpenAPI document takes their JSON Schemas
(web/openapi.py). Below them, every JSON request body of the API (what a speaker and a user
send), which the server reads through `read()`.

A loudspeaker computer imports this module: only pydantic and the standard library here
(and broadcaster.limits, itself standard library only).

Times are aware datetimes written as ISO 8601 with the UTC offset, to the millisecond, in the
deployment's zone (the server converts them before building a model). Models ignore fields
they do not know, so an older client reads a newer server's plan; fields added since the
first release have defaults, so a newer client reads an older server's.
"""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal, NamedTuple, TypeVar
from zoneinfo import ZoneInfo

import pydantic
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    WithJsonSchema,
    WrapValidator,
)
from pydantic_core import PydanticCustomError

from broadcaster import limits
from broadcaster.errors import ValidationError


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def _text_or_time(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):  # not a number of seconds since 1970
        raise ValueError("expected an ISO 8601 time with its UTC offset")
    # Python's reading, not pydantic's: a zone's offset may have seconds (the server writes
    # `isoformat()`, e.g. +05:23:17 for a zone whose midnight the tests place), which
    # pydantic's own parser refuses.
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("expected an ISO 8601 time with its UTC offset") from None


Moment = Annotated[
    AwareDatetime,
    BeforeValidator(_text_or_time),
    PlainSerializer(_iso, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
# A number of seconds, written as a whole number when it is one (as the server always sent it).
Seconds = Annotated[
    float,
    PlainSerializer(lambda v: int(v) if float(v).is_integer() else v, return_type=int | float),
]
Id = Annotated[str, Field(min_length=1, max_length=limits.REF_MAX)]
PlayKind = Literal["loop", "urgent", "selftest"]
# What a speaker plays: a plan's kinds, and a live page (issue 12, docs/live-paging.md).
PlayedKind = Literal["loop", "urgent", "selftest", "live"]


class Wire(BaseModel):
    """A message of the device API: immutable, unknown fields ignored."""

    # (in the JSON Schema of an answer, a field with a default is required: it is always sent)
    model_config = ConfigDict(
        frozen=True, extra="ignore", json_schema_serialization_defaults_required=True
    )


class Clip(Wire):
    """A clip as a plan or an event names it: where to fetch it and how to check it."""

    url: str | None = Field(None, description="where to GET it; /api/v1/clips/{key} if absent")
    sha256: str = Field(description="of the file's bytes, hex")
    size: int = Field(ge=0, description="bytes")
    duration_ms: int = Field(0, ge=0)
    format: str = "wav"


class KeyedClip(Clip):
    """A clip carrying its own key (in events, where no `clips` map names it)."""

    key: Id


class Window(Wire):
    """A hard playback window `[start, end)`: nothing plays outside the union of these."""

    start: Moment
    end: Moment


class PlanItem(Wire):
    """One timeline entry: `clip` starts at `start`."""

    start: Moment
    end: Moment
    kind: PlayKind = "loop"
    message: str | None = None
    clip: str = Field(description="a key of the plan's `clips`")
    urgent: str | None = None
    window_end: Moment | None = Field(
        None, description="the hard stop of the window it plays in; null for an urgent that "
        "overrides the windows"
    )  # fmt: skip


LatLon = tuple[float, float]  # [lat, lon] in degrees (issue 13)


class QuietHours(Wire):
    """A daily window `[start, end)` in the plan's zone, "HH:MM" (or "HH:MM:SS"); `end <=
    start` crosses midnight, `end == start` is the whole day."""

    start: str
    end: str


class QuietZone(Wire):
    """Where a vehicle goes quiet (issue 13): inside `polygon` during one of `hours` (none:
    always) it mutes (`action` mute) or plays at `volume` percent of its level."""

    id: str
    name: str = ""
    polygon: tuple[LatLon, ...]
    hours: tuple[QuietHours, ...] = ()
    action: Literal["mute", "volume"] = "mute"
    volume: int | None = Field(None, description="percent of the speaker's level; null: mute")


class PlanContent(Wire):
    """What a plan says; its ETag is a hash over this part."""

    zone: str = Field("UTC", description="the deployment's IANA time zone")
    valid_from: Moment | None = None
    valid_until: Moment | None = None
    windows: tuple[Window, ...] = ()
    items: tuple[PlanItem, ...] = ()
    clips: dict[str, Clip] = Field(default_factory=dict)
    chime: str | None = Field(None, description="the pre-announce chime's key in `clips`")
    heartbeat_s: Seconds = Field(30.0, description="seconds between heartbeats")
    # What a vehicle decides with offline (issue 13; empty for fixed loudspeakers).
    quiet_zones: tuple[QuietZone, ...] = ()
    message_areas: dict[str, tuple[str, ...]] = Field(
        default_factory=dict,
        description="message id -> the ids of `areas` it plays in (only while the vehicle is "
        "inside one of them); a message not listed plays everywhere",
    )
    areas: dict[str, tuple[LatLon, ...]] = Field(
        default_factory=dict, description="area id -> its polygon as [lat, lon] points"
    )


class Plan(PlanContent):
    """`GET /speakers/{id}/plan`: the content and who and when it was made for."""

    speaker: str = ""
    generated_at: Moment | None = None
    server_time: Moment | None = None


class UrgentEvent(Wire):
    """The payload of an `urgent` event. `clip` is null while the speech is being rendered
    (an `urgent_clip` event follows); `chime` plays meanwhile, and the speech starts
    `speech_offset_ms` into `clip` (after its own chime)."""

    id: Id
    clip: KeyedClip | None
    chime: KeyedClip | None = None
    speech_offset_ms: int = Field(0, ge=0)
    message: str | None = None
    # Not bounded here: the server checked them (broadcaster.limits), and a speaker plays an
    # urgent whatever a newer server allows (it clamps what it cannot do).
    repeats: int = limits.REPEATS.default
    interval_s: float = limits.INTERVAL_S.default
    starts_at: Moment | None = None
    expires_at: Moment | None = None
    override_window: bool = False


class UrgentClipEvent(Wire):
    """The payload of an `urgent_clip` event: the speech of urgent `urgent` is ready."""

    urgent: Id
    clip: KeyedClip


# -- what a speaker and a user send: the requests ----------------------------------------------
#
# The JSON API reads every request body through these models (web/payloads.py for the device
# API and the urgent API, web/catalog_api.py for messages, programs and schedules, the live
# pager's first message in web/live_api.py); the OpenAPI document's request bodies are their
# JSON Schemas. Bounds are broadcaster/limits.py's. Types are JSON's, strictly: "5" is not a
# number and 1 is not true (5.0 is the whole number 5, as JSON counts it). A field left out
# or null is not given. Refusals are said in our words (`read()` below), each naming its field
# from pydantic's location of the error (`entries[0].kind`).

MAX_POSITION_MS = 10**9
# The client's clock minus the server's: an unset clock (1970) is 56 years off and its
# client still plays (by the anchored clock). ~317 years; the column is 64-bit.
MAX_CLOCK_OFFSET_MS = 10**13
MAX_CACHE_COUNT = 10**7
MAX_CACHE_BYTES = 10**15
MAX_PLAYS = 500  # entries per upload
MAX_TRACK_POINTS = 1000  # track points per upload (issue 13)
ETAG_MAX, VERSION_MAX, DETAIL_MAX = 100, 40, 500  # characters
CLIP_KEY = r"^[A-Za-z0-9_.-]{1,128}$"  # as the client's cache accepts them
WORD = r"^[a-z0-9-]{1,40}$"
REASON = r"^(cut:[a-z-]{1,40}|(skipped|muted|lowered):[a-z_]{1,40})?$"
TIME_OF_DAY = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$"
DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
# A device's times come from its clock: anchored to the server's while it can reach it, its
# own system clock before that (a restart without network). Plays and acks may wait in the
# client's journal while it is offline (it keeps them until the server has them), and a
# client whose clock runs ahead can play its saved plan, which reaches 2.5 days past the
# local midnight of the day it was fetched. Hence the window: plays and acks outside it are
# refused; in a heartbeat, which must never make a working speaker look offline, a time
# outside it is kept as unknown. Checked when `read()` is given the server's time and zone.
DEVICE_PAST = timedelta(days=366)
DEVICE_AHEAD = timedelta(days=3)

# What a pattern asks for, in words (the refusal of a string that does not match it).
SHAPES = {
    CLIP_KEY: "expected a clip key (1 to 128 of A-Z a-z 0-9 _ . -)",
    WORD: "expected a state such as idle or playing",
    REASON: "expected empty, cut:<why>, skipped:<why>, muted:<why> or lowered:<why>",
    TIME_OF_DAY: "expected a time like 07:30",
}


def _refuse(kind: str, text: str, many: str | None = None, **values: Any) -> PydanticCustomError:
    """A refusal in our words; `many` words a list of such values (`a list of {many}`)."""
    return PydanticCustomError(kind, text, {**values, "many": many} if many else values or None)


def _whole(value: Any) -> Any:
    """JSON (and the document's "integer") counts 5.0 as a whole number."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _ranged(bound: limits.Bound[Any]) -> Any:
    """A number within `bound`, refused as the use cases word it ("Must be from 80 to 400.")."""

    def wrap(value: Any, handler: pydantic.ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except pydantic.ValidationError as exc:
            if exc.errors()[0]["type"] in ("greater_than_equal", "less_than_equal"):
                raise _refuse(
                    "range",
                    "Must be from {low} to {high}.",
                    low=str(bound.low),
                    high=str(bound.high),
                ) from None
            raise

    if isinstance(bound.default, int):
        return Annotated[
            int, Field(ge=bound.low, le=bound.high), BeforeValidator(_whole), WrapValidator(wrap)
        ]
    return Annotated[float, Field(ge=bound.low, le=bound.high), WrapValidator(wrap)]


Whole = Annotated[int, BeforeValidator(_whole)]


def _printable_id(value: Any) -> Any:
    if not (isinstance(value, str) and 0 < len(value) <= limits.REF_MAX and value.isprintable()):
        raise _refuse(
            "id",
            f"expected an id of 1 to {limits.REF_MAX} printable characters",
            f"ids of 1 to {limits.REF_MAX} printable characters",
        )
    return value


# An id a request names (an object, a device's entry): what fits the id columns, printable.
Ref = Annotated[str, Field(min_length=1, max_length=limits.REF_MAX), BeforeValidator(_printable_id)]
Refs = Annotated[list[Ref], Field(max_length=limits.LIST_MAX)]


def _printable_ascii(value: Any) -> Any:
    if isinstance(value, str) and not (value.isascii() and value.isprintable()):
        raise _refuse("etag", "expected the plan's ETag (printable ASCII)")
    return value


def _printable(value: Any) -> Any:
    if isinstance(value, str) and not value.isprintable():
        raise _refuse("printable", "expected printable characters")
    return value


def _day(value: Any) -> Any:
    if isinstance(value, str) and re.fullmatch(DATE, value):
        with contextlib.suppress(ValueError):
            return date.fromisoformat(value)
    raise _refuse("date", "expected a date like 2025-05-01", "dates like 2025-05-01")


Day = Annotated[date, BeforeValidator(_day)]


def _weekday(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool) and value in range(7):
        return int(value)
    raise _refuse(
        "weekday",
        "expected a weekday 0 (Monday) to 6 (Sunday)",
        "weekdays 0 (Monday) to 6 (Sunday)",
    )


Weekday = Annotated[int, Field(ge=0, le=6), BeforeValidator(_weekday)]


def _time(value: Any) -> datetime:
    """An ISO 8601 time that carries its UTC offset and has a UTC value."""
    if not isinstance(value, str):
        raise _refuse("time", "expected an ISO 8601 time with its UTC offset")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _refuse(
            "time", "expected an ISO 8601 time, got {got}", got=repr(value[:40])
        ) from None
    if parsed.utcoffset() is None:
        raise _refuse("time", "the time needs its UTC offset (e.g. +08:00)")
    try:
        parsed.astimezone(UTC)  # stored in UTC: 0001-01-01T00:00+01:00 has no UTC value
    except OverflowError:
        raise _refuse("time", "the time is out of range") from None
    return parsed


def _in_window(value: datetime, now: datetime, zone: ZoneInfo) -> bool:
    if not now - DEVICE_PAST <= value <= now + DEVICE_AHEAD:
        return False
    try:
        value.astimezone(zone)  # shown in the deployment's zone: 9999-12-31T20:00Z is not
    except (OverflowError, ValueError):
        return False
    return True


def window_text(now: datetime, zone: ZoneInfo) -> str:
    """The device window, in words."""
    low = (now - DEVICE_PAST).astimezone(zone).isoformat(timespec="seconds")
    high = (now + DEVICE_AHEAD).astimezone(zone).isoformat(timespec="seconds")
    return (
        f"must be from {low} to {high} ({DEVICE_PAST.days} days before to "
        f"{DEVICE_AHEAD.days} days after the server's time)"
    )


def _device_time(value: datetime, info: ValidationInfo) -> datetime:
    """A time in a play or an ack: refused outside the device window."""
    if isinstance(info.context, Clock) and not _in_window(value, *info.context):
        raise _refuse("device_window", "{window}", window=window_text(*info.context))
    return value


def _reported_time(value: datetime, info: ValidationInfo) -> datetime | None:
    """A time in a heartbeat: outside the device window it is unknown (None)."""
    if isinstance(info.context, Clock) and not _in_window(value, *info.context):
        return None
    return value


_TIME_SCHEMA = WithJsonSchema({"type": "string", "format": "date-time"})
# Any time with its offset (an urgent's expiry; a device clock's own reading).
At = Annotated[datetime, BeforeValidator(_time), _TIME_SCHEMA]
DeviceTime = Annotated[datetime, BeforeValidator(_time), AfterValidator(_device_time), _TIME_SCHEMA]
ReportedTime = Annotated[
    datetime, BeforeValidator(_time), AfterValidator(_reported_time), _TIME_SCHEMA
]


class Clock(NamedTuple):
    """The server's time and zone, which device times are checked against."""

    now: datetime
    zone: ZoneInfo


class Request(Wire):
    """A request body: JSON's types strictly, no infinities, unknown keys dropped."""

    model_config = ConfigDict(strict=True, allow_inf_nan=False)


ClipKey = Annotated[str, Field(pattern=CLIP_KEY)]


def _counted(high: int) -> Any:
    return _ranged(limits.Bound(0, high, 0))


class NowPlaying(Request):
    clip: ClipKey | None = None
    message: Ref | None = None
    kind: PlayedKind | None = None
    started_at: ReportedTime | None = None
    position_ms: _counted(MAX_POSITION_MS) | None = None  # type: ignore[valid-type]


class CacheHealth(Request):
    clips: _counted(MAX_CACHE_COUNT) | None = None  # type: ignore[valid-type]
    bytes: _counted(MAX_CACHE_BYTES) | None = None  # type: ignore[valid-type]
    missing: _counted(MAX_CACHE_COUNT) | None = None  # type: ignore[valid-type]
    corrupt: _counted(MAX_CACHE_COUNT) | None = None  # type: ignore[valid-type]


class Selftest(Request):
    ok: bool | None = None
    at: ReportedTime | None = None
    detail: str | None = Field(None, max_length=DETAIL_MAX)


class Position(Request):
    """A vehicle's GPS fix in a heartbeat (issue 13): degrees, the fix's own time (outside the
    device window: unknown, and the position is dropped), speed in m/s, heading in degrees
    clockwise from north."""

    lat: _ranged(limits.LAT)  # type: ignore[valid-type]
    lon: _ranged(limits.LON)  # type: ignore[valid-type]
    fix_at: ReportedTime | None
    speed: _ranged(limits.SPEED_MS) | None = None  # type: ignore[valid-type]
    heading: _ranged(limits.HEADING) | None = None  # type: ignore[valid-type]


class Heartbeat(Request):
    """`POST /speakers/{id}/heartbeat`. Times outside the device window are kept as unknown;
    unknown keys of `now_playing` and `cache` are dropped."""

    state: str | None = Field(None, pattern=WORD)
    now_playing: NowPlaying | None = None
    volume: _ranged(limits.SPEAKER_VOLUME) | None = None  # type: ignore[valid-type]
    last_sync: ReportedTime | None = None
    plan_etag: Annotated[str, BeforeValidator(_printable_ascii)] | None = Field(
        None, max_length=ETAG_MAX
    )
    # Checked only: the device's own clock, maybe unset (its offset is clock_offset_ms).
    client_time: At | None = None
    clock_offset_ms: (
        _ranged(  # type: ignore[valid-type]
            limits.Bound(-MAX_CLOCK_OFFSET_MS, MAX_CLOCK_OFFSET_MS, 0)
        )
        | None
    ) = None
    cache: CacheHealth | None = None
    selftest: Selftest | None = None
    version: Annotated[str, BeforeValidator(_printable)] | None = Field(
        None, max_length=VERSION_MAX
    )
    # The latest GPS fix (issue 13); a fixed loudspeaker or a vehicle without a fix: absent.
    position: Position | None = None


class PlayEntry(Request):
    """One play of the proof-of-play log. Times: from 366 days before to 3 days after the
    server's time."""

    id: Ref
    clip: ClipKey
    message: Ref | None = None
    kind: PlayedKind
    urgent: Ref | None = None
    planned_start: DeviceTime | None = None
    started_at: DeviceTime
    ended_at: DeviceTime
    completed: bool | None = None
    reason: str | None = Field(None, pattern=REASON)


class Plays(Request):
    """`POST /speakers/{id}/plays`: a batch of entries (idempotent by id)."""

    entries: list[PlayEntry] = Field(max_length=MAX_PLAYS)


class TrackPoint(Request):
    """One point of a vehicle's journaled track (issue 13). `id` is the client's own
    (a sequence number as text): an upload is idempotent by (speaker, id). Times as plays."""

    id: Ref
    lat: _ranged(limits.LAT)  # type: ignore[valid-type]
    lon: _ranged(limits.LON)  # type: ignore[valid-type]
    at: DeviceTime
    speed: _ranged(limits.SPEED_MS) | None = None  # type: ignore[valid-type]
    heading: _ranged(limits.HEADING) | None = None  # type: ignore[valid-type]


class Track(Request):
    """`POST /speakers/{id}/track`: a batch of track points, oldest first (idempotent by id).
    The answer is as for plays, `{"accepted": [ids], "duplicates": [ids]}`: both are held by
    the server now, and the client drops them from its journal."""

    points: list[TrackPoint] = Field(max_length=MAX_TRACK_POINTS)


class Ack(Request):
    """`POST /speakers/{id}/acks`: how far an urgent got on this speaker."""

    urgent: Ref
    state: Literal["received", "playing", "played", "cut"]
    at: DeviceTime | None = None


def request_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A model's JSON Schema, inlined (no $refs, titles or defaults), for a request body or
    an answer in the OpenAPI document."""
    found: dict[str, Any] = model.model_json_schema(mode="validation")
    defs = found.pop("$defs", {})

    def inline(node: Any) -> Any:
        """A schema without $refs, titles and defaults (a property may be called `title`)."""
        if isinstance(node, list):
            return [inline(v) for v in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            return inline(defs[node["$ref"].rsplit("/", 1)[1]])
        out = {k: inline(v) for k, v in node.items() if k not in ("title", "default", "properties")}
        if "properties" in node:
            out["properties"] = {k: inline(v) for k, v in node["properties"].items()}
        return out

    inlined: dict[str, Any] = inline(found)
    return inlined


# -- what a user sends (the user API: urgent, messages, programs, schedules, live pages) ------
#
# Every field may be left out (a create takes the default or says what is required; an
# update keeps the current value). `area`, `first_date` and `last_date` may also be null on
# purpose (district-wide; no first or last day): the API tells null from left out by
# `model_fields_set`. What needs the database (an id that exists, a role, a text that can be
# spoken) is the use cases' to check, shared with the panel.

AreaId = Annotated[Ref | None, Field(description="null: district-wide (admins)")]
MAX_CHARS_NOTE = f"at most audio.max_chars of config.yaml ({limits.MAX_CHARS.default} unless set)"


class UrgentIn(Request):
    """`POST /urgent` and `/urgent/preview`: `text` or `message`, to speakers and areas."""

    text: str | None = Field(
        None, min_length=1, max_length=limits.MAX_CHARS.high, description=MAX_CHARS_NOTE
    )
    message: Ref | None = None
    speakers: Refs | None = None
    areas: Refs | None = None
    repeats: _ranged(limits.REPEATS) | None = None  # type: ignore[valid-type]
    interval_s: _ranged(limits.INTERVAL_S) | None = None  # type: ignore[valid-type]
    expires_at: At | None = None
    override_window: bool | None = None


class PageIn(Request):
    """The live pager's first WebSocket message: the targets (docs/live-paging.md)."""

    speakers: Refs | None = None
    areas: Refs | None = None
    override_window: bool | None = None
    take_over: bool | None = None


# The id an admin asks a new object to be created under. Its shape is the use case's to
# check (an admin is told "Use only letters ...", anyone else "Chosen by the server", whatever
# the id); the document shows the shape.
NEW_ID = Field(
    None,
    max_length=10_000,
    json_schema_extra={
        "pattern": f"^[A-Za-z0-9_-]{{1,{limits.ID_MAX}}}$",
        "description": "admins only: the id to create it under (left out: the server chooses "
        "one); anyone else who sends an id gets 422 `id: Chosen by the server; leave it out.`, "
        "whatever the id",
    },
)


class MessageIn(Request):
    title: str | None = Field(None, min_length=1, max_length=limits.TITLE_MAX)
    text: str | None = Field(None, max_length=limits.MAX_CHARS.high, description=MAX_CHARS_NOTE)
    voice: str | None = Field(None, min_length=1, max_length=limits.VOICE_MAX)
    rate: _ranged(limits.RATE_WPM) | None = None  # type: ignore[valid-type]
    volume: _ranged(limits.VOLUME) | None = None  # type: ignore[valid-type]
    chime: bool | None = None
    area: AreaId = None
    areas: Refs | None = Field(
        None,
        description="vehicles play it only inside these areas' outlines (issue 13); [] clears "
        "the binding (everywhere), left out or null keeps it; fixed loudspeakers are not "
        "affected. Areas you may act on; one newly named needs an outline (or areas below it "
        "with one)",
    )


class MessageCreate(MessageIn):
    """`POST /messages` (recordings are uploaded in the panel)."""

    id: str | None = NEW_ID
    title: str = Field(min_length=1, max_length=limits.TITLE_MAX)
    text: str = Field(max_length=limits.MAX_CHARS.high, description=MAX_CHARS_NOTE)


def _null_only(value: Any) -> None:
    if value is not None:
        raise _refuse("recording", "recordings are uploaded in the panel; PATCH null drops one")


class MessagePatch(MessageIn):
    """`PATCH /messages/{id}`: the fields given change."""

    version: int | None = Field(
        None, ge=1, description="the version you edited: 409 if it was saved since"
    )
    recording: Annotated[
        None,
        BeforeValidator(_null_only),
        WithJsonSchema({"const": None, "description": "null drops the recording"}),
    ] = None


class ProgramIn(Request):
    name: str | None = Field(None, min_length=1, max_length=limits.TITLE_MAX)
    messages: Refs | None = None
    gap_s: _ranged(limits.GAP_S) | None = None  # type: ignore[valid-type]
    area: AreaId = None


class ProgramCreate(ProgramIn):
    """`POST /programs`."""

    id: str | None = NEW_ID
    name: str = Field(min_length=1, max_length=limits.TITLE_MAX)
    messages: Refs


class ScheduleIn(Request):
    program: Ref | None = None
    speakers: Refs | None = None
    areas: Refs | None = None
    weekdays: Annotated[list[Weekday], Field(max_length=limits.LIST_MAX)] | None = None
    start: str | None = Field(None, pattern=TIME_OF_DAY)
    end: str | None = Field(None, pattern=TIME_OF_DAY)
    first_date: Day | None = None
    last_date: Day | None = None
    exceptions: Annotated[list[Day], Field(max_length=limits.LIST_MAX)] | None = None
    priority: _ranged(limits.PRIORITY) | None = None  # type: ignore[valid-type]
    enabled: bool | None = None
    accept_conflicts: bool | None = None


class ScheduleCreate(ScheduleIn):
    """`POST /schedules`."""

    id: str | None = NEW_ID
    program: Ref


R = TypeVar("R", bound=Request)


def read(model: type[R], data: Any, clock: Clock | None = None) -> R:
    """A request body as `model`, or a ValidationError in our words naming the first refused
    field (from pydantic's location of the error). With `clock`, device times are checked
    against the device window."""
    try:
        return model.model_validate(data, context=clock)
    except pydantic.ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field, text = _field(first["loc"]), _words(first)
        many = (first.get("ctx") or {}).get("many")
        if many and first["loc"] and isinstance(first["loc"][-1], int):
            # an item of a list of values: the list is the field, as people name it
            field, text = _field(first["loc"][:-1]), f"expected a list of {many}"
        raise ValidationError.at(field or "body", text) from None


def _field(loc: tuple[int | str, ...]) -> str:
    return _path(loc).removeprefix(".")


# pydantic's error types, in our words (those not here are ours already, or pydantic's text).
WORDS = {
    "missing": "required",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "finite_number": "expected a finite number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "string_type": "expected a string",
    "string_unicode": "expected text",
    "model_type": "expected a JSON object",
    "model_attributes_type": "expected a JSON object",
    "dict_type": "expected a JSON object",
    "list_type": "expected a list",
    "none_required": "expected null",
}


def _words(error: Any) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "literal_error":  # "'loop', 'urgent' or 'selftest'"
        return "expected " + str(ctx["expected"]).replace("'", "")
    if kind == "string_too_short":
        return (
            "Required." if ctx["min_length"] == 1 else f"At least {ctx['min_length']} characters."
        )
    if kind == "string_too_long":
        return f"At most {ctx['max_length']} characters."
    if kind == "too_long":
        return f"at most {ctx['max_length']} items"
    if kind == "too_short":
        return f"at least {ctx['min_length']} items"
    if kind == "string_pattern_mismatch":
        return SHAPES.get(str(ctx["pattern"]), f"expected text matching {ctx['pattern']}")
    if kind in ("greater_than_equal", "greater_than"):
        return f"must be at least {ctx.get('ge', ctx.get('gt'))}"
    if kind in ("less_than_equal", "less_than"):
        return f"must be at most {ctx.get('le', ctx.get('lt'))}"
    return WORDS.get(kind, str(error["msg"]))


M = TypeVar("M", bound=Wire)


def parse(model: type[M], data: Any, where: str) -> M:
    """`data` as `model`, or a ValidationError naming the first bad field under `where`
    (`plan.items[3].clip: Field required`)."""
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = f"{where}{_path(first['loc'])}"
        raise ValidationError.at(field, first["msg"]) from None


def _path(loc: tuple[int | str, ...]) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)


def dump(model: Wire) -> dict[str, Any]:
    """The JSON form of `model` (times as ISO 8601 strings)."""
    return model.model_dump(mode="json")


def json_schemas() -> dict[str, Any]:
    """The JSON Schemas of the wire models, for the OpenAPI document's components."""
    _, found = pydantic.json_schema.models_json_schema(
        [(m, "serialization") for m in (Plan, UrgentEvent, UrgentClipEvent)],
        ref_template="#/components/schemas/{model}",
    )
    schemas: dict[str, Any] = found.get("$defs", {})
    return schemas
