"""What the server's scheduled jobs do, each taking `now` (the scheduler shell owns the clock)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from audio.cache import Eviction
from broadcaster import planning, urgent
from broadcaster.plans import resolve_clips
from broadcaster.service import Service
from broadcaster.store import ClipStatus, Deployment, SpeakerStatus

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
        service.store.devices.record_clip(
            ClipStatus(clip.key, clip.fmt, now, message_id=message_id, duration_ms=clip.duration_ms,
                       sha256=clip.sha256, size=clip.size)
        )  # fmt: skip
        report.ready += 1
    for urgent_id, clip in by_urgent.items():
        service.store.devices.record_clip(
            ClipStatus(clip.key, clip.fmt, now, urgent_id=urgent_id, duration_ms=clip.duration_ms,
                       sha256=clip.sha256, size=clip.size)
        )  # fmt: skip
        report.ready += 1
    report.ready += 1 if selftest is not None else 0
    for problem in problems:
        name = problem.message_id or problem.urgent_id or "selftest"
        report.failed[name] = problem.reason
        service.store.devices.record_clip(
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
        for status in service.store.devices.speaker_statuses().values()
        if status.state != "offline" and not status.online(now, silence)
    ]
    # One transaction for all of them: a township's network going down at once must not
    # turn into a thousand commits while requests wait.
    with service.store.transaction():
        for status in went:
            service.store.devices.put_speaker_status(_with_state(status, "offline"))
            service.store.journal.append_audit(now, "scheduler", "speaker.offline", status.speaker_id,
                                       {"last_heartbeat": str(status.last_heartbeat)})  # fmt: skip
    names = sorted(status.speaker_id for status in went)
    if names:
        log.warning("offline (no heartbeat for %s): %s", silence, ", ".join(names))
    return names


def _with_state(status: SpeakerStatus, state: str) -> SpeakerStatus:
    from dataclasses import replace

    return replace(status, state=state)


def expire_urgents(service: Service, now: datetime, since: datetime) -> list[str]:
    """Urgents that expired in `(since, now]`: tell their speakers to stop repeating them
    (`urgent.expire`: the events and audit lines in one transaction); prune old events.

    Clients also enforce `expires_at` themselves; this covers a client whose clock is off.
    """
    expired = urgent.expire(service, now, since)
    if expired:
        service.store.devices.prune_events(now - timedelta(days=7))
    return expired


def collect_clips(service: Service, now: datetime) -> Eviction | None:
    """Keep the clip cache within `server.clip_cache_mb`: remove the least recently used
    clips that no current message, urgent, self-test or chime uses (previews, old versions).
    The clips of current plans stay, even over the budget (clients download them)."""
    library = service.library
    budget = library.budget_bytes
    if budget is None:
        return None
    keep = library.keys_in_use(service.deployment(now), service.settings.default_voice)
    cache = library.renderer.cache
    report = library.renderer.workers.run(lambda: cache.evict(budget, keep))
    library.forget_keys(clip.key for clip in report.removed)
    mb = 2**20
    if report.removed or report.leftovers:
        log.info(
            "clip cache: removed %d clip(s) (%.0f MB) and %.0f MB of leftovers; %.0f of %.0f MB",
            len(report.removed), sum(c.size for c in report.removed) / mb,
            report.leftovers / mb, report.after / mb, budget / mb,
        )  # fmt: skip
    if report.over_budget:
        log.warning(
            "clip cache: the clips in use alone take %.0f MB, over the budget of %.0f MB "
            "(server.clip_cache_mb)", report.referenced / mb, budget / mb,
        )  # fmt: skip
    return report
