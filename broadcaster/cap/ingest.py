"""CAP alerts in (issue 15, docs/cap.md): refused, ignored, held or broadcast; approved or
rejected later; Updates and Cancels applied to what earlier alerts made.

`receive` is the one path every alert takes (the API, the feeds): parse safely and validate
(`document.parse`), check the sender against the source, recognise a repeated alert, then
for each info block of the chosen language decide by the policy and act. A refused document
is stored nowhere but the audit log (`cap.refused`, with its size and SHA-256, never its
content). The urgent announcements are made by `broadcaster.urgent` (its checks, coverage,
one transaction with the events and the audit line); the alert's rows are claimed first
(`store.cap.add`, unique by sender, identifier and part), so two deliveries of the same
alert at once make one urgent.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from broadcaster import editing, limits, urgent
from broadcaster.cap import document, signature
from broadcaster.cap.document import Alert, CapRefused, Info
from broadcaster.cap.policy import Action, decide, spoken_text
from broadcaster.cap.settings import CapSettings
from broadcaster.cap.targets import targets_of
from broadcaster.errors import Conflict, Forbidden, NotFound, ValidationError
from broadcaster.models import Role, User
from broadcaster.service import Service
from broadcaster.store import cap as rows
from broadcaster.store.cap import CapRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Origin:
    """Who handed us the alert: `source` names it in rules and the audit (`key:<id>`,
    `user:<name>`, `feed:<id>`); `senders` limits the <sender> values it may carry."""

    source: str
    senders: tuple[str, ...] = ()
    remote_addr: str | None = None
    certificates: tuple[str, ...] = ()  # any: the alert must be signed by one of them

    @property
    def name(self) -> str:
        """The source as rules name it: the configured id or the user's name."""
        return self.source.split(":", 1)[-1]


@dataclass
class Outcome:
    """What became of one alert: urgents made or changed, rows held, parts ignored (why)."""

    alert: str
    urgents: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    ignored: list[dict[str, Any]] = field(default_factory=list)
    repeated: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.urgents or self.held)


def cap_settings(service: Service) -> CapSettings:
    return service.settings.cap


def acting_user(origin: Origin) -> User:
    """Who urgents made at once by an alert are sent as: an admin named after the source
    (the audit says `user:cap:<source>`)."""
    return User(name=f"cap:{origin.name}", role=Role.ADMIN)


def chosen_infos(alert: Alert, language: str) -> list[tuple[int, Info]]:
    """The info blocks to act on, with their index: every block in the deployment's language,
    else in the same primary language (zh-TW for zh-CN), else in the first block's language
    (several infos in one language are several warnings; other languages are translations)."""
    if not alert.infos:
        return []
    wanted = language.lower()
    indexed = list(enumerate(alert.infos))
    for same in (
        lambda lang: lang == wanted,
        lambda lang: lang.split("-")[0] == wanted.split("-")[0],
        lambda lang: lang == alert.infos[0].language.lower(),
    ):
        found = [(n, i) for n, i in indexed if same(i.language.lower())]
        if found:
            return found
    return []


_SENTENCE = re.compile(r"(?<=[。！？!?.])")


def bounded_text(info: Info, max_chars: int) -> str:
    """The spoken text, cut at the last whole sentence within the renderer's limit."""
    text = spoken_text(info)
    if len(text) <= max_chars:
        return text
    kept = ""
    for sentence in _SENTENCE.split(text):
        if len(kept) + len(sentence) > max_chars:
            break
        kept += sentence
    return kept or text[:max_chars]


def _refuse(service: Service, origin: Origin, now: datetime, data: bytes, reason: str) -> None:
    service.store.journal.append_audit(
        now,
        origin.source,
        "cap.refused",
        "",
        {"reason": reason[:500], "bytes": len(data),
         "sha256": hashlib.sha256(data).hexdigest()},
        origin.remote_addr,
    )  # fmt: skip


