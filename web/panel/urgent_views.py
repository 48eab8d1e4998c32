"""Urgent announcements: type, pick or record; choose targets; see who will hear it when;
confirm; watch every loudspeaker's state; cancel.

Sending takes two steps. "Send" (`step=preview`) stores nothing: the page shows how many
loudspeakers will hear it now, later (at what time) and not at all (and why). "Confirm"
(`step=confirm`) sends it, only if the form is still the one previewed (`preview_key`); to
play outside the windows the user must also tick `override_confirmed`. An uploaded recording
is kept as a file at the preview (content-addressed, so a second preview keeps the same
file) and becomes a message only at the confirmed send.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from broadcaster import editing, urgent
from broadcaster.editing import Scope
from broadcaster.errors import ValidationError
from broadcaster.models import Message, Role, VoiceSettings
from web.panel.common import Form, audit, local, now, page, require
from web.panel.i18n import _
from web.panel.messages import save_upload
from web.runtime import runtime

bp = Blueprint("urgent", __name__)

NOW_SLACK = timedelta(seconds=2)  # a start this close counts as "now"
RECORDING_FILE = re.compile(r"[0-9a-f]{64}\.[a-z0-9]{2,5}")
RECORDING_STAND_IN = "录音"  # what a recording's coverage preview checks instead of the audio
STATE_LABELS = {
    "offline": "offline",
    "waiting": "waiting",
    "received": "received",
    "playing": "playing",
    "played": "played",
    "cut": "interrupted",
    "missed": "not played",
    "cancelled": "cancelled",
}
STATE_ORDER = ("played", "playing", "received", "waiting", "offline", "cut", "missed", "cancelled")


# -- how the panel words coverage and states ------------------------------------------------


def reason_text(reason: str | None, last_seen: datetime | None, if_back: bool = False) -> str:
    """Why a loudspeaker will not (or not yet) play, in the user's language."""
    if reason == urgent.OFFLINE:
        text = (
            _("offline since %(time)s", time=local(last_seen, "%m-%d %H:%M"))
            if last_seen
            else _("offline, never connected")
        )
        if if_back:
            text += _("; it plays if it comes back before the announcement expires")
        return text
    if reason == urgent.OUTSIDE_WINDOWS:
        return _("outside its playing windows until the announcement expires")
    if reason == urgent.BUSY:
        return _("busy with a higher-priority announcement until it expires")
    return reason or ""


@dataclass
class Coverage:
    """Who will hear a previewed announcement: now, later (when) or never (why)."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    now: int = 0
    later: int = 0
    never: int = 0
    first_later: str = ""
    outside_now: int = 0  # with override: how many are outside their windows right now
    any_outside: bool = False  # without override: some wait for (or miss) their window


def coverage_of(targets: tuple[urgent.TargetCoverage, ...], moment: datetime) -> Coverage:
    found = Coverage()
    later_times = []
    for t in targets:
        if t.plays_at is not None and t.plays_at <= moment + NOW_SLACK:
            found.now += 1
            row = {"when": _("now"), "why": "", "kind": "now"}
        elif t.plays_at is not None:
            found.later += 1
            later_times.append(t.plays_at)
            row = {
                "when": _("later, at %(time)s", time=local(t.plays_at, "%H:%M")),
                "why": _("it waits for its playing window"),
                "kind": "later",
            }
            found.any_outside = True
        else:
            found.never += 1
            row = {
                "when": _("will not hear it"),
                "why": reason_text(t.reason, t.last_seen, t.if_back_in_time),
                "kind": "never",
            }
            found.any_outside |= t.reason == urgent.OUTSIDE_WINDOWS
        found.rows.append({"speaker": t.speaker, "name": t.name, **row})
    if later_times:
        found.first_later = local(min(later_times), "%H:%M")
    order = {"now": 0, "later": 1, "never": 2}
    found.rows.sort(key=lambda r: (order[r["kind"]], r["name"]))
    return found


def state_label(state: str) -> str:
    return _(STATE_LABELS.get(state, state))


def state_detail(target: urgent.TargetState) -> str:
    """What else a state needs to be understood: since when offline, when it will play."""
    ack = target.ack
    if target.state == "offline":
        return reason_text(urgent.OFFLINE, target.last_seen)
    if target.state in ("waiting", "received"):
        if target.plays_at is not None:
            return _("plays at %(time)s", time=local(target.plays_at, "%H:%M:%S"))
        return reason_text(target.reason, target.last_seen)
    if target.state == "playing" and ack and ack.playing_at:
        return _("since %(time)s", time=local(ack.playing_at, "%H:%M:%S"))
    if target.state == "played" and ack and ack.played_at:
        return local(ack.played_at, "%H:%M:%S")
    if target.state == "cut" and ack:
        return local(ack.cut_at or ack.playing_at, "%H:%M:%S")
    return ""


def summary_line(view: urgent.UrgentView) -> str:
    """'21/23 played, 2 offline', in the user's language."""
    counts = view.summary()
    parts = [_("%(n)s/%(total)s played", n=counts.get("played", 0), total=len(view.targets))]
    parts += [
        _("%(n)s %(state)s", n=counts[s], state=state_label(s))
        for s in STATE_ORDER
        if s != "played" and counts.get(s)
    ]
    return _(", ").join(parts)


