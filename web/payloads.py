"""JSON request bodies into domain values; every error names the field and what was expected."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import request
from werkzeug.exceptions import RequestEntityTooLarge

from broadcaster import limits, schema
from broadcaster.errors import ValidationError
from broadcaster.models import PlayKind, PlayLogEntry
from broadcaster.service import Heartbeat
from broadcaster.store import AckState
from broadcaster.store.records import Fix
from broadcaster.urgent import UrgentRequest

MAX_ID = limits.REF_MAX
# A heartbeat is a few hundred bytes and a batch of 500 plays ~150 KB: 1 MB is plenty, and
# less to parse than the 32 MB an upload may be.
MAX_JSON_BYTES = 2**20
# Bodies need 4 levels; deeper ones were a 500 (RecursionError past ~1,000) or were stored
# and broke the pages that show them again.
MAX_JSON_DEPTH = 32


def query_int(args: Mapping[str, str], name: str, low: int, high: int | None) -> int | None:
    """A whole-number query parameter within bounds, or None when absent."""
    raw = args.get(name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError.at(name, "expected a whole number") from None
    if value < low:
        raise ValidationError.at(name, f"must be at least {low}")
    if high is not None and value > high:
        # Larger numbers overflow the database's integer column (a 500 before).
        raise ValidationError.at(name, f"must be at most {high}")
    return value


def query_id(args: Mapping[str, str], name: str) -> str | None:
    """An id given as a query parameter, or None when absent."""
    raw = args.get(name)
    if raw is not None and not 0 < len(raw) <= MAX_ID:
        raise ValidationError.at(name, f"expected an id of 1 to {MAX_ID} characters")
    return raw


def json_body() -> dict[str, Any]:
    """The request's JSON object, or a 422 saying what is wrong with it (413 over 1 MB)."""
    length = request.content_length
    if length is not None and length > MAX_JSON_BYTES:
        raise RequestEntityTooLarge(_TOO_LARGE)
    raw = request.get_data(cache=True)  # chunked bodies: bounded by MAX_CONTENT_LENGTH
    if len(raw) > MAX_JSON_BYTES:
        raise RequestEntityTooLarge(_TOO_LARGE)
    return json_object(raw, "body")


def json_object(raw: str | bytes, name: str) -> dict[str, Any]:
    """`raw` as a JSON object, or a 422 about `name` (the body; the pager's first message)."""
    try:
        data = json.loads(raw)
    except RecursionError:
        raise ValidationError.at(name, _TOO_DEEP) from None
    except ValueError:  # not JSON, or not UTF-8
        data = None
    if _deeper_than(data, MAX_JSON_DEPTH):
        raise ValidationError.at(name, _TOO_DEEP)
    if not isinstance(data, dict):
        raise ValidationError.at(name, "expected a JSON object")
    return data


_TOO_LARGE = f"body: at most 1 MB of JSON ({MAX_JSON_BYTES} bytes)"
_TOO_DEEP = f"the JSON is nested deeper than {MAX_JSON_DEPTH} levels"


