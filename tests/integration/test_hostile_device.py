"""Issue 10, item 2 against a real `broadcaster serve`: a device (its own token, raw HTTP)
sends hostile times (year 1, year 9999 with offsets, far future and past) in heartbeats,
plays and acks, and huge `cache` / `now_playing`; bad rows are also written straight into
the database (as an older server could have stored them). The dashboard, `/api/v1/speakers`,
`GET /api/v1/urgent` (list and one) and the urgent page still answer 200 within a generous
bound, for the admin and for the chief of the speaker's village, showing unknown times as
null or "—" and nothing of the junk.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import update

from broadcaster.passwords import hash_password
from broadcaster.store import Store, sqlite_url
from broadcaster.store import schema as t
from tests.integration.harness import (
    ADMIN_PASSWORD,
    Server,
    aware_now,
    deployment_yaml,
    seconds,
    wait_for,
)

pytestmark = pytest.mark.integration

SPEAKER = "spk-1"  # in village-a, chief-a's village
CHIEF_PASSWORD = "hostile-chief-pw"
PAGE_BOUND_S = 5.0  # generous: each answer took well under 0.2 s when measured
BEYOND = datetime(9999, 12, 31, 20, 0, tzinfo=UTC)  # valid in UTC, not in Shanghai
HOSTILE = [
    "9999-12-31T20:00:00+00:00",
    "9999-12-31T23:59:59.999999+00:00",
    "9999-12-31T10:00:00-09:00",
    "9999-12-31T23:59:59-12:00",  # no UTC value at all
    "0001-01-01T00:00:00+00:00",
    "0001-01-01T00:00:00+14:00",  # no UTC value at all
    "2200-01-01T00:00:00+08:00",
    "1970-01-01T00:00:00Z",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root: Path = tmp_path_factory.mktemp("hostile")
    now = aware_now()
    config = root / "config.yaml"
    config.write_text(
        deployment_yaml(window_start=now - seconds(3600), window_end=now + seconds(3600),
                        speakers=2)
    )  # fmt: skip
    running = Server(root, config)
    running.start()
    store = Store.open(sqlite_url(running.data), upgrade=False)
    try:
        store.people.set_password_hash("chief-a", hash_password(CHIEF_PASSWORD))
    finally:
        store.close()
    yield running
    running.stop()


def _session(server: Server, name: str, password: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{server.url}/login", timeout=30).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, page[:300]
    answer = session.post(
        f"{server.url}/login",
        data={"name": name, "password": password, "csrf_token": token.group(1)},
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 302, answer.text[:500]
    return session


def _device(server: Server) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {server.device_token(SPEAKER)}"
    return session


def _beat(**changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    body = {"state": "playing", "volume": 100, "clock_offset_ms": 3,
            "client_time": now.isoformat(), "last_sync": now.isoformat(),
            "cache": {"clips": 2, "bytes": 1000, "missing": 0, "corrupt": 0},
            "now_playing": {"clip": "ab" * 32, "message": "m1", "kind": "loop",
                            "started_at": now.isoformat(), "position_ms": 10},
            "selftest": {"at": now.isoformat(), "ok": True, "detail": "played 1.0 s"},
            "version": "0.1.0"}  # fmt: skip
    body.update(changes)
    return body


def _play(**changes: Any) -> dict[str, Any]:
    start = datetime.now(UTC) - timedelta(seconds=30)
    entry = {"id": "e-1", "clip": "ab" * 32, "message": "m1", "kind": "loop", "urgent": None,
             "planned_start": start.isoformat(), "started_at": start.isoformat(),
             "ended_at": (start + timedelta(seconds=5)).isoformat(), "completed": True,
             "reason": ""}  # fmt: skip
    entry.update(changes)
    return entry


def _timed_get(session: requests.Session, url: str) -> tuple[requests.Response, float]:
    started = time.monotonic()
    answer = session.get(url, timeout=60)
    return answer, time.monotonic() - started


def test_a_hostile_device_cannot_break_anyones_pages(server: Server) -> None:
    device = _device(server)
    base = f"{server.url}/api/v1/speakers/{SPEAKER}"
    assert device.post(f"{base}/heartbeat", json=_beat(), timeout=30).status_code == 200
    admin_api = {"Authorization": f"Bearer {server.user_token('admin')}"}
    sent = requests.post(
        f"{server.url}/api/v1/urgent",
        json={"text": "请注意。", "speakers": [SPEAKER], "override_window": True},
        headers=admin_api,
        timeout=120,
    )
    assert sent.status_code == 201, sent.text
    urgent_id = sent.json()["id"]

    # Hostile times: a heartbeat keeps them as unknown (or is a 422 when the time has no UTC
    # value at all); plays and acks are refused naming the field. Never a 500.
    for value in HOSTILE:
        beat = _beat(last_sync=value, client_time=value, selftest={"at": value, "ok": True},
                     now_playing={"clip": "ab", "kind": "loop", "started_at": value})  # fmt: skip
        answer = device.post(f"{base}/heartbeat", json=beat, timeout=30)
        assert answer.status_code in (200, 422), (value, answer.status_code, answer.text)
        for key in ("started_at", "ended_at", "planned_start"):
            answer = device.post(f"{base}/plays", json={"entries": [_play(**{key: value})]},
                                 timeout=30)  # fmt: skip
            assert answer.status_code == 422, (value, answer.text)
            assert answer.json()["error"]["field"] == f"entries[0].{key}"
        ack = {"urgent": urgent_id, "state": "played", "at": value}
        answer = device.post(f"{base}/acks", json=ack, timeout=30)
        assert answer.status_code == 422 and answer.json()["error"]["field"] == "at", answer.text
    far = (datetime.now(UTC) + timedelta(days=3, minutes=1)).isoformat()
    assert device.post(f"{base}/plays", json={"entries": [_play(started_at=far)]},
                       timeout=30).status_code == 422  # fmt: skip
    # A skewed clock (10 minutes either way) is fine.
    for skew in (-600, 600):
        at = (datetime.now(UTC) + timedelta(seconds=skew)).isoformat()
        answer = device.post(f"{base}/plays", json={"entries": [_play(id=f"skew{skew}",
                             started_at=at, ended_at=at, planned_start=at)]}, timeout=30)  # fmt: skip
        assert answer.json()["accepted"] == [f"skew{skew}"], answer.text
    ack = {"urgent": urgent_id, "state": "received", "at": datetime.now(UTC).isoformat()}
    assert device.post(f"{base}/acks", json=ack, timeout=30).status_code == 204

    # Huge heartbeat fields: unknown keys are dropped (what is stored stays small), a huge
    # known value is a 422 naming it, a body over 1 MB is a 413.
    junk = {f"k{i}": "x" * 1000 for i in range(400)}  # ~0.4 MB in each field
    big = _beat(cache={**_beat()["cache"], **junk},
                now_playing={**_beat()["now_playing"], **junk})  # fmt: skip
    assert device.post(f"{base}/heartbeat", json=big, timeout=60).status_code == 200
    answer = device.post(
        f"{base}/heartbeat", json=_beat(now_playing={"clip": "a" * 500_000}), timeout=60
    )
    assert answer.status_code == 422 and answer.json()["error"]["field"] == "now_playing.clip"
    answer = device.post(
        f"{base}/heartbeat", json=_beat(cache={"junk": "x" * 15_000_000}), timeout=120
    )
    assert answer.status_code == 413, answer.status_code
    # The last word: a self-test time the zone cannot show.
    last = _beat(selftest={"at": "9999-12-31T20:00:00+00:00", "ok": False, "detail": "cut"})
    assert device.post(f"{base}/heartbeat", json=last, timeout=30).status_code == 200

    admin = _session(server, "admin", ADMIN_PASSWORD)
    chief = _session(server, "chief-a", CHIEF_PASSWORD)
    for who in (admin, chief):
        rows = who.get(f"{server.url}/api/v1/speakers", timeout=30).json()["data"]
        (row,) = [r for r in rows if r["id"] == SPEAKER]
        assert row["selftest"] == {"ok": False, "at": None, "detail": "cut"}
        assert len(json.dumps(row["now_playing"])) < 1000 and "k1" not in row["now_playing"]
        assert row["cache"] == _beat()["cache"]

    # Bad rows written straight into the database, as an older server could have stored them.
    store = Store.open(sqlite_url(server.data), upgrade=False)
    try:
        with store.engine.begin() as conn:
            conn.execute(
                update(t.speaker_status).where(t.speaker_status.c.speaker_id == SPEAKER)
                .values(selftest_at=BEYOND, last_sync=BEYOND, now_playing=[1, 2],
                        cache_health={"clips": "many", "junk": "x" * 100_000})
            )  # fmt: skip
            conn.execute(
                update(t.urgent_acks).where(t.urgent_acks.c.urgent_id == urgent_id)
                .values(received_at=BEYOND, played_at=BEYOND)
            )  # fmt: skip
    finally:
        store.close()

    pages = ["/", "/dashboard/cards", "/dashboard/live", "/api/v1/speakers", "/api/v1/urgent",
             f"/api/v1/urgent/{urgent_id}", f"/urgent/{urgent_id}", f"/urgent/{urgent_id}/acks"]  # fmt: skip
    took: dict[str, float] = {}
    for name, who in (("admin", admin), ("chief-a", chief)):
        for page in pages:
            answer, elapsed = _timed_get(who, server.url + page)
            assert answer.status_code == 200, (name, page, answer.text[:1000])
            assert elapsed < PAGE_BOUND_S, (name, page, elapsed)
            took[f"{name} {page}"] = elapsed
        listing = who.get(f"{server.url}/api/v1/urgent", timeout=30).json()["data"]
        (mine,) = [u for u in listing if u["id"] == urgent_id]
        (ack,) = [a for a in mine["acks"] if a["speaker"] == SPEAKER]
        assert ack["received_at"] is None and ack["played_at"] is None
        rows = who.get(f"{server.url}/api/v1/speakers", timeout=30).json()["data"]
        (row,) = [r for r in rows if r["id"] == SPEAKER]
        assert row["selftest"]["at"] is None and row["now_playing"] is None
        assert row["cache"] == {}
    print("page times (s):", json.dumps({k: round(v, 3) for k, v in took.items()}, indent=1))
    assert "Traceback" not in server.log_text()
    # The device goes on as normal afterwards.
    assert wait_for(
        lambda: device.post(f"{base}/heartbeat", json=_beat(), timeout=30).status_code == 200, 10
    )
