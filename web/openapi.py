"""The OpenAPI 3.1 document of `/api/v1`: what the handlers in this package accept and answer."""

from __future__ import annotations

import functools
from typing import Any

from broadcaster import limits, schema, urgent
from web import answers
from web.answers import MAX_SEQ
from web.shapes_api import shapes_paths

ERROR = {"$ref": "#/components/schemas/Error"}


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


def _cap_paths(user: list[dict[str, list[str]]]) -> dict[str, Any]:
    """CAP 1.2 in and out (issue 15, docs/cap.md). The alert posted is XML, not a JSON
    model: the summary says so (the fuzzers send it no body, which is refused)."""
    xml = {"application/cap+xml": {"schema": {"type": "string"}}}
    param = {"name": "urgent_id", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "/cap": {
            "post": {
                "summary": "Take a CAP 1.2 alert, the body as application/cap+xml (a "
                "configured source's key or an admin): {urgents, held, ignored, repeated}; 201 "
                "when something was made or held; 413 over 512 KiB; 422 code cap_refused",
                "security": user,
                "responses": {
                    "200": _response("Nothing new (a repeat, or nothing for us)"),
                    "201": _response("Urgents made or changed, alerts held"),
                    **_errors(401, 403, 422),
                },
            }
        },
        "/cap/feed": {
            "get": {
                "summary": "An Atom feed of the live urgent announcements, each linking its CAP",
                "security": user,
                "responses": {
                    "200": {
                        "description": "Atom feed",
                        "content": {"application/atom+xml": {"schema": {"type": "string"}}},
                    },
                    **_errors(401, 403),
                },
            }
        },
        "/urgent/{urgent_id}.cap": {
            "get": {
                "summary": "An urgent announcement as a CAP 1.2 alert (a Cancel once cancelled)",
                "security": user,
                "parameters": [param],
                "responses": {
                    "200": {"description": "CAP 1.2 alert", "content": xml},
                    **_errors(401, 403, 404),
                },
            }
        },
    }


def _body(model: type[schema.Request]) -> dict[str, Any]:
    """A request body: the JSON Schema of the model the handler reads it with."""
    found = schema.request_schema(model)
    return {"required": True, "content": {"application/json": {"schema": found}}}


# The plan and the events' payloads are models (broadcaster/schema.py): their JSON Schemas
# are the document's components, referred to here.
PLAN = {"$ref": "#/components/schemas/Plan"}


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
                "Error": answers.schema_of(answers.ErrorOut),
                **schema.json_schemas(),
            },
        },
        "paths": {
            **catalog_paths(user),
            **shapes_paths(user),
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
                            answers.schema_of(answers.EventsOut),
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
                    "requestBody": _body(schema.Heartbeat),
                    "responses": {
                        "200": _response("Recorded", answers.schema_of(answers.HeartbeatOut)),
                        **_errors(401, 403, 404, 422, 507),
                    },
                }
            },
            "/speakers/{speaker_id}/plays": {
                "post": {
                    "summary": "Upload play-log entries (idempotent by id, at most 500)",
                    "security": device,
                    "parameters": [_speaker_param()],
                    "requestBody": _body(schema.Plays),
                    "responses": {
                        "200": _response(
                            "Stored ids and ids the server already had",
                            answers.schema_of(answers.PlaysOut),
                        ),
                        **_errors(401, 403, 404, 422, 507),
                    },
                }
            },
            "/speakers/{speaker_id}/track": {
                "post": {
                    "summary": "Upload GPS track points (idempotent by id, at most 1000)",
                    "security": device,
                    "parameters": [_speaker_param()],
                    "requestBody": _body(schema.Track),
                    "responses": {
                        "200": _response(
                            "Stored ids and ids the server already had",
                            answers.schema_of(answers.PlaysOut),
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
                    "requestBody": _body(schema.Ack),
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
                        "200": _response("Speakers", answers.listed(answers.SpeakerStatusOut)),
                        **_errors(401),
                    },
                }
            },
            **_cap_paths(user),
            "/live": {
                "get": {
                    "summary": "The live pages on the user's loudspeakers now; with `Upgrade: "
                    "websocket`, a pager's socket (docs/live-paging.md)",
                    "security": user,
                    "responses": {
                        "200": _response("Live pages", answers.schema_of(answers.LivePagesOut)),
                        **_errors(401, 403),
                    },
                }
            },
            "/speakers/{speaker_id}/live/{page_id}": {
                "get": {
                    "summary": "A live page's frames for this speaker: u32 seq, u16 length, "
                    "u16 flags (1: over), then 16-bit mono PCM (docs/live-paging.md)",
                    "security": device,
                    "parameters": [
                        _speaker_param(),
                        {
                            "name": "page_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                        {
                            "name": "behind_ms",
                            "in": "query",
                            "description": "start this far behind the newest frame (0-2000)",
                            "schema": {"type": "integer", "minimum": 0, "maximum": 2000},
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "Frames until the page is over",
                            "content": {"application/vnd.broadcaster.pcm-frames": {}},
                        },
                        **_errors(401, 403, 404),
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
                    "requestBody": _body(schema.UrgentIn),
                    "responses": {
                        "201": _response("Sent", answers.schema_of(answers.UrgentSentOut)),
                        **_errors(401, 403, 404, 422, 507),
                    },
                },
                "get": {
                    "summary": "Urgent announcements the user may see, newest first, with acks",
                    "description": "Pages: `before` (the last id seen) and `limit` "
                    f"(1-{urgent.PAGE_MAX}, 50).",
                    "security": user,
                    "parameters": [
                        {
                            "name": "before",
                            "in": "query",
                            "required": False,
                            "schema": {
                                "type": "string",
                                "minLength": 1,
                                "maxLength": limits.REF_MAX,
                            },
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "integer", "minimum": 1, "maximum": urgent.PAGE_MAX},
                        },
                    ],
                    "responses": {
                        "200": _response("Urgent announcements", answers.listed(answers.UrgentOut)),
                        **_errors(401, 404, 422),
                    },
                },
            },
            "/urgent/preview": {
                "post": {
                    "summary": "Who would hear an urgent announcement when; nothing is stored",
                    "security": user,
                    "requestBody": _body(schema.UrgentIn),
                    "responses": {
                        "200": _response("Coverage", answers.one(answers.Coverage)),
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
                        "200": _response("Urgent announcement", answers.one(answers.UrgentOut)),
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
                            "Cancelled", answers.schema_of(answers.UrgentCancelledOut)
                        ),
                        **_errors(401, 403, 404, 507),
                    },
                },
            },
        },
    }


