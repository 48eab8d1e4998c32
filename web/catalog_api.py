"""The user API for messages, programs and schedules: what the panel does, as JSON.

Every handler parses its body into a request of broadcaster/catalog.py and calls the same use
case as the panel (role and area checks, validation, audit). Bodies: a field left out (or,
for fields that cannot be null, set to null) is not given: POST takes the default, PATCH
keeps the current value. `area`, `first_date` and `last_date` may be null on purpose
(district-wide; no first or last day). Documented in web/openapi.py and docs/user-api.md.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import date, time
from typing import Any, TypeVar

from flask import Blueprint, Response, jsonify, request

from broadcaster import catalog
from broadcaster.catalog import KEEP, Keep
from broadcaster.errors import ValidationError
from broadcaster.models import Schedule, User
from web import payloads
from web.auth import current_user
from web.runtime import iso, runtime

bp = Blueprint("catalog_api", __name__, url_prefix="/api/v1")
T = TypeVar("T")
TEXT_LIMIT = 10_000  # the longest text any setting allows; the use case checks the real limit
TIME = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?")
DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
MAX_ITEMS = 1000


# -- reading bodies ---------------------------------------------------------------------------


def _get(data: Mapping[str, Any], key: str, kinds: tuple[type, ...], what: str) -> Any:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) is not (bool in kinds) or not isinstance(value, kinds):
        raise ValidationError(f"{key}: expected {what}")
    return value


def _string(data: Mapping[str, Any], key: str) -> str | None:
    value = _get(data, key, (str,), "a string")
    if value is None:
        return None
    if len(value) > TEXT_LIMIT:
        raise ValidationError(f"{key}: at most {TEXT_LIMIT} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(f"{key}: expected text (the string holds a lone surrogate)") from None
    return str(value)


def _whole(data: Mapping[str, Any], key: str) -> int | None:
    value = _get(data, key, (int, float), "a whole number")
    if isinstance(value, float):
        if not value.is_integer():  # JSON counts 5.0 as a whole number
            raise ValidationError(f"{key}: expected a whole number")
        value = int(value)
    return value


def _number(data: Mapping[str, Any], key: str) -> float | None:
    value = _get(data, key, (int, float), "a number")
    if value is not None and not math.isfinite(value):
        raise ValidationError(f"{key}: expected a finite number")
    return None if value is None else float(value)


def _flag(data: Mapping[str, Any], key: str) -> bool | None:
    value: bool | None = _get(data, key, (bool,), "true or false")
    return value


def _list(
    data: Mapping[str, Any], key: str, item: Callable[[Any], T | None], what: str
) -> tuple[T, ...] | None:
    values = _get(data, key, (list,), f"a list of {what}")
    if values is None:
        return None
    if len(values) > MAX_ITEMS:
        raise ValidationError(f"{key}: at most {MAX_ITEMS} items")
    out = []
    for value in values:
        parsed = item(value)
        if parsed is None:
            raise ValidationError(f"{key}: expected a list of {what}")
        out.append(parsed)
    return tuple(out)


def _id(value: Any) -> str | None:
    ok = isinstance(value, str) and 0 < len(value) <= payloads.MAX_ID
    return value if ok and value.isprintable() else None


def _weekday(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value) if value in range(7) else None


def _day(value: Any) -> date | None:
    if not isinstance(value, str) or not DATE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _date(data: Mapping[str, Any], key: str) -> date | Keep | None:
    """A date, None for an explicit null, KEEP when left out."""
    if key not in data:
        return KEEP
    if data[key] is None:
        return None
    found = _day(data[key])
    if found is None:
        raise ValidationError(f"{key}: expected a date like 2025-05-01, or null")
    return found


def _time(data: Mapping[str, Any], key: str) -> time | None:
    value = _get(data, key, (str,), "a time like 07:30")
    if value is None:
        return None
    if not TIME.fullmatch(value):
        raise ValidationError(f"{key}: expected a time like 07:30")
    return time.fromisoformat(value)


def _area(data: Mapping[str, Any]) -> str | Keep | None:
    """An area id, None for an explicit null (district-wide), KEEP when left out."""
    if "area" not in data:
        return KEEP
    if data["area"] is None:
        return None
    value = _string(data, "area")
    if value is None or _id(value) is None:
        raise ValidationError("area: expected an area id, or null for district-wide")
    return value


def _new_id(data: Mapping[str, Any]) -> str | None:
    value = _string(data, "id")
    if value == "":
        raise ValidationError("id: leave it out (or null) for a generated id")
    return value


def _version(data: Mapping[str, Any]) -> int | None:
    value = _whole(data, "version")
    if value is not None and value < 1:
        raise ValidationError("version: versions start at 1")
    return value


def _no_id_change(data: Mapping[str, Any], object_id: str) -> None:
    if data.get("id") is not None and data.get("id") != object_id:
        raise ValidationError("id: an id cannot be changed")


def message_request(data: Mapping[str, Any], *, creating: bool) -> catalog.MessageRequest:
    drop = False
    if "recording" in data:
        if data["recording"] is not None or creating:
            raise ValidationError(
                "recording: recordings are uploaded in the panel; PATCH null drops one"
            )
        drop = True
    return catalog.MessageRequest(
        id=_new_id(data) if creating else None,
        title=_string(data, "title"),
        text=_string(data, "text"),
        voice=_string(data, "voice"),
        rate=_whole(data, "rate"),
        volume=_number(data, "volume"),
        chime=_flag(data, "chime"),
        area=_area(data),
        drop_recording=drop,
        version=None if creating else _version(data),
    )


def program_request(data: Mapping[str, Any], *, creating: bool) -> catalog.ProgramRequest:
    return catalog.ProgramRequest(
        id=_new_id(data) if creating else None,
        name=_string(data, "name"),
        message_ids=_list(data, "messages", _id, "message ids"),
        gap_s=_number(data, "gap_s"),
        area=_area(data),
    )


def schedule_request(data: Mapping[str, Any], *, creating: bool) -> catalog.ScheduleRequest:
    weekdays = _list(data, "weekdays", _weekday, "weekdays 0 (Monday) to 6 (Sunday)")
    exceptions = _list(data, "exceptions", _day, "dates like 2025-05-01")
    return catalog.ScheduleRequest(
        id=_new_id(data) if creating else None,
        program_id=_string(data, "program"),
        speaker_ids=_list(data, "speakers", _id, "speaker ids"),
        area_ids=_list(data, "areas", _id, "area ids"),
        weekdays=None if weekdays is None else frozenset(weekdays),
        start=_time(data, "start"),
        end=_time(data, "end"),
        first_date=_date(data, "first_date"),
        last_date=_date(data, "last_date"),
        exceptions=None if exceptions is None else frozenset(exceptions),
        priority=_whole(data, "priority"),
        enabled=_flag(data, "enabled"),
        accept_conflicts=bool(_flag(data, "accept_conflicts")),
    )


# -- writing answers --------------------------------------------------------------------------


def message_json(view: catalog.MessageView) -> dict[str, Any]:
    m = view.message
    return {
        "id": m.id,
        "title": m.title,
        "text": m.text,
        "voice": m.voice.voice,
        "rate": m.voice.rate,
        "volume": m.voice.volume,
        "chime": m.voice.chime,
        "recording": m.recording,
        "area": view.area,
        "version": view.version,
        "updated_at": iso(view.updated_at),
        "editable": view.editable,
        "used_by": list(view.used_by),
    }


def program_json(view: catalog.ProgramView) -> dict[str, Any]:
    p = view.program
    return {
        "id": p.id,
        "name": p.name,
        "messages": list(p.message_ids),
        "gap_s": p.gap_s,
        "area": view.area,
        "editable": view.editable,
        "used_by": list(view.used_by),
    }


def _clock(t: time) -> str:
    return t.isoformat(timespec="seconds" if t.second or t.microsecond else "minutes")


def schedule_json(s: Schedule) -> dict[str, Any]:
    return {
        "id": s.id,
        "program": s.program_id,
        "speakers": list(s.speaker_ids),
        "areas": list(s.area_ids),
        "weekdays": sorted(s.weekdays),
        "start": _clock(s.start),
        "end": _clock(s.end),
        "first_date": s.first_date.isoformat() if s.first_date else None,
        "last_date": s.last_date.isoformat() if s.last_date else None,
        "exceptions": [d.isoformat() for d in sorted(s.exceptions)],
        "priority": s.priority,
        "enabled": s.enabled,
    }


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
