"""The user API: speaker status and urgent announcements, with role and area checks."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, jsonify, request

from broadcaster import access, urgent
from broadcaster.models import User
from web import payloads
from web.auth import current_user
from web.runtime import iso, runtime

bp = Blueprint("user_api", __name__, url_prefix="/api/v1")


def _json(data: object, status: int = 200) -> Response:
    response = jsonify({"data": data, "server_time": iso(runtime().clock())})
    response.status_code = status
    return response


def speaker_rows(user: User) -> list[dict[str, Any]]:
    """Every speaker the user may see, with its last reported status."""
    rt = runtime()
    now = rt.clock()
    deployment = rt.service.deployment(now)
    areas = {a.id: a for a in deployment.areas}
    speakers = access.visible_speakers(user, deployment.speakers, areas)
    statuses = rt.service.statuses(s.id for s in speakers)
    silence = rt.service.offline_after()
    rows = []
    for speaker in speakers:
        status = statuses.get(speaker.id)
        online = status is not None and status.online(now, silence)
        rows.append(
            {
                "id": speaker.id,
                "name": speaker.name,
                "kind": speaker.kind.value,
                "area": speaker.area_id,
                "area_name": areas[speaker.area_id].name if speaker.area_id in areas else None,
                "online": online,
                "state": (status.state if online else "offline") if status else "never-seen",
                "now_playing": dict(status.now_playing)
                if online and status and status.now_playing
                else None,
                "last_heartbeat": iso(status.last_heartbeat) if status else None,
                "clock_offset_ms": status.clock_offset_ms if status else None,
                "selftest": (
                    {
                        "ok": status.selftest_ok,
                        "at": iso(status.selftest_at),
                        "detail": status.selftest_detail,
                    }
                    if status and status.selftest_at
                    else None
                ),
                "cache": dict(status.cache_health) if status and status.cache_health else None,
            }
        )
    return rows


@bp.get("/speakers")
def speakers() -> Response:
    user = current_user(runtime().clock())
    return _json(speaker_rows(user))


def urgent_json(view: urgent.UrgentView) -> dict[str, Any]:
    u = view.urgent
    acks = {a.speaker_id: a for a in view.acks}
    return {
        "id": u.id,
        "state": view.state,
        "text": u.text,
        "message": u.message_id,
        "speakers": list(u.speaker_ids),
        "areas": list(u.area_ids),
        "repeats": u.repeats,
        "interval_s": u.interval_s,
        "override_window": u.override_window,
        "created_at": iso(u.created_at),
        "created_by": u.created_by,
        "expires_at": iso(u.expires_at),
        "cancelled_at": iso(u.cancelled_at),
        "acks": [
            {
                "speaker": speaker_id,
                "received_at": iso(acks[speaker_id].received_at) if speaker_id in acks else None,
                "playing_at": iso(acks[speaker_id].playing_at) if speaker_id in acks else None,
                "played_at": iso(acks[speaker_id].played_at) if speaker_id in acks else None,
            }
            for speaker_id in view.targets
        ],
    }


@bp.post("/urgent")
def send_urgent() -> Response:
    rt = runtime()
    now = rt.clock()
    user = current_user(now)
    sent = urgent.send(rt.service, user, payloads.urgent_request(payloads.json_body()), now)
    rt.service.store.append_audit(
        now, g.actor, "urgent.send", sent.id,
        {"text": sent.text, "message": sent.message_id, "speakers": list(sent.speaker_ids),
         "areas": list(sent.area_ids),
         "override_window": sent.override_window},
        request.remote_addr,
    )  # fmt: skip
    response = jsonify({"id": sent.id, "server_time": iso(now)})
    response.status_code = 201
    response.headers["Location"] = f"/api/v1/urgent/{sent.id}"
    return response


@bp.get("/urgent")
def list_urgent() -> Response:
    rt = runtime()
    now = rt.clock()
    user = current_user(now)
    return _json([urgent_json(v) for v in urgent.list_for(rt.service, user, now)])


@bp.delete("/urgent/<urgent_id>")
def cancel_urgent(urgent_id: str) -> Response:
    rt = runtime()
    now = rt.clock()
    user = current_user(now)
    cancelled = urgent.cancel(rt.service, user, urgent_id, now)
    rt.service.store.append_audit(
        now, g.actor, "urgent.cancel", cancelled.id, {}, request.remote_addr
    )
    return jsonify({"id": cancelled.id, "state": "cancelled", "server_time": iso(now)})
