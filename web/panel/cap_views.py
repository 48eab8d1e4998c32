"""Held CAP alerts (issue 15, docs/cap.md "Held alerts"): the warnings the policy did not
broadcast at once, for a chief or admin of the areas they cover, with one-click approve
(it becomes an urgent announcement, sent as that user) or reject. Everything is audited
(`cap.approve`, `cap.reject`, and the urgent's own `urgent.send`).

A chief sees the held alerts that cover one of their loudspeakers; one that also covers
loudspeakers outside their areas is shown without buttons (only an admin may decide it; a
chief's crafted approve answers 403, another village's alert 404).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, request, url_for
from werkzeug.wrappers import Response

from broadcaster import urgent
from broadcaster.cap import ingest
from broadcaster.errors import Conflict, ValidationError
from broadcaster.models import Role
from web.panel.common import local, now, page, require, scope
from web.panel.i18n import _
from web.runtime import runtime

bp = Blueprint("cap", __name__)

SEVERITY = {
    "Extreme": "Extreme",
    "Severe": "Severe",
    "Moderate": "Moderate",
    "Minor": "Minor",
    "Unknown": "Unknown",
}


def _rows() -> list[dict[str, Any]]:
    me = require(Role.ADMIN, Role.CHIEF)
    service = runtime().service
    moment = now()
    deployment = service.deployment(moment)
    names = {s.id: s.name for s in deployment.speakers}
    out = []
    for row in ingest.visible_held(service, me.user, moment):
        targets = ingest.covered(row, deployment)
        mine = me.user.role is Role.ADMIN or set(targets) <= me.speakers.keys()
        out.append(
            {
                "row": row,
                "severity": _(SEVERITY.get(row.severity, "Unknown")),
                "targets": [names.get(t, t) for t in targets],
                "may_decide": mine,
                "received": local(row.received_at, "%m-%d %H:%M"),
                "expires": local(row.expires_at, "%m-%d %H:%M"),
            }
        )
    return out


def waiting() -> int:
    """How many held warnings the signed-in chief or admin may see (the nav's badge)."""
    me = scope()
    if me.user.role not in (Role.ADMIN, Role.CHIEF):
        return 0
    return len(ingest.visible_held(runtime().service, me.user, now()))


@bp.app_context_processor
def _badge() -> dict[str, Any]:
    return {"held_warnings": waiting}


@bp.get("/cap")
def index() -> str:
    return page("panel/cap_held.html", rows=_rows())


@bp.post("/cap/<row_id>/approve")
def approve(row_id: str) -> Response:
    me = require(Role.ADMIN, Role.CHIEF)
    override = request.form.get("override_window") == "on"
    try:
        made = ingest.approve(runtime().service, me.user, row_id, now(), override=override,
                              remote_addr=request.remote_addr)  # fmt: skip
    except Conflict:
        flash(_("Someone decided this warning meanwhile."))
        return redirect(url_for("cap.index"))
    except urgent.WillNotPlay:
        flash(_("No loudspeaker can play it before it expires: tick 'also outside the "
                "playback windows' to announce it now."))  # fmt: skip
        return redirect(url_for("cap.index"))
    except ValidationError as exc:  # expired meanwhile, a text the voice cannot say
        flash(_("Could not approve: %(reason)s", reason=str(exc)))
        return redirect(url_for("cap.index"))
    flash(_("Approved: the warning is being announced."))
    return redirect(url_for("urgent.detail", urgent_id=made))


@bp.post("/cap/<row_id>/reject")
def reject(row_id: str) -> Response:
    me = require(Role.ADMIN, Role.CHIEF)
    try:
        ingest.reject(runtime().service, me.user, row_id, now(), remote_addr=request.remote_addr)
    except Conflict:
        flash(_("Someone decided this warning meanwhile."))
        return redirect(url_for("cap.index"))
    flash(_("Rejected: the warning will not be announced."))
    return redirect(url_for("cap.index"))
