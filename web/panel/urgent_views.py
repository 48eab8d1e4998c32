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
import logging
import re
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from broadcaster import catalog, limits, urgent
from broadcaster.editing import Scope
from broadcaster.errors import BroadcasterError, Conflict, NotFound, ValidationError
from broadcaster.live import FRAME_MS
from broadcaster.models import Message, Role, VoiceSettings
from web.panel import wording
from web.panel.common import Form, audit, local, now, page, require
from web.panel.i18n import _
from web.panel.messages import save_upload
from web.runtime import runtime

bp = Blueprint("urgent", __name__)
log = logging.getLogger(__name__)

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


# -- talking live (issue 12, docs/live-paging.md) -------------------------------------------


def talk_context(me: Scope) -> dict[str, Any]:
    """What the Talk section's script (web/static/live-talk.js) needs: the rate and frame
    length to capture at (the server announces them again when the page starts), whether
    the user may take over a busy loudspeaker, and its words in the user's language (the
    placeholders `%(by)s`, `%(why)s` are filled by the script)."""
    words = {
        "hold": _("Hold to talk"),
        "holding": _("Release to end"),
        "tap": _("Tap to talk"),
        "tapped": _("Tap again to end"),
        "connecting": _("Connecting…"),
        "chime": _("The loudspeakers play the chime; speak when it has ended…"),
        "speak": _("Speak now: the loudspeakers play your voice."),
        "over": _("The talk has ended; the loudspeakers go back to their programs."),
        "state_connecting": _("connecting to the loudspeaker"),
        "state_live": _("hearing you live"),
        "state_behind": _("behind: skipping audio to catch up"),
        "state_dropped": _("lost the stream"),
        "state_ended": _("talk over"),
        "outcome_dropped": _("talk over; it lost the stream"),
        "outcome_not_connected": _("talk over; it never connected"),
        "outcome_taken_over": _("taken over by %(by)s"),
        "not_reached": _("not reached: %(why)s"),
        "offline": _("offline"),
        "outside_windows_until_expiry": _("outside its playing windows now"),
        "not_now": _("cannot play now"),
        "choose": _("Choose at least one loudspeaker or area."),
        "busy": _("Busy: %(by)s is talking on these loudspeakers now. Try again when they finish."),
        "take_over": _("Take over: end their talk on these loudspeakers and talk"),
        "taken_over": _("%(by)s took over these loudspeakers; your talk has ended."),
        "max_length": _("The talk reached its maximum length and was ended."),
        "refused": _("Refused: %(why)s"),
        "refused_outside": _(
            "Refused: the loudspeakers are outside their playing windows now. Tick “Also"
            " outside the playback windows” above to talk anyway."
        ),
        "refused_offline": _("Refused: the chosen loudspeakers are offline."),
        "denied": _(
            "The microphone is blocked. Allow it for this site in the browser (the icon next"
            " to the address), then press Talk again."
        ),
        "no_mic": _("No microphone was found on this device."),
        "mic_failed": _("The microphone could not be started: %(why)s"),
        "insecure": _(
            "The browser lends the microphone only to secure pages: open the panel with"
            " https:// (the district office sets it up), or on the server itself as"
            " http://localhost."
        ),
        "unsupported": _(
            "This browser cannot talk live: use a recent Chrome, Edge, Firefox or Safari."
        ),
        "cannot_connect": _(
            "Could not reach the server to talk live: check the network and reload the page."
        ),
        "lost": _("The connection to the server was lost; the talk has ended."),
        "slow": _("The network is too slow: some of your voice was skipped."),
    }
    return {
        "rate": runtime().settings.render.sample_rate,
        "frame_ms": FRAME_MS,
        "chime_ms": runtime().service.library.chime_ms,
        "admin": me.is_admin,
        "words": words,
    }


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
        talk=talk_context(me),
        lives=live_history(me),
        live_outcome=live_outcome,
    )
    return body, status


# -- live pages kept (issue 12, "Kept"): the history lists them with a player ---------------


def live_history(me: Scope, limit: int = 20) -> list[Any]:
    """The live pages on the user's loudspeakers, newest first, each target's outcome as
    the server saw it and, once its play log came in, as the loudspeaker played it."""
    store = runtime().service.store
    records = store.live.list(speaker_ids=set(me.speakers), limit=limit)
    played = store.live.played(r.id for r in records)
    rows = []
    for record in records:
        targets = []
        for speaker, target in record.targets.items():
            text = live_outcome(target.get("outcome"))
            if (record.id, speaker) in played:
                completed, reason = played[(record.id, speaker)]
                text += "; " + (
                    _("Played to the end") if completed else wording.reason_text(reason)
                )
            targets.append((target.get("name", speaker), text))
        rows.append({"record": record, "targets": targets})
    return rows


def live_outcome(outcome: str | None) -> str:
    """How a live page went for one loudspeaker, in the user's language."""
    if outcome is None:
        return _("talking now")
    if outcome.startswith("taken over by "):
        return _("taken over by %(by)s", by=outcome[len("taken over by ") :])
    if outcome.startswith("not-paged:"):
        why = outcome[len("not-paged:") :]
        return _("not reached: %(why)s", why=reason_text(why, None) if why != "offline" else _(why))
    words = {
        "heard": _("heard"),
        "dropped": _("talk over; it lost the stream"),
        "not-connected": _("talk over; it never connected"),
        "server restart": _("cut: the server restarted"),
    }
    return words.get(outcome, outcome)


