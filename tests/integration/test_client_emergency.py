"""The emergency path with real processes: a `broadcaster serve` and `broadcaster-client`s.

Needs the server side of issue 9 (urgent events with ``clip: null`` + ``chime``, the
``urgent_clip`` event, ``cut`` acks, and a ``resync`` pushed on cancel whose plan resumes the
loop 0.5 s after the cancel). Times are wall-clock seconds from the file sinks' logs.
"""

from __future__ import annotations

import time

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
    stops,
    wait_for,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def stack(tmp_path):
    started: list[Server | Client] = []
    now = aware_now()
    config = tmp_path / "config.yaml"
    config.write_text(
        deployment_yaml(window_start=now - seconds(120), window_end=now + seconds(300), speakers=2)
    )
    server = Server(tmp_path, config)
    server.start()
    started.append(server)
    running = []
    for speaker in ("spk-1", "spk-2"):
        client = Client(speaker, tmp_path, server.url, server.device_token(speaker))
        client.start()
        started.append(client)
        running.append(client)
    yield server, running
    for thing in reversed(started):
        thing.stop()


def test_urgent_sounds_at_once_and_a_cancel_cuts_it_and_the_loop_goes_on_within_a_second(stack):
    server, running = stack
    assert wait_for(lambda: all(len(starts(c, "loop")) >= 1 for c in running), 30), [
        c.log_text()[-1500:] for c in running
    ]
    time.sleep(1.0)  # let the long polls settle
    headers = {"Authorization": f"Bearer {server.user_token('admin')}"}
    # Every client waits in its long poll: what is measured from here is the wake-up, not
    # a client that was still between two polls on a loaded machine.
    assert wait_for(lambda: long_polls(server) >= len(running), 15), long_polls(server)
    sent_at = time.time()
    answer = requests.post(
        f"{server.url}/api/v1/urgent",
        json={"text": "紧急通知：请立即撤离到村委会广场，不要携带行李，听从工作人员指挥。",
              "areas": ["district"], "repeats": 3, "interval_s": 1},
        headers=headers, timeout=10,
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    urgent_id = answer.json()["id"]
    # The first sound (the chime, or the clip if it was ready) within a second everywhere.
    assert wait_for(lambda: all(starts(c, "urgent") for c in running), 10)
    latencies = [starts(c, "urgent")[0]["t"] - sent_at for c in running]
    assert all(0 <= x <= 1.0 for x in latencies), latencies

    # Cancel while the speech plays (a clip that has been playing for over a second).
    def speaking(c: Client) -> bool:
        events = c.events()
        last = events[-1] if events else {}
        return (
            last.get("event") == "start"
            and last.get("kind") == "urgent"
            and (time.time() - float(last["t"]) >= 1.2)
        )

    assert wait_for(lambda: all(speaking(c) for c in running), 20), [
        c.events()[-4:] for c in running
    ]
    cancelled_at = time.time()
    answer = requests.delete(f"{server.url}/api/v1/urgent/{urgent_id}", headers=headers, timeout=10)
    assert answer.ok, answer.text
    for client in running:
        assert wait_for(
            lambda c=client: any(s["t"] > cancelled_at for s in starts(c, "loop")), 10
        ), client.log_text()[-2000:]
        cut = stops(client, "urgent")[-1]
        assert cut["reason"] == "cut:cancelled"
        assert cut["t"] - cancelled_at < 0.5  # faded at once
        resumed = next(s for s in starts(client, "loop") if s["t"] > cancelled_at)
        assert resumed["t"] - cancelled_at < 1.0  # the new plan's loop, joined in step
        # No urgent sound after the cancel.
        assert not [s for s in starts(client, "urgent") if s["t"] > cancelled_at]

    def acks() -> list[dict]:
        got = requests.get(f"{server.url}/api/v1/urgent/{urgent_id}", headers=headers, timeout=10)
        return got.json()["data"].get("acks") or []

    # Every speaker acked `cut` (not `played`): it was not heard whole.
    assert wait_for(lambda: all(a["cut_at"] for a in acks()) and len(acks()) == 2, 10), acks()
    assert not any(a["played_at"] for a in acks())
