"""The render queue's admission rules (issue 10, item 5), with real threads.

Each render here holds its slot until the test releases it, so who is running, waiting and
refused is exact; the server-level behaviour is in tests/integration/test_preview_fairness.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field

import pytest

from broadcaster.errors import Busy
from broadcaster.renderqueue import QueueStats, RenderQueue, current, on_behalf_of


@dataclass
class Render:
    """One render in a thread: admitted, then holding its slot until `release`."""

    queue: RenderQueue
    user: str | None
    started: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    outcome: list[object] = field(default_factory=list)
    order: list[str] | None = None
    name: str = ""

    def run(self) -> None:
        try:
            with on_behalf_of(self.user) if self.user else nullcontext(), self.queue.slot():
                if self.order is not None:
                    self.order.append(self.name)
                self.started.set()
                assert self.release.wait(30)
            self.outcome.append("done")
        except Busy as exc:
            self.outcome.append(exc)


@pytest.fixture
def start() -> Iterator[Callable[..., Render]]:
    threads: list[tuple[threading.Thread, Render]] = []

    def begin(queue: RenderQueue, user: str | None, **kw: object) -> Render:
        render = Render(queue, user, **kw)  # type: ignore[arg-type]
        thread = threading.Thread(target=render.run, daemon=True)
        thread.start()
        threads.append((thread, render))
        return render

    yield begin
    for thread, render in threads:
        render.release.set()
        thread.join(10)


def wait_until(predicate: Callable[[], bool], timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_one_user_gets_at_most_per_user_renders_and_others_still_get_in(start) -> None:  # type: ignore[no-untyped-def]
    queue = RenderQueue(slots=1, limit=8, per_user=2, threads=False)
    first, second = start(queue, "chief-a"), start(queue, "chief-a")
    wait_until(lambda: queue.stats().users_admitted == 2)
    third = start(queue, "chief-a")
    wait_until(lambda: bool(third.outcome))
    (refused,) = third.outcome
    assert isinstance(refused, Busy) and refused.reason == "user" and refused.limit == 2
    assert refused.retry_after_s >= 1
    other = start(queue, "chief-b")  # another user is not held back by chief-a's limit
    wait_until(lambda: queue.stats().users_admitted == 3)
    assert not other.outcome
    for render in (first, second, other):
        render.release.set()
    wait_until(lambda: all(r.outcome == ["done"] for r in (first, second, other)))
    again = start(queue, "chief-a")  # the limit counts renders under way, not a quota
    again.release.set()
    wait_until(lambda: again.outcome == ["done"])
    assert queue.stats().refused_user == 1


def test_the_queue_is_bounded_for_people_but_never_refuses_system_work(start) -> None:  # type: ignore[no-untyped-def]
    queue = RenderQueue(slots=2, limit=4, per_user=1, threads=False)
    people = [start(queue, f"user{i}") for i in range(4)]
    wait_until(lambda: queue.stats().users_admitted == 4)
    stats = queue.stats()
    assert (stats.running, stats.waiting) == (2, 2)
    ninth = start(queue, "user9")
    wait_until(lambda: bool(ninth.outcome))
    (refused,) = ninth.outcome
    assert isinstance(refused, Busy) and refused.reason == "queue" and refused.limit == 4
    system = start(queue, None)  # an urgent's speech, a plan, a download: never refused
    assert system.started.wait(10), "system work takes the reserve slot at once"
    assert not ninth.started.is_set()
    system.release.set()
    for render in people:
        render.release.set()
    wait_until(lambda: all(r.outcome == ["done"] for r in [*people, system]))
    assert queue.stats() == QueueStats(running=0, waiting=0, users_admitted=0, admitted=5,
                                       refused_user=0, refused_queue=1)  # fmt: skip


def test_system_work_waiting_goes_before_people_waiting(start) -> None:  # type: ignore[no-untyped-def]
    queue = RenderQueue(slots=1, limit=8, per_user=2, reserve=0, threads=False)
    order: list[str] = []
    running = start(queue, "user0", order=order, name="user0")
    assert running.started.wait(10)
    person = start(queue, "user1", order=order, name="user1")
    wait_until(lambda: queue.stats().waiting == 1)
    system = start(queue, None, order=order, name="system")
    wait_until(lambda: queue.stats().waiting == 2)
    running.release.set()
    assert system.started.wait(10)
    assert not person.started.is_set()
    system.release.set()
    person.release.set()
    wait_until(lambda: person.outcome == ["done"])
    assert order == ["user0", "system", "user1"]


def test_a_person_waiting_too_long_is_refused_and_leaves_the_queue(start) -> None:  # type: ignore[no-untyped-def]
    queue = RenderQueue(slots=1, limit=8, per_user=2, reserve=0, wait_s=0.2, threads=False)
    running = start(queue, "user0")
    assert running.started.wait(10)
    waiting = start(queue, "user1")
    wait_until(lambda: bool(waiting.outcome), timeout_s=5)
    (refused,) = waiting.outcome
    assert isinstance(refused, Busy) and refused.reason == "queue"
    assert queue.stats().users_admitted == 1 and queue.stats().waiting == 0
    running.release.set()
    wait_until(lambda: running.outcome == ["done"])
    later = start(queue, "user1")  # the cancelled place does not block anyone
    assert later.started.wait(10)


def test_who_renders_is_the_system_unless_on_behalf_of_a_user() -> None:
    assert current().who is None
    with on_behalf_of("chief-a"):
        assert current().who == "chief-a"
    assert current().who is None


def test_run_is_the_caller_outside_gevent() -> None:
    queue = RenderQueue(threads=False)
    assert queue.run(threading.get_ident) == threading.get_ident()