def what_of(u: Any, titles: dict[str, str]) -> str:
    if u.text:
        return str(u.text)
    return titles.get(u.message_id, u.message_id or "")


# -- the page -------------------------------------------------------------------------------


def _render(me: Scope, form: Form, status: int = 200, **extra: Any):  # type: ignore[no-untyped-def]
    views = urgent.list_for(runtime().service, me.user, now(), limit=20, with_coverage=True)
    body = page(
        "panel/urgent.html",
        form=form,
        messages=me.messages(),
        speakers=list(me.speakers.values()),
        areas=me.own_areas(),
        views=views,
        titles={m.id: m.title for m in me.deployment.messages},
        summary_line=summary_line,
        what_of=what_of,
        state_label=state_label,
        local=local,
        coverage=extra.get("coverage"),
        refused=extra.get("refused"),
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


@dataclass
class Draft:
    """The form, parsed: what to send where; `recording` is a kept file's name."""

    source: str
    text: str | None
    message_id: str | None
    recording: str | None
    speakers: list[str]
    areas: list[str]
    repeats: int
    interval_s: float
    expires_min: int
    override: bool

    def key(self) -> str:
        """What the preview showed: a confirm for anything else is previewed again."""
        parts = (
            self.source, self.text, self.message_id, self.recording, sorted(self.speakers),
            sorted(self.areas), self.repeats, self.interval_s, self.expires_min, self.override,
        )  # fmt: skip
        return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]

    def request(self, moment: datetime, *, message_id: str | None = None) -> urgent.UrgentRequest:
        text, message = self.text, message_id or self.message_id
        if self.source == "recording" and message is None:
            text = RECORDING_STAND_IN
        return urgent.UrgentRequest(
            text=text,
            message_id=message,
            speaker_ids=tuple(self.speakers),
            area_ids=tuple(self.areas),
            repeats=self.repeats,
            interval_s=self.interval_s,
            expires_at=moment + timedelta(minutes=self.expires_min),
            override_window=self.override,
        )


def _parse(me: Scope, form: Form) -> Draft:
    source = form.raw("source")
    text = message_id = recording = None
    if source == "text":
        text = form.text("text", max_len=runtime().settings.render.max_chars)
    elif source == "message":
        message_id = form.raw("message")
        if message_id not in {m.id for m in me.messages()}:
            form.error("message", _("Choose a message."))
    elif source == "recording":
        recording = _recording_file(form)
    else:
        form.error("source", _("Choose what to announce."))
    speakers, areas = form.list("speakers"), form.list("areas")
    if any(s not in me.speakers for s in speakers):
        form.error("speakers", _("Choose loudspeakers from the list."))
    if any(a not in me.reach for a in areas):
        form.error("areas", _("Choose areas from the list."))
    if not speakers and not areas:
        form.error("speakers", _("Choose at least one loudspeaker or area."))
    return Draft(
        source=source,
        text=text,
        message_id=message_id,
        recording=recording,
        speakers=speakers,
        areas=areas,
        repeats=form.integer("repeats", 1, urgent.MAX_REPEATS),
        interval_s=form.number("interval_s", 0, urgent.MAX_INTERVAL_S),
        expires_min=form.integer("expires_min", 1, 7 * 24 * 60),
        override=form.flag("override_window"),
    )


