"""Urgent announcements: validate, say who will hear them when, store, tell every target.

The first sound must come fast: the `urgent` event goes out before the speech is rendered
(with `clip: null` when it is not in the cache yet; speakers sound the cached chime at once)
and an `urgent_clip` event follows when the speech is ready. A send that no target can play
before it expires is refused with the reason for each speaker (`WillNotPlay`).
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from audio.errors import AudioError
from broadcaster import access, editing, limits, planning, schema
from broadcaster.clips import ClipFile
from broadcaster.errors import Forbidden, NotFound, ValidationError
from broadcaster.models import Message, PlayKind, Role, Speaker, Urgent, User
from broadcaster.plans import windows_union
from broadcaster.service import Service
from broadcaster.store import EventKind, UrgentAck
from broadcaster.store.records import Deployment

log = logging.getLogger(__name__)

PAGE_MAX = 200

# Why a target will not play (the `reason` of a target's coverage)
OFFLINE = "offline"
OUTSIDE_WINDOWS = "outside_windows_until_expiry"
BUSY = "busy_with_higher_priority"


@dataclass(frozen=True, slots=True)
class UrgentRequest:
    """An urgent announcement as a user asks for it (already parsed from JSON or a form)."""

    text: str | None = None
    message_id: str | None = None
    speaker_ids: tuple[str, ...] = ()
    area_ids: tuple[str, ...] = ()
    repeats: int = limits.REPEATS.default
    interval_s: float = limits.INTERVAL_S.default
    expires_at: datetime | None = None
    override_window: bool = False


@dataclass(frozen=True, slots=True)
class TargetCoverage:
    """When one target speaker will be heard: `plays_at`, or None and the `reason`."""

    speaker: str
    name: str
    online: bool
    plays_at: datetime | None
    reason: str | None
    last_seen: datetime | None
    if_back_in_time: bool = False  # offline: would play if it came back now

    @property
    def may_play(self) -> bool:
        return self.plays_at is not None or self.if_back_in_time


class WillNotPlay(ValidationError):
    """No target can play the announcement before it expires; nothing was stored."""

    code = "will_not_play"

    def __init__(self, targets: Sequence[TargetCoverage]) -> None:
        reasons = sorted({t.reason or "" for t in targets})
        super().__init__(
            "targets: no loudspeaker can play it before it expires (" + ", ".join(reasons) + ")"
        )
        self.targets = tuple(targets)


@dataclass(frozen=True, slots=True)
class Sent:
    """An urgent that was stored and announced (or, for a preview, would be)."""

    urgent: Urgent
    targets: tuple[TargetCoverage, ...]


@dataclass(frozen=True, slots=True)
class TargetState:
    """Where one target is with an urgent: offline, waiting, received, playing, played, cut,
    missed (expired unplayed) or cancelled (cancelled before it played)."""

    speaker: str
    name: str
    state: str
    plays_at: datetime | None
    reason: str | None
    last_seen: datetime | None
    ack: UrgentAck | None


@dataclass(frozen=True, slots=True)
class UrgentView:
    """An urgent announcement with its state and per-speaker acknowledgements."""

    urgent: Urgent
    state: str  # live | expired | cancelled
    targets: tuple[str, ...]
    acks: tuple[UrgentAck, ...]
    coverage: tuple[TargetState, ...] = ()

    def summary(self) -> dict[str, int]:
        """How many targets are in each state (only states that occur)."""
        counts: dict[str, int] = {}
        for target in self.coverage:
            counts[target.state] = counts.get(target.state, 0) + 1
        return counts


# -- coverage: who hears it when (pure) ----------------------------------------------------


def first_play(
    windows: Sequence[tuple[datetime, datetime]],
    busy: Sequence[tuple[datetime, datetime]],
    *,
    now: datetime,
    starts_at: datetime,
    expires_at: datetime,
    override: bool,
) -> tuple[datetime | None, str | None]:
    """When a speaker starts an urgent: at once, at the next window start (without
    `override`), or after the urgents already holding the air (`busy`); None and why when
    that is at or after `expires_at`. Mirrors the client's rules (docs/device-api.md)."""
    t = max(now, starts_at)
    by_busy = False
    for _ in range(2 * (len(windows) + len(busy)) + 2):
        moved = False
        if not override and not any(a <= t < b for a, b in windows):
            later = [a for a, _ in windows if a > t]
            if not later:
                return None, BUSY if by_busy else OUTSIDE_WINDOWS
            t, moved = min(later), True
        for a, b in busy:
            if a <= t < b:
                t, moved, by_busy = b, True, True
        if not moved or t >= expires_at:
            break
    if t >= expires_at:
        return None, BUSY if by_busy else OUTSIDE_WINDOWS
    return t, None


