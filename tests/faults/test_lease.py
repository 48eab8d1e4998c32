"""The scheduler lease between processes on different hosts (issue 14, item 3), on both
databases: the holder renews every RENEW_EVERY; when it stops (its host died), a standby
takes the lease once it ran out and adds the jobs; the old holder, back, finds it lost and
drops its jobs. The clock is passed in, so the 20 s of a lease take no time here; the real
SIGKILL of a worker is tests/integration/test_workers.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler

from broadcaster import jobs
from broadcaster.notify import Notifier
from broadcaster.scheduler import LEASE_TTL, RENEW_EVERY, SchedulerShell
from broadcaster.store import Store
from tests.broadcaster.store.conftest import db_url, postgres, store  # noqa: F401 (fixtures)

T0 = datetime(2026, 12, 1, 15, 59, 50, tzinfo=UTC)  # 23:59:50 in Asia/Shanghai
JOBS = {"pre-render", "offline", "expire-urgents", "clean-clips", "watch-schedules"} | set(
    jobs.RETENTION_JOBS
)


def _shell(db: Store, owner: str, clock: list[datetime]) -> tuple[SchedulerShell, list[str]]:
    pushes: list[str] = []
    service: Any = SimpleNamespace(
        store=db,
        settings=SimpleNamespace(zone=ZoneInfo("Asia/Shanghai"), cap=SimpleNamespace(feeds=())),
        library=SimpleNamespace(over_budget=None),
        notifier=Notifier(),
        request_push=lambda: pushes.append(owner),
    )
    shell = SchedulerShell(service, lambda: clock[0])
    shell.owner = owner  # another host: the dead-process shortcut does not apply
    shell._scheduler = BackgroundScheduler(timezone=UTC)
    shell._scheduler.start(paused=True)  # jobs are added and removed, never run
    shell._add(shell._scheduler, "lease", shell._renew, "interval", seconds=5)
    return shell, pushes


def _jobs(shell: SchedulerShell) -> set[str]:
    return set(shell.job_ids()) - {"lease"}


def test_a_standby_on_another_host_takes_over_within_30_s(store: Store) -> None:  # noqa: F811
    assert timedelta(seconds=30) >= LEASE_TTL + RENEW_EVERY  # the bound issue 14 asks for
    clock = [T0]
    a, pushes_a = _shell(store, "host-a:101", clock)
    b, _ = _shell(store, "host-b:202", clock)
    a._renew(clock[0])
    b._renew(clock[0])
    assert a.leading.is_set() and not b.leading.is_set()
    assert _jobs(a) == JOBS and _jobs(b) == set()
    assert pushes_a == ["host-a:101"]  # the new holder's pusher learns the plan ETags
    assert a.lease() == {
        "holder": "host-a:101",
        "until": (T0 + LEASE_TTL).isoformat(),
        "this_process": True,
    }
    # A renews on time for a while; B keeps trying and keeps standing by.
    for _ in range(3):
        clock[0] += RENEW_EVERY
        a._renew(clock[0])
        b._renew(clock[0])
        assert not b.leading.is_set()
    last_renewal = clock[0]
    # Host A dies just before its next renewal; B tries every RENEW_EVERY from then on.
    died = last_renewal + RENEW_EVERY - timedelta(milliseconds=1)
    tries = 0
    while not b.leading.is_set():
        clock[0] += RENEW_EVERY
        tries += 1
        b._renew(clock[0])
        assert clock[0] - died < timedelta(seconds=30), "no takeover within 30 s"
    assert clock[0] >= last_renewal + LEASE_TTL  # never before A's lease ran out
    assert _jobs(b) == JOBS
    assert b.lease()["holder"] == a.lease()["holder"] == "host-b:202"
    # A comes back (a network partition, not a death): it has lost, and drops its jobs.
    clock[0] += timedelta(seconds=1)
    a._renew(clock[0])
    assert not a.leading.is_set() and _jobs(a) == set()
    assert a.job_ids() == ["lease"]  # it keeps trying, as a standby
    b._renew(clock[0])
    assert b.leading.is_set() and store.journal.lease_holder("scheduler", clock[0]) == "host-b:202"
    a.stop()
    b.stop()


def test_a_holder_that_gives_the_lease_back_is_replaced_at_the_next_try(store: Store) -> None:  # noqa: F811
    clock = [T0]
    a, _ = _shell(store, "host-a:101", clock)
    b, _ = _shell(store, "host-b:202", clock)
    a._renew(clock[0])
    a.stop()  # SIGTERM: the lease is released, no 20 s wait
    assert not a.leading.is_set()
    clock[0] += timedelta(seconds=1)
    b._renew(clock[0])
    assert b.leading.is_set() and _jobs(b) == JOBS
    b.stop()
