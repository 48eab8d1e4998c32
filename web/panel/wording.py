"""Names, not codes: what the panel shows for play kinds, cut reasons, plan runs and audit lines.

Every page that would otherwise show an id or a code (`cut:urgent`, `vehicles-daily`,
`{"areas": ["village-a"]}`) goes through here, so the same thing reads the same everywhere,
in the user's language (web/panel/i18n.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from broadcaster.editing import Scope
from broadcaster.planning import PlanItem
from broadcaster.store import AuditEntry
from web.panel.i18n import _

# Play kinds as people say them.
KINDS = {"loop": "Loop", "urgent": "Urgent", "selftest": "Self-test", "live": "Live talk"}

# Why a play ended early (what the client reports, docs/device-api.md) in words.
REASONS = {
    "cut:urgent": "Interrupted by an urgent announcement",
    "cut:window-end": "The playback window ended",
    "cut:shutdown": "The loudspeaker was switched off",
    "cut:cancelled": "The announcement was cancelled",
    "cut:expired": "The announcement expired",
    "cut:stop": "Stopped by a stop command",
    "cut:live": "Interrupted by a live talk",
    "cut:stream-lost": "The live talk's stream was lost",
    "cut:max-length": "The live talk reached its maximum length",
    # A vehicle's GPS decisions (issue 13)
    "skipped:outside_area": "Skipped: the vehicle was outside the message's areas",
    "muted:quiet_zone": "Muted in a quiet zone",
    "lowered:quiet_zone": "Turned down in a quiet zone",
}

# Audit actions as the panel names them (English source, Chinese in catalog_zh).
ACTIONS = {
    "login": "Signed in",
    "login.failed": "Failed sign-in",
    "login.throttled": "Sign-in blocked after too many failures",
    "logout": "Signed out",
    "denied": "Refused: not allowed",
    "unauthenticated": "Refused: not signed in",
    "user.create": "Created a user",
    "user.update": "Changed a user",
    "user.disable": "Disabled a user",
    "user.enable": "Enabled a user",
    "message.create": "Created a message",
    "message.update": "Changed a message",
    "message.delete": "Deleted a message",
    "program.create": "Created a program",
    "program.update": "Changed a program",
    "program.delete": "Deleted a program",
    "schedule.create": "Created a schedule",
    "schedule.update": "Changed a schedule",
    "schedule.delete": "Deleted a schedule",
    "urgent.send": "Sent an urgent announcement",
    "urgent.cancel": "Cancelled an urgent announcement",
    "urgent.render_failed": "An urgent announcement could not be spoken",
    "urgent.expire": "An urgent announcement expired",
    "live.start": "Started a live page",
    "live.end": "Ended a live page",
    "speaker.create": "Added a loudspeaker",
    "speaker.update": "Changed a loudspeaker",
    "speaker.offline": "A loudspeaker went offline",
    "route.update": "Changed a vehicle's route",
    "token.issue": "Issued a device key",
    "token.revoke": "Revoked a device key",
    "area.create": "Added an area",
    "lexicon.update": "Changed the pronunciation lexicon",
}

ACTORS = {
    "scheduler": "The server's timer",
    "system": "The server",
    "server": "The server",
    "cli": "Command line on the server",
    "anonymous": "Someone not signed in",
}

# Detail fields of audit lines, in words.
FIELDS = {
    "title": "Title",
    "area": "Area",
    "areas": "Areas",
    "recording": "Recording",
    "messages": "Messages",
    "message": "Message",
    "gap_s": "Pause between messages (s)",
    "program": "Program",
    "speakers": "Loudspeakers",
    "start": "From",
    "end": "To",
    "role": "Role",
    "vehicle": "Vehicle",
    "password": "Password changed",
    "display_name": "Display name",
    "name": "Name",
    "kind": "Kind",
    "volume": "Volume",
    "stops": "Stops",
    "token": "Key",
    "id": "Key",
    "label": "Label",
    "count": "Count",
    "text": "Text",
    "override_window": "Also outside the playback windows",
    "targets": "Loudspeakers targeted",
    "will_play": "Will play on",
    "reason": "Reason",
    "status": "Answer",
    "entries": "Entries",
    "first_start": "First start",
    "for": "For",
    "parent": "Part of",
    "suppressed": "Similar lines left out",
    "weekdays": "Weekdays",
    "priority": "Priority",
    "first_date": "First day",
    "last_date": "Last day",
    "since": "Since",
}

LOGIN_FAILURES = {"password": "Wrong name or password", "disabled": "The account is disabled"}


def kind_text(kind: str) -> str:
    """A play kind (loop, urgent, selftest) in words."""
    return _(KINDS.get(kind, kind))


def reason_text(reason: str) -> str:
    """Why a play ended early, in words; a reason we do not know is shown as reported."""
    if not reason:
        return ""
    known = REASONS.get(reason)
    return _(known) if known else reason


def role_text(role: str) -> str:
    """admin, chief, operator as the header names them."""
    return _(role) if role in ("admin", "chief", "operator") else role


@dataclass(frozen=True, slots=True)
class Names:
    """Names of the deployment's objects the user may see, by id (what the pages show)."""

    messages: Mapping[str, str]
    programs: Mapping[str, str]
    speakers: Mapping[str, str]
    areas: Mapping[str, str]
    users: Mapping[str, str]
    schedules: Mapping[str, str]
    urgents: Mapping[str, str] = field(default_factory=dict)  # id -> what it says

    def message(self, message_id: str | None) -> str:
        if not message_id:
            return ""
        return self.messages.get(message_id, message_id)

    def speaker(self, speaker_id: str) -> str:
        return self.speakers.get(speaker_id, speaker_id)

    def area(self, area_id: str | None) -> str:
        if not area_id:
            return ""
        return self.areas.get(area_id, area_id)

    def user(self, name: str) -> str:
        shown = self.users.get(name)
        return f"{shown}（{name}）" if shown and shown != name else name


