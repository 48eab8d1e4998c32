"""Urgent send, cancel and expiry are one transaction each, audit line included (issue 11,
item 3), on SQLite and PostgreSQL: a failure injected into the database after some targets'
events are written (or at the audit line, after all of them) leaves no urgent, no event, no
cancel and no audit line behind; without the failure every target gets its event and the
audit log one line.

The failure is real: the database driver raises while executing the chosen INSERT, as a
full disk or a lost connection would, through the real `urgent` use cases on a real store.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from audio.cache import ClipCache
from audio.render import Renderer
from broadcaster import jobs, urgent
from broadcaster.clips import ClipLibrary
from broadcaster.config import Settings
from broadcaster.models import Role, User
from broadcaster.notify import Notifier
from broadcaster.service import Service
from broadcaster.store import EventKind, Store
from tests.broadcaster.store.conftest import NOW
from tests.web.conftest import ToneSynthesizer

ADMIN = User("admin", Role.ADMIN)
WHOLE_DISTRICT = urgent.UrgentRequest(
    message_id="fire",
    area_ids=("yaodu",),
    override_window=True,
    expires_at=NOW + timedelta(minutes=5),
)


class Injected(Exception):
    """The failure the test makes the database raise."""


class FailOn:
    """Make the INSERT into `table` that writes its `nth` row fail (1-based), counting rows
    from when it is armed (events are written many rows to a statement)."""

    def __init__(self, store: Store) -> None:
        self.engine = store.engine
        self.table = ""
        self.nth = 0
        self.seen = 0
        event.listen(self.engine, "before_cursor_execute", self._check)

    def arm(self, table: str, nth: int) -> None:
        self.table, self.nth, self.seen = table, nth, 0

    def disarm(self) -> None:
        self.nth = 0

    def _check(
        self, _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool
    ) -> None:
        if self.nth and statement.lstrip().upper().startswith(f"INSERT INTO {self.table.upper()}"):
            before = self.seen
            self.seen += len(parameters) if many else 1
            if before < self.nth <= self.seen:
                raise Injected(f"injected failure at row #{self.nth} into {self.table}")

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._check)


@pytest.fixture
def service(seeded: Store, settings: Settings, tmp_path: Path) -> Service:
    renderer = Renderer(ToneSynthesizer(), ClipCache(tmp_path / "clips"), settings.render)
    library = ClipLibrary(renderer, tmp_path / "recordings", settings.selftest_text)
    svc = Service(
        settings, seeded, library, Notifier(seeded.devices.last_event_seq()), clock=lambda: NOW
    )
    # Rendered beforehand: the send needs no background render (which writes events too).
    library.for_message(seeded.content.get_message("fire"))
    library.chime()
    return svc


@pytest.fixture
def fail(service: Service) -> Iterator[FailOn]:
    injector = FailOn(service.store)
    yield injector
    injector.close()


def _state(store: Store) -> tuple[Any, ...]:
    """Everything a send, cancel or expiry writes."""
    return (
        store.urgents.list_urgents(),
        store.devices.events_after("tunli-village-1", 0),
        store.devices.events_after("gulou-community-1", 0),
        store.devices.last_event_seq(),
        store.journal.list_audit(),
        store.catalog_revision(),
    )


def _targets(service: Service) -> list[str]:
    return sorted(s.id for s in service.deployment(NOW).speakers)


@pytest.mark.parametrize(("table", "nth"), [("events", 3), ("audit_log", 1)])
def test_a_send_that_fails_part_way_stores_nothing(
    service: Service, fail: FailOn, table: str, nth: int
) -> None:
    store = service.store
    before = _state(store)
    fail.arm(table, nth)
    with pytest.raises(Injected):
        urgent.send(service, ADMIN, WHOLE_DISTRICT, NOW, remote_addr="10.0.0.9")
    fail.disarm()
    assert _state(store) == before

    sent = urgent.send(service, ADMIN, WHOLE_DISTRICT, NOW, remote_addr="10.0.0.9")
    targets = _targets(service)
    assert len(targets) > 3
    events = [e for s in targets for e in store.devices.events_after(s, before[3])]
    assert sorted(e.speaker_id or "" for e in events) == targets
    assert {(e.kind, e.payload["id"]) for e in events} == {(EventKind.URGENT, sent.urgent.id)}
    [line] = store.journal.list_audit(action="urgent.send")
    assert (line.actor, line.object, line.remote_addr) == ("user:admin", sent.urgent.id, "10.0.0.9")
    assert line.detail["targets"] == len(targets) and line.detail["areas"] == ["yaodu"]


@pytest.mark.parametrize(("table", "nth"), [("events", 2), ("audit_log", 1)])
def test_a_cancel_that_fails_part_way_cancels_nothing(
    service: Service, fail: FailOn, table: str, nth: int
) -> None:
    store = service.store
    sent = urgent.send(service, ADMIN, WHOLE_DISTRICT, NOW).urgent
    later = NOW + timedelta(minutes=1)
    before = _state(store)
    fail.arm(table, nth)
    with pytest.raises(Injected):
        urgent.cancel(service, ADMIN, sent.id, later, remote_addr="10.0.0.9")
    fail.disarm()
    assert _state(store) == before
    assert store.urgents.get_urgent(sent.id).cancelled_at is None

    urgent.cancel(service, ADMIN, sent.id, later, remote_addr="10.0.0.9")
    assert store.urgents.get_urgent(sent.id).cancelled_at == later
    targets = _targets(service)
    events = [e for s in targets for e in store.devices.events_after(s, before[3])]
    assert sorted(e.speaker_id or "" for e in events) == targets
    assert {e.kind for e in events} == {EventKind.CANCEL}
    [line] = store.journal.list_audit(action="urgent.cancel")
    assert (line.actor, line.object, line.remote_addr) == ("user:admin", sent.id, "10.0.0.9")


@pytest.mark.parametrize(("table", "nth"), [("events", 2), ("audit_log", 2)])
def test_an_expiry_that_fails_part_way_tells_nobody(
    service: Service, fail: FailOn, table: str, nth: int
) -> None:
    """Two urgents expire in one run: a failure at the second one's second event (after all
    of the first one's), or at the second one's audit line, undoes everything (one
    transaction for the run)."""
    store = service.store
    first = urgent.send(service, ADMIN, WHOLE_DISTRICT, NOW).urgent
    only_tunli = urgent.UrgentRequest(
        text="屯里村注意", area_ids=("tunli",), override_window=True,
        expires_at=NOW + timedelta(minutes=5),
    )  # fmt: skip
    service.library.for_text("屯里村注意", service.settings.default_voice)
    second = urgent.send(service, ADMIN, only_tunli, NOW).urgent
    after = NOW + timedelta(minutes=6)
    before = _state(store)
    # Newest first, then by id: the urgent told first, and how many targets it has.
    told_first = max([first, second], key=lambda u: u.id)
    deployment = service.deployment(NOW)
    ahead = len(urgent._targets(told_first.speaker_ids, told_first.area_ids, deployment))
    fail.arm(table, nth if table == "audit_log" else ahead + nth)
    with pytest.raises(Injected):
        jobs.expire_urgents(service, after, NOW)
    fail.disarm()
    assert _state(store) == before

    assert sorted(jobs.expire_urgents(service, after, NOW)) == sorted([first.id, second.id])
    cancels = store.devices.events_after("tunli-village-1", before[3])
    assert sorted((e.kind, e.payload["urgent"], e.payload["reason"]) for e in cancels) == sorted(
        (EventKind.CANCEL, u, "expired") for u in (first.id, second.id)
    )
    gulou = store.devices.events_after("gulou-community-1", before[3])
    assert [e.payload["urgent"] for e in gulou] == [first.id]  # not a target of the second
    lines = store.journal.list_audit(action="urgent.expire")
    assert sorted((e.actor, e.object) for e in lines) == sorted(
        [("scheduler", first.id), ("scheduler", second.id)]
    )
