"""Messages, programs and schedules: the one code path behind the panel and the user API.

Each use case takes the service, the signed-in user, a typed request and `now`; it checks the
user's role and areas (broadcaster.editing's scoping), validates, saves and writes the audit
line. Errors are the usual ones: Forbidden (role), NotFound (not visible: also for objects
that exist elsewhere), Conflict (stale version, in use, overlapping schedules) and `Invalid`,
a ValidationError listing every refused field.

Requests use None for "not given": a create takes the default (or says the field is
required), an update keeps the current value. Fields that may be null themselves (a
message's or program's area, a schedule's first and last day) use KEEP for "not given".

Problem texts are English with %(name)s placeholders; the panel translates them with its
catalog (web/panel/catalog_zh.py), the API sends them as they are.

Nothing here reveals an object the user may not see: every id a request names is looked up
through the user's Scope (an object outside it is refused exactly as an id that does not
exist), only admins choose the ids of new objects (for anyone else "this id is taken" would
say that a hidden object has it), and answers that mention other objects (what uses a
message or a program, the schedules a new one overlaps) name only those the user may see.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import re
import secrets
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from audio.errors import AudioError, InvalidInput
from broadcaster import editing, limits, planning
from broadcaster.editing import RecordingRefused, Scope
from broadcaster.errors import Conflict, Forbidden, ValidationError
from broadcaster.models import Message, Program, Role, Schedule, User, VoiceSettings
from broadcaster.service import Service

log = logging.getLogger(__name__)
RECORDING_NAME = re.compile(r"[0-9a-f]{64}\.[a-z0-9]{2,5}")  # how save_upload names a file

CONFLICT_HORIZON = timedelta(days=14)


class Keep(enum.Enum):
    """The value of a nullable field that the request does not give."""

    KEEP = "keep"


KEEP: Literal[Keep.KEEP] = Keep.KEEP


# -- errors -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    """One refused field: English text with %(name)s placeholders and their values."""

    field: str
    text: str
    values: Mapping[str, object] = dataclass_field(default_factory=dict)

    def __str__(self) -> str:
        return self.text % dict(self.values) if self.values else self.text


class Invalid(ValidationError):
    """Input refused field by field; str() is the first problem as "field: text"."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        first = self.problems[0]
        super().__init__(f"{first.field}: {first}", field=first.field)


