"""JSON request bodies into domain values; every error names the field and what was expected."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from flask import request

from broadcaster.errors import ValidationError
from broadcaster.models import PlayKind, PlayLogEntry
from broadcaster.service import Heartbeat
from broadcaster.urgent import UrgentRequest

MAX_ID = 100


def query_int(args: Mapping[str, str], name: str, low: int, high: int | None) -> int | None:
    """A whole-number query parameter within bounds, or None when absent."""
    raw = args.get(name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError(f"{name}: expected a whole number") from None
    if value < low:
        raise ValidationError(f"{name}: must be at least {low}")
    if high is not None and value > high:
        # Larger numbers overflow the database's integer column (a 500 before).
        raise ValidationError(f"{name}: must be at most {high}")
    return value


def query_id(args: Mapping[str, str], name: str) -> str | None:
    """An id given as a query parameter, or None when absent."""
    raw = args.get(name)
    if raw is not None and not 0 < len(raw) <= MAX_ID:
        raise ValidationError(f"{name}: expected an id of 1 to {MAX_ID} characters")
    return raw


def json_body() -> dict[str, Any]:
    """The request's JSON object, or a 422 saying what is wrong with it."""
    data = request.get_json(silent=True, force=True)
    if not isinstance(data, dict):
        raise ValidationError("body: expected a JSON object")
    return data


def _get(
    data: Mapping[str, Any], key: str, kinds: tuple[type, ...], what: str, *, where: str = ""
) -> Any:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) and bool not in kinds:
        raise ValidationError(f"{where}{key}: expected {what}")
    if not isinstance(value, kinds):
        raise ValidationError(f"{where}{key}: expected {what}")
    return value


def text(data: Mapping[str, Any], key: str, *, where: str = "", limit: int = 2000) -> str | None:
    value = _get(data, key, (str,), "a string", where=where)
    if value is not None and len(value) > limit:
        raise ValidationError(f"{where}{key}: at most {limit} characters")
    return value


def integer(
    data: Mapping[str, Any], key: str, low: int, high: int, *, where: str = ""
) -> int | None:
    value = _get(data, key, (int, float), "a whole number", where=where)
    if isinstance(value, float):
        # JSON (and the OpenAPI document's "integer") counts 5.0 as a whole number.
        if not value.is_integer():
            raise ValidationError(f"{where}{key}: expected a whole number")
        value = int(value)
    if value is not None and not low <= value <= high:
        raise ValidationError(f"{where}{key}: must be from {low} to {high}")
    return value


def number(
    data: Mapping[str, Any], key: str, low: float, high: float, *, where: str = ""
) -> float | None:
    value = _get(data, key, (int, float), "a number", where=where)
    if value is not None and not low <= value <= high:
        raise ValidationError(f"{where}{key}: must be from {low} to {high}")
    return None if value is None else float(value)


def flag(data: Mapping[str, Any], key: str, *, where: str = "") -> bool | None:
    return _get(data, key, (bool,), "true or false", where=where)


def moment(data: Mapping[str, Any], key: str, *, where: str = "") -> datetime | None:
    """An ISO 8601 time that carries its UTC offset."""
    value = _get(data, key, (str,), "an ISO 8601 time with its UTC offset", where=where)
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(
            f"{where}{key}: expected an ISO 8601 time, got {value[:40]!r}"
        ) from None
    if parsed.utcoffset() is None:
        raise ValidationError(f"{where}{key}: the time needs its UTC offset (e.g. +08:00)")
    try:
        parsed.astimezone(UTC)  # stored in UTC: 0001-01-01T00:00+01:00 has no UTC value
    except OverflowError:
        raise ValidationError(f"{where}{key}: the time is out of range") from None
    return parsed


def mapping(data: Mapping[str, Any], key: str, *, where: str = "") -> dict[str, Any] | None:
    return _get(data, key, (dict,), "a JSON object", where=where)


