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
        "kind": {"enum": ["urgent", "cancel", "stop", "resync"]},
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
                },
            },
        },
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
                    "summary": "Acknowledge an urgent announcement: received, playing or played",
                    "security": device,
                    "parameters": [_speaker_param()],
                    "requestBody": _body(
                        {
                            "type": "object",
                            "required": ["urgent", "state"],
                            "properties": {
                                "urgent": ID,
                                "state": {"enum": ["received", "playing", "played"]},
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
                    "requestBody": _body(URGENT_IN),
                    "responses": {
                        "201": _response(
                            "Sent",
                            {
                                "type": "object",
                                "required": ["id", "server_time"],
                                "properties": {"id": {"type": "string"}, "server_time": TIME},
                            },
                        ),
                        **_errors(401, 403, 404, 422, 507),
                    },
                },
                "get": {
                    "summary": "Urgent announcements the user may see, newest first, with acks",
                    "security": user,
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
                        **_errors(401),
                    },
                },
            },
            "/urgent/{urgent_id}": {
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
                }
            },
        },
    }
