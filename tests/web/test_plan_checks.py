"""Plan checks and heartbeats answered from the speaker's cached plan (issue 14, item 1):
nothing is built or hashed while nothing changed; an edit written by another process (the
catalog revision in the database) and a new local day still give a new plan. Long polls
that end empty are spread over their last fifth."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from datetime import timedelta

import pytest

from broadcaster import service as service_module
from broadcaster.service import STATUSES_SHARED_FROM
from broadcaster.store import Store, TokenKind
from tests.web.conftest import NOW
from web.device_api import LONG_WAIT_S, PollEnds

PLAN = "/api/v1/speakers/vehicle-01/plan"


@pytest.fixture
def device(service):
    token = service.store.people.issue_token(TokenKind.DEVICE, "vehicle-01", NOW)[1]
    return {"Authorization": f"Bearer {token}"}


def test_an_unchanged_plan_is_checked_without_building_it(client, device, service, monkeypatch):
    etag = client.get(PLAN, headers=device).headers["ETag"]
    built = service.plan("vehicle-01", NOW)

    def refuse(*_args, **_kwargs):
        raise AssertionError("a plan was built")

    monkeypatch.setattr(service_module, "build_plan", refuse)
    checks = [client.get(PLAN, headers={**device, "If-None-Match": etag}) for _ in range(3)]
    assert [c.status_code for c in checks] == [304, 304, 304]
    assert all(c.headers["ETag"] == etag for c in checks)
    beat = client.post(
        "/api/v1/speakers/vehicle-01/heartbeat", json={"state": "idle", "version": "t"},
        headers=device,
    )  # fmt: skip
    assert beat.status_code == 200 and beat.get_json()["plan_etag"] == etag
    assert service.plan("vehicle-01", NOW) is built


def test_an_edit_by_another_process_gives_a_new_plan(client, device, service, tmp_path):
    etag = client.get(PLAN, headers=device).headers["ETag"]
    other = Store.open(f"sqlite:///{tmp_path / 'broadcaster.db'}", upgrade=False)
    try:  # another server process on the same database: this one hears nothing of it
        message = other.content.get_message("masks")
        other.content.update_message(replace(message, text="请大家出门戴好口罩。"), NOW)
    finally:
        other.close()
    again = client.get(PLAN, headers={**device, "If-None-Match": etag})
    assert again.status_code == 200 and again.headers["ETag"] != etag
    beat = client.post(
        "/api/v1/speakers/vehicle-01/heartbeat", json={"state": "idle", "version": "t"},
        headers=device,
    )  # fmt: skip
    assert beat.get_json()["plan_etag"] == again.headers["ETag"]


def test_a_new_local_day_gives_a_new_plan(service):
    today = service.plan("vehicle-01", NOW)
    tomorrow = service.plan("vehicle-01", NOW + timedelta(days=1))
    assert tomorrow is not today and tomorrow.etag != today.etag
    assert tomorrow.body["valid_from"] > today.body["valid_from"]
    assert service.plan("vehicle-01", NOW + timedelta(days=1)) is tomorrow


def test_forgotten_plans_are_built_again(service):
    first = service.plan("vehicle-01", NOW)
    service.forget_plans()
    assert service.plan("vehicle-01", NOW) is not first


@pytest.mark.parametrize(
    ("asked", "max_s", "low", "high"),
    [(None, 60, 12.5, 25), (25, 60, 12.5, 25), (120, 60, 30, 60), (5, 60, 5, 5), (0, 60, 0, 0)],
)
def test_long_polls_end_in_their_last_half(asked, max_s, low, high):
    ends = PollEnds()
    for now in (1000.0, 1000.37):
        for draw in (lambda: 0.0, lambda: 0.999, random.random):
            assert low <= ends.wait_s(asked, max_s, now, draw) <= high


def test_a_quiet_server_keeps_long_polls_their_full_length():
    ends = PollEnds()
    assert 24 <= ends.wait_s(25, 60, 1000.0) <= 25
    assert 24 <= ends.wait_s(25, 60, 1030.0) <= 25


def test_a_crowd_of_long_polls_started_together_ends_spread_over_the_last_half():
    ends = PollEnds()
    seconds = Counter(int(1000 + ends.wait_s(25, 60, 1000.0)) for _ in range(5_000))
    assert sorted(seconds) == list(range(1013, 1025))  # 12 whole seconds, 12.5-25 s later
    assert max(seconds.values()) - min(seconds.values()) <= 1  # ~417 a second, not 1,000
    # The next crowd, 10 s later, fills the seconds the first left emptiest.
    later = Counter(int(1010 + ends.wait_s(25, 60, 1010.0)) for _ in range(5_000))
    both = seconds + later
    assert max(both[s] for s in range(1025, 1035)) - min(both[s] for s in range(1023, 1035)) <= 1


def test_short_long_polls_are_not_shortened():
    assert PollEnds().wait_s(int(LONG_WAIT_S) - 1, 60, 1000.0) == LONG_WAIT_S - 1


def test_many_statuses_share_one_read_that_heartbeats_keep_current(
    client, device, service, monkeypatch
):
    many = ["vehicle-01", *(f"absent-{i}" for i in range(STATUSES_SHARED_FROM))]
    reads: list[object] = []
    read = service.store.devices.speaker_statuses

    def counted(ids=None):
        reads.append(ids)
        return read(ids)

    monkeypatch.setattr(service.store.devices, "speaker_statuses", counted)
    monkeypatch.setattr(service_module, "_monotonic", lambda: 1000.0)  # within the second
    assert service.statuses(many) == {}
    beat = client.post(
        "/api/v1/speakers/vehicle-01/heartbeat", json={"state": "idle", "version": "t"},
        headers=device,
    )  # fmt: skip
    assert beat.status_code == 200
    reads.clear()
    shared = service.statuses(many)
    assert reads == [] and shared["vehicle-01"].state == "idle"  # no read: the beat is in
    assert service.statuses(["vehicle-01"])["vehicle-01"].state == "idle"
    assert reads == [["vehicle-01"]]  # a few are read from the database as before