def _recording_file(form: Form) -> str | None:
    """The recording to send: a new upload (checked and kept), else the one kept at the
    preview (`recording_file`); its file name, or None with the field's error."""
    service = runtime().service
    upload = request.files.get("recording")
    if upload is not None and upload.filename:
        saved = save_upload(upload, form)
        if saved is None:
            return None
        name = saved[0]
    else:
        name = form.raw("recording_file")
        if not (RECORDING_FILE.fullmatch(name) and (service.library.recordings / name).is_file()):
            form.error("recording", _("Record or choose a file first."))
            return None
    try:
        service.library.for_message(_recording(name, now()))
    except Exception as exc:  # an unusable recording is the user's problem, shown at the field
        form.error("recording", _("The recording cannot be used: %(reason)s", reason=str(exc)))
        return None
    form.data["recording_file"] = name
    return name


def _recording(name: str, moment: datetime) -> Message:
    service = runtime().service
    return Message(
        f"urgent-rec-{moment:%Y%m%d}-{name[:10]}",
        _("Urgent recording %(time)s", time=local(moment, "%m-%d %H:%M")),
        "",
        VoiceSettings(service.settings.default_voice.voice, chime=True),
        name,
    )


def _recording_message(me: Scope, name: str, moment: datetime) -> tuple[str, bool]:
    """Keep the confirmed recording as a message of the user's area (or reuse the one
    already made of the same file today): its id, and whether it was made now."""
    service = runtime().service
    message = _recording(name, moment)
    if any(m.id == message.id for m in service.deployment(moment).messages):
        return message.id, False
    owner = None if me.is_admin else (me.user.area_ids[0] if me.user.area_ids else None)
    if owner:
        editing.set_owner(service.store, "message", message.id, owner)
    service.store.create_message(message, moment, recording_sha256=name.split(".")[0])
    audit("message.create", message.id, {"recording": name, "for": "urgent"})
    return message.id, True


def _refusal(exc: urgent.WillNotPlay, draft: Draft) -> tuple[str, str]:
    """Where and how to say that nobody will hear it, with the fix to try."""
    reasons = {t.reason for t in exc.targets}
    if urgent.OUTSIDE_WINDOWS in reasons and not draft.override:
        return "override_window", _(
            "Nobody will hear it: the loudspeakers are outside their playing windows until it"
            " expires. Tick “Also outside the playback windows” to play it now (also at night),"
            " or lengthen the expiry."
        )
    if urgent.BUSY in reasons:
        return "expires_min", _(
            "Nobody will hear it: a higher-priority announcement holds the loudspeakers until"
            " this one expires. Lengthen the expiry, or cancel the other announcement."
        )
    if reasons == {urgent.OFFLINE}:
        hint = (
            _(
                " Some would not play in time even if they came back: tick “Also outside the"
                " playback windows” or lengthen the expiry."
            )
            if not draft.override
            else ""
        )
        return "speakers", _(
            "Nobody will hear it: every chosen loudspeaker is offline. Choose loudspeakers that"
            " are online, or wait until they are back."
        ) + hint
    return "expires_min", _("Nobody will hear it before it expires. Lengthen the expiry.")


def _validation_field(exc: ValidationError) -> tuple[str, str]:
    name, _sep, reason = str(exc).partition(": ")
    fields = {"expires_at": "expires_min", "targets": "speakers"}
    name = fields.get(name, name)
    known = ("text", "message", "speakers", "areas", "repeats", "interval_s", "expires_min")
    return (name if name in known else "text"), reason or str(exc)


