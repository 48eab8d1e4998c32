"""The user API: speaker status and urgent announcements, with role and area checks."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request

from broadcaster import access, urgent
from broadcaster.models import User
from broadcaster.store import Deployment
from web import payloads
from web.auth import current_user
from web.runtime import iso, runtime
from web.urgent_json import coverage_json, urgent_json

log = logging.getLogger(__name__)
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
    for count, speaker in enumerate(speakers, 1):
        if count % 100 == 0:
            rt.service.cooperate()  # a county's dashboard: let devices be answered meanwhile
        status = statuses.get(speaker.id)
        online = status is not None and status.online(now, silence)
        plan_etag = _plan_etag(speaker.id, now, deployment)
        client_etag = status.plan_etag if status else None
        rows.append(
            {
                "id": speaker.id,
                "name": speaker.name,
                "kind": speaker.kind.value,
                "area": speaker.area_id,
                "area_name": areas[speaker.area_id].name if speaker.area_id in areas else None,
                "online": online,
                "state": (status.state if online else "offline") if status else "never-seen",
                "now_playing": payloads.shown_now_playing(status.now_playing)
                if online and status
                else None,
                "last_heartbeat": iso(status.last_heartbeat) if status else None,
                "clock_offset_ms": status.clock_offset_ms if status else None,
                "selftest": (
                    {
                        "ok": status.selftest_ok,
                        "at": iso(status.selftest_at),
                        "detail": status.selftest_detail,
                    }
                    if status and (status.selftest_at or status.selftest_ok is not None)
                    else None
                ),
                "cache": payloads.shown_cache(status.cache_health) if status else None,
                "plan_etag": plan_etag,
                "client_plan_etag": client_etag,
                "synced": plan_etag is not None and plan_etag == client_etag,
            }
        )
    return rows


def _plan_etag(speaker_id: str, now: datetime, deployment: Deployment) -> str | None:
    try:
        return runtime().service.plan(speaker_id, now, deployment).etag
    except Exception:  # a plan that cannot be computed is shown as not synced, not as a 500
        log.exception("cannot compute the plan of %s", speaker_id)
        return None


@bp.get("/speakers")
def speakers() -> Response:
    user = current_user(runtime().clock())
    return _json(speaker_rows(user))


@bp.post("/urgent")
def send_urgent() -> Response:
    rt = runtime()
    now = rt.clock()
    user = current_user(now)
    sent = urgent.send(
        rt.service,
        user,
        payloads.urgent_request(payloads.json_body()),
        now,
        remote_addr=request.remote_addr,
    )  # stored, told to every target and audited in one transaction
    response = jsonify(
        {
            "id": sent.urgent.id,
            "targets": [coverage_json(t) for t in sent.targets],
            "server_time": iso(now),
        }
    )
    response.status_code = 201
    response.headers["Location"] = f"/api/v1/urgent/{sent.urgent.id}"
    return response


@bp.post("/urgent/preview")
def preview_urgent() -> Response:
    """Who would hear it when, without storing or sending anything."""
    rt = runtime()
    now = rt.clock()
    user = current_user(now)
    sent = urgent.send(
        rt.service, user, payloads.urgent_request(payloads.json_body()), now, preview=True
    )
    return _json({"targets": [coverage_json(t) for t in sent.targets]})


@bp.get("/urgent")
def list_urgent() -> Response:
    rt = runtime()
    now = rt.clock()
    user = current_user(now)
    limit = payloads.query_int(request.args, "limit", 1, urgent.PAGE_MAX) or 50
    before = payloads.query_id(request.args, "before")
    views = urgent.list_for(rt.service, user, now, limit=limit, before=before)
    response = _json([urgent_json(v) for v in views])
    if len(views) == limit:
        response.headers["Link"] = (
            f'</api/v1/urgent?before={views[-1].urgent.id}&limit={limit}>; rel="next"'
        )
    return response


@bp.get("/urgent/<urgent_id>")
def get_urgent(urgent_id: str) -> Response:
    rt = runtime()
    now = rt.clock()
    user = current_user(now)
    return _json(urgent_json(urgent.get(rt.service, user, urgent_id, now)))


@bp.delete("/urgent/<urgent_id>")
def cancel_urgent(urgent_id: str) -> Response:
    rt = runtime()
    now = rt.clock()
    user = current_user(now)
    cancelled = urgent.cancel(rt.service, user, urgent_id, now, remote_addr=request.remote_addr)
    return jsonify({"id": cancelled.id, "state": "cancelled", "server_time": iso(now)})