def names_for(me: Scope, users: Iterable[Any] = (), urgents: Iterable[Any] = ()) -> Names:
    """What `me` may see by name: the messages and programs of their reach (all of them for an
    admin; titles of other areas' messages stay out), their speakers and areas."""
    deployment = me.deployment
    programs = {p.id: p.name for p in me.programs()}
    titles = {m.id: m.title for m in me.messages()}
    return Names(
        messages=titles,
        programs=programs,
        speakers={s.id: s.name for s in me.speakers.values()},
        areas={a.id: a.name for a in me.areas.values()},
        users={_login(u): display_name(u) or _login(u) for u in users},
        schedules={
            s.id: programs[s.program_id] for s in deployment.schedules if s.program_id in programs
        },
        urgents={
            u.id: _short(u.text or titles.get(u.message_id or "", ""), 30)
            for u in urgents
            if u.text or u.message_id in titles
        },
    )


def _login(record: Any) -> str:
    user = getattr(record, "user", record)
    return str(user.name)


def display_name(record: Any) -> str:
    """A user's display name (a user record or a user), empty when none is set."""
    found = getattr(record, "display_name", None) or getattr(
        getattr(record, "user", None), "display_name", None
    )
    return str(found or "")


def run_label(me: Scope, items: Sequence[PlanItem], titles: Mapping[str, str]) -> str:
    """A run of a speaker's plan as people name it: the program and its messages for a loop
    ("甲村循环：全区通知、停水通知"), the text or title for an urgent, "self-test"."""
    first = items[0]
    seen: list[str] = []
    for item in items:
        title = titles.get(item.message_id or "")
        if title and title not in seen:
            seen.append(title)
    shown = "、".join(seen[:4]) + ("…" if len(seen) > 4 else "")
    if first.kind.value == "selftest":
        return _("Self-test")
    if first.kind.value == "urgent":
        urgent = next((u for u in me.deployment.urgents if u.id == first.urgent_id), None)
        what = shown or (_short(urgent.text) if urgent and urgent.text else "")
        return _("Urgent: %(what)s", what=what) if what else _("Urgent")
    program = _program_of(me, first.schedule_id)
    if program and shown:
        return f"{program}：{shown}"
    return program or shown or _("Loop")