def _preview(me: Scope, form: Form, draft: Draft, status: int = 200):  # type: ignore[no-untyped-def]
    """Who would hear it when (nothing stored), with the confirm button; or the refusal."""
    service, moment = runtime().service, now()
    try:
        sent = urgent.send(service, me.user, draft.request(moment), moment, preview=True)
    except urgent.WillNotPlay as exc:
        name, text = _refusal(exc, draft)
        form.error(name, text)
        return _render(me, form, 422, refused=coverage_of(exc.targets, moment))
    except ValidationError as exc:
        name, reason = _validation_field(exc)
        form.error(name, _("Cannot send: %(reason)s", reason=reason))
        return _render(me, form, 422)
    found = coverage_of(sent.targets, moment)
    if draft.override:  # how many would be outside their windows without it
        plain = replace(draft.request(moment), override_window=False)
        try:
            without = urgent.send(service, me.user, plain, moment, preview=True).targets
        except urgent.WillNotPlay as exc:
            without = exc.targets
        found.outside_now = sum(
            1
            for t in without
            if t.online and (t.plays_at is None or t.plays_at > moment + NOW_SLACK)
        )
    form.data["preview_key"] = draft.key()
    return _render(me, form, status, coverage=found)


@bp.post("/urgent")
def send():  # type: ignore[no-untyped-def]
    me = require(Role.ADMIN, Role.CHIEF)
    form = Form(request.form.copy())
    draft = _parse(me, form)
    if not form.ok:
        return _render(me, form, 422)
    if form.raw("step") != "confirm":
        return _preview(me, form, draft)
    if form.raw("preview_key") != draft.key():
        flash(_("The form changed since the check: look at who will hear it, then confirm."))
        return _preview(me, form, draft)
    if draft.override and not form.flag("override_confirmed"):
        form.error(
            "override_confirmed",
            _("Tick the box to confirm that it sounds now, also outside the playing windows."),
        )
        return _preview(me, form, draft, 422)
    moment = now()
    service = runtime().service
    made, new = None, False
    if draft.source == "recording":
        assert draft.recording is not None
        made, new = _recording_message(me, draft.recording, moment)
    try:
        sent = urgent.send(service, me.user, draft.request(moment, message_id=made), moment)
    except ValidationError:  # nothing was sent: keep no message for it, show why
        if made is not None and new:
            _drop_message(made, moment)
        form.data.pop("preview_key", None)
        return _preview(me, form, draft, 422)
    _audit_send(sent)
    flash(_("Sent."))
    return redirect(url_for("urgent.detail", urgent_id=sent.urgent.id))


def _drop_message(message_id: str, moment: datetime) -> None:
    service = runtime().service
    try:
        service.store.delete_message(message_id, moment)
    except Exception:  # used meanwhile (an earlier send of the same file): keep it
        return
    editing.set_owner(service.store, "message", message_id, None)


def _audit_send(sent: urgent.Sent) -> None:
    u = sent.urgent
    audit(
        "urgent.send",
        u.id,
        {
            "text": u.text,
            "message": u.message_id,
            "speakers": list(u.speaker_ids),
            "areas": list(u.area_ids),
            "override_window": u.override_window,
            "targets": len(sent.targets),
            "will_play": sum(1 for t in sent.targets if t.plays_at is not None),
        },
    )


# -- one announcement -----------------------------------------------------------------------


def _context(me: Scope, urgent_id: str) -> dict[str, Any]:
    view = urgent.get(runtime().service, me.user, urgent_id, now())
    return {
        "view": view,
        "local": local,
        "summary": summary_line(view),
        "state_label": state_label,
        "state_detail": state_detail,
        "what": what_of(view.urgent, {m.id: m.title for m in me.deployment.messages}),
    }


@bp.get("/urgent/<urgent_id>")
def detail(urgent_id: str) -> str:
    me = require(Role.ADMIN, Role.CHIEF)
    return page("panel/urgent_detail.html", **_context(me, urgent_id))


@bp.get("/urgent/<urgent_id>/acks")
def acks(urgent_id: str) -> str:
    me = require(Role.ADMIN, Role.CHIEF)
    return render_template("panel/_acks.html", **_context(me, urgent_id))


@bp.post("/urgent/<urgent_id>/cancel")
def cancel(urgent_id: str) -> Response:
    me = require(Role.ADMIN, Role.CHIEF)
    cancelled = urgent.cancel(runtime().service, me.user, urgent_id, now())
    audit("urgent.cancel", cancelled.id, {})
    flash(_("Cancelled."))
    return redirect(url_for("urgent.detail", urgent_id=urgent_id))
