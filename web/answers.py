"""What the JSON API answers (besides the plan and the events' payloads, which are the device
wire models of broadcaster/schema.py), declared once as pydantic models (issue 11, item 1).

The OpenAPI document's answer schemas are these models' JSON Schemas (web/openapi.py). The
catalog API and the device API build their answers through them (`answer()`); the urgent
answers (web/urgent_json.py), the speakers' rows (web/user_api.py) and the live pages
(web/live_api.py) are still built as dicts that schemathesis holds to these schemas.

A field without a default is always sent (required in the document); a field with one may be
left out. Times are strings the server wrote with `web.runtime.iso` (the deployment's zone, to
the millisecond); null where the zone cannot show the stored time.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from broadcaster import limits, schema
from broadcaster.store.records import EventKind

IsoTime = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
MAX_SEQ = 2**53  # event sequence numbers stay exact in every JSON parser


class Answer(BaseModel):
    """An answer (or a part of one): only what it declares is sent."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def answer(model: type[Answer], **fields: Any) -> dict[str, Any]:
    """The JSON form of `model` built from `fields` (checked: an answer the document does not
    describe is a bug, found here rather than by a client)."""
    return model(**fields).model_dump(mode="json")


# -- the catalog (web/catalog_api.py) ---------------------------------------------------------


class MessageOut(Answer):
    id: str
    title: str
    text: str
    voice: str
    rate: int
    volume: float
    chime: bool
    recording: str | None
    area: str | None
    version: int = Field(ge=1)
    updated_at: IsoTime | None
    editable: bool
    used_by: list[str] = Field(description="the programs that play it, of those the caller may see")
    areas: list[str] = Field(
        description="vehicles play it only inside these areas (issue 13), of those the caller "
        "may see; [] and no `areas_elsewhere`: everywhere"
    )
    areas_elsewhere: bool = Field(
        description="it is also bound to areas outside the caller's reach (not named)"
    )


class ProgramOut(Answer):
    id: str
    name: str
    messages: list[str]
    gap_s: float
    area: str | None
    editable: bool
    used_by: list[str] = Field(description="the schedules that use it, of those the caller may see")


TimeOfDay = Annotated[str, Field(pattern=schema.TIME_OF_DAY)]


class ScheduleOut(Answer):
    id: str
    program: str
    speakers: list[str]
    areas: list[str]
    weekdays: list[Annotated[int, Field(ge=0, le=6)]]
    start: TimeOfDay
    end: TimeOfDay
    first_date: date | None
    last_date: date | None
    exceptions: list[date]
    priority: int
    enabled: bool


# -- the device API (web/device_api.py) -------------------------------------------------------


class EventOut(Answer):
    seq: int
    kind: EventKind
    created_at: IsoTime | None
    payload: dict[str, Any] = Field(
        description="by kind: urgent, #/components/schemas/UrgentEvent; urgent_clip, "
        "#/components/schemas/UrgentClipEvent; cancel, {urgent}; stop, {until}; resync, {}; "
        "live, a live page (docs/live-paging.md)"
    )


class EventsOut(Answer):
    """`GET /speakers/{id}/events`: the events after `after` (maybe none)."""

    events: list[EventOut]
    last: int
    server_time: IsoTime | None


class HeartbeatOut(Answer):
    """`POST /speakers/{id}/heartbeat`: recorded; the current plan's ETag."""

    plan_etag: str
    heartbeat_s: int
    server_time: IsoTime | None


class PlaysOut(Answer):
    """`POST /speakers/{id}/plays`: the ids stored, and those the server already had."""

    accepted: list[str]
    duplicates: list[str]
    server_time: IsoTime | None


# -- the user API: speakers, urgent announcements, live pages ---------------------------------