def coverage(
    service: Service,
    urgent: Urgent,
    targets: Sequence[str],
    now: datetime,
    deployment: Deployment | None = None,
) -> tuple[TargetCoverage, ...]:
    """Every target's `plays_at` (or reason), from its windows, its live urgents and whether
    it is online now. An offline target has no `plays_at` (reason `offline`); it still counts
    as one that may play when it would play if it came back now (`may_play`)."""
    deployment = deployment or service.deployment(now)
    speakers = {s.id: s for s in deployment.speakers}
    areas = {a.id: a for a in deployment.areas}
    statuses = service.statuses(targets)
    silence = service.offline_after()
    found = []
    for speaker_id in targets:
        speaker = speakers.get(speaker_id)
        status = statuses.get(speaker_id)
        online = status is not None and status.online(now, silence)
        last_seen = status.last_heartbeat if status else None
        name = speaker.name if speaker else speaker_id
        if speaker is None:
            found.append(TargetCoverage(speaker_id, name, False, None, OFFLINE, last_seen))
            continue
        windows = _windows(speaker, deployment, areas, service, now, urgent.expires_at)
        busy = _busy(service, speaker_id, urgent.id, now, deployment)
        plays_at, reason = first_play(
            windows,
            busy,
            now=now,
            starts_at=urgent.starts_at,
            expires_at=urgent.expires_at,
            override=urgent.override_window,
        )
        if not online:  # it plays when it comes back in time (from its plan), if it can
            found.append(
                TargetCoverage(
                    speaker_id, name, False, None, OFFLINE, last_seen, plays_at is not None
                )
            )
            continue
        found.append(TargetCoverage(speaker_id, name, True, plays_at, reason, last_seen))
    return tuple(found)


def _windows(
    speaker: Speaker,
    deployment: Deployment,
    areas: dict[str, Any],
    service: Service,
    now: datetime,
    until: datetime,
) -> list[tuple[datetime, datetime]]:
    mine = planning.schedules_for(speaker, deployment.schedules, areas)
    return windows_union(mine, service.settings.zone, now, until + timedelta(minutes=1))


def _busy(
    service: Service, speaker_id: str, urgent_id: str, now: datetime, deployment: Deployment
) -> list[tuple[datetime, datetime]]:
    """Urgent items of other announcements still to play on this speaker (they go first)."""
    try:
        items = service.plan(speaker_id, now, deployment).items
    except Exception:  # no plan, no known competition
        log.exception("cannot compute the plan of %s for coverage", speaker_id)
        return []
    return [
        (i.start, i.end)
        for i in items
        if i.kind is PlayKind.URGENT and i.urgent_id != urgent_id and i.end > now
    ]


# -- sending and cancelling ---------------------------------------------------------------


