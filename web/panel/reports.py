"""Reports: the play log by day, area and speaker (chart per hour, CSV); the audit log."""

from __future__ import annotations

import csv
import io
from datetime import date

from flask import Blueprint, Response, request

from broadcaster.models import PlayLogEntry, Role
from web.panel.common import local, now, page, require
from web.panel.i18n import _
from web.runtime import runtime

bp = Blueprint("reports", __name__)


def _query() -> tuple[date, str, str, list[PlayLogEntry], str | None]:
    me = require(Role.ADMIN, Role.CHIEF)
    rt = runtime()
    zone = rt.settings.zone
    error = None
    try:
        day = date.fromisoformat(request.args.get("day") or "")
    except ValueError:
        if request.args.get("day"):
            error = _("Enter a date like 2025-05-01.")
        day = now().astimezone(zone).date()
    area = request.args.get("area") or ""
    speaker = request.args.get("speaker") or ""
    if area and area not in me.reach:
        area, error = "", _("Choose areas from the list.")
    if speaker and speaker not in me.speakers:
        speaker, error = "", _("Choose loudspeakers from the list.")
    plays = [
        p
        for p in rt.service.store.plays_on_day(
            day, zone, speaker_id=speaker or None, area_id=area or None
        )
        if p.speaker_id in me.speakers
    ]
    return day, area, speaker, plays, error


@bp.get("/reports")
def plays() -> str:
    me = require(Role.ADMIN, Role.CHIEF)
    day, area, speaker, entries, error = _query()
    zone = runtime().settings.zone
    per_hour = [0] * 24
    for entry in entries:
        per_hour[entry.started_at.astimezone(zone).hour] += 1
    peak = max(per_hour) or 1
    titles = {m.id: m.title for m in me.deployment.messages}
    names = {s.id: s.name for s in me.deployment.speakers}
    return page(
        "panel/reports.html",
        day=day,
        area=area,
        speaker=speaker,
        entries=entries,
        per_hour=per_hour,
        peak=peak,
        error=error,
        titles=titles,
        names=names,
        speakers=list(me.speakers.values()),
        areas=me.own_areas(),
        local=local,
    )


@bp.get("/reports/plays.csv")
def plays_csv() -> Response:
    day, _area, _speaker, entries, _error = _query()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "speaker",
            "message",
            "kind",
            "clip",
            "planned_start",
            "started_at",
            "ended_at",
            "completed",
            "reason",
        ]
    )
    zone = runtime().settings.zone
    for e in entries:
        writer.writerow(
            [
                e.speaker_id,
                e.message_id or "",
                e.kind.value,
                e.clip,
                e.planned_start.astimezone(zone).isoformat() if e.planned_start else "",
                e.started_at.astimezone(zone).isoformat(),
                e.ended_at.astimezone(zone).isoformat(),
                int(e.completed),
                e.reason,
            ]
        )
    return Response(
        "\ufeff" + out.getvalue(),  # a BOM so spreadsheet programs read the Chinese names
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename=plays-{day.isoformat()}.csv"},
    )


@bp.get("/audit")
def audit() -> str:
    require(Role.ADMIN)
    before = request.args.get("before", type=int)
    action = request.args.get("action") or None
    entries = runtime().service.store.list_audit(limit=100, before_seq=before, action=action)
    return page("panel/audit.html", entries=entries, action=action or "", local=local)
