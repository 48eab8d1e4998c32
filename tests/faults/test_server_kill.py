"""SIGKILL the server while devices write: the database stays sound and nothing
acknowledged is lost.

Writer threads act as speakers: they upload play-log batches (fresh ids) and heartbeats
(a counter in `version`) as fast as the server answers. After a kill at a random moment,
before the restart, the test checks the file: `PRAGMA integrity_check` is "ok", every
play id that got a 2xx is in `play_log`, and each speaker's stored heartbeat is the last
acknowledged one or a later one (a write whose answer the kill swallowed may be there).
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from broadcaster.store import Store, TokenKind, sqlite_url
from tests.faults.processes import FaultServer, integrity, play_ids, query
from tests.integration.harness import aware_now, deployment_yaml, seconds

pytestmark = pytest.mark.integration

SPEAKERS = [f"spk-{i}" for i in range(1, 5)]


@dataclass
class Acked:
    plays: dict[str, set[str]] = field(default_factory=lambda: {s: set() for s in SPEAKERS})
    beats: dict[str, int] = field(default_factory=lambda: {s: 0 for s in SPEAKERS})
    requests: int = 0


def _entry(clip: str) -> dict[str, Any]:
    start = datetime.now(UTC) - timedelta(seconds=5)
    return {
        "id": str(uuid.uuid4()), "clip": clip, "message": "m1", "kind": "loop", "urgent": None,
        "planned_start": start.isoformat(), "started_at": start.isoformat(),
        "ended_at": (start + timedelta(seconds=4)).isoformat(), "completed": True, "reason": "",
    }  # fmt: skip


def _writer(url: str, speaker: str, token: str, acked: Acked, stop: threading.Event,
            counter: list[int]) -> None:  # fmt: skip
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    base = f"{url}/api/v1/speakers/{speaker}"
    rng = random.Random()
    while not stop.is_set():
        try:
            if rng.random() < 0.6:
                batch = [_entry("c" * 64) for _ in range(rng.randint(1, 40))]
                answer = session.post(f"{base}/plays", json={"entries": batch}, timeout=5)
                if 200 <= answer.status_code < 300:
                    body = answer.json()
                    acked.plays[speaker].update(body["accepted"] + body["duplicates"])
                    acked.requests += 1
                else:
                    raise AssertionError(f"plays answered {answer.status_code}: {answer.text}")
            else:
                counter[0] += 1
                n = counter[0]
                beat: dict[str, Any] = {"state": "playing", "volume": 100, "version": f"w{n}"}
                answer = session.post(f"{base}/heartbeat", json=beat, timeout=5)
                if 200 <= answer.status_code < 300:
                    acked.beats[speaker] = max(acked.beats[speaker], n)
                    acked.requests += 1
                else:
                    raise AssertionError(f"heartbeat answered {answer.status_code}: {answer.text}")
        except requests.RequestException:
            return  # the server is gone


def _kill_loop(tmp_path, kills: int) -> dict[str, int]:
    now = aware_now()
    config = tmp_path / "config.yaml"
    config.write_text(
        deployment_yaml(
            window_start=now - seconds(60), window_end=now + seconds(7200), speakers=len(SPEAKERS)
        )
    )
    server = FaultServer(tmp_path, config)
    server.start()
    store = Store.open(sqlite_url(server.data), upgrade=False)
    try:
        tokens = {
            s: store.people.issue_token(TokenKind.DEVICE, s, aware_now())[1] for s in SPEAKERS
        }
    finally:
        store.close()
    acked = Acked()
    counters = {s: [0] for s in SPEAKERS}
    figures = {"kills": 0, "lost_plays": 0, "lost_beats": 0, "acked_plays": 0, "requests": 0}
    rng = random.Random(5)
    try:
        for round_no in range(kills):
            if round_no:
                server.start()
            stop = threading.Event()
            threads = [
                threading.Thread(
                    target=_writer, args=(server.url, s, tokens[s], acked, stop, counters[s]),
                    daemon=True,
                )
                for s in SPEAKERS
            ]  # fmt: skip
            for thread in threads:
                thread.start()
            time.sleep(rng.uniform(0.2, 1.5))
            server.kill()
            stop.set()
            for thread in threads:
                thread.join(10)
            # The file as the kill left it (a reader recovers the WAL, as the restart would).
            check = integrity(server.db)
            assert check == "ok", f"after kill {round_no + 1}: {check}"
            stored = play_ids(server.db)
            for speaker in SPEAKERS:
                missing = acked.plays[speaker] - set(stored.get(speaker, []))
                figures["lost_plays"] += len(missing)
                rows = query(
                    server.db,
                    "SELECT client_version FROM speaker_status WHERE speaker_id = ?",
                    speaker,
                )
                stored_beat = int(rows[0][0][1:]) if rows and rows[0][0].startswith("w") else 0
                if stored_beat < acked.beats[speaker]:
                    figures["lost_beats"] += 1
                acked.plays[speaker] -= missing  # count each lost entry once
            figures["kills"] = round_no + 1
            assert figures["lost_plays"] == 0 and figures["lost_beats"] == 0, figures
    finally:
        server.kill()
    figures["acked_plays"] = sum(len(v) for v in acked.plays.values())
    figures["requests"] = acked.requests
    print(f"\nserver kill loop: {figures}")
    assert figures["acked_plays"] > 0 and acked.requests > kills, figures
    return figures


@pytest.mark.slow  # 25 s; the 200 kills below are the full version
def test_ten_kills_during_writes_lose_no_acknowledged_write(tmp_path):
    _kill_loop(tmp_path, kills=10)


@pytest.mark.slow
def test_two_hundred_kills_during_writes_lose_no_acknowledged_write(tmp_path):
    figures = _kill_loop(tmp_path, kills=200)
    assert figures["kills"] == 200