def _program_of(me: Scope, schedule_id: str | None) -> str:
    if not schedule_id:
        return ""
    schedule = next((s for s in me.deployment.schedules if s.id == schedule_id), None)
    if schedule is None:
        return ""
    # A district-wide program is named to everyone it plays for (a driver too); an area's
    # own program only within reach.
    pid = schedule.program_id
    if me.owner("program", pid) is not None and not me.sees_owned("program", pid):
        return ""
    program = next((p for p in me.deployment.programs if p.id == pid), None)
    return program.name if program else ""


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- the audit log ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuditLine:
    seq: int
    at: str
    who: str
    what: str
    obj: str
    details: list[tuple[str, str]]
    address: str
    raw: str


def actor_text(actor: str, names: Names) -> str:
    if actor.startswith("user:"):
        return names.user(actor[5:])
    if actor.startswith("speaker:"):
        return _("Loudspeaker %(name)s", name=names.speaker(actor[8:]))
    return _(ACTORS[actor]) if actor in ACTORS else actor


def action_text(action: str) -> str:
    return _(ACTIONS[action]) if action in ACTIONS else action


def _object_text(action: str, obj: str, names: Names) -> str:
    family = action.split(".", 1)[0]
    if family == "message":
        return names.message(obj)
    if family == "program":
        return names.programs.get(obj, obj)
    if family == "schedule":
        program = names.schedules.get(obj)
        return _("Schedule of %(program)s", program=program) if program else obj
    if family in ("speaker", "route"):
        return names.speaker(obj)
    if family in ("user", "login", "logout"):
        return names.user(obj)
    if family == "area":
        return names.area(obj)
    if family == "token" and ":" in obj:
        kind, subject = obj.split(":", 1)
        if kind == "device":
            return _("Loudspeaker %(name)s", name=names.speaker(subject))
        return _("User %(name)s", name=names.user(subject))
    if family == "token":
        return _("Loudspeaker %(name)s", name=names.speaker(obj))
    if family == "urgent":
        what = names.urgents.get(obj)
        return _("Urgent: %(what)s", what=what) if what else _("Urgent announcement %(id)s", id=obj)
    if family == "lexicon":
        return _("Pronunciation lexicon")
    return obj


def _value(key: str, value: Any, names: Names) -> str:
    if value is None or value == [] or value == "":
        return _("none")
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list):
        return "、".join(_value(key, v, names) for v in value)
    text = str(value)
    lookup: dict[str, Callable[[str], str]] = {
        "area": names.area,
        "areas": names.area,
        "parent": names.area,
        "messages": names.message,
        "message": names.message,
        "speakers": names.speaker,
        "vehicle": names.speaker,
        "program": lambda i: names.programs.get(i, i),
        "role": role_text,
        "kind": lambda k: _(k) if k in ("fixed", "vehicle") else k,
    }
    if key in lookup:
        return lookup[key](text)
    if key == "reason" and text in LOGIN_FAILURES:
        return _(LOGIN_FAILURES[text])
    return text


def audit_line(entry: AuditEntry, names: Names, when: str) -> AuditLine:
    """One audit entry as fields people read (the stored record stays available as `raw`)."""
    detail = dict(entry.detail or {})
    details = [
        (_(FIELDS[key]) if key in FIELDS else key, _value(key, value, names))
        for key, value in detail.items()
    ]
    return AuditLine(
        seq=entry.seq,
        at=when,
        who=actor_text(entry.actor, names),
        what=action_text(entry.action),
        obj=_object_text(entry.action, entry.object, names),
        details=details,
        address=entry.remote_addr or "",
        raw=json.dumps(
            {"actor": entry.actor, "action": entry.action, "object": entry.object, **detail},
            ensure_ascii=False,
        ),
    )
