"""What the server's scheduled jobs do, each taking `now` (the scheduler shell owns the clock)."""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from broadcaster import planning
from broadcaster.plans import resolve_clips
from broadcaster.service import Service
from broadcaster.store import ClipStatus, Deployment, EventKind, SpeakerStatus

log = logging.getLogger(__name__)


@dataclass(slots=True)
class PrerenderReport:
    """Clips rendered (or found) and the messages that failed, with why."""

    ready: int = 0
    failed: dict[str, str] = field(default_factory=dict)


def messages_due(deployment: Deployment, service: Service, now: datetime, hours: int) -> set[str]:
    """Messages of programs whose windows open within the next `hours`."""
    zone = service.settings.zone
    programs = {p.id: p for p in deployment.programs}
    due: set[str] = set()
    for schedule in deployment.schedules:
        program = programs.get(schedule.program_id)
        if program is None or not schedule.enabled:
            continue
        if planning.windows(schedule, zone, now, now + timedelta(hours=hours)):
            due.update(program.message_ids)
    return due


def prerender(service: Service, now: datetime) -> PrerenderReport:
    """Render every clip needed in the next `prerender_hours`; failures go to the store
    (the dashboard shows them before the window opens)."""
    deployment = service.deployment(now)
    due = messages_due(deployment, service, now, service.settings.server.prerender_hours)
    by_message, by_urgent, selftest, problems = resolve_clips(
        deployment, service.library, service.settings.default_voice, due
    )
    report = PrerenderReport()
    for message_id, clip in by_message.items():
        service.store.record_clip(
            ClipStatus(clip.key, clip.fmt, now, message_id=message_id, duration_ms=clip.duration_ms,
                       sha256=clip.sha256, size=clip.size)
        )  # fmt: skip
        report.ready += 1
    for urgent_id, clip in by_urgent.items():
        service.store.record_clip(
            ClipStatus(clip.key, clip.fmt, now, urgent_id=urgent_id, duration_ms=clip.duration_ms,
                       sha256=clip.sha256, size=clip.size)
        )  # fmt: skip
        report.ready += 1
    report.ready += 1 if selftest is not None else 0
    for problem in problems:
        name = problem.message_id or problem.urgent_id or "selftest"
        report.failed[name] = problem.reason
        service.store.record_clip(
            ClipStatus(f"failed-{name}", "wav", now, message_id=problem.message_id,
                       urgent_id=problem.urgent_id, error=problem.reason)
        )  # fmt: skip
    if report.failed:
        log.error("pre-render: %d clip(s) failed: %s", len(report.failed), report.failed)
    return report


def mark_offline(service: Service, now: datetime) -> list[str]:
    """Speakers silent for three heartbeats become `offline` (logged and audited once)."""
    silence = service.offline_after()
    went = [
        status
        for status in service.store.speaker_statuses().values()
        if status.state != "offline" and not status.online(now, silence)
    ]
    # One transaction for all of them: a township's network going down at once must not
    # turn into a thousand commits while requests wait.
    with service.store.transaction():
        for status in went:
            service.store.put_speaker_status(_with_state(status, "offline"))
            service.store.append_audit(now, "scheduler", "speaker.offline", status.speaker_id,
                                       {"last_heartbeat": str(status.last_heartbeat)})  # fmt: skip
    names = sorted(status.speaker_id for status in went)
    if names:
        log.warning("offline (no heartbeat for %s): %s", silence, ", ".join(names))
    return names


def _with_state(status: SpeakerStatus, state: str) -> SpeakerStatus:
    from dataclasses import replace

    return replace(status, state=state)


def expire_urgents(service: Service, now: datetime, since: datetime) -> list[str]:
    """Urgents that expired in `(since, now]`: tell their speakers to stop repeating them.

    Clients also enforce `expires_at` themselves; this covers a client whose clock is off.
    """
    expired = [
        u for u in service.store.list_urgents(limit=500)
        if since < u.expires_at <= now and u.cancelled_at is None
    ]  # fmt: skip
    if not expired:
        return []
    deployment = service.deployment(now)
    areas = {a.id: a for a in deployment.areas}
    events = []
    for urgent in expired:
        targets = set(urgent.speaker_ids)
        targets |= {
            s.id
            for s in deployment.speakers
            if set(urgent.area_ids) & set(planning.area_chain(s.area_id, areas))
        }
        payload = {"urgent": urgent.id, "reason": "expired"}
        events += [(speaker_id, EventKind.CANCEL, payload) for speaker_id in sorted(targets)]
    last = service.store.append_events(events, now)  # all targets or none
    service.notifier.publish(last)
    service.store.prune_events(now - timedelta(days=7))
    return [u.id for u in expired]


def rollup_plays(service: Service, now: datetime) -> dict[str, dict[str, int]]:
    """Plays per speaker per local hour for today, kept in `meta` as `plays:YYYY-MM-DD`."""
    zone = service.settings.zone
    day = now.astimezone(zone).date()
    start = planning.wall_time(day, datetime.min.time(), zone)
    counts: dict[str, Counter[str]] = {}
    for play in service.store.plays(start, now):
        hour = f"{play.started_at.astimezone(zone).hour:02d}"
        counts.setdefault(play.speaker_id, Counter())[hour] += 1
    rollup = {speaker: dict(sorted(hours.items())) for speaker, hours in sorted(counts.items())}
    service.store.set_meta(f"plays:{day.isoformat()}", json.dumps(rollup))
    return rollup