def id_list(data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = _get(data, key, (list,), "a list of ids")
    if value is None:
        return ()
    if len(value) > 1000 or not all(isinstance(v, str) and 0 < len(v) <= MAX_ID for v in value):
        raise ValidationError(f"{key}: expected a list of ids")
    return tuple(dict.fromkeys(value))


def heartbeat(data: Mapping[str, Any]) -> Heartbeat:
    """A heartbeat body (docs/device-api.md)."""
    playing = mapping(data, "now_playing")
    moment(data, "client_time")  # checked only: the client reports its offset in clock_offset_ms
    position = integer(playing, "position_ms", 0, 10**9, where="now_playing.") if playing else None
    return Heartbeat(
        state=text(data, "state", limit=40) or "unknown",
        now_playing=playing,
        position_ms=position,
        volume=integer(data, "volume", 0, 100),
        last_sync=moment(data, "last_sync"),
        plan_etag=text(data, "plan_etag", limit=100),
        clock_offset_ms=integer(data, "clock_offset_ms", -(10**10), 10**10),
        cache=mapping(data, "cache"),
        selftest=_selftest(mapping(data, "selftest")),
        version=text(data, "version", limit=40) or "",
    )


def _selftest(data: dict[str, Any] | None) -> dict[str, Any] | None:
    if data is None:
        return None
    return {
        "ok": flag(data, "ok", where="selftest."),
        "at": moment(data, "at", where="selftest."),
        "detail": text(data, "detail", where="selftest.", limit=500) or "",
    }


def plays(data: Mapping[str, Any], speaker_id: str, limit: int) -> list[PlayLogEntry]:
    """A batch of play-log entries (at most `limit`)."""
    entries = _get(data, "entries", (list,), "a list of play-log entries")
    if entries is None:
        raise ValidationError("entries: required")
    if len(entries) > limit:
        raise ValidationError(f"entries: at most {limit} entries per upload")
    out = []
    for i, entry in enumerate(entries):
        where = f"entries[{i}]."
        if not isinstance(entry, dict):
            raise ValidationError(f"entries[{i}]: expected a JSON object")
        entry_id = text(entry, "id", where=where, limit=MAX_ID)
        clip = text(entry, "clip", where=where, limit=MAX_ID)
        started, ended = (
            moment(entry, "started_at", where=where),
            moment(entry, "ended_at", where=where),
        )
        kind = text(entry, "kind", where=where, limit=20)
        text(entry, "urgent", where=where, limit=MAX_ID)  # checked only: the clip names it
        if not entry_id or not clip or started is None or ended is None or kind is None:
            raise ValidationError(
                f"{where}id: id, clip, kind, started_at and ended_at are required"
            )
        if kind not in {k.value for k in PlayKind}:
            raise ValidationError(f"{where}kind: expected loop, urgent or selftest")
        out.append(
            PlayLogEntry(
                id=entry_id,
                speaker_id=speaker_id,
                clip=clip,
                message_id=text(entry, "message", where=where, limit=MAX_ID),
                kind=PlayKind(kind),
                planned_start=moment(entry, "planned_start", where=where),
                started_at=started,
                ended_at=ended,
                completed=bool(flag(entry, "completed", where=where)),
                reason=text(entry, "reason", where=where, limit=100) or "",
            )
        )
    return out


def urgent_request(data: Mapping[str, Any]) -> UrgentRequest:
    """`POST /urgent` (docs in web/openapi.py)."""
    return UrgentRequest(
        text=text(data, "text", limit=2000),
        message_id=text(data, "message", limit=MAX_ID),
        speaker_ids=id_list(data, "speakers"),
        area_ids=id_list(data, "areas"),
        repeats=integer(data, "repeats", 1, 20) or 1,
        interval_s=number(data, "interval_s", 0, 3600) or 0.0,
        expires_at=moment(data, "expires_at"),
        override_window=bool(flag(data, "override_window")),
    )
