"""The dashboard: every visible speaker's status, today's plays and today's plan.

The page polls `/dashboard/live` every 2 s (status, what is playing by its title, whether
each speaker runs the current plan: a small JSON answer) and swaps the whole cards, with
their timelines, every 30 s. `/dashboard/live` also feeds the "synced n/m" line that pages
show after an edit.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from time import monotonic
from typing import Any

from flask import Blueprint, jsonify, stream_template
from werkzeug.wrappers import Response

from broadcaster import planning
from broadcaster.editing import Scope
from broadcaster.service import STATUSES_SHARED_FROM
from broadcaster.store.devices import PlayCount
from web.panel.common import local, now, page, scope
from web.panel.i18n import _, locale
from web.panel.timeline import day_timeline
from web.runtime import runtime
from web.user_api import speaker_rows

bp = Blueprint("dashboard", __name__)


def playing_title(me: Scope, speaker_id: str, playing: Mapping[str, Any] | None) -> str | None:
    """What a speaker plays, as people name it: the message's title, the urgent's text."""
    if not playing:
        return None
    kind, message_id = playing.get("kind"), playing.get("message")
    titles = {m.id: m.title for m in me.deployment.messages}
    if message_id:
        title = titles.get(str(message_id), str(message_id))
        return _("Urgent: %(what)s", what=title) if kind == "urgent" else title
    if kind == "urgent":
        return _("Urgent: %(what)s", what=_live_urgent_text(me, speaker_id))
    if kind == "selftest":
        return _("Self-test")
    return _(str(kind)) if kind else _("something")


def _live_urgent_text(me: Scope, speaker_id: str) -> str:
    deployment = me.deployment
    areas = {a.id: a for a in deployment.areas}
    speaker = next((s for s in deployment.speakers if s.id == speaker_id), None)
    chain = set(planning.area_chain(speaker.area_id, areas)) if speaker else set()
    live = runtime().service.live_urgents(now())
    mine = [u for u in live if speaker_id in u.speaker_ids or chain & set(u.area_ids)]
    if not mine:
        return "…"
    text = max(mine, key=lambda u: u.created_at).text or ""
    return text if len(text) <= 40 else text[:39] + "…"


def _rows() -> list[dict[str, Any]]:
    me = scope()
    return [
        row | {"playing_title": playing_title(me, row["id"], row["now_playing"])}
        for row in speaker_rows(me.user)
    ]


def sync_counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {
        "synced": sum(1 for r in rows if r["synced"]),
        "total": len(rows),
        "offline": sum(1 for r in rows if not r["online"]),
    }


def cards(rows: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """One card per speaker the user may see: status row, plays today, timeline."""
    me = scope()
    rt = runtime()
    moment = now()
    rows = _rows() if rows is None else rows
    day = moment.astimezone(rt.settings.zone).date()
    # Counted by the database (a row per speaker), never by loading the day's plays.
    plays = rt.service.store.devices.play_counts_on_day(
        day, rt.settings.zone, speaker_ids=[row["id"] for row in rows]
    )
    none = PlayCount(0, None)
    messages = {m.id: m for m in me.deployment.messages}
    progress = route_progress(me, [row["id"] for row in rows], moment)
    return [
        row
        | {
            "plays_today": plays.get(row["id"], none).plays,
            "last_play": local(plays.get(row["id"], none).last_started_at, "%H:%M"),
            "timeline": day_timeline(rt.service, row["id"], moment, messages),
            "progress": progress.get(row["id"]),
        }
        for row in rows
    ]


def route_progress(me: Scope, speaker_ids: list[str], moment: datetime) -> dict[str, str]:
    """'3/7 stops' per vehicle with a route (issue 13): stops passed today, in route order."""
    vehicles = [me.speakers[i] for i in speaker_ids if i in me.speakers]
    found = runtime().service.route_progress(vehicles, moment)
    return {
        speaker: _("%(n)s/%(total)s stops", n=sum(1 for t in times if t), total=len(times))
        for speaker, times in found.items()
    }


@bp.get("/")
def index() -> str:
    rows = _rows()
    return page(
        "panel/dashboard.html",
        cards=cards(rows),
        sync=sync_counts(rows),
        sync_text=sync_text,
        sync_label=sync_label,
    )


@bp.get("/dashboard/cards")
def fragment() -> Response:
    """The cards alone, for the page's script to swap in every 30 seconds. Sent as it is
    drawn, in pieces, letting other requests run between them (1,000 cards are ~2 MB)."""
    scope()
    parts = stream_template("panel/_cards.html", cards=cards(), sync_label=sync_label)
    return Response(_cooperating(parts), mimetype="text/html")


def _cooperating(parts: Iterator[str], piece: int = 16_384) -> Iterator[str]:
    buffered: list[str] = []
    size = 0
    for part in parts:
        buffered.append(part)
        size += len(part)
        if size >= piece:
            yield "".join(buffered)
            buffered, size = [], 0
            runtime().service.cooperate()
    if buffered:
        yield "".join(buffered)


# (who sees what, in which language) -> (when made, the answer): the dashboards open in a
# county office (each polls every `LIVE_EVERY_S`) share one answer per poll period instead
# of each computing 1,000 rows. Only where statuses are shared anyway (`Service.statuses`).
_LIVE: dict[tuple[object, ...], tuple[float, dict[str, Any]]] = {}
LIVE_EVERY_S = 2.0  # the page's poll period (web/static/panel.js)
LIVE_FRESH_S = LIVE_EVERY_S


@bp.get("/dashboard/live")
def live() -> Response:
    """What changes by the second, for the page's script: small and cheap to poll."""
    me = scope()
    if len(me.deployment.speakers) < STATUSES_SHARED_FROM:
        return jsonify(_live_answer())
    user = me.user
    key = (user.role, user.area_ids, user.vehicle_id, locale())
    made = _LIVE.get(key)
    if made is None or monotonic() - made[0] > LIVE_FRESH_S:
        made = (monotonic(), _live_answer())
        _LIVE[key] = made
    return jsonify(made[1])


def _live_answer() -> dict[str, Any]:
    rows = _rows()
    counts = sync_counts(rows)
    return {
        **counts,
        "text": sync_text(counts),
        "speakers": [
            {
                "id": r["id"],
                "online": r["online"],
                "synced": r["synced"],
                "playing": r["playing_title"],
                "badge": _("online") if r["online"] else _("offline"),
                "sync_label": sync_label(r),
            }
            for r in rows
        ],
    }


def sync_text(counts: Mapping[str, int]) -> str:
    """'Synced 21/23 (2 offline)', in the user's language."""
    text = _("Synced %(n)s/%(total)s", n=counts["synced"], total=counts["total"])
    if counts["offline"]:
        text += _(" (%(n)s offline)", n=counts["offline"])
    return text


def sync_label(row: Mapping[str, Any]) -> str:
    if row["synced"]:
        return _("current plan")
    return _("not reachable") if not row["online"] else _("updating…")
