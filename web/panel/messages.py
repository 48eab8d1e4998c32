"""Messages: list, search, create, edit, delete, spoken preview, audio, recordings, lexicon."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, jsonify, redirect, request, send_file, url_for
from werkzeug.wrappers import Response

from audio.errors import AudioError, InvalidInput
from audio.textnorm.pinyin import with_tone_marks
from broadcaster import catalog, editing, limits
from broadcaster.editing import Scope
from broadcaster.errors import Busy, Conflict, Forbidden, ValidationError
from broadcaster.models import Message, Role, VoiceSettings
from broadcaster.renderqueue import on_behalf_of
from web.errors import error_body
from web.panel.common import Form, audit, now, page, require
from web.panel.i18n import _
from web.runtime import runtime

bp = Blueprint("messages", __name__)
DEFAULT_MAX_RECORDING_S = 300.0


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


def bound_choices(me: Scope, message: Message | None) -> dict[str, Any]:
    """What the "plays only in these villages" field shows (issue 13): the user's areas
    (grouped by township), those that cannot be newly chosen because neither they nor any
    area below them has an outline (shown disabled, with the reason), and whether the message
    is also bound to areas outside the user's reach (said, not named)."""
    shown, elsewhere = catalog.bound_areas(me, message) if message else ((), False)
    areas = me.own_areas()
    shaped = catalog.outlined(me)
    return {
        "bound_options": [(a.id, a.name) for a in areas],
        "no_outline": {a.id for a in areas if a.id not in shown and a.id not in shaped},
        "bound_elsewhere": elsewhere,
    }


def bound_badge(me: Scope, message: Message) -> str:
    """The list's badge of a message bound to areas: the names of those the user may see."""
    shown, elsewhere = catalog.bound_areas(me, message)
    names = "、".join(me.areas[a].name for a in shown)
    if not shown:
        return _("Only in areas outside yours")
    if elsewhere:
        return _("Only in %(names)s and areas outside yours", names=names)
    return _("Only in %(names)s", names=names)


@bp.get("/messages")
def index() -> str:
    me = require(Role.ADMIN, Role.CHIEF)
    query = (request.args.get("q") or "").strip()
    found = [
        m
        for m in me.messages()
        if not query or any(query.lower() in s.lower() for s in (m.id, m.title, m.text))
    ]
    return page("panel/messages.html", messages=found, query=query, bound_badge=bound_badge)


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
    for area_id in catalog.bound_areas(me, message)[0]:
        data.add("areas", area_id)
    return Form(data)


@bp.get("/messages/new")
def new() -> str:
    me = require(Role.ADMIN, Role.CHIEF)
    voice = runtime().settings.default_voice
    message = Message("new", "-", "-", voice)
    form = _form_for(message, me)
    for key in ("id", "title", "text"):
        form.data[key] = ""
    # "Copy as my message": a message the user may see (a hidden or unknown id is 404 alike),
    # its words and voice in a new message of the user's area, saved as any new one.
    copied = me.message(request.args["copy"]) if request.args.get("copy") else None
    if copied is not None:
        form = _form_for(copied, me)
        form.data["id"] = ""
        form.data["area"] = ""
        form.data.poplist("areas")  # words and voice are copied, not where vehicles play it
    if me.user.role is Role.CHIEF and me.own_areas():
        form.data["area"] = me.own_areas()[0].id
    return page(
        "panel/message_edit.html",
        form=form,
        message=None,
        editable=True,
        areas=area_options(me),
        copied_from=copied,
        **bound_choices(me, None),
    )