@bp.get("/urgent/live/<page_id>/audio.wav")
def live_audio(page_id: str) -> Response:
    """A kept live page's clip (rendered again from its recording if the cache dropped it)."""
    from flask import send_file

    from broadcaster.live import recording_path

    me = require(Role.ADMIN, Role.CHIEF)
    service = runtime().service
    record = service.store.live.get(page_id)
    if not set(record.speaker_ids) & set(me.speakers) or record.recording is None:
        raise NotFound(f"no live page {page_id!r}")
    renderer = service.library.renderer
    entry = renderer.cache.get(record.clip_key, "wav") if record.clip_key else None
    if entry is None:
        source = recording_path(service, record.recording)
        if not source.exists():
            raise NotFound(f"the recording of the live page {page_id!r} is gone")
        entry = renderer.render_recording(source, chime=False).entry
    return send_file(entry.path, mimetype="audio/wav", conditional=True, max_age=3600)


@bp.get("/urgent")
def index():  # type: ignore[no-untyped-def]
    me = require(Role.ADMIN, Role.CHIEF)
    return _render(
        me,
        Form(
            MultiDict(
                {
                    # the API's defaults: declared once, in broadcaster/limits.py (issue 11)
                    "repeats": str(limits.REPEATS.default),
                    "interval_s": f"{limits.INTERVAL_S.default:g}",
                    "expires_min": str(limits.EXPIRY_MIN.default),
                    "source": "text",
                }
            )
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
        if not message_id or not me.usable("message", [message_id]):
            form.error("message", _("Choose a message."))
    elif source == "recording":
        recording = _recording_file(form)
    else:
        form.error("source", _("Choose what to announce."))
    speakers, areas = form.list("speakers"), form.list("areas")
    if not me.usable("speaker", speakers):
        form.error("speakers", _("Choose loudspeakers from the list."))
    if not me.usable("area", areas):
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
        repeats=int(form.within("repeats", limits.REPEATS)),
        interval_s=form.within("interval_s", limits.INTERVAL_S),
        expires_min=int(form.within("expires_min", limits.EXPIRY_MIN)),
        override=form.flag("override_window"),
    )


def _recording_file(form: Form) -> str | None:
    """The recording to send: a new upload (checked and kept), else the one kept at the
    preview (`recording_file`); its file name, or None with the field's error."""
    service = runtime().service
    upload = request.files.get("recording")
    fresh = False
    if upload is not None and upload.filename:
        saved = save_upload(upload, form)
        if saved is None:
            return None
        name, fresh = saved[0], True
    else:
        name = form.raw("recording_file")
        if not (RECORDING_FILE.fullmatch(name) and (service.library.recordings / name).is_file()):
            form.error("recording", _("Record or choose a file first."))
            return None
    try:
        service.library.for_message(_recording(name, now()))
    except BroadcasterError as exc:  # an unusable recording: the user's problem, at the field
        if fresh:  # not kept either
            forget_recording(name)
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
    already made of the same file today, if it is the user's): its id, and whether it was
    made now. Another area's message of the same file is neither reused nor revealed."""
    service = runtime().service
    message = _recording(name, moment)
    owner = None if me.is_admin else (me.user.area_ids[0] if me.user.area_ids else None)
    taken = {m.id for m in service.deployment(moment).messages}
    if message.id in taken:
        if me.usable("message", [message.id]) and me.owner("message", message.id) == owner:
            return message.id, False
        message = replace(message, id=f"{message.id}-{secrets.token_hex(3)}")
    service.store.content.create_message(
        message, moment, recording_sha256=name.split(".")[0], owner_area_id=owner or None
    )
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
    try:
        if draft.source == "recording":
            assert draft.recording is not None
            made, new = _recording_message(me, draft.recording, moment)
        sent = urgent.send(service, me.user, draft.request(moment, message_id=made), moment,
                           remote_addr=request.remote_addr)  # fmt: skip
    except Exception as exc:
        # Nothing was sent (refused, or storage failed): keep no message and no file for it.
        if draft.recording is not None:
            _forget_unsent(draft.recording, made if new else None, moment)
            form.data.pop("recording_file", None)
        if not isinstance(exc, ValidationError):
            raise
        form.data.pop("preview_key", None)
        if draft.recording is not None:
            form.error(
                "recording", _("Nothing was sent and the recording was not kept: add it again.")
            )
        return _preview(me, form, draft, 422)
    flash(_("Sent."))
    return redirect(url_for("urgent.detail", urgent_id=sent.urgent.id))


def _drop_message(message_id: str, moment: datetime) -> None:
    service = runtime().service
    try:
        service.store.content.delete_message(message_id, moment)
    except (Conflict, NotFound):  # used meanwhile (an earlier send of the same file): keep it
        return
    audit("message.delete", message_id, {"for": "urgent", "reason": "not sent"})


def forget_recording(name: str) -> bool:
    """Remove a kept recording file that no message uses; True if it was removed."""
    return catalog.forget_recording(runtime().service, name)


def _forget_unsent(name: str, message_id: str | None, moment: datetime) -> None:
    """After a send that failed: drop the message made for it and the file (unless another
    message uses them). Best effort: the failure that got us here is what the user sees."""
    try:
        if message_id is not None:
            _drop_message(message_id, moment)
        forget_recording(name)
    except Exception:
        log.exception("could not remove the recording %s of an urgent that was not sent", name)


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
    urgent.cancel(runtime().service, me.user, urgent_id, now(), remote_addr=request.remote_addr)
    flash(_("Cancelled."))
    return redirect(url_for("urgent.detail", urgent_id=urgent_id))