def send(
    service: Service,
    user: User,
    request: UrgentRequest,
    now: datetime,
    *,
    preview: bool = False,
    remote_addr: str | None = None,
) -> Sent:
    """Check the request against the user's role and areas, work out who will hear it when,
    store it and tell every target at once (the speech follows when rendered).

    The urgent, one `urgent` event per target and the `urgent.send` audit line commit in one
    transaction: every target gets it, with its audit line, or nothing is stored.
    With `preview` nothing is stored or sent: the answer says who would hear it when.
    Raises `WillNotPlay` (nothing stored) when no target can play it before it expires.
    """
    deployment = service.deployment(now)
    _validate(request, now)
    if user.role is Role.OPERATOR:
        raise Forbidden("operators cannot send urgent announcements")
    scope = editing.scope_for(user, service.store, deployment)
    for speaker_id in request.speaker_ids:  # the panel's checks: hidden answers as missing
        scope.speaker(speaker_id)
    for area_id in request.area_ids:
        scope.area(area_id)
    if request.override_window and user.role not in (Role.ADMIN, Role.CHIEF):
        raise Forbidden("override_window: only an admin or a chief may play outside the windows")
    targets = _targets(request.speaker_ids, request.area_ids, deployment)
    if not targets:
        raise ValidationError.at("speakers", "the chosen areas hold no loudspeaker")
    message = _message(scope, request)
    clip = _ready_clip(service, request, message)
    urgent = Urgent(
        id=f"u-{now:%Y%m%d}-{secrets.token_hex(4)}",
        created_at=now,
        starts_at=now,
        expires_at=request.expires_at or now + limits.DEFAULT_EXPIRY,
        text=request.text,
        message_id=request.message_id,
        speaker_ids=request.speaker_ids,
        area_ids=request.area_ids,
        repeats=request.repeats,
        interval_s=request.interval_s,
        override_window=request.override_window,
        created_by=user.name,
    )
    cover = coverage(service, urgent, targets, now, deployment)
    if not any(t.may_play for t in cover):
        raise WillNotPlay(cover)
    if preview:
        return Sent(urgent, cover)
    chime = _chime(service)
    payload = event_payload(urgent, clip, chime, service.library.chime_ms)
    store = service.store
    with store.transaction():
        store.urgents.create_urgent(
            urgent, [(sid, EventKind.URGENT, payload) for sid in targets], now
        )
        store.journal.append_audit(now, _actor(user), "urgent.send", urgent.id, _send_detail(urgent, cover),
                           remote_addr)  # fmt: skip
    service.notifier.publish(store.devices.last_event_seq())
    if clip is None:
        _render_later(service, urgent, request, message, targets)
    else:
        service.request_push()
    return Sent(urgent, cover)


def cancel(
    service: Service, user: User, urgent_id: str, now: datetime, *, remote_addr: str | None = None
) -> Urgent:
    """Cancel an urgent the user may see; the speakers playing it stop at once and, with the
    plan pushed right after, go on with their loop. The cancel, a `cancel` event per target
    and the `urgent.cancel` audit line commit together."""
    view = get(service, user, urgent_id, now)
    if user.role is Role.OPERATOR:
        raise Forbidden("operators cannot cancel urgent announcements")
    urgent = _stop(service, view.urgent, view.targets, now, {"urgent": urgent_id},
                   (_actor(user), "urgent.cancel", {}, remote_addr))  # fmt: skip
    service.request_push()
    return urgent


def expire(service: Service, now: datetime, since: datetime) -> list[str]:
    """Urgents that expired in `(since, now]` and were not cancelled: a `cancel` event
    (reason `expired`) to each of their targets, and an `urgent.expire` audit line each, all
    in one transaction. Clients also enforce `expires_at`; this covers a client whose clock
    is off. Returns their ids."""
    expired = [
        u for u in service.store.urgents.list_urgents(limit=500)
        if since < u.expires_at <= now and u.cancelled_at is None
    ]  # fmt: skip
    if not expired:
        return []
    deployment = service.deployment(now)
    store = service.store
    with store.transaction():
        for u in expired:
            targets = _targets(u.speaker_ids, u.area_ids, deployment)
            payload = {"urgent": u.id, "reason": "expired"}
            store.devices.append_events([(sid, EventKind.CANCEL, payload) for sid in targets], now)
            store.journal.append_audit(
                now, "scheduler", "urgent.expire", u.id, {"targets": len(targets)}
            )
    service.notifier.publish(store.devices.last_event_seq())
    return [u.id for u in expired]


def _stop(
    service: Service,
    urgent: Urgent,
    targets: Sequence[str],
    now: datetime,
    payload: dict[str, Any],
    audit: tuple[str, str, dict[str, Any], str | None],
) -> Urgent:
    """Cancel an urgent from `now` with a `cancel` event to every target and one audit line
    (actor, action, detail, address), in one transaction; then wake the long polls."""
    actor, action, detail, remote_addr = audit
    store = service.store
    with store.transaction():
        events = [(sid, EventKind.CANCEL, payload) for sid in targets]
        cancelled = store.urgents.cancel_urgent(urgent.id, now, events)
        store.journal.append_audit(now, actor, action, urgent.id, detail, remote_addr)
    service.notifier.publish(store.devices.last_event_seq())
    return cancelled


def _actor(user: User) -> str:
    """Who the audit log names for a user's action (as every panel and API line does)."""
    return f"user:{user.name}"


def _send_detail(urgent: Urgent, cover: Sequence[TargetCoverage]) -> dict[str, Any]:
    return {
        "text": urgent.text,
        "message": urgent.message_id,
        "speakers": list(urgent.speaker_ids),
        "areas": list(urgent.area_ids),
        "override_window": urgent.override_window,
        "targets": len(cover),
        "will_play": sum(1 for t in cover if t.plays_at is not None),
    }


