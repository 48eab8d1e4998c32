"""The append-only audit log, meta values, and leases that one holder at a time can own."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from broadcaster.errors import ValidationError
from broadcaster.store import Store
from broadcaster.store.base import Part
from tests.broadcaster.store.conftest import NOW, PostgresServer
from tests.conftest import ROOT

MINUTE = timedelta(minutes=1)


def test_audit_entries_are_numbered_and_listed_newest_first(store: Store) -> None:
    first = store.journal.append_audit(NOW, "admin", "login", remote_addr="10.0.0.5")
    second = store.journal.append_audit(
        NOW + MINUTE, "chief-tunli", "message.update", "message:fire", {"version": 2}
    )
    third = store.journal.append_audit(NOW + 2 * MINUTE, "admin", "urgent.send", "urgent:u1")
    assert first < second < third
    entries = store.journal.list_audit()
    assert [e.seq for e in entries] == [third, second, first]
    assert (entries[1].actor, entries[1].object, entries[1].detail) == (
        "chief-tunli",
        "message:fire",
        {"version": 2},
    )
    assert entries[2].remote_addr == "10.0.0.5"
    assert [e.seq for e in store.journal.list_audit(before_seq=third, limit=1)] == [second]
    assert [e.seq for e in store.journal.list_audit(actor="admin")] == [third, first]
    assert [e.seq for e in store.journal.list_audit(action="login")] == [first]


def test_the_store_offers_no_way_to_change_the_audit_log(store: Store) -> None:
    """Of the store and all its parts, only the journal touches the audit log: to add, to read."""
    parts = {"store": store} | {
        name: value for name, value in vars(store).items() if isinstance(value, Part)
    }
    assert {"places", "content", "schedules", "urgents", "people", "devices", "journal"} <= set(
        parts
    )
    found = sorted(
        f"{part}.{name}" for part, value in parts.items() for name in dir(value) if "audit" in name
    )
    assert found == ["journal.append_audit", "journal.append_audits", "journal.list_audit"]


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"],
    ids=["update", "delete"],
)
def test_the_database_itself_refuses_to_change_the_audit_log(store: Store, statement: str) -> None:
    store.journal.append_audit(NOW, "admin", "login")
    with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
        conn.execute(text(statement))
    assert [(e.actor, e.action) for e in store.journal.list_audit()] == [("admin", "login")]


def test_postgresql_also_refuses_to_truncate_the_audit_log(postgres: PostgresServer) -> None:
    with Store.open(postgres.reset("migrated")) as store:
        store.journal.append_audit(NOW, "admin", "login")
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
            conn.execute(text("TRUNCATE audit_log"))
        assert len(store.journal.list_audit()) == 1


def test_an_audit_entry_needs_an_action(store: Store) -> None:
    with pytest.raises(ValidationError):
        store.journal.append_audit(NOW, "admin", "")


def test_meta_values_are_set_and_replaced(store: Store) -> None:
    assert store.get_meta("plan_salt") is None
    store.set_meta("plan_salt", "a")
    store.set_meta("plan_salt", "b")
    assert store.get_meta("plan_salt") == "b"


def test_a_lease_has_one_holder_until_it_expires(db_url: str) -> None:
    with Store.open(db_url) as one, Store.open(db_url) as two:
        assert one.journal.acquire_lease("scheduler", "server-1", NOW, MINUTE)
        assert not two.journal.acquire_lease("scheduler", "server-2", NOW + MINUTE / 2, MINUTE)
        assert one.journal.lease_holder("scheduler", NOW + MINUTE / 2) == "server-1"
        # The holder renews; the other still cannot take it.
        assert one.journal.acquire_lease("scheduler", "server-1", NOW + MINUTE / 2, MINUTE)
        assert not two.journal.acquire_lease("scheduler", "server-2", NOW + MINUTE, MINUTE)
        # Once expired, the other takes it over, and the first one has lost it.
        takeover = NOW + MINUTE / 2 + MINUTE
        assert two.journal.acquire_lease("scheduler", "server-2", takeover, MINUTE)
        assert not one.journal.acquire_lease("scheduler", "server-1", takeover, MINUTE)
        assert two.journal.lease_holder("scheduler", takeover) == "server-2"
        assert one.journal.lease_holder("scheduler", takeover + MINUTE) is None


def test_a_released_lease_is_free_at_once(db_url: str) -> None:
    with Store.open(db_url) as one, Store.open(db_url) as two:
        assert one.journal.acquire_lease("scheduler", "server-1", NOW, MINUTE)
        assert not two.journal.release_lease("scheduler", "server-2")  # not the owner's to give
        assert one.journal.release_lease("scheduler", "server-1")
        assert two.journal.acquire_lease("scheduler", "server-2", NOW, MINUTE)


def test_leases_are_independent_by_name(store: Store) -> None:
    assert store.journal.acquire_lease("scheduler", "a", NOW, MINUTE)
    assert store.journal.acquire_lease("renderer", "b", NOW, MINUTE)
    with pytest.raises(ValidationError):
        store.journal.acquire_lease("x", "a", NOW, timedelta(0))


def test_two_processes_never_hold_the_lease_at_the_same_time(db_url: str) -> None:
    Store.open(db_url).close()  # migrate before the race
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.broadcaster.store.lease_worker", db_url, owner],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for owner in ("proc-a", "proc-b")
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        outputs = [worker.communicate(timeout=60)[0] for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
    assert [w.returncode for w in workers] == [0, 0]
    spans_a, spans_b = (json.loads(out.strip().splitlines()[-1]) for out in outputs)
    assert spans_a and spans_b, "both processes should have held the lease at some point"
    overlaps = [(a, b) for a in spans_a for b in spans_b if a[0] < b[1] and b[0] < a[1]]
    assert overlaps == []
