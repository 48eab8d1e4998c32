"""The distribution loop with real processes on loopback: server, clients, file sinks.

Times are measured from the sinks' logs (wall-clock seconds at the first and last frame).
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
import requests

from broadcaster.config import load_settings
from broadcaster.store import Store, sqlite_url
from broadcaster.wiring import close_library, make_library
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
from tests.integration.proxy import FaultProxy

pytestmark = pytest.mark.integration


@pytest.fixture
def stack(tmp_path):
    """Start a server on a deployment and clients for its speakers; stop everything after."""
    started: list[Server | Client] = []

    def launch(config_text: str, speakers: list[str], server_url: str | None = None):
        config = tmp_path / "config.yaml"
        config.write_text(config_text)
        server = Server(tmp_path, config)
        server.start()
        started.append(server)
        url = server_url(server) if callable(server_url) else server.url
        running = []
        for speaker in speakers:
            client = Client(speaker, tmp_path, url, server.device_token(speaker))
            client.start()
            started.append(client)
            running.append(client)
        return server, running

    yield launch
    for thing in reversed(started):
        thing.stop()


def admin_headers(server: Server) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.user_token('admin')}"}


def aligned_window(
    tmp_path: Path, speakers: int, close_in_s: float
) -> tuple[str, datetime, dict[str, int]]:
    """A deployment whose loop ends exactly at the window end (to the millisecond).

    The clips are rendered first to learn their lengths; the gap is then chosen so that
    selftest, gap, m1, gap, m2, ... fills the window with no slack.
    """
    probe = tmp_path / "probe.yaml"
    length_s = 60
    # Any window will do to learn the clips' lengths; the real one is timed after the
    # rendering (on a loaded machine that took seconds of the `close_in_s` the clients get).
    anytime = aware_now().replace(microsecond=0) + seconds(3600)
    probe.write_text(
        deployment_yaml(
            window_start=anytime - seconds(length_s), window_end=anytime, speakers=speakers
        )
    )
    settings = load_settings(probe)
    library = make_library(settings, tmp_path / "data")
    try:
        durations = [library.for_message(m).duration_ms for m in settings.messages]
        selftest = library.selftest(settings.default_voice).duration_ms
    finally:
        close_library(library)
    end = aware_now().replace(microsecond=0) + seconds(math.ceil(close_in_s))
    window_ms = length_s * 1000
    for n in range(1, 200):
        loop_ms = sum(durations[i % len(durations)] for i in range(n))
        gap_ms = (window_ms - selftest - loop_ms) // n
        if gap_ms < 1500:
            break
    assert 500 <= gap_ms < 1500, gap_ms
    text = deployment_yaml(
        window_start=end - seconds(length_s), window_end=end, speakers=speakers, gap_s=gap_ms / 1000
    )
    return text, end, {"selftest": selftest, "gap": gap_ms, "n": n}


def test_every_client_stops_at_the_window_end(stack, tmp_path):
    config, end, _ = aligned_window(tmp_path, speakers=3, close_in_s=22)
    _, running = stack(config, ["spk-1", "spk-2", "spk-3"])
    assert wait_for(lambda: time.time() > end.timestamp() + 3, 60, step_s=0.5)
    for client in running:
        played = stops(client)
        assert played, client.log_text()[-2000:]
        last_end = max(e["t"] for e in played)
        assert abs(last_end - end.timestamp()) <= 0.5, (client.speaker, last_end - end.timestamp())
        assert last_end <= end.timestamp() + 0.05
        # No clip starts that could not finish: each start plus its full length fits.
        for start, stop in zip(starts(client), played, strict=False):
            assert start["t"] < end.timestamp()
            assert stop["t"] <= end.timestamp() + 0.05
        assert all(e["t"] <= end.timestamp() + 0.05 for e in client.events())


def test_urgent_is_heard_on_every_client_within_a_second_then_the_loop_resumes(stack):
    now = aware_now()
    config = deployment_yaml(
        window_start=now - seconds(120), window_end=now + seconds(300), speakers=3
    )
    server, running = stack(config, ["spk-1", "spk-2", "spk-3"])
    assert wait_for(lambda: all(len(starts(c, "loop")) >= 2 for c in running), 30), [
        c.log_text()[-1500:] for c in running
    ]
    time.sleep(1.0)  # let the long polls settle
    headers = admin_headers(server)
    # Every client waits in its long poll: what is measured from here is the wake-up, not
    # a client that was still between two polls on a loaded machine.
    assert wait_for(lambda: long_polls(server) >= len(running), 15), long_polls(server)
    sent_at = time.time()
    answer = requests.post(
        f"{server.url}/api/v1/urgent",
        json={"text": "紧急通知：请立即撤离到村委会广场。", "areas": ["district"], "repeats": 2,
              "interval_s": 1},
        headers=headers, timeout=10,
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    urgent_id = answer.json()["id"]
    assert wait_for(lambda: all(len(starts(c, "urgent")) >= 2 for c in running), 30)
    latencies = [starts(c, "urgent")[0]["t"] - sent_at for c in running]
    assert all(0 <= latency <= 1.0 for latency in latencies), latencies
    for client in running:
        urgent_stops = [e for e in stops(client) if e["kind"] == "urgent"]
        assert wait_for(
            lambda c=client, last=urgent_stops[-1]["t"]: any(
                s["t"] > last for s in starts(c, "loop")
            ),
            15,
        )
        cut = [
            e
            for e in stops(client)
            if e["kind"] == "loop" and e["t"] <= starts(client, "urgent")[0]["t"] + 0.3
        ]
        assert cut, "the loop clip playing when the urgent arrived was stopped"
    listed = requests.get(f"{server.url}/api/v1/urgent", headers=headers, timeout=10).json()["data"]
    mine = next(u for u in listed if u["id"] == urgent_id)

    def all_played() -> bool:
        acks = requests.get(f"{server.url}/api/v1/urgent", headers=headers, timeout=10).json()[
            "data"
        ]
        return all(a["played_at"] for a in next(u for u in acks if u["id"] == urgent_id)["acks"])

    assert {a["speaker"] for a in mine["acks"]} == {"spk-1", "spk-2", "spk-3"}
    assert wait_for(all_played, 15)


def server_plays(server: Server) -> dict[str, list[str]]:
    store = Store.open(sqlite_url(server.data), upgrade=False)
    try:
        start = datetime(2000, 1, 1).astimezone()
        plays = store.devices.plays(start, aware_now() + seconds(3600))
    finally:
        store.close()
    out: dict[str, list[str]] = {}
    for play in plays:
        out.setdefault(play.speaker_id, []).append(play.id)
    return out


@pytest.mark.slow  # kept out of `make test` (10 minutes); runs in `make test-slow`
def test_clients_survive_a_killed_server_and_every_play_arrives_once(stack):
    now = aware_now()
    config = deployment_yaml(
        window_start=now - seconds(120), window_end=now + seconds(600), speakers=3
    )
    server, running = stack(config, ["spk-1", "spk-2", "spk-3"])
    assert wait_for(lambda: all(len(stops(c)) >= 2 for c in running), 30)
    server.kill()
    killed_at = time.time()
    time.sleep(12)
    for client in running:
        assert any(e["t"] > killed_at + 2 for e in starts(client)), "kept playing its cached plan"
    server.start()
    time.sleep(3)

    def delivered() -> bool:
        plays = server_plays(server)
        return all(len(plays.get(c.speaker, [])) == len(stops(c)) for c in running)

    assert wait_for(delivered, 60, step_s=1.0), (
        {c.speaker: len(stops(c)) for c in running},
        {k: len(v) for k, v in server_plays(server).items()},
    )
    plays = server_plays(server)
    for client in running:
        ids = plays[client.speaker]
        assert len(ids) == len(set(ids)) == len(stops(client))


@pytest.mark.slow  # kept out of `make test` (10 minutes); runs in `make test-slow`
def test_damaged_cache_files_are_downloaded_again(stack):
    now = aware_now()
    config = deployment_yaml(
        window_start=now - seconds(120), window_end=now + seconds(600), speakers=1
    )
    _, (client,) = stack(config, ["spk-1"])
    assert wait_for(lambda: len(stops(client)) >= 2, 30)
    cached = sorted((client.root / "spk-1-cache").rglob("*.wav"))
    assert len(cached) >= 2, cached
    good = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in cached}
    truncated, deleted = cached[0], cached[1]
    truncated.write_bytes(truncated.read_bytes()[:1000])
    deleted.unlink()
    before = len(stops(client))
    assert wait_for(lambda: len(stops(client)) >= before + 4, 40)
    for path in (truncated, deleted):
        assert path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() == good[path]


@pytest.mark.slow  # kept out of `make test` (10 minutes); runs in `make test-slow`
def test_plan_with_a_missing_clip_waits_until_the_clip_arrives(stack, tmp_path):
    now = aware_now()
    config = deployment_yaml(
        window_start=now - seconds(120), window_end=now + seconds(600), speakers=1
    )
    proxies: list[FaultProxy] = []

    def through_proxy(server: Server) -> str:
        proxy = FaultProxy(server.url).__enter__()
        proxies.append(proxy)
        return proxy.url

    try:
        server, (client,) = stack(config, ["spk-1"], server_url=through_proxy)
        proxy = proxies[0]
        assert wait_for(lambda: len(starts(client, "loop")) >= 2, 30)
        old = {e["clip"] for e in starts(client) if e["message"] == "m1"}
        proxy.mode = "block_clips"
        store = Store.open(sqlite_url(server.data), upgrade=False)
        try:
            message = store.content.get_message("m1")
            store.content.update_message(
                replace(message, text="请大家勤洗手，常通风。"), aware_now()
            )
        finally:
            store.close()
        edited_at = time.time()
        # The new plan names a clip the client cannot fetch: it keeps the old plan meanwhile.
        assert wait_for(lambda: any(p == 503 for _, _, p in proxy.requests), 30)
        time.sleep(6)
        during = [e for e in starts(client) if e["message"] == "m1" and e["t"] > edited_at]
        assert during and {e["clip"] for e in during} <= old
        proxy.mode = "pass"
        unblocked_at = time.time()
        assert wait_for(
            lambda: any(e["message"] == "m1" and e["clip"] not in old and e["t"] > unblocked_at
                        for e in starts(client)),
            40,
        ), client.log_text()[-2000:]  # fmt: skip
    finally:
        for proxy in proxies:
            proxy.__exit__(None, None, None)


def test_revoked_token_gets_401_on_its_next_request(stack):
    now = aware_now()
    config = deployment_yaml(
        window_start=now - seconds(60), window_end=now + seconds(600), speakers=1
    )
    server, _ = stack(config, [])
    token = server.device_token("spk-1")
    url = f"{server.url}/api/v1/speakers/spk-1/plan"
    assert (
        requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code
        == 200
    )
    server.cli("token", "revoke", "--speaker", "spk-1")
    answer = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthenticated"


@pytest.mark.slow  # kept out of `make test` (10 minutes); runs in `make test-slow`
def test_silent_speaker_shows_offline_within_100_seconds(stack):
    defaults = load_settings(Path(__file__).resolve().parents[2] / "config.yaml").server
    assert defaults.heartbeat_s * defaults.offline_after_missed + 5 <= 100
    now = aware_now()
    config = deployment_yaml(
        window_start=now - seconds(60), window_end=now + seconds(600), speakers=1
    )
    server, (client,) = stack(config, ["spk-1"])
    headers = admin_headers(server)

    def online() -> bool:
        rows = requests.get(f"{server.url}/api/v1/speakers", headers=headers, timeout=10).json()[
            "data"
        ]
        return next(r for r in rows if r["id"] == "spk-1")["online"]

    assert wait_for(online, 30)
    client.proc.kill()
    client.proc.wait(5)
    silenced = time.monotonic()
    assert wait_for(lambda: not online(), 100, step_s=0.5)
    # heartbeat_s=2 in this deployment: three missed heartbeats plus the 5 s offline job.
    assert time.monotonic() - silenced <= 2 * 3 + 5 + 2
