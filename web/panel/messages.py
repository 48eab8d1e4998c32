"""Messages: list, search, create, edit, delete, spoken preview, audio, recordings, lexicon."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, current_app, flash, jsonify, redirect, request, send_file, url_for
from werkzeug.wrappers import Response

from audio.errors import AudioError, InvalidInput
from broadcaster import editing
from broadcaster.editing import RecordingRefused, Scope
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
    service = runtime().service
    limit = float(current_app.config.get("PANEL_MAX_RECORDING_S", DEFAULT_MAX_RECORDING_S))
    try:
        ext = editing.recording_type(upload.filename or "", upload.mimetype or "")
        name, sha, _seconds = editing.save_recording(
            service.library.recordings,
            upload.read(),
            ext,
            sample_rate=service.settings.render.sample_rate,
            max_s=limit,
        )
    except RecordingRefused as exc:
        form.error("recording", refused_text(exc))
        return None
    return name, sha


def refused_text(exc: RecordingRefused) -> str:
    """A recording refusal in the user's language."""
    texts = {
        "empty": _("The recording is empty."),
        "type": _("This file type is not supported: use WAV, MP3 or M4A/AAC."),
        "undecodable": _("The file could not be read as audio; it may be damaged."),
        "silent": _("The recording is silent."),
        "too_long": _(
            "The recording is %(seconds)s s long; the limit is %(limit)s s.",
            seconds=exc.detail.get("seconds", "?"),
            limit=exc.detail.get("limit", "?"),
        ),
    }
    return texts.get(exc.code, exc.code)


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


def _validate(form: Form, me: Scope, current: Message | None) -> tuple[Message | None, Any]:
    """A Message built from the form, or None with the form's errors set."""
    service = runtime().service
    message_id = current.id if current else (form.raw("id") or f"m-{secrets.token_hex(4)}")
    if current is None and form.raw("id"):
        form.ident("id")
        if any(m.id == message_id for m in me.deployment.messages):
            form.error("id", _("This id is taken."))
    title = form.text("title", max_len=100)
    text = form.text("text", required=False, max_len=service.settings.render.max_chars)
    voice_name = form.text("voice", max_len=100)
    rate = form.integer("rate", 80, 400)
    volume = form.number("volume", 0.05, 1.0)
    chime = form.flag("chime")
    area = form.raw("area") or None
    if area is not None and area not in me.reach:
        form.error("area", _("Choose one of your areas."))
    if area is None and me.user.role is not Role.ADMIN:
        form.error("area", _("Choose one of your areas."))
    upload = request.files.get("recording")
    has_upload = upload is not None and upload.filename != ""
    keep_recording = current is not None and current.recording and not form.flag("drop_recording")
    if not text and not has_upload and not keep_recording:
        form.error("text", _("Type the text or add a recording."))
    if text and not has_upload and not keep_recording:
        try:
            service.library.renderer.spoken_text(text)
        except InvalidInput as exc:
            form.error("text", _("This text cannot be spoken: %(reason)s", reason=str(exc)))
    if voice_name:
        try:
            service.library.renderer.synthesizer.resolve_voice(voice_name)
        except AudioError:
            form.error("voice", _("No such voice is installed."))
    if not form.ok:
        return None, None
    recording = current.recording if keep_recording and current else None
    sha = None
    if has_upload and upload is not None:
        saved = save_upload(upload, form)
        if saved is None:
            return None, None
        recording, sha = saved
    try:
        message = Message(
            message_id, title, text, VoiceSettings(voice_name, rate, volume, chime), recording
        )
    except ValidationError as exc:
        form.error("text", str(exc))
        return None, None
    if recording:
        try:
            service.library.for_message(message)
        except (InvalidInput, AudioError) as exc:
            form.error("recording", _("The recording cannot be used: %(reason)s", reason=str(exc)))
            return None, None
    return message, (area, sha)


@bp.post("/messages/new")
def create() -> Response | tuple[str, int]:
    me = require(Role.ADMIN, Role.CHIEF)
    form = Form(request.form.copy())
    message, extra = _validate(form, me, None)
    if message is None:
        return page(
            "panel/message_edit.html",
            form=form,
            message=None,
            editable=True,
            areas=area_options(me),
        ), 422
    area, sha = extra
    store = runtime().service.store
    if area is not None:
        editing.set_owner(store, "message", message.id, area)
    store.create_message(message, now(), recording_sha256=sha)
    audit(
        "message.create",
        message.id,
        {"title": message.title, "area": area, "recording": message.recording},
    )
    flash(_("Saved."))
    return redirect(url_for("messages.edit", message_id=message.id))


@bp.post("/messages/<message_id>")
def update(message_id: str) -> Response | tuple[str, int]:
    me = require(Role.ADMIN, Role.CHIEF)
    current = visible(me, message_id)
    if not me.edits_owned("message", message_id):
        raise Forbidden("only an admin edits district-wide messages")
    form = Form(request.form.copy())
    message, extra = _validate(form, me, current)
    version = form.raw("version")
    if message is None:
        return page(
            "panel/message_edit.html",
            form=form,
            message=current,
            editable=True,
            areas=area_options(me),
        ), 422
    area, sha = extra
    store = runtime().service.store
    if sha is None and message.recording:
        sha = store.message_record(message_id).recording_sha256
    try:
        store.update_message(
            message,
            now(),
            recording_sha256=sha,
            expected_version=int(version) if version.isdigit() else None,
        )
    except Conflict:
        form.error("title", _("Someone else saved this message meanwhile. Reload and edit again."))
        return page(
            "panel/message_edit.html",
            form=form,
            message=current,
            editable=True,
            areas=area_options(me),
        ), 409
    if area != me.owner("message", message_id):
        editing.set_owner(store, "message", message_id, area)
    audit(
        "message.update",
        message_id,
        {"title": message.title, "area": area, "recording": message.recording},
    )
    flash(_("Saved."))
    return redirect(url_for("messages.edit", message_id=message_id))


@bp.post("/messages/<message_id>/delete")
def delete(message_id: str) -> Response | tuple[str, int]:
    me = require(Role.ADMIN, Role.CHIEF)
    message = visible(me, message_id)
    if not me.edits_owned("message", message_id):
        raise Forbidden("only an admin deletes district-wide messages")
    store = runtime().service.store
    try:
        store.delete_message(message_id, now())
    except Conflict as exc:
        users = editing.messages_using(me.deployment, message_id)
        reason = (
            _("It is played by the programs: %(names)s.", names="、".join(users))
            if users
            else _("A live urgent announcement uses it (%(detail)s).", detail=str(exc))
        )
        form = _form_for(message, me)
        return page(
            "panel/message_edit.html",
            form=form,
            message=message,
            editable=True,
            areas=area_options(me),
            used_by=users,
            delete_error=_("Cannot delete: %(reason)s", reason=reason),
        ), 409
    editing.set_owner(store, "message", message_id, None)
    audit("message.delete", message_id, {"title": message.title})
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
