"""The OpenAPI 3.1 document of `/api/v1`: what the handlers in this package accept and answer."""

from __future__ import annotations

import functools
from typing import Any

TIME = {"type": "string", "format": "date-time"}
NTIME = {"type": ["string", "null"], "format": "date-time"}
ERROR = {"$ref": "#/components/schemas/Error"}
MAX_SEQ = 2**53  # event sequence numbers stay exact in every JSON parser
ID = {"type": "string", "minLength": 1, "maxLength": 100}


def _response(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    if schema is None:
        return {"description": description}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    names = {
        304: "Not modified",
        401: "Missing, unknown or revoked token",
        403: "Not allowed for this token or user",
        404: "Not found (or not visible to this user)",
        409: "Conflicts with the current state (in use, changed meanwhile, overlaps)",
        422: "Invalid input; `error.field` names the field",
        507: "The server's storage is full; nothing was stored",
    }
    return {str(c): _response(names[c], None if c == 304 else ERROR) for c in codes}


def _speaker_param() -> dict[str, Any]:
    return {"name": "speaker_id", "in": "path", "required": True, "schema": {"type": "string"}}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _null_is_absent(schema)}}}


def _null_is_absent(schema: dict[str, Any]) -> dict[str, Any]:
    """The request schema as the server reads it: an optional field set to null counts as
    absent (web/payloads.py), so the document allows null for every optional property."""
    out = dict(schema)
    if "items" in out:
        out["items"] = _null_is_absent(out["items"])
    if "properties" in out:
        required = set(out.get("required", ()))
        properties = {}
        for name, prop in out["properties"].items():
            prop = _null_is_absent(prop)
            if name not in required:
                if "enum" in prop and None not in prop["enum"]:
                    prop = {**prop, "enum": [*prop["enum"], None]}
                elif isinstance(prop.get("type"), str):
                    prop = {**prop, "type": [prop["type"], "null"]}
                elif isinstance(prop.get("type"), list) and "null" not in prop["type"]:
                    prop = {**prop, "type": [*prop["type"], "null"]}
            properties[name] = prop
        out["properties"] = properties
    return out


