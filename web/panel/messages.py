"""Messages: list, search, create, edit, delete, spoken preview, audio, recordings, lexicon."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, jsonify, redirect, request, send_file, url_for
from werkzeug.wrappers import Response

from audio.errors import AudioError, InvalidInput
from broadcaster import catalog, editing
from broadcaster.editing import Scope
from broadcaster.errors import Conflict, Forbidden, NotFound, ValidationError
from broadcaster.models import Message, Role, VoiceSettings
from web.panel.common import Form, audit, now, page, require
from web.panel.i18n import _
from web.runtime import runtime

bp = Blueprint("messages", __name__)
DEFAULT_MAX_RECORDING_S = 300.0


def visible(me: Scope, message_id: str) -> Message:
    """The message if the user may see it; 404 otherwise (also when it exists elsewhere)."""
    for message in me.messages():
        if message.id == message_id:
            return message
    raise NotFound(f"no message {message_id!r}")


def save_upload(upload: Any, form: Form) -> tuple[str, str] | None:
    """Check and keep an uploaded recording: (file name, sha256), or None with the field error."""
    try:
        return catalog.save_upload(runtime().service, _upload(upload))
    except catalog.Invalid as exc:
        form.refused(exc)
        return None


def _upload(upload: Any) -> catalog.RecordingUpload:
    limit = float(current_app.config.get("PANEL_MAX_RECORDING_S", DEFAULT_MAX_RECORDING_S))
    return catalog.RecordingUpload(
        upload.read(), upload.filename or "", upload.mimetype or "", limit
    )


def area_options(me: Scope) -> list[tuple[str, str]]:
    options = [] if me.user.role is Role.CHIEF else [("", _("District-wide"))]
    return options + [(a.id, a.name) for a in me.own_areas()]


@bp.get("/messages")
def index() -> str:
    me = require(Role.ADMIN, Role.CHIEF)
    query = (request.args.get("q") or "").strip()
    found = [
        m
        for m in me.messages()
        if not query or any(query.lower() in s.lower() for s in (m.id, m.title, m.text))
    ]
    return page("panel/messages.html", messages=found, query=query)


def _form_for(message: Message, me: Scope) -> Form:
    from werkzeug.datastructures import MultiDict

    v = message.voice
    data = MultiDict(
        {
            "id": message.id,
            "title": message.title,
            "text": message.text,
            "voice": v.voice,
            "rate": str(v.rate),
            "volume": str(v.volume),
            "area": me.owner("message", message.id) or "",
        }
    )
    if v.chime:
        data["chime"] = "1"
    return Form(data)


@bp.get("/messages/new")
def new() -> str:
    me = require(Role.ADMIN, Role.CHIEF)
    voice = runtime().settings.default_voice
    message = Message("new", "-", "-", voice)
    form = _form_for(message, me)
    for key in ("id", "title", "text"):
        form.data[key] = ""
    if me.user.role is Role.CHIEF and me.own_areas():
        form.data["area"] = me.own_areas()[0].id
    return page(
        "panel/message_edit.html", form=form, message=None, editable=True, areas=area_options(me)
    )


@bp.get("/messages/<message_id>")
def edit(message_id: str) -> str:
    me = require(Role.ADMIN, Role.CHIEF)
    message = visible(me, message_id)
    record = runtime().service.store.message_record(message_id)
    form = _form_for(message, me)
    form.data["version"] = str(record.version)
    return page(
        "panel/message_edit.html",
        form=form,
        message=message,
        editable=me.edits_owned("message", message_id),
        areas=area_options(me),
        used_by=editing.messages_using(me.deployment, message_id),
    )


def _request(form: Form, current: Message | None) -> catalog.MessageRequest:
    """The form as a use-case request; values that do not parse are left out (form errors)."""
    upload = request.files.get("recording")
    recording = _upload(upload) if upload is not None and upload.filename != "" else None
    return catalog.MessageRequest(
        id=(form.raw("id") or None) if current is None else None,
        title=form.raw("title"),
        text=form.raw("text"),
        voice=form.raw("voice"),
        rate=form.whole("rate"),
        volume=form.decimal("volume"),
        chime=form.flag("chime"),
        area=form.raw("area") or None,
        upload=recording,
        drop_recording=form.flag("drop_recording"),
        version=int(form.raw("version")) if form.raw("version").isdigit() else None,
    )


def _edit_page(me: Scope, form: Form, message: Message | None, status: int, **extra: Any):  # type: ignore[no-untyped-def]
    return page(
        "panel/message_edit.html",
        form=form,
        message=message,
        editable=True,
        areas=area_options(me),
        **extra,
    ), status


@bp.post("/messages/new")
def create() -> Response | tuple[str, int]:
    me = require(Role.ADMIN, Role.CHIEF)
    form = Form(request.form.copy())
    wanted = _request(form, None)
    service = runtime().service
    try:
        if not form.ok:  # the other fields still get their errors; nothing is saved
            catalog.check_message(service, me.user, wanted, now())
        else:
            saved = catalog.create_message(
                service, me.user, wanted, now(), remote_addr=request.remote_addr
            )
    except catalog.Invalid as exc:
        form.refused(exc)
    if not form.ok:
        return _edit_page(me, form, None, 422)
    flash(_("Saved."))
    return redirect(url_for("messages.edit", message_id=saved.message.id))


@bp.post("/messages/<message_id>")
def update(message_id: str) -> Response | tuple[str, int]:
    me = require(Role.ADMIN, Role.CHIEF)
    current = visible(me, message_id)
    if not me.edits_owned("message", message_id):
        raise Forbidden("only an admin edits district-wide messages")
    form = Form(request.form.copy())
    wanted = _request(form, current)
    service = runtime().service
    try:
        if not form.ok:
            catalog.check_message(service, me.user, wanted, now(), message_id)
        else:
            catalog.update_message(
                service, me.user, message_id, wanted, now(), remote_addr=request.remote_addr
            )
    except catalog.Invalid as exc:
        form.refused(exc)
    except Conflict:
        form.error("title", _("Someone else saved this message meanwhile. Reload and edit again."))
        return _edit_page(me, form, current, 409)
    if not form.ok:
        return _edit_page(me, form, current, 422)
    flash(_("Saved."))
    return redirect(url_for("messages.edit", message_id=message_id))


@bp.post("/messages/<message_id>/delete")
def delete(message_id: str) -> Response | tuple[str, int]:
    me = require(Role.ADMIN, Role.CHIEF)
    message = visible(me, message_id)
    try:
        catalog.delete_message(
            runtime().service, me.user, message_id, now(), remote_addr=request.remote_addr
        )
    except Conflict as exc:
        users = editing.messages_using(me.deployment, message_id)
        reason = (
            _("It is played by the programs: %(names)s.", names="、".join(users))
            if users
            else _("A live urgent announcement uses it (%(detail)s).", detail=str(exc))
        )
        return _edit_page(
            me,
            _form_for(message, me),
            message,
            409,
            used_by=users,
            delete_error=_("Cannot delete: %(reason)s", reason=reason),
        )
    flash(_("Deleted."))
    return redirect(url_for("messages.index"))


@bp.get("/messages/<message_id>/audio.wav")
def audio(message_id: str) -> Response:
    me = require(Role.ADMIN, Role.CHIEF)
    message = visible(me, message_id)
    library = runtime().service.library
    clip = library.for_message(message)
    return send_file(
        runtime().service.clip_file(clip.key), mimetype="audio/wav", conditional=True, max_age=3600
    )


@bp.post("/messages/preview")
def preview() -> Response:
    """The text as it will be spoken and a clip of it, for text not saved yet."""
    require(Role.ADMIN, Role.CHIEF)
    service = runtime().service
    form = Form(request.form.copy())
    text = form.text("text", max_len=service.settings.render.max_chars)
    rate = form.integer("rate", 80, 400) if form.raw("rate") else 170
    voice_name = form.raw("voice") or service.settings.default_voice.voice
    if not form.ok:
        return _json_error(form.errors.get("text") or form.errors.get("rate") or "")
    try:
        spoken = service.library.renderer.spoken_text(text)
        voice = VoiceSettings(voice_name, rate, 1.0, form.flag("chime"))
        clip = service.library.for_text(text, voice)
    except (InvalidInput, AudioError, ValidationError) as exc:
        return _json_error(_("This text cannot be spoken: %(reason)s", reason=str(exc)))
    return jsonify(
        {
            "spoken": spoken,
            "url": url_for("messages.clip", key=clip.key),
            "duration_ms": clip.duration_ms,
        }
    )


def _json_error(message: str) -> Response:
    response = jsonify({"error": message})
    response.status_code = 422
    return response


@bp.get("/clips/<key>.wav")
def clip(key: str) -> Response:
    """A rendered clip for a signed-in user (keys are content hashes, not secrets per area)."""
    require(Role.ADMIN, Role.CHIEF, Role.OPERATOR)
    return send_file(
        runtime().service.clip_file(key), mimetype="audio/wav", conditional=True, max_age=3600
    )


@bp.get("/lexicon")
def lexicon() -> str:
    me = require(Role.ADMIN, Role.CHIEF)
    form = Form()
    form.data["entries"] = editing.format_lexicon(editing.lexicon(runtime().service))
    return page("panel/lexicon.html", form=form, editable=me.is_admin)


@bp.post("/lexicon")
def save_lexicon() -> Response | tuple[str, int]:
    require(Role.ADMIN)
    form = Form(request.form.copy())
    entries, bad = editing.parse_lexicon(form.data.get("entries", ""))
    if bad:
        form.error(
            "entries",
            _("Lines %(lines)s are not 'word = reading'.", lines=", ".join(map(str, bad))),
        )
        return page("panel/lexicon.html", form=form, editable=True), 422
    editing.save_lexicon(runtime().service, entries)
    audit("lexicon.update", "lexicon", {"entries": len(entries)})
    flash(_("Saved."))
    return redirect(url_for("messages.lexicon"))
