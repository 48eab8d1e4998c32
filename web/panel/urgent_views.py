"""Urgent announcements: type, pick or record; choose targets; send; watch the acks; cancel."""

from __future__ import annotations

import secrets
from datetime import timedelta

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from broadcaster import editing, urgent
from broadcaster.editing import Scope
from broadcaster.errors import NotFound, ValidationError
from broadcaster.models import Message, Role, VoiceSettings
from web.panel.common import Form, audit, local, now, page, require
from web.panel.i18n import _
from web.panel.messages import save_upload
from web.runtime import runtime

bp = Blueprint("urgent", __name__)


def _render(me: Scope, form: Form, status: int = 200):  # type: ignore[no-untyped-def]
    views = urgent.list_for(runtime().service, me.user, now(), limit=20)
    body = page(
        "panel/urgent.html",
        form=form,
        messages=me.messages(),
        speakers=list(me.speakers.values()),
        areas=me.own_areas(),
        views=views,
        local=local,
    )
    return body, status


@bp.get("/urgent")
def index():  # type: ignore[no-untyped-def]
    me = require(Role.ADMIN, Role.CHIEF)
    return _render(
        me,
        Form(
            MultiDict({"repeats": "2", "interval_s": "10", "expires_min": "60", "source": "text"})
        ),
    )


def _recording_message(me: Scope, form: Form) -> str | None:
    """Keep the uploaded recording as a message of the user's area; its id, or None."""
    service = runtime().service
    upload = request.files.get("recording")
    if upload is None or not upload.filename:
        form.error("recording", _("Record or choose a file first."))
        return None
    saved = save_upload(upload, form)
    if saved is None:
        return None
    name, sha = saved
    moment = now()
    message = Message(
        f"urgent-rec-{moment:%Y%m%d}-{secrets.token_hex(3)}",
        _("Urgent recording %(time)s", time=local(moment, "%m-%d %H:%M")),
        "",
        VoiceSettings(service.settings.default_voice.voice, chime=True),
        name,
    )
    try:
        service.library.for_message(message)
    except Exception as exc:  # an unusable recording is the user's problem, shown at the field
        form.error("recording", _("The recording cannot be used: %(reason)s", reason=str(exc)))
        return None
    owner = None if me.is_admin else (me.user.area_ids[0] if me.user.area_ids else None)
    if owner:
        editing.set_owner(service.store, "message", message.id, owner)
    service.store.create_message(message, moment, recording_sha256=sha)
    audit("message.create", message.id, {"recording": name, "for": "urgent"})
    return message.id


@bp.post("/urgent")
def send():  # type: ignore[no-untyped-def]
    me = require(Role.ADMIN, Role.CHIEF)
    form = Form(request.form.copy())
    source = form.raw("source")
    text = message_id = None
    if source == "text":
        text = form.text("text", max_len=runtime().settings.render.max_chars)
    elif source == "message":
        message_id = form.raw("message")
        if message_id not in {m.id for m in me.messages()}:
            form.error("message", _("Choose a message."))
    elif source != "recording":
        form.error("source", _("Choose what to announce."))
    speakers, areas = form.list("speakers"), form.list("areas")
    if any(s not in me.speakers for s in speakers):
        form.error("speakers", _("Choose loudspeakers from the list."))
    if any(a not in me.reach for a in areas):
        form.error("areas", _("Choose areas from the list."))
    if not speakers and not areas:
        form.error("speakers", _("Choose at least one loudspeaker or area."))
    repeats = form.integer("repeats", 1, urgent.MAX_REPEATS)
    interval = form.number("interval_s", 0, urgent.MAX_INTERVAL_S)
    expires_min = form.integer("expires_min", 1, 7 * 24 * 60)
    override = form.flag("override_window")
    if override and not me.is_admin:
        form.error("override_window", _("Only the district office may play outside the windows."))
    if form.ok and source == "recording":
        message_id = _recording_message(me, form)
    if not form.ok:
        return _render(me, form, 422)
    moment = now()
    request_ = urgent.UrgentRequest(
        text=text,
        message_id=message_id,
        speaker_ids=tuple(speakers),
        area_ids=tuple(areas),
        repeats=repeats,
        interval_s=interval,
        expires_at=moment + timedelta(minutes=expires_min),
        override_window=override,
    )
    try:
        sent = urgent.send(runtime().service, me.user, request_, moment).urgent
    except ValidationError as exc:
        field, _sep, reason = str(exc).partition(": ")
        form.error(
            field if field in ("text", "message", "speakers") else "text",
            _("Cannot send: %(reason)s", reason=reason or str(exc)),
        )
        return _render(me, form, 422)
    audit(
        "urgent.send",
        sent.id,
        {
            "text": sent.text,
            "message": sent.message_id,
            "speakers": list(sent.speaker_ids),
            "areas": list(sent.area_ids),
            "override_window": sent.override_window,
        },
    )
    flash(_("Sent."))
    return redirect(url_for("urgent.detail", urgent_id=sent.id))


def _view(me: Scope, urgent_id: str) -> urgent.UrgentView:
    for view in urgent.list_for(runtime().service, me.user, now(), limit=1000):
        if view.urgent.id == urgent_id:
            return view
    raise NotFound(f"no urgent announcement {urgent_id!r}")


@bp.get("/urgent/<urgent_id>")
def detail(urgent_id: str) -> str:
    me = require(Role.ADMIN, Role.CHIEF)
    view = _view(me, urgent_id)
    names = {s.id: s.name for s in me.deployment.speakers}
    return page("panel/urgent_detail.html", view=view, names=names, local=local)


@bp.get("/urgent/<urgent_id>/acks")
def acks(urgent_id: str) -> str:
    me = require(Role.ADMIN, Role.CHIEF)
    view = _view(me, urgent_id)
    names = {s.id: s.name for s in me.deployment.speakers}
    return render_template("panel/_acks.html", view=view, names=names, local=local)


@bp.post("/urgent/<urgent_id>/cancel")
def cancel(urgent_id: str) -> Response:
    me = require(Role.ADMIN, Role.CHIEF)
    cancelled = urgent.cancel(runtime().service, me.user, urgent_id, now())
    audit("urgent.cancel", cancelled.id, {})
    flash(_("Cancelled."))
    return redirect(url_for("urgent.detail", urgent_id=urgent_id))