def _message(scope: editing.Scope, request: UrgentRequest) -> Message | None:
    """The message to announce, if the user may use it: another area's own message is
    answered exactly like one that does not exist."""
    if request.message_id is None:
        return None
    try:
        return scope.message(request.message_id)
    except NotFound:
        raise ValidationError.at("message", f"no message {request.message_id!r}") from None


def _ready_clip(
    service: Service, request: UrgentRequest, message: Message | None
) -> ClipFile | None:
    """The clip if it is already rendered; None if it must be rendered (after the event).

    Checks what can be checked fast (the text can be spoken, the voice exists) so that a bad
    request is refused before anything is stored.
    """
    library = service.library
    try:
        if message is not None:
            return library.ready_for_message(message)
        assert request.text is not None
        return library.ready_for_text(request.text, service.settings.default_voice)
    except AudioError as exc:
        field = "text" if request.text is not None else "message"
        raise ValidationError.at(field, str(exc)) from exc


def _chime(service: Service) -> ClipFile | None:
    try:
        return service.library.chime()
    except AudioError:
        log.exception("cannot render the chime; urgents wait for their speech")
        return None


def _render_later(
    service: Service,
    urgent: Urgent,
    request: UrgentRequest,
    message: Message | None,
    targets: Sequence[str],
) -> None:
    """Render the speech off the request, then send `urgent_clip` (or `cancel` if it fails)."""

    def work() -> None:
        try:
            if message is not None:
                clip = service.library.for_message(message)
            else:
                assert request.text is not None
                clip = service.library.for_text(request.text, service.settings.default_voice)
        except Exception as exc:
            log.error("urgent %s: its speech cannot be rendered (%s); cancelling it", urgent.id,
                      exc)  # fmt: skip
            _stop(service, urgent, targets, service.clock(), {"urgent": urgent.id},
                  ("system", "urgent.render_failed", {"reason": str(exc)}, None))  # fmt: skip
        else:
            payload = schema.dump(
                schema.UrgentClipEvent.model_validate(
                    {"urgent": urgent.id, "clip": clip_json(clip)}
                )
            )
            service.store.devices.append_events(
                [(sid, EventKind.URGENT_CLIP, payload) for sid in targets], service.clock()
            )
            service.notifier.publish(service.store.devices.last_event_seq())
        service.request_push()

    threading.Thread(target=work, name=f"render-{urgent.id}", daemon=True).start()


# -- reading -------------------------------------------------------------------------------


def list_for(
    service: Service,
    user: User,
    now: datetime,
    limit: int = 50,
    before: str | None = None,
    *,
    with_coverage: bool = False,
) -> list[UrgentView]:
    """The urgent announcements whose targets the user may see, newest first; `before` an id
    pages on to older ones. Scans in batches so hidden ones do not shorten a page."""
    deployment = service.deployment(now)
    scope = editing.scope_for(user, service.store, deployment)
    if before is not None:
        get(service, user, before, now)  # 404 for ids the user may not see
    views: list[UrgentView] = []
    cursor = before
    while len(views) < limit:
        batch = service.store.urgents.list_urgents(limit=max(limit, 50), before=cursor)
        if not batch:
            break
        for urgent in batch:
            if not scope.sees_urgent(urgent):
                continue
            targets = _targets(urgent.speaker_ids, urgent.area_ids, deployment)
            views.append(_view(service, urgent, targets, now, deployment, with_coverage))
            if len(views) == limit:
                break
        cursor = batch[-1].id
    return views


def get(service: Service, user: User, urgent_id: str, now: datetime) -> UrgentView:
    """One urgent the user may see, with every target's state; NotFound otherwise (also when
    it exists but targets speakers beyond the user's reach)."""
    deployment = service.deployment(now)
    try:
        urgent = service.store.urgents.get_urgent(urgent_id)
    except NotFound:
        raise NotFound(f"no urgent announcement {urgent_id!r}") from None
    scope = editing.scope_for(user, service.store, deployment)
    if user.role is Role.OPERATOR or not scope.sees_urgent(urgent):
        raise NotFound(f"no urgent announcement {urgent_id!r}")
    targets = _targets(urgent.speaker_ids, urgent.area_ids, deployment)
    return _view(service, urgent, targets, now, deployment, True)


