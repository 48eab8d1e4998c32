"""The APScheduler shell: the jobs run in exactly one process per database.

A lease in the database says which process runs the jobs (and the pusher of plan changes).
On SQLite a second `serve` on the same database refuses to start. On PostgreSQL every server
process starts a shell in standby (`start(standby=True)`): it tries to take the lease every
`RENEW_EVERY`, and the one that holds it runs the jobs; when the holder dies (or its host),
its lease runs out after at most `LEASE_TTL` and another process takes it over, at once if
the holder was a process on the same host that is gone. Jobs read the clock once and pass
`now` down to `broadcaster.jobs`.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any, cast

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger

from broadcaster import jobs
from broadcaster.cap.feeds import FeedPoller
from broadcaster.errors import Conflict
from broadcaster.service import Service
from broadcaster.store import Store
from broadcaster.store.engine import make_engine
from broadcaster.store.journal import Journal

log = logging.getLogger(__name__)

LEASE = "scheduler"
# A dead holder's lease runs out at most LEASE_TTL after its last renewal, which was at most
# RENEW_EVERY before it died; a standby tries every RENEW_EVERY: another process runs the
# jobs at most LEASE_TTL + RENEW_EVERY = 25 s after the holder died (issue 14: within 30 s).
# LEASE_TTL - RENEW_EVERY (15 s) is the room left for clock skew between hosts and a loop
# that could not renew on time.
LEASE_TTL = timedelta(seconds=20)
RENEW_EVERY = timedelta(seconds=5)
COLLECT_EVERY = timedelta(minutes=10)
KEYS_PER_MESSAGE = 100  # clip keys are 64 characters: 100 fit in one NOTIFY
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


class _Either:
    """Set when `stop` is set or this process no longer runs the jobs: the pusher's stop
    (`Service.run_pusher` only asks `is_set`)."""

    def __init__(self, stop: threading.Event, leading: threading.Event) -> None:
        self._stop_event = stop
        self._leading = leading

    def is_set(self) -> bool:
        return self._stop_event.is_set() or not self._leading.is_set()


class SchedulerShell:
    """Starts, feeds and stops the server-side jobs; holds or waits for the lease."""

    def __init__(self, service: Service, clock: Callable[[], datetime]) -> None:
        self.service = service
        self.clock = clock
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self._last_expiry_check = clock()
        self._revision = -1
        self._scheduler: BaseScheduler | None = None
        self._collected_at = -COLLECT_AT_MOST_EVERY_S
        self.leading = threading.Event()  # set while this process holds the lease
        self._lead_guard = threading.Lock()
        self._lease_store: Store | None = None

    @property
    def journal(self) -> Journal:
        """Where the lease is read and written: on PostgreSQL a connection of its own, so
        that requests that hold every pooled connection under load never keep the holder
        from renewing (its lease would run out and the jobs move for nothing)."""
        store = self.service.store
        if store.dialect != "postgresql":
            return store.journal
        if self._lease_store is None:
            url = store.engine.url.render_as_string(hide_password=False)
            engine = make_engine(url, pool_size=1, max_overflow=1, pool_timeout=5)
            self._lease_store = Store(engine)
        return self._lease_store.journal

    def start(self, *, standby: bool = False) -> None:
        """Take the lease and start the jobs.

        Without `standby`: `Conflict` if another process holds the lease. With it (many
        processes on PostgreSQL): start anyway and take the lease when it comes free.
        """
        now = self.clock()
        self._take_over_from_the_dead(now)
        acquired = self.journal.acquire_lease(LEASE, self.owner, now, LEASE_TTL)
        if not acquired and not standby:
            holder = self.journal.lease_holder(LEASE, now)
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
        self._add(scheduler, "lease", self._renew, "interval",
                  seconds=RENEW_EVERY.total_seconds())  # fmt: skip
        scheduler.start()
        self._scheduler = scheduler
        # A render in another process took the cache over its budget (see _follow).
        self.service.notifier.on("collect-clips", lambda _message: self._collect_soon())
        self.service.notifier.on(
            "clips-removed", lambda message: self.service.library.forget_keys(message["keys"])
        )
        if acquired:
            self._lead(now)
        else:
            self.service.library.over_budget = self._ask_for_collection
            holder = self.journal.lease_holder(LEASE, now)
            log.info("scheduler standing by (%s): %s runs the jobs", self.owner, holder)

    def _take_over_from_the_dead(self, now: datetime) -> None:
        journal = self.journal
        holder = journal.lease_holder(LEASE, now)
        if holder is not None and holder != self.owner and _dead_local_process(holder):
            # A server on this machine was killed without releasing it: take over now.
            log.warning("taking over the scheduler lease of %s (process is gone)", holder)
            journal.release_lease(LEASE, holder)

    def _lead(self, now: datetime) -> None:
        """This process holds the lease: add the jobs."""
        scheduler = self._scheduler
        if scheduler is None:
            return
        with self._lead_guard:
            if self.leading.is_set():
                return
            self._revision = -1  # the window jobs are rebuilt by watch-schedules
            self._last_expiry_check = now
            settings = self.service.settings
            self._add(scheduler, "pre-render", self._prerender, "interval", minutes=10,
                      next_run_time=now)  # fmt: skip
            self._add(scheduler, "offline", self._offline, "interval", seconds=5)
            self._add(scheduler, "expire-urgents", self._expire, "interval", seconds=15)
            self._add(scheduler, "clean-clips", self._collect, "interval",
                      seconds=COLLECT_EVERY.total_seconds(), next_run_time=now)  # fmt: skip
            self._add(scheduler, "watch-schedules", self._sync_window_jobs, "interval",
                      seconds=30, next_run_time=now)  # fmt: skip
            for name, job in jobs.RETENTION_JOBS.items():  # data that grows is bounded
                self._add(scheduler, name, partial(job, self.service), "interval",
                          seconds=jobs.RETENTION_EVERY.total_seconds(),
                          next_run_time=now + jobs.RETENTION_FIRST)  # fmt: skip
            for feed in settings.cap.feeds:  # upstream CAP feeds (issue 15, docs/cap.md)
                poller = FeedPoller(self.service, feed)
                self._add(scheduler, f"cap-feed:{feed.id}", poller.poll, "interval",
                          seconds=feed.every_s, next_run_time=now)  # fmt: skip
            self.service.library.over_budget = self._collect_soon
            self.leading.set()
        self.service.request_push()  # the pusher starts here: it learns the plan ETags
        log.info("scheduler started (%s, zone %s)", self.owner, settings.zone.key)

    def _follow(self) -> None:
        """Another process holds the lease: remove every job but the lease's."""
        with self._lead_guard:
            self.leading.clear()
            self.service.library.over_budget = self._ask_for_collection
            if self._scheduler is not None:
                for job in self._scheduler.get_jobs():
                    if job.id != "lease":
                        job.remove()

    def stop(self) -> None:
        """Stop the jobs and give the lease back."""
        self.leading.clear()
        self.service.library.over_budget = None
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        try:
            self.journal.release_lease(LEASE, self.owner)
        except Exception:
            log.exception("could not release the scheduler lease")
        if self._lease_store is not None:
            self._lease_store.close()
            self._lease_store = None

    def run_pusher(self, stop: threading.Event) -> None:
        """Run the service's pusher of plan changes while this process holds the lease (one
        pusher per database: a change is announced once), until `stop` is set."""
        while not stop.is_set():
            if not self.leading.wait(1.0):
                continue
            self.service.run_pusher(cast(threading.Event, _Either(stop, self.leading)))

    def lease(self) -> dict[str, Any]:
        """Who runs the jobs and until when (for /healthz)."""
        now = self.clock()
        held = self.journal.lease(LEASE)
        owner, until = held if held is not None else (None, None)
        return {
            "holder": owner if until is not None and until > now else None,
            "until": until.isoformat() if until is not None else None,
            "this_process": self.leading.is_set(),
        }

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
        journal = self.journal
        if not self.leading.is_set():
            self._take_over_from_the_dead(now)
        if journal.acquire_lease(LEASE, self.owner, now, LEASE_TTL):
            if not self.leading.is_set():
                log.warning("took over the scheduler lease (%s): running the jobs", self.owner)
                self._lead(now)
        elif self.leading.is_set():
            log.critical("lost the scheduler lease to another process: stopping its jobs here")
            self._follow()

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
        report = jobs.collect_clips(self.service, now)
        keys = [clip.key for clip in report.removed] if report is not None else []
        # The other processes forget them too (a later request renders them again).
        for at in range(0, len(keys), KEYS_PER_MESSAGE):
            self.service.notifier.send("clips-removed", keys=keys[at : at + KEYS_PER_MESSAGE])

    def _ask_for_collection(self) -> None:
        """A render here took the clip cache over its budget: the lease holder collects."""
        self.service.notifier.send("collect-clips")

    def _collect_soon(self) -> None:
        """A render took the clip cache over its budget: run the collection now, or a few
        seconds after the last one while renders keep the cache there."""
        scheduler = self._scheduler
        if scheduler is None or not self.leading.is_set():
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
