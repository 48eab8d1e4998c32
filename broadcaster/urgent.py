"""Urgent announcements: validate, render, store, and tell every target speaker at once."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from audio.errors import AudioError
from broadcaster import access
from broadcaster.clips import ClipFile
from broadcaster.errors import Forbidden, NotFound, ValidationError
from broadcaster.models import Role, Urgent, User
from broadcaster.service import Service
from broadcaster.store import EventKind, UrgentAck

MAX_REPEATS = 20
MAX_INTERVAL_S = 3600
DEFAULT_EXPIRY = timedelta(hours=1)
MAX_EXPIRY = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class UrgentRequest:
    """An urgent announcement as a user asks for it (already parsed from JSON or a form)."""

    text: str | None = None
    message_id: str | None = None
    speaker_ids: tuple[str, ...] = ()
    area_ids: tuple[str, ...] = ()
    repeats: int = 1
    interval_s: float = 0.0
    expires_at: datetime | None = None
    override_window: bool = False


@dataclass(frozen=True, slots=True)
class UrgentView:
    """An urgent announcement with its state and per-speaker acknowledgements."""

    urgent: Urgent
    state: str  # live | expired | cancelled
    targets: tuple[str, ...]
    acks: tuple[UrgentAck, ...]


def send(service: Service, user: User, request: UrgentRequest, now: datetime) -> Urgent:
    """Check the request against the user's role and areas, render it, store it, notify."""
    deployment = service.deployment(now)
    areas = {a.id: a for a in deployment.areas}
    _validate(request, now)
    if request.override_window and user.role is not Role.ADMIN:
        raise Forbidden("override_window: only an admin may play outside the windows")
    if user.role is Role.OPERATOR:
        raise Forbidden("operators cannot send urgent announcements")
    for speaker_id in request.speaker_ids:
        access.require_speaker(user, speaker_id, deployment.speakers, areas)
    for area_id in request.area_ids:
        access.require_area(user, area_id, areas)
    targets = _targets(request.speaker_ids, request.area_ids, deployment)
    if not targets:
        raise ValidationError("speakers: the chosen areas hold no loudspeaker")
    clip = _render(service, request, deployment)
    urgent = Urgent(
        id=f"u-{now:%Y%m%d}-{secrets.token_hex(4)}",
        created_at=now,
        starts_at=now,
        expires_at=request.expires_at or now + DEFAULT_EXPIRY,
        text=request.text,
        message_id=request.message_id,
        speaker_ids=request.speaker_ids,
        area_ids=request.area_ids,
        repeats=request.repeats,
        interval_s=request.interval_s,
        override_window=request.override_window,
        created_by=user.name,
    )
    service.store.create_urgent(urgent)
    payload = event_payload(urgent, clip)
    last = 0
    for speaker_id in targets:
        last = service.store.append_event(speaker_id, EventKind.URGENT, payload, now)
    service.notifier.publish(last)
    return urgent


def cancel(service: Service, user: User, urgent_id: str, now: datetime) -> Urgent:
    """Cancel an urgent the user may see; the speakers playing it stop at once."""
    view = _visible(service, user, urgent_id, now)
    if user.role is Role.OPERATOR:
        raise Forbidden("operators cannot cancel urgent announcements")
    urgent = service.store.cancel_urgent(urgent_id, now)
    last = 0
    for speaker_id in view.targets:
        last = service.store.append_event(speaker_id, EventKind.CANCEL, {"urgent": urgent_id}, now)
    service.notifier.publish(last)
    return urgent


def list_for(service: Service, user: User, now: datetime, limit: int = 50) -> list[UrgentView]:
    """The urgent announcements whose targets the user may see, newest first."""
    deployment = service.deployment(now)
    areas = {a.id: a for a in deployment.areas}
    mine = {s.id for s in access.visible_speakers(user, deployment.speakers, areas)}
    views = []
    for urgent in service.store.list_urgents(limit=limit):
        targets = _targets(urgent.speaker_ids, urgent.area_ids, deployment)
        if user.role is not Role.ADMIN and not set(targets) <= mine:
            continue
        views.append(_view(service, urgent, targets, now))
    return views


def _visible(service: Service, user: User, urgent_id: str, now: datetime) -> UrgentView:
    for view in list_for(service, user, now, limit=1000):
        if view.urgent.id == urgent_id:
            return view
    raise NotFound(f"no urgent announcement {urgent_id!r}")


def _view(service: Service, urgent: Urgent, targets: Sequence[str], now: datetime) -> UrgentView:
    if urgent.cancelled_at is not None and urgent.cancelled_at <= now:
        state = "cancelled"
    elif urgent.expires_at <= now:
        state = "expired"
    else:
        state = "live"
    return UrgentView(urgent, state, tuple(targets), service.store.urgent_acks(urgent.id))


def _targets(speaker_ids: Sequence[str], area_ids: Sequence[str], deployment: Any) -> list[str]:
    areas = {a.id: a for a in deployment.areas}
    chosen = {s for s in speaker_ids}
    chosen |= {s.id for s in access.speakers_in(area_ids, deployment.speakers, areas)}
    return sorted(chosen)


def _validate(request: UrgentRequest, now: datetime) -> None:
    if (request.text is None) == (request.message_id is None):
        raise ValidationError("text: give either a text or a message, not both")
    if request.text is not None and not request.text.strip():
        raise ValidationError("text: the announcement text is empty")
    if not request.speaker_ids and not request.area_ids:
        raise ValidationError("speakers: choose at least one loudspeaker or area")
    if not 1 <= request.repeats <= MAX_REPEATS:
        raise ValidationError(f"repeats: must be from 1 to {MAX_REPEATS}")
    if not 0 <= request.interval_s <= MAX_INTERVAL_S:
        raise ValidationError(f"interval_s: must be from 0 to {MAX_INTERVAL_S} seconds")
    if request.expires_at is not None:
        if request.expires_at <= now:
            raise ValidationError("expires_at: must be in the future")
        if request.expires_at > now + MAX_EXPIRY:
            raise ValidationError("expires_at: at most 7 days ahead")


def _render(service: Service, request: UrgentRequest, deployment: Any) -> ClipFile:
    try:
        if request.text is not None:
            return service.library.for_text(request.text, service.settings.default_voice)
        message = next((m for m in deployment.messages if m.id == request.message_id), None)
        if message is None:
            raise ValidationError(f"message: no message {request.message_id!r}")
        return service.library.for_message(message)
    except AudioError as exc:
        field = "text" if request.text is not None else "message"
        raise ValidationError(f"{field}: {exc}") from exc


def event_payload(urgent: Urgent, clip: ClipFile) -> dict[str, Any]:
    """The `urgent` event as the device API contract describes it."""
    return {
        "id": urgent.id,
        "clip": {"key": clip.key, **clip.to_json()},
        "message": urgent.message_id,
        "repeats": urgent.repeats,
        "interval_s": urgent.interval_s,
        "starts_at": urgent.starts_at.isoformat(),
        "expires_at": urgent.expires_at.isoformat(),
        "override_window": urgent.override_window,
    }