def _view(
    service: Service,
    urgent: Urgent,
    targets: Sequence[str],
    now: datetime,
    deployment: Deployment,
    with_coverage: bool,
) -> UrgentView:
    if urgent.cancelled_at is not None and urgent.cancelled_at <= now:
        state = "cancelled"
    elif urgent.expires_at <= now:
        state = "expired"
    else:
        state = "live"
    acks = service.store.urgents.urgent_acks(urgent.id)
    states: tuple[TargetState, ...] = ()
    if with_coverage:
        states = target_states(service, urgent, state, targets, acks, now, deployment)
    return UrgentView(urgent, state, tuple(targets), acks, states)


def target_states(
    service: Service,
    urgent: Urgent,
    state: str,
    targets: Sequence[str],
    acks: Iterable[UrgentAck],
    now: datetime,
    deployment: Deployment,
) -> tuple[TargetState, ...]:
    """Each target's state, from its acks, whether it is online and when it will play."""
    by_speaker = {a.speaker_id: a for a in acks}
    cover = {c.speaker: c for c in coverage(service, urgent, targets, now, deployment)}
    found = []
    for speaker_id in targets:
        c = cover[speaker_id]
        ack = by_speaker.get(speaker_id)
        plays_at, reason = c.plays_at, c.reason
        if ack is not None and ack.played_at is not None:
            what = "played"
        elif ack is not None and ack.cut_at is not None:
            what = "cut"
        elif ack is not None and ack.playing_at is not None:
            what = "playing" if state == "live" else "cut"
        elif state == "expired":
            what = "missed"
        elif state == "cancelled":
            what = "cancelled"
        elif not c.online:
            what = "offline"
        elif (
            ack is not None
            and ack.received_at is not None
            and (plays_at is None or plays_at <= now + timedelta(seconds=2))
        ):
            what = "received"
        else:
            what = "waiting"
        if what not in ("waiting", "received", "offline"):
            plays_at, reason = None, None
        found.append(TargetState(speaker_id, c.name, what, plays_at, reason, c.last_seen, ack))
    return tuple(found)


def _targets(speaker_ids: Sequence[str], area_ids: Sequence[str], deployment: Any) -> list[str]:
    areas = {a.id: a for a in deployment.areas}
    chosen = {s for s in speaker_ids}
    chosen |= {s.id for s in access.speakers_in(area_ids, deployment.speakers, areas)}
    return sorted(chosen)


def _validate(request: UrgentRequest, now: datetime) -> None:
    if (request.text is None) == (request.message_id is None):
        raise ValidationError.at("text", "give either a text or a message, not both")
    if request.text is not None and not request.text.strip():
        raise ValidationError.at("text", "the announcement text is empty")
    if not request.speaker_ids and not request.area_ids:
        raise ValidationError.at("speakers", "choose at least one loudspeaker or area")
    if request.repeats not in limits.REPEATS:
        raise ValidationError.at("repeats", f"must be from {limits.REPEATS}")
    if request.interval_s not in limits.INTERVAL_S:
        raise ValidationError.at("interval_s", f"must be from {limits.INTERVAL_S}")
    if request.expires_at is not None:
        if request.expires_at <= now:
            raise ValidationError.at("expires_at", "must be in the future")
        if request.expires_at > now + limits.MAX_EXPIRY:
            raise ValidationError.at("expires_at", f"at most {limits.MAX_EXPIRY.days} days ahead")


def clip_json(clip: ClipFile | None) -> dict[str, Any] | None:
    return None if clip is None else {"key": clip.key, **clip.to_json()}


def _keyed(clip: ClipFile | None) -> schema.KeyedClip | None:
    return None if clip is None else schema.KeyedClip.model_validate(clip_json(clip))


def event_payload(
    urgent: Urgent, clip: ClipFile | None, chime: ClipFile | None = None, chime_ms: int = 0
) -> dict[str, Any]:
    """The `urgent` event (`broadcaster.schema.UrgentEvent`; `clip` None: the speech is
    being rendered; an `urgent_clip` event follows)."""
    event = schema.UrgentEvent(
        id=urgent.id,
        clip=_keyed(clip),
        chime=_keyed(chime),
        speech_offset_ms=chime_ms,
        message=urgent.message_id,
        repeats=urgent.repeats,
        interval_s=urgent.interval_s,
        starts_at=urgent.starts_at,
        expires_at=urgent.expires_at,
        override_window=urgent.override_window,
    )
    return schema.dump(event)