def receive(service: Service, data: bytes, origin: Origin, now: datetime) -> Outcome:
    """Take one CAP document from `origin`; `CapRefused` (audited, nothing stored) if it is
    not accepted."""
    settings = cap_settings(service)
    try:
        alert = document.parse(data)
    except CapRefused as exc:
        _refuse(service, origin, now, data, str(exc))
        raise
    if origin.certificates:  # read what was signed, and only that
        try:
            alert = document.parse(signature.verify(data, origin.certificates))
        except CapRefused as exc:
            _refuse(service, origin, now, data, str(exc))
            raise
    if origin.senders and alert.sender not in origin.senders:
        reason = f"cap: the sender {alert.sender!r} is not one this source may send for"
        _refuse(service, origin, now, data, reason)
        raise CapRefused(reason)
    key = f"{alert.sender},{alert.identifier}"
    outcome = Outcome(key)
    store = service.store
    if store.cap.known(alert.sender, alert.identifier):
        outcome.repeated = True
        store.journal.append_audit(now, origin.source, "cap.repeated", key, {}, origin.remote_addr)
        return outcome
    if decide(alert, alert.infos[0] if alert.infos else _NO_INFO, origin.name) is Action.IGNORE:
        store.journal.append_audit(now, origin.source, "cap.ignored", key,
                                   {"status": alert.status, "msg_type": alert.msg_type},
                                   origin.remote_addr)  # fmt: skip
        outcome.ignored.append({"part": None, "reason": f"status {alert.status}"})
        return outcome
    text = data.decode("utf-8", errors="replace")
    if alert.msg_type == "Cancel":
        _cancel(service, alert, origin, now, text, outcome)
    else:
        _alert(service, settings, alert, origin, now, text, outcome)
    store.journal.append_audit(
        now, origin.source, "cap.receive", key,
        {"msg_type": alert.msg_type, "urgents": outcome.urgents, "held": outcome.held,
         "ignored": outcome.ignored},
        origin.remote_addr,
    )  # fmt: skip
    return outcome


_NO_INFO = Info(language="", categories=(), event="", urgency="", severity="", certainty="")


def _refs(alert: Alert) -> tuple[tuple[str, str], ...]:
    """The alerts an Update or Cancel may change: only its own sender's (a source cannot
    cancel or replace another sender's warning by naming it)."""
    return tuple((r.sender, r.identifier) for r in alert.references if r.sender == alert.sender)


def _row(alert: Alert, origin: Origin, now: datetime, part: int, info: Info | None,
         state: str, action: str, text: str, document_text: str, *,
         area_ids: Sequence[str] = (), speaker_ids: Sequence[str] = (),
         expires_at: datetime | None = None, override: bool = False) -> CapRecord:  # fmt: skip
    info = info or _NO_INFO
    return CapRecord(
        id=f"cap-{now:%Y%m%d}-{secrets.token_hex(4)}",
        source=origin.source,
        sender=alert.sender,
        identifier=alert.identifier,
        sent=alert.sent,
        part=part,
        msg_type=alert.msg_type,
        received_at=now,
        state=state,
        action=action,
        language=info.language,
        event=info.event,
        severity=info.severity,
        urgency=info.urgency,
        certainty=info.certainty,
        headline=info.headline,
        text=text,
        area_ids=tuple(area_ids),
        speaker_ids=tuple(speaker_ids),
        expires_at=expires_at,
        override_window=override,
        refs=_refs(alert),
        document=document_text,
    )


def _claim(service: Service, record: CapRecord, outcome: Outcome) -> bool:
    try:
        service.store.cap.add(record)
    except Conflict:  # the same alert delivered twice at once: the other delivery acts
        outcome.repeated = True
        return False
    return True


def _referenced(service: Service, alert: Alert) -> list[CapRecord]:
    found: list[CapRecord] = []
    for sender, identifier in _refs(alert):
        found.extend(service.store.cap.for_alert(sender, identifier))
    return found


def _cancel(service: Service, alert: Alert, origin: Origin, now: datetime, text: str,
            outcome: Outcome) -> None:  # fmt: skip
    """A Cancel: held rows of the referenced alerts are cancelled, their live urgents too.
    Cancelling is never held (stopping a warning its sender withdrew is always safe)."""
    earlier = _referenced(service, alert)
    record = _row(alert, origin, now, 0, alert.infos[0] if alert.infos else None,
                  rows.APPLIED if earlier else rows.IGNORED, "cancel", "", text)  # fmt: skip
    if not _claim(service, record, outcome):
        return
    if not earlier:
        outcome.ignored.append({"part": 0, "reason": "references no alert received here"})
        return
    _withdraw(service, earlier, origin, now, rows.CANCELLED, outcome)


def _withdraw(service: Service, earlier: Sequence[CapRecord], origin: Origin, now: datetime,
              state: str, outcome: Outcome) -> None:  # fmt: skip
    """Close held `earlier` rows and cancel the live urgents the others made."""
    store = service.store
    user = acting_user(origin)
    for row in earlier:
        if row.state == rows.HELD:
            try:
                store.cap.decide(row.id, state, by=origin.source, at=now, only_from=[rows.HELD])
                continue
            except Conflict:  # approved meanwhile: cancel what it made
                row = store.cap.get(row.id)
        if row.urgent_id is None or row.state not in (rows.BROADCAST, rows.APPROVED):
            continue
        if _cancel_urgent(service, user, row.urgent_id, now, origin.remote_addr):
            outcome.urgents.append(row.urgent_id)
        store.cap.decide(row.id, state, by=origin.source, at=now)