class Problems:
    """Collects problems, the first one per field (as the panel shows one per field)."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, name: str, text: str, **values: object) -> None:
        if all(p.field != name for p in self.items):
            self.items.append(Problem(name, text, values))

    def has(self, name: str) -> bool:
        return any(p.field == name for p in self.items)

    def check(self) -> None:
        if self.items:
            raise Invalid(self.items)


@dataclass(frozen=True, slots=True)
class Clash:
    """An equal-priority overlap a schedule would have with another, on one speaker.

    `other` is None when the user may not see the other schedule (the district office's, or
    another chief's over a wider area): the overlap is told, the schedule is not named."""

    other: str | None
    speaker: str  # the speaker's name
    start: datetime
    end: datetime

    def __str__(self) -> str:
        what = f"schedule {self.other}" if self.other is not None else HIDDEN_SCHEDULE
        return (
            f"overlaps {what} at the same priority on {self.speaker} "
            f"(first {self.start.isoformat(timespec='minutes')} to "
            f"{self.end.isoformat(timespec='minutes')})"
        )


HIDDEN_SCHEDULE = "a schedule set outside your areas (by the district office or another chief)"


class Overlaps(Conflict):
    """A schedule would overlap others at the same priority; save it with accept_conflicts."""

    def __init__(self, clashes: Sequence[Clash]) -> None:
        self.clashes = tuple(clashes)
        super().__init__(
            f"The schedule {self.clashes[0]}"
            + (f" and {len(self.clashes) - 1} more" if len(self.clashes) > 1 else "")
            + "; send accept_conflicts to save it anyway"
        )


class InUse(Conflict):
    """A message or program cannot be deleted while others use it. Only the users the caller
    may see are named (`users`, ids); `others` says that objects outside the caller's areas
    use it too, `live_urgent` that a live urgent announcement does (neither is named)."""

    def __init__(
        self,
        what: str,
        object_id: str,
        user_kind: str,
        users: Sequence[str],
        others: bool,
        live_urgent: bool = False,
    ) -> None:
        self.users = tuple(users)
        self.others = others
        self.live_urgent = live_urgent
        parts = []
        if self.users:
            parts.append(f"{user_kind} " + ", ".join(repr(u) for u in self.users))
        if others:
            parts.append(f"{user_kind}s outside your areas")
        if live_urgent:
            parts.append("a live urgent announcement")
        super().__init__(
            f"{what} {object_id!r} is still used by " + "; ".join(parts)
            if parts
            else f"{what} {object_id!r} is still in use"
        )


# -- requests and views -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordingUpload:
    """An uploaded recording, checked and kept only when the rest of the message is valid."""

    data: bytes
    filename: str
    content_type: str
    max_s: float


@dataclass(frozen=True, slots=True)
class MessageRequest:
    id: str | None = None  # create only; None: a generated id
    title: str | None = None
    text: str | None = None
    voice: str | None = None
    rate: int | None = None
    volume: float | None = None
    chime: bool | None = None
    area: str | Keep | None = KEEP  # None: district-wide (admins only)
    # The areas a vehicle plays it in (issue 13): None keeps the current binding, () clears
    # it. A chief names only areas in her reach; areas outside it that it is bound to stay.
    area_ids: tuple[str, ...] | None = None
    upload: RecordingUpload | None = None
    drop_recording: bool = False
    version: int | None = None  # update only: refuse (Conflict) if someone saved meanwhile


@dataclass(frozen=True, slots=True)
class ProgramRequest:
    id: str | None = None
    name: str | None = None
    message_ids: tuple[str, ...] | None = None
    gap_s: float | None = None
    area: str | Keep | None = KEEP


@dataclass(frozen=True, slots=True)
class ScheduleRequest:
    id: str | None = None
    program_id: str | None = None
    speaker_ids: tuple[str, ...] | None = None
    area_ids: tuple[str, ...] | None = None
    weekdays: frozenset[int] | None = None
    start: time | None = None
    end: time | None = None
    first_date: date | Keep | None = KEEP
    last_date: date | Keep | None = KEEP
    exceptions: frozenset[date] | None = None
    priority: int | None = None
    enabled: bool | None = None
    accept_conflicts: bool = False


@dataclass(frozen=True, slots=True)
class MessageView:
    message: Message  # its `area_ids` may name areas the user may not see: show `areas`
    area: str | None
    version: int
    updated_at: datetime
    editable: bool
    used_by: tuple[str, ...]  # ids of the programs that play it
    areas: tuple[str, ...] = ()  # the areas it is bound to that the user may see
    areas_elsewhere: bool = False  # also bound to areas outside the user's reach (not named)


@dataclass(frozen=True, slots=True)
class ProgramView:
    program: Program
    area: str | None
    editable: bool
    used_by: tuple[str, ...]  # ids of the schedules that use it


@dataclass(frozen=True, slots=True)
class SchedulePlan:
    """A validated schedule and the overlaps it would have (not saved)."""

    schedule: Schedule
    clashes: tuple[Clash, ...]


# -- scope ------------------------------------------------------------------------------------


def scope(service: Service, user: User, now: datetime) -> Scope:
    """The user's scope; operators (and any other role) are refused here."""
    if user.role not in (Role.ADMIN, Role.CHIEF):
        raise Forbidden("this needs the role admin or chief")
    return editing.scope_for(user, service.store, service.deployment(now))


def _audit(
    service: Service,
    user: User,
    now: datetime,
    action: str,
    obj: str,
    detail: Mapping[str, Any],
    remote_addr: str | None,
) -> None:
    service.store.journal.append_audit(
        now, f"user:{user.name}", action, obj, dict(detail), remote_addr
    )


def _text(
    problems: Problems, name: str, value: str | None, *, required: bool = True, max_len: int
) -> str:
    value = (value or "").strip()
    if required and not value:
        problems.add(name, "Required.")
    elif len(value) > max_len:
        problems.add(name, "At most %(n)s characters.", n=max_len)
    return value


def _new_id(problems: Problems, me: Scope, value: str | None, taken: set[str], prefix: str) -> str:
    """The new object's id: the admin's choice, else one the server makes. Anyone else who
    sends an id gets one answer whatever it is: "taken" would reveal hidden objects."""
    if value is None:
        return f"{prefix}-{secrets.token_hex(4)}"
    if not me.is_admin:
        problems.add("id", "Chosen by the server; leave it out.")
        return f"{prefix}-{secrets.token_hex(4)}"
    if not value:
        problems.add("id", "Leave it out (or null) for an id chosen by the server.")
    elif len(value) > limits.ID_MAX:
        problems.add("id", "At most %(n)s characters.", n=limits.ID_MAX)
    elif not all(c.isascii() and (c.isalnum() or c in "-_") for c in value):
        problems.add("id", "Use only letters, digits, - and _.")
    elif value in taken:
        problems.add("id", "This id is taken.")
    return value


def _in_range(
    problems: Problems, name: str, value: float, bound: limits.Bound[int] | limits.Bound[float]
) -> None:
    if value not in bound:
        problems.add(name, "Must be from %(low)s to %(high)s.", low=bound.low, high=bound.high)


def _area(problems: Problems, me: Scope, area: str | None) -> None:
    if (area is not None and not me.usable("area", [area])) or (area is None and not me.is_admin):
        problems.add("area", "Choose one of your areas.")


# -- messages ---------------------------------------------------------------------------------


def _message_view(service: Service, me: Scope, message: Message) -> MessageView:
    record = service.store.content.message_record(message.id)
    used = tuple(p.id for p in me.programs_playing(message.id)[0])
    shown, elsewhere = bound_areas(me, record.message)
    return MessageView(
        record.message,
        me.owner("message", message.id),
        record.version,
        record.updated_at,
        me.edits_owned("message", message.id),
        used,
        shown,
        elsewhere,
    )


def bound_areas(me: Scope, message: Message) -> tuple[tuple[str, ...], bool]:
    """The areas a message is bound to that the user may see, and whether it is bound to
    others too (told, not named: "Hidden is missing")."""
    shown = tuple(a for a in message.area_ids if a in me.reach)
    return shown, len(shown) < len(message.area_ids)


def outlined(me: Scope) -> frozenset[str]:
    """The areas whose binding means something to a vehicle: those with an outline and those
    above one (a township stands for its villages with an outline; the same rule as the
    plan's `message_areas`, broadcaster/plans.py `_shapes`). One walk up from each outline."""
    found: set[str] = set()
    for area in me.deployment.areas:
        current = area if area.polygon is not None else None
        while current is not None and current.id not in found:
            found.add(current.id)
            current = me.areas.get(current.parent_id or "")
    return frozenset(found)


def _bound(
    problems: Problems, me: Scope, wanted: tuple[str, ...] | None, current: Message | None
) -> tuple[str, ...]:
    """The areas the message will be bound to (issue 13). An id the user may not name is
    refused as one that does not exist; an area newly chosen must have an outline (or areas
    below it with one: without, vehicles would play it everywhere), one already bound may
    stay. Areas outside the user's reach that it is bound to are kept."""
    before = current.area_ids if current is not None else ()
    if wanted is None:
        return before
    chosen = tuple(dict.fromkeys(a.strip() for a in wanted if a.strip()))
    if not me.usable("area", chosen):
        problems.add("areas", "Choose areas from the list.")
        return before
    shaped = outlined(me)
    for area_id in chosen:
        if area_id not in before and area_id not in shaped:
            problems.add(
                "areas",
                "%(area)s has no outline on the map yet: vehicles could not tell when they "
                "are inside it. Draw the outline first.",
                area=me.areas[area_id].name,
            )
            return before
    kept = tuple(a for a in before if a not in me.reach)
    return chosen + tuple(a for a in kept if a not in chosen)


def list_messages(service: Service, user: User, now: datetime) -> list[MessageView]:
    """The messages the user may see, by id."""
    me = scope(service, user, now)
    return [_message_view(service, me, m) for m in me.messages()]


def get_message(service: Service, user: User, message_id: str, now: datetime) -> MessageView:
    me = scope(service, user, now)
    return _message_view(service, me, me.message(message_id))


def _editable_message(service: Service, user: User, message_id: str, now: datetime) -> Scope:
    me = scope(service, user, now)
    me.message(message_id)
    if not me.edits_owned("message", message_id):
        raise Forbidden("only an admin edits district-wide messages")
    return me


def check_message(
    service: Service,
    user: User,
    request: MessageRequest,
    now: datetime,
    message_id: str | None = None,
) -> None:
    """Validate a new message (or changes to `message_id`) without saving anything."""
    if message_id is None:
        me = scope(service, user, now)
        _message(service, me, request, None, keep_upload=False)
    else:
        me = _editable_message(service, user, message_id, now)
        _message(service, me, request, me.message(message_id), keep_upload=False)


def _message(
    service: Service,
    me: Scope,
    request: MessageRequest,
    current: Message | None,
    *,
    keep_upload: bool,
) -> tuple[Message, str | None, str | None]:
    """The message to save, its area and its new recording's sha256; Invalid otherwise."""
    problems = Problems()
    default = service.settings.default_voice
    renderer = service.library.renderer
    if current is None:
        message_id = _new_id(problems, me, request.id, {m.id for m in me.deployment.messages}, "m")
    else:
        message_id = current.id
    cur_voice = current.voice if current else default
    title = _text(
        problems,
        "title",
        request.title if request.title is not None else (current.title if current else None),
        max_len=limits.TITLE_MAX,
    )
    text = _text(
        problems,
        "text",
        request.text if request.text is not None else (current.text if current else ""),
        required=False,
        max_len=service.settings.render.max_chars,
    )
    voice_name = _text(
        problems,
        "voice",
        request.voice if request.voice is not None else cur_voice.voice,
        max_len=limits.VOICE_MAX,
    )
    rate = request.rate if request.rate is not None else cur_voice.rate
    _in_range(problems, "rate", rate, limits.RATE_WPM)
    volume = request.volume if request.volume is not None else cur_voice.volume
    _in_range(problems, "volume", volume, limits.VOLUME)
    chime = request.chime if request.chime is not None else cur_voice.chime
    if request.area is KEEP:
        area = me.owner("message", current.id) if current else None
    else:
        area = request.area
    _area(problems, me, area)
    area_ids = _bound(problems, me, request.area_ids, current)
    has_upload = request.upload is not None
    keep_recording = bool(current and current.recording and not request.drop_recording)
    if not text and not has_upload and not keep_recording:
        problems.add("text", "Type the text or add a recording.")
    if text and not has_upload and not keep_recording:
        try:
            renderer.spoken_text(text)
        except InvalidInput as exc:
            problems.add("text", "This text cannot be spoken: %(reason)s", reason=str(exc))
    if voice_name and not problems.has("voice"):
        try:
            renderer.synthesizer.resolve_voice(voice_name)
        except AudioError:
            problems.add("voice", "No such voice is installed.")
    problems.check()
    recording = current.recording if keep_recording and current else None
    sha = None
    if request.upload is not None:
        if not keep_upload:
            return Message(message_id, title or "-", text or "-"), area, None
        recording, sha = save_upload(service, request.upload)
    with _unless_saved(service, recording if sha else None):
        try:
            message = Message(
                message_id,
                title,
                text,
                VoiceSettings(voice_name, rate, volume, chime),
                recording,
                area_ids,
            )
        except ValidationError as exc:
            raise Invalid([Problem("text", str(exc))]) from exc
        if recording:
            try:
                service.library.for_message(message)
            except (InvalidInput, AudioError) as exc:
                raise Invalid(
                    [
                        Problem(
                            "recording",
                            "The recording cannot be used: %(reason)s",
                            {"reason": str(exc)},
                        )
                    ]
                ) from exc
    return message, area, sha


def forget_recording(service: Service, name: str) -> bool:
    """Remove a kept recording file that no message uses; True if it was removed."""
    if not RECORDING_NAME.fullmatch(name):
        return False
    if any(m.recording == name for m in service.store.content.list_messages()):
        return False
    (service.library.recordings / name).unlink(missing_ok=True)
    return True


@contextlib.contextmanager
def _unless_saved(service: Service, upload: str | None) -> Iterator[None]:
    """A new upload (file name) is not kept when what follows fails (refused, disk full)."""
    try:
        yield
    except BaseException:
        if upload is not None:
            try:
                forget_recording(service, upload)
            except Exception:  # the failure that got us here is what the caller sees
                log.exception("could not remove the unsaved recording %s", upload)
        raise


REFUSALS = {
    "empty": "The recording is empty.",
    "type": "This file type is not supported: use WAV, MP3 or M4A/AAC.",
    "undecodable": "The file could not be read as audio; it may be damaged.",
    "silent": "The recording is silent.",
    "too_long": "The recording is %(seconds)s s long; the limit is %(limit)s s.",
    "too_long_stream": "The recording is longer than the limit of %(limit)s s.",
    "too_big": "The file is %(mb)s MB; the limit is %(limit)s MB.",
    "format": "This file is not a .%(ext)s recording (it holds %(found)s): "
    "use WAV, MP3, M4A/AAC, OGG or WebM, named for what it is.",
    "busy": "The server is busy with other recordings; try again in a minute.",
    "slow": "The recording took too long to read; it may be damaged.",
}
REFUSAL_VALUES = {
    "too_long": ("seconds", "limit"),
    "too_long_stream": ("limit",),
    "too_big": ("mb", "limit"),
    "format": ("ext", "found"),
}


def save_upload(service: Service, upload: RecordingUpload) -> tuple[str, str]:
    """Check and keep an uploaded recording: (file name, sha256); Invalid on `recording`."""
    try:
        ext = editing.recording_type(upload.filename, upload.content_type)
        name, sha, _seconds = editing.save_recording(
            service.library.recordings,
            upload.data,
            ext,
            sample_rate=service.settings.render.sample_rate,
            max_s=upload.max_s,
        )
    except RecordingRefused as exc:
        values: dict[str, object] = {
            key: exc.detail.get(key, "?") for key in REFUSAL_VALUES.get(exc.code, ())
        }
        text = REFUSALS.get(exc.code, exc.code)
        raise Invalid([Problem("recording", text, values)]) from exc
    return name, sha


def _areas_detail(before: Message | None, after: Message) -> dict[str, list[str]]:
    """The audit line's `areas` (issue 13): the binding after the change, when the message
    is bound before or after it (an unbound message's line stays as it was)."""
    if after.area_ids or (before is not None and before.area_ids):
        return {"areas": list(after.area_ids)}
    return {}


def create_message(
    service: Service,
    user: User,
    request: MessageRequest,
    now: datetime,
    *,
    remote_addr: str | None = None,
) -> MessageView:
    """Validate, own (for a chief: one of their areas), save and audit a new message."""
    me = scope(service, user, now)
    message, area, sha = _message(service, me, request, None, keep_upload=True)
    store = service.store
    with _unless_saved(service, message.recording if sha else None):
        # owned as it is created: never district-wide for a moment
        store.content.create_message(message, now, recording_sha256=sha, owner_area_id=area)
    _audit(service, user, now, "message.create", message.id,
           {"title": message.title, "area": area, "recording": message.recording,
            **_areas_detail(None, message)},
           remote_addr)  # fmt: skip
    return get_message(service, user, message.id, now)


def update_message(
    service: Service,
    user: User,
    message_id: str,
    request: MessageRequest,
    now: datetime,
    *,
    remote_addr: str | None = None,
) -> MessageView:
    """Change the given fields of a message the user may edit; Conflict on a stale version."""
    me = _editable_message(service, user, message_id, now)
    current = me.message(message_id)
    message, area, sha = _message(service, me, request, current, keep_upload=True)
    store = service.store
    with _unless_saved(service, message.recording if sha else None), store.transaction():
        if sha is None and message.recording:
            sha = store.content.message_record(message_id).recording_sha256
        store.content.update_message(
            message, now, recording_sha256=sha, expected_version=request.version
        )
        if area != me.owner("message", message_id):
            store.content.set_owner("message", message_id, area)
    _audit(service, user, now, "message.update", message_id,
           {"title": message.title, "area": area, "recording": message.recording,
            **_areas_detail(current, message)},
           remote_addr)  # fmt: skip
    return get_message(service, user, message_id, now)


def delete_message(
    service: Service, user: User, message_id: str, now: datetime, *, remote_addr: str | None = None
) -> Message:
    """Delete a message the user may edit; Conflict while a program or live urgent uses it."""
    me = _editable_message(service, user, message_id, now)
    message = me.message(message_id)
    try:
        service.store.content.delete_message(message_id, now)
    except Conflict:
        again = scope(service, user, now)
        shown, others = again.programs_playing(message_id)
        live = any(u.message_id == message_id for u in service.live_urgents(now))
        raise InUse("message", message_id, "program", [p.id for p in shown], others, live) from None
    _audit(service, user, now, "message.delete", message_id, {"title": message.title},
           remote_addr)  # fmt: skip
    return message


# -- programs ---------------------------------------------------------------------------------


def _program_view(me: Scope, program: Program) -> ProgramView:
    return ProgramView(
        program,
        me.owner("program", program.id),
        me.edits_owned("program", program.id),
        tuple(s.id for s in me.schedules_using(program.id)[0]),
    )


def list_programs(service: Service, user: User, now: datetime) -> list[ProgramView]:
    me = scope(service, user, now)
    return [_program_view(me, p) for p in me.programs()]


def get_program(service: Service, user: User, program_id: str, now: datetime) -> ProgramView:
    me = scope(service, user, now)
    return _program_view(me, me.program(program_id))


def _editable_program(service: Service, user: User, program_id: str, now: datetime) -> Scope:
    me = scope(service, user, now)
    me.program(program_id)
    if not me.edits_owned("program", program_id):
        raise Forbidden("only an admin edits district-wide programs")
    return me


def _program(
    me: Scope, request: ProgramRequest, current: Program | None
) -> tuple[Program, str | None]:
    problems = Problems()
    if current is None:
        program_id = _new_id(problems, me, request.id, {p.id for p in me.deployment.programs}, "p")
    else:
        program_id = current.id
    name = _text(
        problems,
        "name",
        request.name if request.name is not None else (current.name if current else None),
        max_len=limits.TITLE_MAX,
    )
    default_gap = current.gap_s if current else limits.GAP_S.default
    gap = request.gap_s if request.gap_s is not None else default_gap
    _in_range(problems, "gap_s", gap, limits.GAP_S)
    if request.message_ids is not None:
        chosen = tuple(m.strip() for m in request.message_ids if m.strip())
    else:
        chosen = current.message_ids if current else ()
    if not chosen:
        problems.add("messages", "Add at least one message.")
    elif not me.usable("message", chosen):
        problems.add("messages", "Choose messages from the list.")
    if request.area is KEEP:
        area = me.owner("program", current.id) if current else None
    else:
        area = request.area
    _area(problems, me, area)
    problems.check()
    return Program(program_id, name, chosen, gap), area


def check_program(
    service: Service,
    user: User,
    request: ProgramRequest,
    now: datetime,
    program_id: str | None = None,
) -> None:
    """Validate a new program (or changes to `program_id`) without saving anything."""
    if program_id is None:
        _program(scope(service, user, now), request, None)
    else:
        me = _editable_program(service, user, program_id, now)
        _program(me, request, me.program(program_id))


def create_program(
    service: Service,
    user: User,
    request: ProgramRequest,
    now: datetime,
    *,
    remote_addr: str | None = None,
) -> ProgramView:
    me = scope(service, user, now)
    program, area = _program(me, request, None)
    store = service.store
    store.content.create_program(program, owner_area_id=area or None)
    _audit(service, user, now, "program.create", program.id,
           {"messages": list(program.message_ids), "area": area}, remote_addr)  # fmt: skip
    return get_program(service, user, program.id, now)


def update_program(
    service: Service,
    user: User,
    program_id: str,
    request: ProgramRequest,
    now: datetime,
    *,
    remote_addr: str | None = None,
) -> ProgramView:
    me = _editable_program(service, user, program_id, now)
    program, area = _program(me, request, me.program(program_id))
    store = service.store
    with store.transaction():
        store.content.update_program(program)
        if area != me.owner("program", program_id):
            store.content.set_owner("program", program_id, area)
    _audit(service, user, now, "program.update", program_id,
           {"messages": list(program.message_ids), "gap_s": program.gap_s, "area": area},
           remote_addr)  # fmt: skip
    return get_program(service, user, program_id, now)


def delete_program(
    service: Service, user: User, program_id: str, now: datetime, *, remote_addr: str | None = None
) -> Program:
    """Delete a program the user may edit; Conflict while a schedule uses it."""
    me = _editable_program(service, user, program_id, now)
    program = me.program(program_id)
    try:
        service.store.content.delete_program(program_id)
    except Conflict:
        shown, others = scope(service, user, now).schedules_using(program_id)
        raise InUse("program", program_id, "schedule", [s.id for s in shown], others) from None
    _audit(service, user, now, "program.delete", program_id, {}, remote_addr)
    return program


# -- schedules --------------------------------------------------------------------------------


def list_schedules(service: Service, user: User, now: datetime) -> list[Schedule]:
    return scope(service, user, now).schedules()


def get_schedule(service: Service, user: User, schedule_id: str, now: datetime) -> Schedule:
    return scope(service, user, now).schedule(schedule_id)


def _schedule(me: Scope, request: ScheduleRequest, current: Schedule | None) -> Schedule:
    problems = Problems()
    if current is None:
        schedule_id = _new_id(
            problems, me, request.id, {s.id for s in me.deployment.schedules}, "s"
        )
    else:
        schedule_id = current.id

    def pick(value: Any, name: str, default: Any) -> Any:
        if value is None or value is KEEP:
            return getattr(current, name) if current is not None else default
        return value

    program = (pick(request.program_id, "program_id", "") or "").strip()
    if not program or not me.usable("program", [program]):
        problems.add("program", "Choose a program.")
    speakers: tuple[str, ...] = pick(request.speaker_ids, "speaker_ids", ())
    areas: tuple[str, ...] = pick(request.area_ids, "area_ids", ())
    if not me.usable("speaker", speakers):
        problems.add("speakers", "Choose loudspeakers from the list.")
    if not me.usable("area", areas):
        problems.add("areas", "Choose areas from the list.")
    if not speakers and not areas:
        problems.add("speakers", "Choose at least one loudspeaker or area.")
    weekdays: frozenset[int] = pick(request.weekdays, "weekdays", frozenset(range(7)))
    if not weekdays or not all(0 <= d <= 6 for d in weekdays):
        problems.add("weekdays", "Choose at least one weekday.")
    start: time = pick(request.start, "start", limits.DEFAULT_WINDOW[0])
    end: time = pick(request.end, "end", limits.DEFAULT_WINDOW[1])
    first: date | None = (
        request.first_date
        if request.first_date is not KEEP
        else (current.first_date if current else None)
    )
    last: date | None = (
        request.last_date
        if request.last_date is not KEEP
        else (current.last_date if current else None)
    )
    if first and last and last < first:
        problems.add("last_date", "The last day is before the first day.")
    exceptions: frozenset[date] = pick(request.exceptions, "exceptions", frozenset())
    priority: int = pick(request.priority, "priority", limits.PRIORITY.default)
    _in_range(problems, "priority", priority, limits.PRIORITY)
    enabled: bool = pick(request.enabled, "enabled", True)
    problems.check()
    try:
        return Schedule(
            schedule_id,
            program,
            tuple(speakers),
            tuple(areas),
            frozenset(weekdays),
            start,
            end,
            first,
            last,
            frozenset(exceptions),
            priority,
            enabled,
        )
    except ValidationError as exc:
        raise Invalid([Problem("start", str(exc))]) from exc


def clashes_of(service: Service, me: Scope, candidate: Schedule, now: datetime) -> list[Clash]:
    """Equal-priority overlaps the candidate would have, in the next 14 days."""
    d = me.deployment
    by_id = {s.id: s for s in d.schedules}
    schedules = [s for s in d.schedules if s.id != candidate.id] + [candidate]
    areas = {a.id: a for a in d.areas}
    zone = service.settings.zone
    found = []
    for speaker in d.speakers:
        for c in planning.conflicts(speaker, schedules, areas, zone, now, now + CONFLICT_HORIZON):
            if candidate.id not in c.schedule_ids:
                continue
            other: str | None = next(x for x in c.schedule_ids if x != candidate.id)
            if other not in by_id or not me.sees_schedule(by_id[other]):
                other = None  # told, not named: the user may not see it
            found.append(
                Clash(other, speaker.name, c.start.astimezone(zone), c.end.astimezone(zone))
            )
    return found


def check_schedule(
    service: Service,
    user: User,
    request: ScheduleRequest,
    now: datetime,
    schedule_id: str | None = None,
) -> SchedulePlan:
    """Validate a new schedule (or changes to `schedule_id`) and find its overlaps; no save."""
    me = scope(service, user, now)
    current = None if schedule_id is None else me.schedule(schedule_id)
    schedule = _schedule(me, request, current)
    return SchedulePlan(schedule, tuple(clashes_of(service, me, schedule, now)))


def save_schedule(
    service: Service,
    user: User,
    request: ScheduleRequest,
    now: datetime,
    schedule_id: str | None = None,
    *,
    remote_addr: str | None = None,
) -> Schedule:
    """Create (no `schedule_id`) or update a schedule; Overlaps unless accept_conflicts."""
    plan = check_schedule(service, user, request, now, schedule_id)
    if plan.clashes and not request.accept_conflicts:
        raise Overlaps(plan.clashes)
    schedule = plan.schedule
    if schedule_id is None:
        service.store.schedules.create_schedule(schedule, now)
    else:
        service.store.schedules.update_schedule(schedule, now)
    _audit(service, user, now, "schedule.create" if schedule_id is None else "schedule.update",
           schedule.id,
           {"program": schedule.program_id, "speakers": list(schedule.speaker_ids),
            "areas": list(schedule.area_ids), "start": schedule.start.isoformat(),
            "end": schedule.end.isoformat(), "conflicts": len(plan.clashes)},
           remote_addr)  # fmt: skip
    return schedule


def delete_schedule(
    service: Service, user: User, schedule_id: str, now: datetime, *, remote_addr: str | None = None
) -> Schedule:
    schedule = scope(service, user, now).schedule(schedule_id)
    service.store.schedules.delete_schedule(schedule_id)
    _audit(service, user, now, "schedule.delete", schedule_id, {}, remote_addr)
    return schedule
