"""Issue 9 end to end: a real `broadcaster serve`, real `broadcaster-client`s with file sinks.

- A chief's night urgent with `override_window` is heard on every target at once.
- Without it, `plays_at` is the next window start; a send that would expire first is
  `422 will_not_play` and nothing is stored.
- An edit through the user API is pushed (`resync`): every client reports the new plan ETag
  (`synced`) within seconds and the next loop item plays the new text.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import requests

from tests.integration.harness import (
    Client,
    Server,
    aware_now,
    deployment_yaml,
    long_polls,
    seconds,
    starts,
    wait_for,
)

pytestmark = pytest.mark.integration


def _stack(tmp_path: Path, window_start: datetime, window_end: datetime, speakers: list[str]):  # type: ignore[no-untyped-def]
    config = tmp_path / "config.yaml"
    config.write_text(deployment_yaml(window_start=window_start, window_end=window_end, speakers=3))
    server = Server(tmp_path, config)
    server.start()
    running = [Client(s, tmp_path, server.url, server.device_token(s)) for s in speakers]
    for client in running:
        client.start()
    return server, running


def _online(server: Server, headers: dict[str, str], speakers: list[str]) -> bool:
    rows = requests.get(f"{server.url}/api/v1/speakers", headers=headers, timeout=10).json()["data"]
    return all(r["online"] for r in rows if r["id"] in speakers)


@pytest.fixture
def night(tmp_path: Path) -> Iterator[tuple[Server, list[Client], datetime]]:
    """Outside the windows: the only window starts in two hours."""
    now = aware_now().replace(microsecond=0)
    window_start = now + seconds(7200)
    server, running = _stack(
        tmp_path, window_start, window_start + seconds(1800), ["spk-1", "spk-2", "spk-3"]
    )
    yield server, running, window_start
    for thing in [*running, server]:
        thing.stop()


def test_a_chiefs_night_urgent_with_override_is_heard_by_every_target(night):  # type: ignore[no-untyped-def]
    server, running, _window_start = night
    chief = {"Authorization": f"Bearer {server.user_token('chief-a')}"}
    mine = [c for c in running if c.speaker in ("spk-1", "spk-3")]  # village-a
    assert wait_for(lambda: _online(server, chief, ["spk-1", "spk-3"]), 30)
    assert not any(starts(c) for c in running)  # silent: outside the windows
    time.sleep(1.0)  # let the long polls settle
    body = {"text": "山洪预警，请沿河村民立即转移到高处。", "areas": ["village-a"]}
    refused = requests.post(f"{server.url}/api/v1/urgent", json=body, headers=chief, timeout=30)
    assert refused.status_code == 422, refused.text  # expires in 1 h, the window is 2 h away
    # Every client waits in its long poll: what is measured from here is the wake-up, not
    # a client that was still between two polls on a loaded machine.
    assert wait_for(lambda: long_polls(server) >= len(running), 15), long_polls(server)
    sent_at = time.time()
    answer = requests.post(
        f"{server.url}/api/v1/urgent", json={**body, "override_window": True}, headers=chief,
        timeout=30,
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    targets = {t["speaker"]: t for t in answer.json()["targets"]}
    assert set(targets) == {"spk-1", "spk-3"}
    for target in targets.values():
        assert target["online"] and target["reason"] is None
        plays_at = datetime.fromisoformat(target["plays_at"]).timestamp()
        assert abs(plays_at - sent_at) < 5
    for client in mine:
        assert wait_for(lambda c=client: starts(c, "urgent"), 10), client.log_text()[-2000:]
        assert starts(client, "urgent")[0]["t"] - sent_at < 1.5
    urgent_id = answer.json()["id"]

    def states() -> dict[str, str]:
        got = requests.get(f"{server.url}/api/v1/urgent/{urgent_id}", headers=chief, timeout=10)
        return {t["speaker"]: t["state"] for t in got.json()["data"]["targets"]}

    assert wait_for(lambda: set(states().values()) == {"played"}, 40), states()
    assert not starts(running[1], "urgent")  # spk-2 is in village-b: not a target


def test_without_override_it_plays_at_the_next_window_or_is_refused(night):  # type: ignore[no-untyped-def]
    server, _running, window_start = night
    admin = {"Authorization": f"Bearer {server.user_token('admin')}"}
    assert wait_for(lambda: _online(server, admin, ["spk-1", "spk-2", "spk-3"]), 30)
    later = aware_now() + seconds(4 * 3600)
    answer = requests.post(
        f"{server.url}/api/v1/urgent",
        json={"text": "明天上午停水。", "speakers": ["spk-1", "spk-2"],
              "expires_at": later.isoformat()},
        headers=admin, timeout=30,
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    for target in answer.json()["targets"]:
        assert datetime.fromisoformat(target["plays_at"]) == window_start, target
        assert target["reason"] is None
    stored = requests.get(f"{server.url}/api/v1/urgent", headers=admin, timeout=10).json()["data"]
    assert [u["id"] for u in stored] == [answer.json()["id"]]

    before_window = window_start - seconds(60)
    refused = requests.post(
        f"{server.url}/api/v1/urgent",
        json={"text": "马上停电。", "speakers": ["spk-3"], "expires_at": before_window.isoformat()},
        headers=admin, timeout=30,
    )  # fmt: skip
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "will_not_play"
    assert error["targets"] == [
        {"speaker": "spk-3", "name": "喇叭3", "online": True, "plays_at": None,
         "reason": "outside_windows_until_expiry", "last_seen": error["targets"][0]["last_seen"]}
    ]  # fmt: skip
    stored = requests.get(f"{server.url}/api/v1/urgent", headers=admin, timeout=10).json()["data"]
    assert len(stored) == 1  # nothing stored for the refused one


@pytest.fixture
def playing(tmp_path: Path) -> Iterator[tuple[Server, list[Client]]]:
    now = aware_now()
    server, running = _stack(
        tmp_path, now - seconds(60), now + seconds(600), ["spk-1", "spk-2", "spk-3"]
    )
    yield server, running
    for thing in [*running, server]:
        thing.stop()


def test_an_edit_through_the_api_reaches_every_client_and_the_next_loop_plays_it(playing):  # type: ignore[no-untyped-def]
    server, running = playing
    admin = {"Authorization": f"Bearer {server.user_token('admin')}"}

    def rows() -> list[dict]:
        got = requests.get(f"{server.url}/api/v1/speakers", headers=admin, timeout=10)
        return got.json()["data"]

    assert wait_for(lambda: all(len(starts(c, "loop")) >= 1 for c in running), 30)
    assert wait_for(lambda: all(r["synced"] for r in rows()), 20), rows()
    old_etags = {r["id"]: r["plan_etag"] for r in rows()}
    edited_at = time.time()
    answer = requests.patch(
        f"{server.url}/api/v1/messages/m1", json={"text": "今晚八点全村停电检修。"},
        headers=admin, timeout=30,
    )  # fmt: skip
    assert answer.status_code == 200, answer.text

    def synced_to_new() -> bool:
        now_rows = rows()
        return all(r["synced"] and r["plan_etag"] != old_etags[r["id"]] for r in now_rows)

    assert wait_for(synced_to_new, 10, step_s=0.05), rows()
    synced_at = time.time()
    took = synced_at - edited_at
    assert took < 5, took  # pushed: well before the next heartbeat of a production client
    new_plan = requests.get(
        f"{server.url}/api/v1/speakers/spk-1/plan",
        headers={"Authorization": f"Bearer {running[0].token}"}, timeout=10,
    ).json()  # fmt: skip
    new_clip = next(i["clip"] for i in new_plan["items"] if i["message"] == "m1")
    for client in running:
        assert wait_for(
            lambda c=client: any(
                s["message"] == "m1" and s["t"] > synced_at for s in starts(c, "loop")
            ),
            60,
        ), client.events()[-6:]
        first = next(
            s for s in starts(client, "loop") if s["message"] == "m1" and s["t"] > synced_at
        )
        assert first["clip"] == new_clip  # the new text, not the old clip
