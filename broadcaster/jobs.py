"""What the server's scheduled jobs do, each taking `now` (the scheduler shell owns the clock)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from audio.cache import Eviction
from broadcaster import planning, urgent
from broadcaster.catalog import RECORDING_NAME
from broadcaster.plans import resolve_clips
from broadcaster.service import Service
from broadcaster.store import ClipStatus, Deployment
from broadcaster.store.devices import day_bounds
from broadcaster.store.retention import first_detail_day

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
    # One statement that rechecks each speaker's time itself (a heartbeat arriving meanwhile
    # is kept), and the audit lines in one more: a township's network going down at once
    # must not turn into a thousand commits, or rows locked for seconds, while requests wait.
    with service.store.transaction():
        went = service.store.devices.mark_offline(now, silence)
        service.store.journal.append_audits(
            now, "scheduler", "speaker.offline",
            [(speaker, {"last_heartbeat": str(last)}) for speaker, last in went],
        )  # fmt: skip
    names = sorted(speaker for speaker, _last in went)
    if names:
        log.warning("offline (no heartbeat for %s): %s", silence, ", ".join(names))
    return names


def expire_urgents(service: Service, now: datetime, since: datetime) -> list[str]:
    """Urgents that expired in `(since, now]`: tell their speakers to stop repeating them
    (`urgent.expire`: the events and audit lines in one transaction). Old events are
    deleted by `prune_events`.

    Clients also enforce `expires_at` themselves; this covers a client whose clock is off.
    """
    return urgent.expire(service, now, since)


def collect_clips(service: Service, now: datetime) -> Eviction | None:
    """Keep the clip cache within `server.clip_cache_mb`: remove the least recently used
    clips that no current message, urgent, self-test or chime uses (previews, old versions).
    The clips of current plans stay, even over the budget (clients download them). Also
    removes the uploaded recordings no message uses any more (`forget_unused_recordings`)."""
    forget_unused_recordings(service, now)
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


RECORDING_GRACE = timedelta(days=1)  # an upload waiting for its Save or its Send


def forget_unused_recordings(service: Service, now: datetime) -> list[str]:
    """Remove the uploaded recordings (`data/recordings/<sha256>.<ext>`) that no message uses
    (replaced by another, or their message deleted) and that were written more than
    RECORDING_GRACE ago (an upload waits for its Save, or an urgent's for its Send, before a
    message names it). The live pages' WAVs (`recordings/live/`) are kept: they are the
    record of what was said. Returns the names removed."""
    folder = service.library.recordings
    try:
        found = [p for p in folder.iterdir() if RECORDING_NAME.fullmatch(p.name)]
    except FileNotFoundError:
        return []
    if not found:
        return []
    used = {m.recording for m in service.store.content.list_messages() if m.recording}
    oldest = (now - RECORDING_GRACE).timestamp()
    removed = []
    for path in found:
        try:
            if path.name in used or not path.is_file() or path.stat().st_mtime > oldest:
                continue
            path.unlink()
        except FileNotFoundError:
            continue
        removed.append(path.name)
    if removed:
        log.info("removed %d recording(s) no message uses: %s", len(removed), ", ".join(removed))
    return removed


# -- data that grows is bounded (issue 14): each job works in short batches, gives the other
# greenlets their turn between them, and stops after RUN_FOR; the next run goes on.
RESEND_WINDOW = timedelta(days=7)  # a play received this recently stays (a resend finds it)
PLAY_BATCH = 500  # ~25 ms a batch on SQLite (a 2-core machine under load)
PRUNE_BATCH = 2000  # ~12-20 ms a batch on SQLite
RUN_FOR_S = 20.0


def _in_batches(step: Callable[[], int], run_for_s: float = RUN_FOR_S) -> int:
    """Call `step` (one batch, returns how many rows it did) until it does none or
    `run_for_s` have passed; returns the rows done."""
    done = 0
    started = time.monotonic()
    while True:
        count = step()
        done += count
        if count == 0 or time.monotonic() - started >= run_for_s:
            return done
        time.sleep(0)  # gevent: let requests run between batches


def retire_plays(service: Service, now: datetime, *, batch: int = PLAY_BATCH) -> int:
    """Fold the plays of days before the last `retention.plays_days` into the daily totals
    per loudspeaker and message (kept for good) and delete their rows; a play received in
    the last RESEND_WINDOW waits (a client's resend must still find it by its id)."""
    zone = service.settings.zone
    days = service.settings.retention.plays_days
    before = day_bounds(first_detail_day(now.astimezone(zone).date(), days), zone)[0]
    retention = service.store.retention
    done = _in_batches(
        lambda: retention.retire_plays(before, now - RESEND_WINDOW, zone, limit=batch)
    )
    if done:
        log.info("retired %d play(s) older than %d days into the daily totals", done, days)
    return done


def prune_events(service: Service, now: datetime, *, batch: int = PRUNE_BATCH) -> int:
    """Delete the long-poll events older than `retention.events_days`."""
    before = now - timedelta(days=service.settings.retention.events_days)
    retention = service.store.retention
    done = _in_batches(lambda: retention.prune_events(before, limit=batch))
    if done:
        log.info("deleted %d event(s) older than %s", done, before.isoformat())
    return done


def prune_tracks(service: Service, now: datetime, *, batch: int = PRUNE_BATCH) -> int:
    """Delete the vehicles' GPS points older than `retention.track_days`."""
    before = now - timedelta(days=service.settings.retention.track_days)
    retention = service.store.retention
    done = _in_batches(lambda: retention.prune_tracks(before, limit=batch))
    if done:
        log.info("deleted %d track point(s) older than %s", done, before.isoformat())
    return done


RETENTION_EVERY = timedelta(hours=1)
RETENTION_FIRST = timedelta(minutes=5)  # after a start: not while clients reconnect
# The scheduler runs each of these every RETENTION_EVERY (the job's name: what it does).
RETENTION_JOBS: dict[str, Callable[[Service, datetime], int]] = {
    "retire-plays": retire_plays,
    "prune-events": prune_events,
    "prune-tracks": prune_tracks,
}