def _cancel_urgent(service: Service, user: User, urgent_id: str, now: datetime,
                   remote_addr: str | None) -> bool:  # fmt: skip
    """Cancel an urgent if it is still live; whether it was."""
    try:
        if urgent.get(service, user, urgent_id, now).state != "live":
            return False
        urgent.cancel(service, user, urgent_id, now, remote_addr=remote_addr)
    except (NotFound, Conflict):
        return False
    return True


def _expiry(info: Info, now: datetime) -> tuple[datetime | None, str | None]:
    """The urgent's expiry from `expires` (bounded by the longest we allow), or why none."""
    if info.expires is None:
        return now + limits.DEFAULT_EXPIRY, None
    if info.expires <= now:
        return None, "expired before it arrived"
    return min(info.expires, now + limits.MAX_EXPIRY), None


def _alert(service: Service, settings: CapSettings, alert: Alert, origin: Origin,
           now: datetime, text: str, outcome: Outcome) -> None:  # fmt: skip
    """An Alert or Update: each chosen info block held, broadcast or ignored."""
    deployment = service.deployment(now)
    max_chars = service.settings.render.max_chars
    plans: list[tuple[CapRecord, Action]] = []
    for part, info in chosen_infos(alert, settings.language):
        targets = targets_of(info, settings.geocodes, deployment)
        expires_at, late = _expiry(info, now)
        action = decide(alert, info, origin.name, settings.rules)
        reason = None
        if late:
            reason = late
        elif not targets:
            reason = "covers none of our areas or loudspeakers"
        elif action is Action.IGNORE:
            reason = "ignored by the rules"
        # a row to broadcast is claimed as such: the panel never offers it meanwhile
        state = rows.IGNORED if reason else rows.HELD if action is Action.HOLD else rows.BROADCAST
        record = _row(alert, origin, now, part, info, state, action.value,
                      bounded_text(info, max_chars), text, area_ids=targets.area_ids,
                      speaker_ids=targets.speaker_ids, expires_at=expires_at,
                      override=action is Action.BROADCAST_OVERRIDE)  # fmt: skip
        if not _claim(service, record, outcome):
            return
        if reason:
            outcome.ignored.append({"part": part, "reason": reason})
            continue
        plans.append((record, action))
    if alert.msg_type == "Update" and plans:
        earlier = _referenced(service, alert)
        _withdraw(service, [r for r in earlier if r.state == rows.HELD], origin, now,
                  rows.SUPERSEDED, outcome)  # fmt: skip
    for record, action in plans:
        if action is Action.HOLD:
            outcome.held.append(record.id)
            continue
        made = _broadcast(service, record, acting_user(origin), now, origin.remote_addr,
                          override=action is Action.BROADCAST_OVERRIDE)  # fmt: skip
        if made is None:  # it cannot play now: a person decides
            service.store.cap.decide(record.id, rows.HELD, by=None, at=now)
            outcome.held.append(record.id)
            continue
        urgent_id, cancelled = made
        service.store.cap.decide(record.id, rows.BROADCAST, by=origin.source, at=now,
                                 urgent_id=urgent_id)  # fmt: skip
        outcome.urgents += [urgent_id, *cancelled]


def _broadcast(service: Service, record: CapRecord, user: User, now: datetime,
               remote_addr: str | None, *,
               override: bool) -> tuple[str, list[str]] | None:  # fmt: skip
    """Make the urgent of a row (the Update's earlier urgents cancelled first): its id and
    those cancelled, or None when no target can play it before it expires."""
    request = urgent.UrgentRequest(
        text=record.text,
        speaker_ids=record.speaker_ids,
        area_ids=record.area_ids,
        repeats=2,
        interval_s=10.0,
        expires_at=record.expires_at,
        override_window=override,
    )
    try:  # refuse before cancelling anything: preview stores nothing
        urgent.send(service, user, request, now, preview=True)
    except urgent.WillNotPlay:
        return None
    except ValidationError as exc:
        log.warning("cap %s: cannot be broadcast at once (%s); held", record.id, exc)
        return None
    cancelled = _supersede(service, record, user, now, remote_addr)
    sent = urgent.send(service, user, request, now, remote_addr=remote_addr)
    return sent.urgent.id, cancelled


