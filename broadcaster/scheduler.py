"""The APScheduler shell: exactly one per database, jobs derived from the database.

A lease in the database makes a second `serve` on the same database refuse to start its
scheduler. Jobs read the clock once and pass `now` down to `broadcaster.jobs`.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger

from broadcaster import jobs
from broadcaster.cap.feeds import FeedPoller
from broadcaster.errors import Conflict
from broadcaster.service import Service

log = logging.getLogger(__name__)

LEASE = "scheduler"
LEASE_TTL = timedelta(seconds=30)
COLLECT_EVERY = timedelta(minutes=10)
COLLECT_AT_MOST_EVERY_S = 10.0  # when renders keep the cache over its budget
WINDOW_JOB = "pre-render-before:"  # + a schedule's id: half an hour before its window opens
# APScheduler says "Running job ..." and "... executed successfully" at INFO for every run
# (every 5 s for `offline`): only its warnings and errors (a late or failed job) are kept.
QUIET_LOGGERS = ("apscheduler",)


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
        self._collected_at = -COLLECT_AT_MOST_EVERY_S

    def start(self) -> None:
        """Take the lease and start; `Conflict` if another process runs the scheduler."""
        store = self.service.store
        now = self.clock()
        holder = store.journal.lease_holder(LEASE, now)
        if holder is not None and _dead_local_process(holder):
            # A server on this machine was killed without releasing it: take over now.
            log.warning("taking over the scheduler lease of %s (process is gone)", holder)
            store.journal.release_lease(LEASE, holder)
        if not store.journal.acquire_lease(LEASE, self.owner, now, LEASE_TTL):
            holder = store.journal.lease_holder(LEASE, now)
            raise Conflict(
                f"another broadcaster server ({holder}) already runs the scheduler on this "
                "database; run only one `broadcaster serve` per database"
            )
        settings = self.service.settings
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
        scheduler = _scheduler_class()(
            timezone=settings.zone,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
        )
        # Each job is named for what it does: the name is its id, and what the log says
        # when it fails or is late.
        self._add(scheduler, "lease", self._renew, "interval", seconds=10)
        self._add(scheduler, "pre-render", self._prerender, "interval", minutes=10,
                  next_run_time=now)  # fmt: skip
        self._add(scheduler, "offline", self._offline, "interval", seconds=5)
        self._add(scheduler, "expire-urgents", self._expire, "interval", seconds=15)
        self._add(scheduler, "clean-clips", self._collect, "interval",
                  seconds=COLLECT_EVERY.total_seconds(), next_run_time=now)  # fmt: skip
        self._add(scheduler, "watch-schedules", self._sync_window_jobs, "interval", seconds=30,
                  next_run_time=now)  # fmt: skip
        for feed in settings.cap.feeds:  # upstream CAP feeds (issue 15, docs/cap.md)
            poller = FeedPoller(self.service, feed)
            self._add(scheduler, f"cap-feed:{feed.id}", poller.poll, "interval",
                      seconds=feed.every_s, next_run_time=now)  # fmt: skip
        scheduler.start()
        self._scheduler = scheduler
        self.service.library.over_budget = self._collect_soon
        log.info("scheduler started (%s, zone %s)", self.owner, settings.zone.key)

    def stop(self) -> None:
        """Stop the jobs and give the lease back."""
        self.service.library.over_budget = None
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        try:
            self.service.store.journal.release_lease(LEASE, self.owner)
        except Exception:
            log.exception("could not release the scheduler lease")

    def job_ids(self) -> list[str]:
        """The ids of the scheduled jobs (for tests and the dashboard)."""
        return sorted(job.id for job in self._scheduler.get_jobs()) if self._scheduler else []

    def _add(
        self,
        scheduler: BaseScheduler,
        name: str,
        job: Callable[[datetime], Any],
        trigger: Any,
        **options: Any,
    ) -> None:
        scheduler.add_job(self._guard(job, name), trigger, id=name, name=name, **options)

    def _guard(self, job: Callable[[datetime], Any], name: str) -> Callable[[], None]:
        # A job boundary: log with the traceback and keep the scheduler running.
        def run() -> None:
            try:
                job(self.clock())
            except Exception:
                log.exception("scheduled job %s failed", name)

        run.__name__ = run.__qualname__ = name.replace("-", "_").replace(":", "_")
        return run

    def _renew(self, now: datetime) -> None:
        if not self.service.store.journal.acquire_lease(LEASE, self.owner, now, LEASE_TTL):
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

    def _collect(self, now: datetime) -> None:
        self._collected_at = time.monotonic()
        jobs.collect_clips(self.service, now)

    def _collect_soon(self) -> None:
        """A render took the clip cache over its budget: run the collection now, or a few
        seconds after the last one while renders keep the cache there."""
        scheduler = self._scheduler
        if scheduler is None:
            return
        wait_s = max(0.0, self._collected_at + COLLECT_AT_MOST_EVERY_S - time.monotonic())
        scheduler.modify_job("clean-clips", next_run_time=self.clock() + timedelta(seconds=wait_s))

    def _sync_window_jobs(self, now: datetime) -> None:
        """One job per schedule, 30 minutes before its window opens, to render its clips:
        rebuilt from the database whenever the catalog changes."""
        revision = self.service.store.catalog_revision()
        if revision == self._revision or self._scheduler is None:
            return
        self._revision = revision
        for job in self._scheduler.get_jobs():
            if job.id.startswith(WINDOW_JOB):
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
            self._add(self._scheduler, f"{WINDOW_JOB}{schedule.id}", self._prerender, trigger,
                      misfire_grace_time=600)  # fmt: skip
