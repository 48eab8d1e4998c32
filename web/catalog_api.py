"""The user API for messages, programs and schedules: what the panel does, as JSON.

Every handler parses its body into a request of broadcaster/catalog.py and calls the same use
case as the panel (role and area checks, validation, audit). Bodies: a field left out (or,
for fields that cannot be null, set to null) is not given: POST takes the default, PATCH
keeps the current value. `area`, `first_date` and `last_date` may be null on purpose
(district-wide; no first or last day). Documented in web/openapi.py and docs/user-api.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import time
from typing import Any, TypeVar

from flask import Blueprint, Response, jsonify, request

from broadcaster import catalog, schema
from broadcaster.catalog import KEEP
from broadcaster.errors import ValidationError
from broadcaster.models import Schedule, User
from web import answers, payloads
from web.answers import answer
from web.auth import current_user
from web.runtime import iso, runtime

bp = Blueprint("catalog_api", __name__, url_prefix="/api/v1")
T = TypeVar("T")


# -- reading bodies ---------------------------------------------------------------------------
#
# Shapes and bounds are the request models' (broadcaster/schema.py); a field left out (or null)
# is not given, except where null means something (`area`, `first_date`, `last_date`).


def _given(asked: schema.Request, name: str) -> Any:
    """A field that may be null on purpose: its value, or KEEP when left out."""
    return getattr(asked, name) if name in asked.model_fields_set else KEEP


def _tuple(values: list[T] | None) -> tuple[T, ...] | None:
    return None if values is None else tuple(values)


def _no_id_change(data: Mapping[str, Any], object_id: str) -> None:
    if data.get("id") is not None and data.get("id") != object_id:
        raise ValidationError.at("id", "an id cannot be changed")


def message_request(data: Mapping[str, Any], *, creating: bool) -> catalog.MessageRequest:
    if creating and "recording" in data:
        raise ValidationError.at(
            "recording", "recordings are uploaded in the panel; PATCH null drops one"
        )
    asked = schema.read(schema.MessageCreate if creating else schema.MessagePatch, data)
    return catalog.MessageRequest(
        id=asked.id if isinstance(asked, schema.MessageCreate) else None,
        title=asked.title,
        text=asked.text,
        voice=asked.voice,
        rate=asked.rate,
        volume=asked.volume,
        chime=asked.chime,
        area=_given(asked, "area"),
        area_ids=_tuple(asked.areas),
        drop_recording=isinstance(asked, schema.MessagePatch)
        and "recording" in asked.model_fields_set,
        version=asked.version if isinstance(asked, schema.MessagePatch) else None,
    )


def program_request(data: Mapping[str, Any], *, creating: bool) -> catalog.ProgramRequest:
    asked = schema.read(schema.ProgramCreate if creating else schema.ProgramIn, data)
    return catalog.ProgramRequest(
        id=asked.id if isinstance(asked, schema.ProgramCreate) else None,
        name=asked.name,
        message_ids=_tuple(asked.messages),
        gap_s=asked.gap_s,
        area=_given(asked, "area"),
    )


def schedule_request(data: Mapping[str, Any], *, creating: bool) -> catalog.ScheduleRequest:
    asked = schema.read(schema.ScheduleCreate if creating else schema.ScheduleIn, data)
    return catalog.ScheduleRequest(
        id=asked.id if isinstance(asked, schema.ScheduleCreate) else None,
        program_id=asked.program,
        speaker_ids=_tuple(asked.speakers),
        area_ids=_tuple(asked.areas),
        weekdays=None if asked.weekdays is None else frozenset(asked.weekdays),
        start=None if asked.start is None else time.fromisoformat(asked.start),
        end=None if asked.end is None else time.fromisoformat(asked.end),
        first_date=_given(asked, "first_date"),
        last_date=_given(asked, "last_date"),
        exceptions=None if asked.exceptions is None else frozenset(asked.exceptions),
        priority=asked.priority,
        enabled=asked.enabled,
        accept_conflicts=bool(asked.accept_conflicts),
    )


# -- writing answers --------------------------------------------------------------------------


def message_json(view: catalog.MessageView) -> dict[str, Any]:
    m = view.message
    return answer(
        answers.MessageOut,
        id=m.id,
        title=m.title,
        text=m.text,
        voice=m.voice.voice,
        rate=m.voice.rate,
        volume=m.voice.volume,
        chime=m.voice.chime,
        recording=m.recording,
        area=view.area,
        version=view.version,
        updated_at=iso(view.updated_at),
        editable=view.editable,
        used_by=list(view.used_by),
        areas=list(view.areas),
        areas_elsewhere=view.areas_elsewhere,
    )


def program_json(view: catalog.ProgramView) -> dict[str, Any]:
    p = view.program
    return answer(
        answers.ProgramOut,
        id=p.id,
        name=p.name,
        messages=list(p.message_ids),
        gap_s=p.gap_s,
        area=view.area,
        editable=view.editable,
        used_by=list(view.used_by),
    )


def _clock(t: time) -> str:
    return t.isoformat(timespec="seconds" if t.second or t.microsecond else "minutes")


def schedule_json(s: Schedule) -> dict[str, Any]:
    return answer(
        answers.ScheduleOut,
        id=s.id,
        program=s.program_id,
        speakers=list(s.speaker_ids),
        areas=list(s.area_ids),
        weekdays=sorted(s.weekdays),
        start=_clock(s.start),
        end=_clock(s.end),
        first_date=s.first_date,
        last_date=s.last_date,
        exceptions=sorted(s.exceptions),
        priority=s.priority,
        enabled=s.enabled,
    )


def _json(data: object, status: int = 200, location: str | None = None) -> Response:
    response = jsonify({"data": data, "server_time": iso(runtime().clock())})
    response.status_code = status
    if location:
        response.headers["Location"] = location
    return response


def _deleted() -> Response:
    return Response(status=204)


def _caller() -> tuple[User, Any]:
    rt = runtime()
    now = rt.clock()
    return current_user(now), now


# -- messages ---------------------------------------------------------------------------------


@bp.get("/messages")
def list_messages() -> Response:
    user, now = _caller()
    views = catalog.list_messages(runtime().service, user, now)
    return _json([message_json(v) for v in views])


@bp.post("/messages")
def create_message() -> Response:
    user, now = _caller()
    wanted = message_request(payloads.json_body(), creating=True)
    view = catalog.create_message(
        runtime().service, user, wanted, now, remote_addr=request.remote_addr
    )
    return _json(message_json(view), 201, f"/api/v1/messages/{view.message.id}")


@bp.get("/messages/<message_id>")
def get_message(message_id: str) -> Response:
    user, now = _caller()
    return _json(message_json(catalog.get_message(runtime().service, user, message_id, now)))


@bp.patch("/messages/<message_id>")
def update_message(message_id: str) -> Response:
    user, now = _caller()
    data = payloads.json_body()
    _no_id_change(data, message_id)
    view = catalog.update_message(
        runtime().service,
        user,
        message_id,
        message_request(data, creating=False),
        now,
        remote_addr=request.remote_addr,
    )
    return _json(message_json(view))


@bp.delete("/messages/<message_id>")
def delete_message(message_id: str) -> Response:
    user, now = _caller()
    catalog.delete_message(
        runtime().service, user, message_id, now, remote_addr=request.remote_addr
    )
    return _deleted()


# -- programs ---------------------------------------------------------------------------------


@bp.get("/programs")
def list_programs() -> Response:
    user, now = _caller()
    return _json([program_json(v) for v in catalog.list_programs(runtime().service, user, now)])


@bp.post("/programs")
def create_program() -> Response:
    user, now = _caller()
    wanted = program_request(payloads.json_body(), creating=True)
    view = catalog.create_program(
        runtime().service, user, wanted, now, remote_addr=request.remote_addr
    )
    return _json(program_json(view), 201, f"/api/v1/programs/{view.program.id}")


@bp.get("/programs/<program_id>")
def get_program(program_id: str) -> Response:
    user, now = _caller()
    return _json(program_json(catalog.get_program(runtime().service, user, program_id, now)))


@bp.patch("/programs/<program_id>")
def update_program(program_id: str) -> Response:
    user, now = _caller()
    data = payloads.json_body()
    _no_id_change(data, program_id)
    view = catalog.update_program(
        runtime().service,
        user,
        program_id,
        program_request(data, creating=False),
        now,
        remote_addr=request.remote_addr,
    )
    return _json(program_json(view))


@bp.delete("/programs/<program_id>")
def delete_program(program_id: str) -> Response:
    user, now = _caller()
    catalog.delete_program(
        runtime().service, user, program_id, now, remote_addr=request.remote_addr
    )
    return _deleted()


# -- schedules --------------------------------------------------------------------------------


@bp.get("/schedules")
def list_schedules() -> Response:
    user, now = _caller()
    return _json([schedule_json(s) for s in catalog.list_schedules(runtime().service, user, now)])


@bp.post("/schedules")
def create_schedule() -> Response:
    user, now = _caller()
    wanted = schedule_request(payloads.json_body(), creating=True)
    saved = catalog.save_schedule(
        runtime().service, user, wanted, now, remote_addr=request.remote_addr
    )
    return _json(schedule_json(saved), 201, f"/api/v1/schedules/{saved.id}")


@bp.get("/schedules/<schedule_id>")
def get_schedule(schedule_id: str) -> Response:
    user, now = _caller()
    return _json(schedule_json(catalog.get_schedule(runtime().service, user, schedule_id, now)))


@bp.patch("/schedules/<schedule_id>")
def update_schedule(schedule_id: str) -> Response:
    user, now = _caller()
    data = payloads.json_body()
    _no_id_change(data, schedule_id)
    saved = catalog.save_schedule(
        runtime().service,
        user,
        schedule_request(data, creating=False),
        now,
        schedule_id,
        remote_addr=request.remote_addr,
    )
    return _json(schedule_json(saved))


@bp.delete("/schedules/<schedule_id>")
def delete_schedule(schedule_id: str) -> Response:
    user, now = _caller()
    catalog.delete_schedule(
        runtime().service, user, schedule_id, now, remote_addr=request.remote_addr
    )
    return _deleted()
