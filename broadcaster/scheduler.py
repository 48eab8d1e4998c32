"""The APScheduler shell: exactly one per database, jobs derived from the database.

A lease in the database makes a second `serve` on the same database refuse to start its
scheduler. Jobs read the clock once and pass `now` down to `broadcaster.jobs`.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger

from broadcaster import jobs
from broadcaster.errors import Conflict
from broadcaster.service import Service

log = logging.getLogger(__name__)

LEASE = "scheduler"
LEASE_TTL = timedelta(seconds=30)


def _scheduler_class() -> type[BaseScheduler]:
    try:
        from gevent import monkey

        if monkey.is_module_patched("threading"):
            from apscheduler.schedulers.gevent import GeventScheduler

            return GeventScheduler
    except ImportError:
        pass
    from apscheduler.schedulers.background import BackgroundScheduler

    return BackgroundScheduler


def _dead_local_process(owner: str) -> bool:
    """True if `owner` (host:pid) names a process on this host that no longer runs."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class SchedulerShell:
    """Starts, feeds and stops the server-side jobs."""

    def __init__(self, service: Service, clock: Callable[[], datetime]) -> None:
        self.service = service
        self.clock = clock
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self._last_expiry_check = clock()
        self._revision = -1
        self._scheduler: BaseScheduler | None = None

    def start(self) -> None:
        """Take the lease and start; `Conflict` if another process runs the scheduler."""
        store = self.service.store
        now = self.clock()
        holder = store.lease_holder(LEASE, now)
        if holder is not None and _dead_local_process(holder):
            # A server on this machine was killed without releasing it: take over now.
            log.warning("taking over the scheduler lease of %s (process is gone)", holder)
            store.release_lease(LEASE, holder)
        if not store.acquire_lease(LEASE, self.owner, now, LEASE_TTL):
            holder = store.lease_holder(LEASE, now)
            raise Conflict(
                f"another broadcaster server ({holder}) already runs the scheduler on this "
                "database; run only one `broadcaster serve` per database"
            )
        settings = self.service.settings
        scheduler = _scheduler_class()(
            timezone=settings.zone,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
        )
        every = scheduler.add_job
        every(self._guard(self._renew), "interval", seconds=10, id="lease")
        every(
            self._guard(self._prerender), "interval", minutes=10, id="prerender", next_run_time=now
        )
        every(self._guard(self._offline), "interval", seconds=5, id="offline")
        every(self._guard(self._expire), "interval", seconds=15, id="expire")
        every(self._guard(self._rollup), "cron", minute="*/15", id="rollup")
        every(
            self._guard(self._sync_window_jobs),
            "interval",
            seconds=30,
            id="sync",
            next_run_time=now,
        )
        scheduler.start()
        self._scheduler = scheduler
        log.info("scheduler started (%s, zone %s)", self.owner, settings.zone.key)

    def stop(self) -> None:
        """Stop the jobs and give the lease back."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        try:
            self.service.store.release_lease(LEASE, self.owner)
        except Exception:
            log.exception("could not release the scheduler lease")

    def job_ids(self) -> list[str]:
        """The ids of the scheduled jobs (for tests and the dashboard)."""
        return sorted(job.id for job in self._scheduler.get_jobs()) if self._scheduler else []

    def _guard(self, job: Callable[[datetime], Any]) -> Callable[[], None]:
        # A job boundary: log with the traceback and keep the scheduler running.
        def run() -> None:
            try:
                job(self.clock())
            except Exception:
                log.exception("scheduled job %s failed", getattr(job, "__name__", job))

        run.__name__ = getattr(job, "__name__", "job")
        return run

    def _renew(self, now: datetime) -> None:
        if not self.service.store.acquire_lease(LEASE, self.owner, now, LEASE_TTL):
            log.critical("lost the scheduler lease to another process: stopping this scheduler")
            if self._scheduler is not None:
                self._scheduler.shutdown(wait=False)
                self._scheduler = None

    def _prerender(self, now: datetime) -> None:
        report = jobs.prerender(self.service, now)
        log.info("pre-render: %d clip(s) ready, %d failed", report.ready, len(report.failed))

    def _offline(self, now: datetime) -> None:
        jobs.mark_offline(self.service, now)

    def _expire(self, now: datetime) -> None:
        jobs.expire_urgents(self.service, now, self._last_expiry_check)
        self._last_expiry_check = now

    def _rollup(self, now: datetime) -> None:
        jobs.rollup_plays(self.service, now)

    def _sync_window_jobs(self, now: datetime) -> None:
        """One job per schedule, 30 minutes before its window opens, to render its clips:
        rebuilt from the database whenever the catalog changes."""
        revision = self.service.store.catalog_revision()
        if revision == self._revision or self._scheduler is None:
            return
        self._revision = revision
        for job in self._scheduler.get_jobs():
            if job.id.startswith("window:"):
                job.remove()
        for schedule in self.service.deployment(now).schedules:
            if not schedule.enabled:
                continue
            start = schedule.start.hour * 60 + schedule.start.minute - 30
            minutes = start % 1440
            # Half an hour before a window that opens just after midnight is the day before.
            days = sorted({(d - 1) % 7 if start < 0 else d for d in schedule.weekdays})
            trigger = CronTrigger(
                day_of_week=",".join(str(d) for d in days),
                hour=minutes // 60,
                minute=minutes % 60,
                timezone=self.service.settings.zone,
            )
            self._scheduler.add_job(
                self._guard(self._prerender), trigger, id=f"window:{schedule.id}",
                misfire_grace_time=600,
            )  # fmt: skip
