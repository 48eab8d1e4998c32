"""The dashboard: every visible speaker's status, today's plays and today's plan."""

from __future__ import annotations

from collections import Counter
from typing import Any

from flask import Blueprint, render_template

from web.panel.common import now, page, scope
from web.panel.timeline import day_timeline
from web.runtime import runtime
from web.user_api import speaker_rows

bp = Blueprint("dashboard", __name__)


def cards() -> list[dict[str, Any]]:
    """One card per speaker the user may see: status row, plays today, timeline."""
    me = scope()
    rt = runtime()
    moment = now()
    rows = speaker_rows(me.user)
    day = moment.astimezone(rt.settings.zone).date()
    plays = Counter(p.speaker_id for p in rt.service.store.plays_on_day(day, rt.settings.zone))
    messages = {m.id: m for m in me.deployment.messages}
    return [
        row
        | {
            "plays_today": plays.get(row["id"], 0),
            "timeline": day_timeline(rt.service, row["id"], moment, messages),
        }
        for row in rows
    ]


@bp.get("/")
def index() -> str:
    return page("panel/dashboard.html", cards=cards())


@bp.get("/dashboard/cards")
def fragment() -> str:
    """The cards alone, for the page's script to swap in every few seconds."""
    scope()
    return render_template("panel/_cards.html", cards=cards())