def _deeper_than(value: Any, limit: int) -> bool:
    """True when lists and objects nest deeper than `limit` (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


# -- device input (docs/device-api.md, "Bounds") --------------------------------------------
#
# Shapes, bounds and the device window are the request models' (broadcaster/schema.py); here
# they become the domain's values.
DEVICE_PAST = schema.DEVICE_PAST
DEVICE_AHEAD = schema.DEVICE_AHEAD
MAX_POSITION_MS = schema.MAX_POSITION_MS
MAX_CACHE_COUNT = schema.MAX_CACHE_COUNT
MAX_CACHE_BYTES = schema.MAX_CACHE_BYTES
CLIP_KEY = re.compile(schema.CLIP_KEY)
PLAYING_KINDS = frozenset(k.value for k in PlayKind)
CACHE_KEYS = tuple(schema.CacheHealth.model_fields)


def _whole(value: Any, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= high


# What the views show of a stored now_playing: a row written by an older server (or straight
# into the database) may hold anything; only the keys and shapes above are shown.
_SHOWN_NOW_PLAYING = {
    "clip": lambda v: isinstance(v, str) and CLIP_KEY.fullmatch(v) is not None,
    "message": lambda v: isinstance(v, str) and 0 < len(v) <= MAX_ID and v.isprintable(),
    "kind": lambda v: isinstance(v, str) and v in PLAYING_KINDS,
    "started_at": lambda v: isinstance(v, str) and len(v) <= 40 and v.isprintable(),
    "position_ms": lambda v: _whole(v, MAX_POSITION_MS),
}


def shown_now_playing(stored: Any) -> dict[str, Any] | None:
    """A stored now_playing as views show it: known keys with the right shape, else None."""
    if not isinstance(stored, Mapping) or not stored:
        return None
    return {
        key: (v if ok(v := stored.get(key)) else None) for key, ok in _SHOWN_NOW_PLAYING.items()
    }


def shown_cache(stored: Any) -> dict[str, int] | None:
    """A stored cache health as views show it: the four counts that have the right shape."""
    if not isinstance(stored, Mapping) or not stored:
        return None
    return {
        key: stored[key]
        for key in CACHE_KEYS
        if _whole(stored.get(key), MAX_CACHE_BYTES if key == "bytes" else MAX_CACHE_COUNT)
    }


def heartbeat(data: Mapping[str, Any], now: datetime, zone: ZoneInfo) -> Heartbeat:
    """A heartbeat body (docs/device-api.md): times outside the device window are unknown."""
    beat = schema.read(schema.Heartbeat, data, schema.Clock(now, zone))
    playing = beat.now_playing
    started = playing.started_at if playing else None
    return Heartbeat(
        state=beat.state or "unknown",
        now_playing=None
        if playing is None
        else {
            "clip": playing.clip,
            "message": playing.message,
            "kind": playing.kind,
            "started_at": started.astimezone(zone).isoformat(timespec="milliseconds")
            if started
            else None,
            "position_ms": playing.position_ms,
        },
        position_ms=playing.position_ms if playing else None,
        volume=beat.volume,
        last_sync=beat.last_sync,
        plan_etag=beat.plan_etag,
        clock_offset_ms=beat.clock_offset_ms,
        cache=None if beat.cache is None else beat.cache.model_dump(exclude_none=True),
        selftest=None
        if beat.selftest is None
        else {
            "ok": beat.selftest.ok,
            "at": beat.selftest.at,
            "detail": beat.selftest.detail or "",
        },
        version=beat.version or "",
        position=_fix(beat.position),
    )


def _fix(position: schema.Position | None) -> Fix | None:
    """A heartbeat's GPS fix (issue 13); one whose time is unknown (outside the device window)
    is dropped: a position must say when it was true."""
    if position is None or position.fix_at is None:
        return None
    return Fix(position.lat, position.lon, position.fix_at, position.speed, position.heading)


def plays(
    data: Mapping[str, Any], speaker_id: str, now: datetime, zone: ZoneInfo
) -> list[PlayLogEntry]:
    """A batch of play-log entries, every time within the device window."""
    batch = schema.read(schema.Plays, data, schema.Clock(now, zone))
    return [
        PlayLogEntry(
            id=entry.id,
            speaker_id=speaker_id,
            clip=entry.clip,
            message_id=entry.message,
            kind=PlayKind(entry.kind),
            planned_start=entry.planned_start,
            started_at=entry.started_at,
            ended_at=entry.ended_at,
            completed=bool(entry.completed),
            reason=entry.reason or "",
        )
        for entry in batch.entries
    ]


def ack(data: Mapping[str, Any], now: datetime, zone: ZoneInfo) -> tuple[str, AckState, datetime]:
    """An urgent acknowledgement: (urgent id, state, when; now if the device left it out)."""
    found = schema.read(schema.Ack, data, schema.Clock(now, zone))
    return found.urgent, AckState(found.state), found.at or now


def urgent_request(data: Mapping[str, Any]) -> UrgentRequest:
    """`POST /urgent` and `/urgent/preview` (schema.UrgentIn)."""
    asked = schema.read(schema.UrgentIn, data)
    return UrgentRequest(
        text=asked.text,  # at most the deployment's max_chars: the renderer says
        message_id=asked.message,
        speaker_ids=tuple(dict.fromkeys(asked.speakers or ())),
        area_ids=tuple(dict.fromkeys(asked.areas or ())),
        repeats=limits.REPEATS.default if asked.repeats is None else asked.repeats,
        interval_s=float(
            limits.INTERVAL_S.default if asked.interval_s is None else asked.interval_s
        ),
        expires_at=asked.expires_at,
        override_window=bool(asked.override_window),
    )