def _supersede(service: Service, record: CapRecord, user: User, now: datetime,
               remote_addr: str | None) -> list[str]:  # fmt: skip
    """An Update about to play: the urgents its referenced alerts made are cancelled (those
    still live are returned)."""
    if record.msg_type != "Update":
        return []
    store = service.store
    cancelled = []
    for sender, identifier in record.refs:
        for row in store.cap.for_alert(sender, identifier):
            if row.urgent_id is None or row.state not in (rows.BROADCAST, rows.APPROVED):
                continue
            if _cancel_urgent(service, user, row.urgent_id, now, remote_addr):
                cancelled.append(row.urgent_id)
            store.cap.decide(row.id, rows.SUPERSEDED, by=_actor(user), at=now)
    return cancelled


def _actor(user: User) -> str:
    return user.name if user.name.startswith("cap:") else f"user:{user.name}"


# -- held alerts in the panel ---------------------------------------------------------------


def visible_held(service: Service, user: User, now: datetime) -> list[CapRecord]:
    """Held alerts not yet expired whose targets include one of the user's loudspeakers (an
    admin sees all; operators none)."""
    if user.role not in (Role.ADMIN, Role.CHIEF):
        return []
    deployment = service.deployment(now)
    scope = editing.scope_for(user, service.store, deployment)
    found = []
    for row in service.store.cap.list(states=[rows.HELD]):
        if row.expires_at is not None and row.expires_at <= now:
            continue
        if user.role is Role.ADMIN or set(covered(row, deployment)) & scope.speakers.keys():
            found.append(row)
    return found


def covered(row: CapRecord, deployment: Any) -> list[str]:
    """The loudspeakers a row targets."""
    return urgent._targets(row.speaker_ids, row.area_ids, deployment)


def approve(service: Service, user: User, row_id: str, now: datetime, *,
            override: bool | None = None, remote_addr: str | None = None) -> str:  # fmt: skip
    """A held alert becomes an urgent sent as `user` (the urgent's checks apply: a chief
    approves alerts within their areas); its id. Conflict if decided meanwhile."""
    row = _held_for(service, user, row_id, now)
    if user.role not in (Role.ADMIN, Role.CHIEF):
        raise Forbidden("only an admin or a chief may approve CAP alerts")
    store = service.store
    store.cap.decide(row.id, rows.APPROVED, by=f"user:{user.name}", at=now,
                     only_from=[rows.HELD])  # fmt: skip
    try:
        request = urgent.UrgentRequest(
            text=row.text,
            speaker_ids=row.speaker_ids,
            area_ids=row.area_ids,
            repeats=2,
            interval_s=10.0,
            expires_at=row.expires_at,
            override_window=row.override_window if override is None else override,
        )
        urgent.send(service, user, request, now, preview=True)
        _supersede(service, row, user, now, remote_addr)
        sent = urgent.send(service, user, request, now, remote_addr=remote_addr)
    except BaseException:
        store.cap.decide(row.id, rows.HELD, by=None, at=now)  # back, for someone to retry
        raise
    store.cap.decide(row.id, rows.APPROVED, by=f"user:{user.name}", at=now,
                     urgent_id=sent.urgent.id)  # fmt: skip
    store.journal.append_audit(now, f"user:{user.name}", "cap.approve", row.id,
                               {"urgent": sent.urgent.id, "alert": row.identifier},
                               remote_addr)  # fmt: skip
    return sent.urgent.id


def reject(service: Service, user: User, row_id: str, now: datetime, *,
           remote_addr: str | None = None) -> None:  # fmt: skip
    """A held alert is not broadcast; audited."""
    row = _held_for(service, user, row_id, now)
    with service.store.transaction():
        service.store.cap.decide(row.id, rows.REJECTED, by=f"user:{user.name}", at=now,
                                 only_from=[rows.HELD])  # fmt: skip
        service.store.journal.append_audit(now, f"user:{user.name}", "cap.reject", row.id,
                                           {"alert": row.identifier}, remote_addr)  # fmt: skip


def _held_for(service: Service, user: User, row_id: str, now: datetime) -> CapRecord:
    """A row the user may decide on (admins: any; chiefs: every target theirs)."""
    try:
        row = service.store.cap.get(row_id)
    except NotFound:
        raise NotFound(f"no held CAP alert {row_id!r}") from None
    if user.role not in (Role.ADMIN, Role.CHIEF):
        raise NotFound(f"no held CAP alert {row_id!r}")
    if user.role is Role.CHIEF:
        deployment = service.deployment(now)
        scope = editing.scope_for(user, service.store, deployment)
        targets = set(covered(row, deployment))
        if not targets & scope.speakers.keys():
            raise NotFound(f"no held CAP alert {row_id!r}")
        if not targets <= scope.speakers.keys():
            raise Forbidden("this alert also covers loudspeakers outside your areas: "
                            "an admin decides it")  # fmt: skip
    if row.state != rows.HELD:
        raise Conflict(f"cap: alert {row_id} is already {row.state}")
    return row