CLIP = {
    "type": "object",
    "required": ["url", "sha256", "size", "duration_ms", "format"],
    "properties": {
        "url": {"type": "string"},
        "sha256": {"type": "string"},
        "size": {"type": "integer"},
        "duration_ms": {"type": "integer"},
        "format": {"type": "string"},
    },
}
PLAN = {
    "type": "object",
    "required": [
        "speaker",
        "zone",
        "valid_from",
        "valid_until",
        "windows",
        "items",
        "clips",
        "server_time",
    ],
    "properties": {
        "speaker": {"type": "string"},
        "zone": {"type": "string"},
        "generated_at": TIME,
        "valid_from": TIME,
        "valid_until": TIME,
        "server_time": TIME,
        "heartbeat_s": {"type": "integer"},
        "windows": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["start", "end"],
                "properties": {"start": TIME, "end": TIME},
            },
        },
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["start", "end", "kind", "clip"],
                "properties": {
                    "start": TIME,
                    "end": TIME,
                    "kind": {"enum": ["loop", "urgent", "selftest"]},
                    "message": {"type": ["string", "null"]},
                    "clip": {"type": "string"},
                    "urgent": {"type": ["string", "null"]},
                    "window_end": NTIME,
                },
            },
        },
        "clips": {"type": "object", "additionalProperties": CLIP},
    },
}
HEARTBEAT = {
    "type": "object",
    "properties": {
        "state": {"type": "string", "maxLength": 40},
        "now_playing": {
            "type": ["object", "null"],
            "properties": {"position_ms": {"type": "integer", "minimum": 0, "maximum": 1000000000}},
        },
        "volume": {"type": ["integer", "null"], "minimum": 0, "maximum": 100},
        "last_sync": NTIME,
        "plan_etag": {"type": ["string", "null"], "maxLength": 100},
        "client_time": NTIME,
        "clock_offset_ms": {"type": ["integer", "null"], "minimum": -1e10, "maximum": 1e10},
        "cache": {"type": ["object", "null"]},
        "selftest": {
            "type": ["object", "null"],
            "properties": {
                "ok": {"type": ["boolean", "null"]},
                "at": NTIME,
                "detail": {"type": ["string", "null"], "maxLength": 500},
            },
        },
        "version": {"type": ["string", "null"], "maxLength": 40},
    },
}
PLAY = {
    "type": "object",
    "required": ["id", "clip", "kind", "started_at", "ended_at"],
    "properties": {
        "id": {"type": "string", "minLength": 1, "maxLength": 100},
        "clip": {"type": "string", "minLength": 1, "maxLength": 100},
        "message": {"type": ["string", "null"], "maxLength": 100},
        "kind": {"enum": ["loop", "urgent", "selftest"]},
        "urgent": {"type": ["string", "null"], "maxLength": 100},
        "planned_start": NTIME,
        "started_at": TIME,
        "ended_at": TIME,
        "completed": {"type": "boolean"},
        "reason": {"type": "string", "maxLength": 100},
    },
}
EVENT = {
    "type": "object",
    "required": ["seq", "kind", "created_at", "payload"],
    "properties": {
        "seq": {"type": "integer"},
        "kind": {"enum": ["urgent", "urgent_clip", "cancel", "stop", "resync"]},
        "created_at": TIME,
        "payload": {"type": "object"},
    },
}
SPEAKER_STATUS = {
    "type": "object",
    "required": ["id", "name", "kind", "area", "online", "state"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "kind": {"enum": ["vehicle", "fixed"]},
        "area": {"type": "string"},
        "area_name": {"type": ["string", "null"]},
        "online": {"type": "boolean"},
        "state": {"type": "string"},
        "now_playing": {"type": ["object", "null"]},
        "last_heartbeat": NTIME,
        "clock_offset_ms": {"type": ["integer", "null"]},
        "selftest": {"type": ["object", "null"]},
        "cache": {"type": ["object", "null"]},
        "plan_etag": {"type": ["string", "null"]},
        "client_plan_etag": {"type": ["string", "null"]},
        "synced": {"type": "boolean"},
    },
}
COVERAGE = {
    "type": "object",
    "required": ["speaker", "name", "online", "plays_at", "reason"],
    "properties": {
        "speaker": {"type": "string"},
        "name": {"type": "string"},
        "online": {"type": "boolean"},
        "plays_at": NTIME,
        "reason": {
            "enum": [None, "offline", "outside_windows_until_expiry", "busy_with_higher_priority"]
        },
        "last_seen": NTIME,
    },
}
TARGET_STATE = {
    "type": "object",
    "required": ["speaker", "name", "state"],
    "properties": {
        "speaker": {"type": "string"},
        "name": {"type": "string"},
        "state": {
            "enum": [
                "offline",
                "waiting",
                "received",
                "playing",
                "played",
                "cut",
                "missed",
                "cancelled",
            ]
        },
        "plays_at": NTIME,
        "reason": {"type": ["string", "null"]},
        "last_seen": NTIME,
        "received_at": NTIME,
        "playing_at": NTIME,
        "played_at": NTIME,
        "cut_at": NTIME,
    },
}
URGENT_IN = {
    "type": "object",
    "properties": {
        "text": {"type": "string", "minLength": 1, "maxLength": 2000},
        "message": {"type": "string", "minLength": 1, "maxLength": 100},
        "speakers": {"type": "array", "maxItems": 1000, "items": ID},
        "areas": {"type": "array", "maxItems": 1000, "items": ID},
        "repeats": {"type": "integer", "minimum": 1, "maximum": 20},
        "interval_s": {"type": "number", "minimum": 0, "maximum": 3600},
        "expires_at": TIME,
        "override_window": {"type": "boolean"},
    },
}
URGENT_OUT = {
    "type": "object",
    "required": ["id", "state", "created_at", "expires_at", "acks"],
    "properties": {
        "id": {"type": "string"},
        "state": {"enum": ["live", "expired", "cancelled"]},
        "text": {"type": ["string", "null"]},
        "message": {"type": ["string", "null"]},
        "speakers": {"type": "array", "items": {"type": "string"}},
        "areas": {"type": "array", "items": {"type": "string"}},
        "repeats": {"type": "integer"},
        "interval_s": {"type": "number"},
        "override_window": {"type": "boolean"},
        "created_at": TIME,
        "created_by": {"type": "string"},
        "expires_at": TIME,
        "cancelled_at": NTIME,
        "acks": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["speaker"],
                "properties": {
                    "speaker": {"type": "string"},
                    "received_at": NTIME,
                    "playing_at": NTIME,
                    "played_at": NTIME,
                    "cut_at": NTIME,
                },
            },
        },
        "targets": {"type": "array", "items": TARGET_STATE},
        "summary": {"type": "object", "additionalProperties": {"type": "integer"}},
        "summary_text": {"type": "string"},
    },
}


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The document served at `/api/v1/openapi.json`."""
    device: list[dict[str, list[str]]] = [{"deviceToken": []}]
    user: list[dict[str, list[str]]] = [{"userToken": []}, {"session": []}]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "broadcaster API",
            "version": "1",
            "description": "See docs/device-api.md.",
        },
        "servers": [{"url": "/api/v1"}],
        "components": {
            "securitySchemes": {
                "deviceToken": {"type": "http", "scheme": "bearer", "description": "per speaker"},
                "userToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "personal API token",
                },
                "session": {"type": "apiKey", "in": "cookie", "name": "broadcaster_session"},
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                                "field": {"type": "string"},
                            },
                        }
                    },
                }
            },
        },
        "paths": {
            **catalog_paths(user),
            "/speakers/{speaker_id}/plan": {
                "get": {
                    "summary": "The speaker's plan for the next 36 hours or more",
                    "security": device,
                    "parameters": [
                        _speaker_param(),
                        {"name": "If-None-Match", "in": "header", "schema": {"type": "string"}},
                    ],
                    "responses": {
                        "200": _response("The plan (ETag header)", PLAN),
                        **_errors(304, 401, 403, 404),
                    },
                }
            },
            "/clips/{key}": {
                "get": {
                    "summary": "A clip's bytes (immutable; Range allowed)",
                    "security": device,
                    "parameters": [
                        {
                            "name": "key",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {
                        "200": {"description": "WAV bytes", "content": {"audio/wav": {}}},
                        "206": {
                            "description": "Part of the WAV bytes",
                            "content": {"audio/wav": {}},
                        },
                        **_errors(304, 401, 404),
                    },
                }
            },
            "/speakers/{speaker_id}/events": {
                "get": {
                    "summary": "Long poll for urgent, cancel, stop and resync commands",
                    "security": device,
                    "parameters": [
                        _speaker_param(),
                        {
                            "name": "after",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 0, "maximum": MAX_SEQ},
                        },
                        {
                            "name": "wait",
                            "in": "query",
                            "description": "seconds; the server waits at most its long-poll limit",
                            "schema": {"type": "integer", "minimum": 0},
                        },
                    ],
                    "responses": {
                        "200": _response(
                            "Events after `after` (maybe none)",
                            {
                                "type": "object",
                                "required": ["events", "last", "server_time"],
                                "properties": {
                                    "events": {"type": "array", "items": EVENT},
                                    "last": {"type": "integer"},
                                    "server_time": TIME,
                                },
                            },
                        ),
                        **_errors(401, 403, 404, 422),
                    },
                }
            },
            "/speakers/{speaker_id}/heartbeat": {
                "post": {
                    "summary": "Report status; the answer carries the current plan ETag",
                    "security": device,
                    "parameters": [_speaker_param()],
                    "requestBody": _body(HEARTBEAT),
                    "responses": {
                        "200": _response(
                            "Recorded",
                            {
                                "type": "object",
                                "required": ["server_time", "plan_etag", "heartbeat_s"],
                                "properties": {
                                    "server_time": TIME,
                                    "plan_etag": {"type": "string"},
                                    "heartbeat_s": {"type": "integer"},
                                },
                            },
                        ),
                        **_errors(401, 403, 404, 422, 507),
                    },
                }
            },
            "/speakers/{speaker_id}/plays": {
                "post": {
                    "summary": "Upload play-log entries (idempotent by id, at most 500)",
                    "security": device,
                    "parameters": [_speaker_param()],
                    "requestBody": _body(
                        {
                            "type": "object",
                            "required": ["entries"],
                            "properties": {
                                "entries": {"type": "array", "maxItems": 500, "items": PLAY}
                            },
                        }
                    ),
                    "responses": {
                        "200": _response(
                            "Stored ids and ids the server already had",
                            {
                                "type": "object",
                                "required": ["accepted", "duplicates", "server_time"],
                                "properties": {
                                    "accepted": {"type": "array", "items": {"type": "string"}},
                                    "duplicates": {"type": "array", "items": {"type": "string"}},
                                    "server_time": TIME,
                                },
                            },
                        ),
                        **_errors(401, 403, 404, 422, 507),
                    },
                }
            },
            "/speakers/{speaker_id}/acks": {
                "post": {
                    "summary": "Acknowledge an urgent announcement: received, playing, played, cut",
                    "security": device,
                    "parameters": [_speaker_param()],
                    "requestBody": _body(
                        {
                            "type": "object",
                            "required": ["urgent", "state"],
                            "properties": {
                                "urgent": ID,
                                "state": {"enum": ["received", "playing", "played", "cut"]},
                                "at": TIME,
                            },
                        }
                    ),
                    "responses": {
                        "204": {"description": "Recorded"},
                        **_errors(401, 403, 404, 422, 507),
                    },
                }
            },
            "/speakers": {
                "get": {
                    "summary": "The speakers the user may see, with their status",
                    "security": user,
                    "responses": {
                        "200": _response(
                            "Speakers",
                            {
                                "type": "object",
                                "required": ["data", "server_time"],
                                "properties": {
                                    "data": {"type": "array", "items": SPEAKER_STATUS},
                                    "server_time": TIME,
                                },
                            },
                        ),
                        **_errors(401),
                    },
                }
            },
            "/urgent": {
                "post": {
                    "summary": "Send an urgent announcement (text or message) to speakers or areas",
                    "security": user,
                    "description": (
                        "Answers per target when it will be heard (`plays_at`) or why not "
                        "(`reason`). When no target can play it before it expires: 422 with "
                        "code `will_not_play` and the same `targets` list; nothing is stored. "
                        "Admins and chiefs (for speakers in their areas) may set "
                        "`override_window`."
                    ),
                    "requestBody": _body(URGENT_IN),
                    "responses": {
                        "201": _response(
                            "Sent",
                            {
                                "type": "object",
                                "required": ["id", "targets", "server_time"],
                                "properties": {
                                    "id": {"type": "string"},
                                    "targets": {"type": "array", "items": COVERAGE},
                                    "server_time": TIME,
                                },
                            },
                        ),
                        **_errors(401, 403, 404, 422, 507),
                    },
                },
                "get": {
                    "summary": "Urgent announcements the user may see, newest first, with acks",
                    "description": "Pages: `before` (the last id seen) and `limit` (1-200, 50).",
                    "security": user,
                    "parameters": [
                        {
                            "name": "before",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string", "minLength": 1, "maxLength": 100},
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "integer", "minimum": 1, "maximum": 200},
                        },
                    ],
                    "responses": {
                        "200": _response(
                            "Urgent announcements",
                            {
                                "type": "object",
                                "required": ["data", "server_time"],
                                "properties": {
                                    "data": {"type": "array", "items": URGENT_OUT},
                                    "server_time": TIME,
                                },
                            },
                        ),
                        **_errors(401, 404, 422),
                    },
                },
            },
            "/urgent/preview": {
                "post": {
                    "summary": "Who would hear an urgent announcement when; nothing is stored",
                    "security": user,
                    "requestBody": _body(URGENT_IN),
                    "responses": {
                        "200": _response(
                            "Coverage",
                            {
                                "type": "object",
                                "required": ["data", "server_time"],
                                "properties": {
                                    "data": {
                                        "type": "object",
                                        "required": ["targets"],
                                        "properties": {
                                            "targets": {"type": "array", "items": COVERAGE}
                                        },
                                    },
                                    "server_time": TIME,
                                },
                            },
                        ),
                        **_errors(401, 403, 404, 422, 507),
                    },
                }
            },
            "/urgent/{urgent_id}": {
                "get": {
                    "summary": "One urgent announcement with every target's state",
                    "security": user,
                    "parameters": [
                        {
                            "name": "urgent_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {
                        "200": _response(
                            "Urgent announcement",
                            {
                                "type": "object",
                                "required": ["data", "server_time"],
                                "properties": {"data": URGENT_OUT, "server_time": TIME},
                            },
                        ),
                        **_errors(401, 404),
                    },
                },
                "delete": {
                    "summary": "Cancel an urgent announcement",
                    "security": user,
                    "parameters": [
                        {
                            "name": "urgent_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {
                        "200": _response(
                            "Cancelled",
                            {
                                "type": "object",
                                "required": ["id", "state"],
                                "properties": {
                                    "id": {"type": "string"},
                                    "state": {"const": "cancelled"},
                                    "server_time": TIME,
                                },
                            },
                        ),
                        **_errors(401, 403, 404, 507),
                    },
                },
            },
        },
    }


# -- messages, programs and schedules (web/catalog_api.py) -----------------------------------

OBJECT_ID = {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}
AREA_IN = {"type": ["string", "null"], "minLength": 1, "maxLength": 100}
TIME_OF_DAY = {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$"}
DATE = {"type": "string", "format": "date"}
NDATE = {"type": ["string", "null"], "format": "date"}
MESSAGE_FIELDS: dict[str, Any] = {
    "title": {"type": "string", "minLength": 1, "maxLength": 100},
    "text": {
        "type": "string",
        "maxLength": 10000,
        "description": "at most audio.max_chars of config.yaml (500 unless set)",
    },
    "voice": {"type": "string", "minLength": 1, "maxLength": 100},
    "rate": {"type": "integer", "minimum": 80, "maximum": 400},
    "volume": {"type": "number", "minimum": 0.05, "maximum": 1},
    "chime": {"type": "boolean"},
    "area": AREA_IN,
}
MESSAGE_OUT = {
    "type": "object",
    "required": [
        "id", "title", "text", "voice", "rate", "volume", "chime", "recording", "area",
        "version", "updated_at", "editable", "used_by",
    ],
    "properties": {
        "id": {"type": "string"},
        "title": {"type": "string"},
        "text": {"type": "string"},
        "voice": {"type": "string"},
        "rate": {"type": "integer"},
        "volume": {"type": "number"},
        "chime": {"type": "boolean"},
        "recording": {"type": ["string", "null"]},
        "area": {"type": ["string", "null"]},
        "version": {"type": "integer", "minimum": 1},
        "updated_at": TIME,
        "editable": {"type": "boolean"},
        "used_by": {"type": "array", "items": {"type": "string"}},
    },
}  # fmt: skip
PROGRAM_FIELDS: dict[str, Any] = {
    "name": {"type": "string", "minLength": 1, "maxLength": 100},
    "messages": {"type": "array", "minItems": 1, "maxItems": 1000, "items": ID},
    "gap_s": {"type": "number", "minimum": 0, "maximum": 3600},
    "area": AREA_IN,
}
PROGRAM_OUT = {
    "type": "object",
    "required": ["id", "name", "messages", "gap_s", "area", "editable", "used_by"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "messages": {"type": "array", "items": {"type": "string"}},
        "gap_s": {"type": "number"},
        "area": {"type": ["string", "null"]},
        "editable": {"type": "boolean"},
        "used_by": {"type": "array", "items": {"type": "string"}},
    },
}
SCHEDULE_FIELDS: dict[str, Any] = {
    "program": ID,
    "speakers": {"type": "array", "maxItems": 1000, "items": ID},
    "areas": {"type": "array", "maxItems": 1000, "items": ID},
    "weekdays": {
        "type": "array",
        "minItems": 1,
        "maxItems": 1000,
        "items": {"type": "integer", "minimum": 0, "maximum": 6},
    },
    "start": TIME_OF_DAY,
    "end": TIME_OF_DAY,
    "first_date": NDATE,
    "last_date": NDATE,
    "exceptions": {"type": "array", "maxItems": 1000, "items": DATE},
    "priority": {"type": "integer", "minimum": -100, "maximum": 100},
    "enabled": {"type": "boolean"},
    "accept_conflicts": {"type": "boolean"},
}
SCHEDULE_OUT = {
    "type": "object",
    "required": [
        "id", "program", "speakers", "areas", "weekdays", "start", "end", "first_date",
        "last_date", "exceptions", "priority", "enabled",
    ],
    "properties": {
        "id": {"type": "string"},
        "program": {"type": "string"},
        "speakers": {"type": "array", "items": {"type": "string"}},
        "areas": {"type": "array", "items": {"type": "string"}},
        "weekdays": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 6}},
        "start": TIME_OF_DAY,
        "end": TIME_OF_DAY,
        "first_date": NDATE,
        "last_date": NDATE,
        "exceptions": {"type": "array", "items": DATE},
        "priority": {"type": "integer"},
        "enabled": {"type": "boolean"},
    },
}  # fmt: skip
CATALOG_NOTE = (
    "Same role and area checks, validation and audit as the panel (admins and chiefs; "
    "operators get 403; objects outside the caller's areas are 404). In bodies a field left "
    "out, or null where the field cannot be null, is not given: POST takes the default, PATCH "
    "keeps the current value. `area`, `first_date` and `last_date` may be null on purpose: "
    "district-wide (admins only), no first or last day. See docs/user-api.md."
)


def _data(schema: dict[str, Any], many: bool = False) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["data", "server_time"],
        "properties": {
            "data": {"type": "array", "items": schema} if many else schema,
            "server_time": TIME,
        },
    }


def _catalog_kind(
    plural: str,
    param: str,
    out: dict[str, Any],
    create: dict[str, Any],
    patch: dict[str, Any],
    user: list[dict[str, list[str]]],
    notes: dict[str, str],
) -> dict[str, Any]:
    one = {"name": param, "in": "path", "required": True, "schema": {"type": "string"}}
    created = _response(f"Created (Location: /api/v1/{plural}/{{id}})", _data(out))
    created["headers"] = {"Location": {"required": True, "schema": {"type": "string"}}}
    return {
        f"/{plural}": {
            "get": {
                "summary": f"The {plural} the user may see, by id",
                "description": CATALOG_NOTE,
                "security": user,
                "responses": {
                    "200": _response(plural.title(), _data(out, True)),
                    **_errors(401, 403),
                },
            },
            "post": {
                "summary": f"Create one of the {plural}",
                "description": f"{CATALOG_NOTE} {notes.get('post', '')}".strip(),
                "security": user,
                "requestBody": _body(create),
                "responses": {"201": created, **_errors(401, 403, 409, 422, 507)},
            },
        },
        f"/{plural}/{{{param}}}": {
            "get": {
                "summary": f"One of the {plural}",
                "security": user,
                "parameters": [one],
                "responses": {"200": _response("Found", _data(out)), **_errors(401, 403, 404)},
            },
            "patch": {
                "summary": f"Change any of the given fields of one of the {plural}",
                "description": f"{CATALOG_NOTE} {notes.get('patch', '')}".strip(),
                "security": user,
                "parameters": [one],
                "requestBody": _body(patch),
                "responses": {
                    "200": _response("Changed", _data(out)),
                    **_errors(401, 403, 404, 409, 422, 507),
                },
            },
            "delete": {
                "summary": f"Delete one of the {plural}",
                "description": notes.get("delete", ""),
                "security": user,
                "parameters": [one],
                "responses": {
                    "204": {"description": "Deleted"},
                    **_errors(401, 403, 404, 409, 507),
                },
            },
        },
    }


def catalog_paths(user: list[dict[str, list[str]]]) -> dict[str, Any]:
    """`/messages`, `/programs` and `/schedules` with their `/{id}` paths."""
    return {
        **_catalog_kind(
            "messages",
            "message_id",
            MESSAGE_OUT,
            {
                "type": "object",
                "required": ["title", "text"],
                "properties": {"id": OBJECT_ID, **MESSAGE_FIELDS},
            },
            {
                "type": "object",
                "properties": {
                    **MESSAGE_FIELDS,
                    "version": {
                        "type": "integer",
                        "minimum": 1,
                        "description": "the version you edited: 409 if it was saved since",
                    },
                    "recording": {"const": None, "description": "null drops the recording"},
                },
            },
            user,
            {
                "post": "Recordings (audio uploads) are made in the panel only; a message's "
                "`recording` shows here and PATCH `recording: null` drops it.",
                "patch": "Only an admin changes district-wide messages (403 for chiefs).",
                "delete": "409 while a program or a live urgent announcement uses it.",
            },
        ),
        **_catalog_kind(
            "programs",
            "program_id",
            PROGRAM_OUT,
            {
                "type": "object",
                "required": ["name", "messages"],
                "properties": {"id": OBJECT_ID, **PROGRAM_FIELDS},
            },
            {"type": "object", "properties": PROGRAM_FIELDS},
            user,
            {
                "patch": "Only an admin changes district-wide programs (403 for chiefs).",
                "delete": "409 while a schedule uses it.",
            },
        ),
        **_catalog_kind(
            "schedules",
            "schedule_id",
            SCHEDULE_OUT,
            {
                "type": "object",
                "required": ["program"],
                "properties": {"id": OBJECT_ID, **SCHEDULE_FIELDS},
            },
            {"type": "object", "properties": SCHEDULE_FIELDS},
            user,
            {
                "post": "Weekdays are 0 (Monday) to 6; times are wall times in the deployment's "
                "zone. 409 when it would overlap another schedule at the same priority on a "
                "speaker in the next 14 days, unless `accept_conflicts` is true.",
                "patch": "409 on overlaps as for POST.",
            },
        ),
    }