class SpeakerStatusOut(Answer):
    id: str
    name: str
    kind: Literal["vehicle", "fixed"]
    area: str
    online: bool
    state: str
    area_name: str | None = None
    now_playing: dict[str, Any] | None = None
    last_heartbeat: IsoTime | None = None
    clock_offset_ms: int | None = None
    selftest: dict[str, Any] | None = None
    cache: dict[str, Any] | None = None
    plan_etag: str | None = None
    client_plan_etag: str | None = None
    synced: bool = False


NotHeard = Literal["offline", "outside_windows_until_expiry", "busy_with_higher_priority"]


class CoverageOut(Answer):
    """When one target will be heard (`plays_at`), or why not (`reason`)."""

    speaker: str
    name: str
    online: bool
    plays_at: IsoTime | None
    reason: NotHeard | None
    last_seen: IsoTime | None = None


class TargetStateOut(Answer):
    """Where one target is with an urgent, with its acknowledgement times."""

    speaker: str
    name: str
    state: Literal[
        "offline", "waiting", "received", "playing", "played", "cut", "missed", "cancelled"
    ]
    plays_at: IsoTime | None = None
    reason: str | None = None
    last_seen: IsoTime | None = None
    received_at: IsoTime | None = None
    playing_at: IsoTime | None = None
    played_at: IsoTime | None = None
    cut_at: IsoTime | None = None


class AckOut(Answer):
    speaker: str
    received_at: IsoTime | None = None
    playing_at: IsoTime | None = None
    played_at: IsoTime | None = None
    cut_at: IsoTime | None = None


class UrgentOut(Answer):
    id: str
    state: Literal["live", "expired", "cancelled"]
    created_at: IsoTime
    expires_at: IsoTime
    acks: list[AckOut]
    text: str | None = None
    message: str | None = None
    speakers: list[str] = []
    areas: list[str] = []
    repeats: int = Field(limits.REPEATS.default, ge=limits.REPEATS.low, le=limits.REPEATS.high)
    interval_s: float = limits.INTERVAL_S.default
    override_window: bool = False
    created_by: str = ""
    cancelled_at: IsoTime | None = None
    targets: list[TargetStateOut] = []
    summary: dict[str, int] = {}
    summary_text: str = ""


class UrgentSentOut(Answer):
    """`POST /urgent`: sent; per target when it will be heard."""

    id: str
    targets: list[CoverageOut]
    server_time: IsoTime


class Coverage(Answer):
    targets: list[CoverageOut]


class UrgentCancelledOut(Answer):
    """`DELETE /urgent/{id}`: cancelled."""

    id: str
    state: Literal["cancelled"]
    server_time: IsoTime | None = None


class LivePageOut(Answer):
    page: str
    by: str
    speakers: list[str]


class LivePagesOut(Answer):
    """`GET /live`: the live pages on the user's loudspeakers now."""

    data: list[LivePageOut]


class ErrorDetail(Answer):
    """What went wrong; `field` names the refused field (web/errors.py). Some errors say more
    (`targets` of `will_not_play`)."""

    model_config = ConfigDict(extra="allow")

    code: str
    message: str
    field: str | None = None


class ErrorOut(Answer):
    """Every error of the JSON API."""

    error: ErrorDetail


def listed(model: type[Answer]) -> dict[str, Any]:
    """`{"data": [model, ...], "server_time": ...}` as a schema."""
    return _enveloped(model, many=True)


def one(model: type[Answer]) -> dict[str, Any]:
    """`{"data": model, "server_time": ...}` as a schema."""
    return _enveloped(model, many=False)


def _enveloped(model: type[Answer], *, many: bool) -> dict[str, Any]:
    found = schema_of(model)
    return {
        "type": "object",
        "required": ["data", "server_time"],
        "properties": {
            "data": {"type": "array", "items": found} if many else found,
            "server_time": {"type": "string", "format": "date-time"},
        },
    }


def schema_of(model: type[Answer]) -> dict[str, Any]:
    """An answer model's JSON Schema, inlined (no $refs, titles or defaults)."""
    return schema.request_schema(model)  # the same inlining as for request bodies