@bp.get("/messages/<message_id>")
def edit(message_id: str) -> str:
    me = require(Role.ADMIN, Role.CHIEF)
    message = me.message(message_id)
    record = runtime().service.store.content.message_record(message_id)
    form = _form_for(message, me)
    form.data["version"] = str(record.version)
    return page(
        "panel/message_edit.html",
        form=form,
        message=message,
        editable=me.edits_owned("message", message_id),
        # a district-wide message says so to a chief (who cannot choose "district-wide")
        areas=area_options(me)
        if form.data["area"] or not me.is_chief
        else [("", _("District-wide")), *area_options(me)],
        used_by=[p.name or p.id for p in me.programs_playing(message_id)[0]],
        **bound_choices(me, message),
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
        # The form always shows the field (its hidden marker): none ticked clears the binding.
        # A form without it (an older page, a script) keeps the binding.
        area_ids=tuple(form.list("areas")) if form.flag("areas_field") else None,
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
        **(bound_choices(me, message) | extra),
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
    current = me.message(message_id)
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
    message = me.message(message_id)
    try:
        catalog.delete_message(
            runtime().service, me.user, message_id, now(), remote_addr=request.remote_addr
        )
    except catalog.InUse as exc:
        names = {p.id: p.name or p.id for p in me.programs()}
        users = [names.get(u, u) for u in exc.users]
        reasons = []
        if users:
            reasons.append(_("It is played by the programs: %(names)s.", names="、".join(users)))
        if exc.others:
            reasons.append(_("Programs outside your areas play it."))
        if exc.live_urgent:
            reasons.append(_("A live urgent announcement uses it."))
        reason = " ".join(reasons) or _("It is still in use.")
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
    message = me.message(message_id)
    library = runtime().service.library
    try:
        with on_behalf_of(me.user.name):  # counted against the user's renders (429 if over)
            clip = library.for_message(message)
    except Busy as exc:
        return _busy(exc)
    return send_file(
        runtime().service.clip_file(clip.key), mimetype="audio/wav", conditional=True, max_age=3600
    )


@bp.post("/messages/preview")
def preview() -> Response:
    """The text as it will be spoken and a clip of it, for text not saved yet.

    The clip is rendered off the request loop; one user has at most
    `server.renders_per_user` renders under way and everyone together `server.render_queue`:
    beyond that the answer is 429 with Retry-After and the reason in the user's language.
    """
    me = require(Role.ADMIN, Role.CHIEF)
    service = runtime().service
    form = Form(request.form.copy())
    text = form.text("text", max_len=service.settings.render.max_chars)
    default_rate = service.settings.default_voice.rate
    rate = int(form.within("rate", limits.RATE_WPM)) if form.raw("rate") else default_rate
    voice_name = form.raw("voice") or service.settings.default_voice.voice
    if not form.ok:
        return _json_error(form.errors.get("text") or form.errors.get("rate") or "")
    try:
        # The reading for review: the characters and, for a pinyin voice, the syllables.
        reading = service.library.renderer.reading(text, voice_name)
        voice = VoiceSettings(voice_name, rate, 1.0, form.flag("chime"))
        with on_behalf_of(me.user.name):
            clip = service.library.for_text(text, voice)
    except Busy as exc:
        return _busy(exc)
    except (InvalidInput, AudioError, ValidationError) as exc:
        return _json_error(_("This text cannot be spoken: %(reason)s", reason=str(exc)))
    return jsonify(
        {
            "spoken": reading.spoken,
            "pinyin": reading.pinyin,
            # Each character with its syllable (tone marks), shown above it for review.
            "ruby": [
                [char, with_tone_marks(syllable) if syllable != char else ""]
                for char, syllable in reading.pairs
            ],
            "url": url_for("messages.clip", key=clip.key),
            "duration_ms": clip.duration_ms,
        }
    )


def _json_error(message: str) -> Response:
    """The API's one error shape (`web.errors.error_body`), in the user's language."""
    response = jsonify(error_body("invalid", message))
    response.status_code = 422
    return response


def _busy(exc: Busy) -> Response:
    """429 for a render refused by the render queue, said where the preview appears."""
    if exc.reason == "user":
        text = _(
            "You already have %(n)s clips being made. Wait until they are done, then try again.",
            n=exc.limit,
        )
    else:
        text = _(
            "The server is busy making other clips. Try again in %(s)s seconds.",
            s=exc.retry_after_s,
        )
    response = jsonify(error_body("busy", text))
    response.status_code = 429
    response.headers["Retry-After"] = str(exc.retry_after_s)
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