# -- messages, programs and schedules (web/catalog_api.py) -----------------------------------

CATALOG_NOTE = (
    "Same role and area checks, validation and audit as the panel (admins and chiefs; "
    "operators get 403; objects outside the caller's areas are 404, and an id in a body that "
    "names one is refused exactly as an id that does not exist). In bodies a field left "
    "out, or null where the field cannot be null, is not given: POST takes the default, PATCH "
    "keeps the current value. `area`, `first_date` and `last_date` may be null on purpose: "
    "district-wide (admins only), no first or last day. See docs/user-api.md."
)


def _catalog_kind(
    plural: str,
    param: str,
    out: type[answers.Answer],
    create: type[schema.Request],
    patch: type[schema.Request],
    user: list[dict[str, list[str]]],
    notes: dict[str, str],
) -> dict[str, Any]:
    one = {"name": param, "in": "path", "required": True, "schema": {"type": "string"}}
    created = _response(f"Created (Location: /api/v1/{plural}/{{id}})", answers.one(out))
    created["headers"] = {"Location": {"required": True, "schema": {"type": "string"}}}
    return {
        f"/{plural}": {
            "get": {
                "summary": f"The {plural} the user may see, by id",
                "description": CATALOG_NOTE,
                "security": user,
                "responses": {
                    "200": _response(plural.title(), answers.listed(out)),
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
                "responses": {
                    "200": _response("Found", answers.one(out)),
                    **_errors(401, 403, 404),
                },
            },
            "patch": {
                "summary": f"Change any of the given fields of one of the {plural}",
                "description": f"{CATALOG_NOTE} {notes.get('patch', '')}".strip(),
                "security": user,
                "parameters": [one],
                "requestBody": _body(patch),
                "responses": {
                    "200": _response("Changed", answers.one(out)),
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
            answers.MessageOut,
            schema.MessageCreate,
            schema.MessagePatch,
            user,
            {
                "post": "Recordings (audio uploads) are made in the panel only; a message's "
                "`recording` shows here and PATCH `recording: null` drops it.",
                "patch": "Only an admin changes district-wide messages (403 for chiefs). "
                "`areas` (where vehicles play it, issue 13): `[]` clears, left out or null "
                "keeps; a chief changes only the areas she may see, those outside her reach "
                "stay (the answer's `areas_elsewhere`).",
                "delete": "409 while a program or a live urgent announcement uses it; the "
                "message names only the programs the caller may see and says when programs "
                "outside the caller's areas use it too.",
            },
        ),
        **_catalog_kind(
            "programs",
            "program_id",
            answers.ProgramOut,
            schema.ProgramCreate,
            schema.ProgramIn,
            user,
            {
                "patch": "Only an admin changes district-wide programs (403 for chiefs).",
                "delete": "409 while a schedule uses it (only the schedules the caller may see "
                "are named).",
            },
        ),
        **_catalog_kind(
            "schedules",
            "schedule_id",
            answers.ScheduleOut,
            schema.ScheduleCreate,
            schema.ScheduleIn,
            user,
            {
                "post": "Weekdays are 0 (Monday) to 6; times are wall times in the deployment's "
                "zone. 409 when it would overlap another schedule at the same priority on a "
                "speaker in the next 14 days, unless `accept_conflicts` is true; a schedule the "
                'caller may not see is not named ("a schedule set outside your areas").',
                "patch": "409 on overlaps as for POST.",
            },
        ),
    }
