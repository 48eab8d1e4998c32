"""Real clients (file sinks) against a real server, with faults in between.

In every case the client keeps playing what its plan says, stays silent outside the
window, and every play-log entry reaches the server exactly once: the server's play-log
ids for a speaker are unique and as many as the clips its sink started (each start is
journaled; a clip whose stop was never written is one the client was killed in).
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from broadcaster.store import Store, TokenKind, sqlite_url
from tests.conftest import require_tool
from tests.faults.processes import (
    FaultClient,
    FaultServer,
    SinkWatcher,
    play_ids,
    query,
)
from tests.integration.harness import aware_now, deployment_yaml, seconds, wait_for
from tests.integration.proxy import FaultProxy

pytestmark = pytest.mark.integration

WALLCLOCK = Path(__file__).resolve().parent / "wallclock"
SLACK_S = 0.05  # the sink may write its stop line this long after the window end


def starts(client: FaultClient) -> list[dict]:
    return [e for e in client.events() if e["event"] == "start"]


def stops(client: FaultClient) -> list[dict]:
    return [e for e in client.events() if e["event"] == "stop"]


class Stack:
    """A server, optionally a fault proxy in front of it, and clients; all stopped after."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.server: FaultServer | None = None
        self.proxy: FaultProxy | None = None
        self.clients: list[FaultClient] = []

    def serve(
        self, config_text: str, *, proxy: bool = False, env: dict | None = None
    ) -> FaultServer:
        config = self.root / "config.yaml"
        config.write_text(config_text)
        self.server = FaultServer(self.root, config, extra_env=env or {})
        self.server.start()
        if proxy:
            self.proxy = FaultProxy(self.server.url).__enter__()
        return self.server

    def client(
        self, speaker: str, *, env: dict | None = None, now: datetime | None = None
    ) -> FaultClient:
        assert self.server is not None
        store = Store.open(sqlite_url(self.server.data), upgrade=False)
        try:
            token = store.people.issue_token(TokenKind.DEVICE, speaker, now or aware_now())[1]
        finally:
            store.close()
        url = self.proxy.url if self.proxy else self.server.url
        client = FaultClient(speaker, self.root, url, token, extra_env=env or {})
        client.start()
        self.clients.append(client)
        return client

    def close(self) -> None:
        for client in self.clients:
            client.stop()
        if self.proxy is not None:
            self.proxy.__exit__(None, None, None)
        if self.server is not None:
            self.server.stop()


@pytest.fixture
def stack(tmp_path):
    s = Stack(tmp_path)
    yield s
    s.close()


def assert_each_play_arrives_once(
    server: FaultServer, clients: list[FaultClient], timeout_s: float = 60
) -> None:
    """Server play-log ids per speaker: unique, and one per clip its sink started."""

    def counts() -> dict[str, tuple[int, int]]:
        stored = play_ids(server.db)
        return {c.speaker: (len(stored.get(c.speaker, [])), len(starts(c))) for c in clients}

    def settled() -> bool:
        # Clients still play: compare at a moment when nothing is mid-clip on any of them.
        return all(
            server_n
            == started_n
            - (
                1
                if len(starts(c)) > len(stops(c)) and c.proc is not None and c.proc.poll() is None
                else 0
            )
            for c, (server_n, started_n) in zip(clients, counts().values(), strict=True)
        )

    assert wait_for(settled, timeout_s, step_s=0.5), (
        counts(),
        [c.log_text()[-1500:] for c in clients],
    )
    stored = play_ids(server.db)
    for client in clients:
        ids = stored.get(client.speaker, [])
        assert len(ids) == len(set(ids)), f"{client.speaker}: duplicate play-log ids"


def assert_silent_outside(client: FaultClient, start: datetime, end: datetime) -> None:
    for event in client.events():
        assert start.timestamp() - SLACK_S <= event["t"] <= end.timestamp() + SLACK_S, event


def open_window(seconds_left: float, speakers: int, **kw) -> tuple[str, datetime, datetime]:
    now = aware_now()
    start, end = now - seconds(60), now + seconds(seconds_left)
    return deployment_yaml(window_start=start, window_end=end, speakers=speakers, **kw), start, end


@pytest.mark.slow  # 30 s: kept out of `make test` (10 minutes)
def test_server_errors_and_hangs_do_not_interrupt_playback(stack):
    config, start, end = open_window(600, speakers=2)
    stack.serve(config, proxy=True)
    running = [stack.client("spk-1"), stack.client("spk-2")]
    assert wait_for(lambda: all(len(stops(c)) >= 2 for c in running), 40)
    for mode in ("fail", "hang"):
        stack.proxy.mode = mode
        began = time.time()
        time.sleep(9)
        for client in running:
            assert any(e["t"] > began + 2 for e in starts(client)), (
                mode,
                client.log_text()[-1500:],
            )
        stack.proxy.mode = "pass"
    assert any(status == 500 for _, _, status in stack.proxy.requests)
    assert_each_play_arrives_once(stack.server, running)
    for client in running:
        assert_silent_outside(client, start, end)


@pytest.mark.parametrize(
    "outage_s",
    # Both slow (50 s and 11 min); `make test` has the killed-server integration test.
    [pytest.param(40, id="40s"), pytest.param(600, id="10min")],
)
@pytest.mark.slow
def test_server_gone_mid_window_client_plays_to_the_hard_stop_then_delivers(stack, outage_s):
    # The window ends during the outage: the client must stop on time with no server.
    # The window has 15 s more than the outage for the start (the server's first renders and
    # two clips on each client: ~20 s, up to 45 s on a loaded machine, when a window of
    # `outage_s` alone left under 10 s before its end); the kill then waits, if need be, to
    # be at most `outage_s - 5` s before the end, so that the window still ends inside the
    # outage.
    config, start, end = open_window(outage_s + 15, speakers=2)
    server = stack.serve(config)
    running = [stack.client("spk-1"), stack.client("spk-2")]
    assert wait_for(lambda: all(len(stops(c)) >= 2 for c in running), 40)
    time.sleep(max(0.0, end.timestamp() - (outage_s - 5) - time.time()))
    server.kill()
    killed_at = time.time()
    assert killed_at + 10 < end.timestamp() < killed_at + outage_s - 4
    assert wait_for(lambda: time.time() > end.timestamp() + 3, outage_s + 10, step_s=0.5)
    for client in running:
        played = stops(client)
        assert any(e["t"] > killed_at + 3 for e in starts(client)), "kept playing its cached plan"
        assert end.timestamp() - 8 <= played[-1]["t"] <= end.timestamp() + SLACK_S
        assert_silent_outside(client, start, end)
    remaining = killed_at + outage_s - time.time()
    if remaining > 0:
        time.sleep(remaining)
    server.start()
    assert_each_play_arrives_once(server, running, timeout_s=90)


@pytest.mark.slow  # kept out of `make test` (10 minutes); runs in `make test-slow`
def test_truncated_and_corrupted_downloads_are_never_played(stack):
    # Corrupted bytes first (thrown away), then cut-off bodies (kept as .part files), then
    # good answers: the client resumes the parts with Range requests and checks the result.
    config, start, end = open_window(600, speakers=1)
    stack.serve(config, proxy=True)
    stack.proxy.mode = "corrupt_clips"
    client = stack.client("spk-1")
    assert wait_for(lambda: "do not match the plan" in client.log_text(), 30)
    time.sleep(4)
    stack.proxy.mode = "truncate_clips"
    assert wait_for(lambda: any(s == -1 for _, _, s in stack.proxy.requests), 40)
    assert wait_for(lambda: "download broke off" in client.log_text(), 10)
    time.sleep(4)
    assert not client.events(), "played a clip it could not verify"
    assert client.proc.poll() is None
    parts = list((client.root / "spk-1-cache" / "clips").glob("*.part"))
    assert parts and all(p.stat().st_size > 0 for p in parts), "partial downloads are kept"
    stack.proxy.mode = "pass"
    assert wait_for(lambda: len(stops(client)) >= 3, 60), client.log_text()[-2000:]
    played = {e["clip"] for e in starts(client)}
    cached = {
        p.name.split(".")[0]: p for p in (client.root / "spk-1-cache" / "clips").glob("*.wav")
    }
    served = stack.server.data
    for key in played:
        mine = hashlib.sha256(cached[key].read_bytes()).hexdigest()
        theirs = [hashlib.sha256(p.read_bytes()).hexdigest() for p in served.rglob(f"{key}*.wav")]
        assert theirs and mine == theirs[0], key
    assert_each_play_arrives_once(stack.server, [client])
    assert_silent_outside(client, start, end)


@pytest.mark.slow  # kept out of `make test` (10 minutes); runs in `make test-slow`
def test_client_killed_mid_clip_restarts_in_step_and_loses_no_play(stack):
    config, start, end = open_window(600, speakers=1)
    server = stack.serve(config)
    client = stack.client("spk-1")
    assert wait_for(lambda: len(stops(client)) >= 2, 40)
    assert wait_for(lambda: len(starts(client)) > len(stops(client)), 20, step_s=0.02)
    time.sleep(0.5)
    client.kill()  # SIGKILL mid-clip: the sink never writes this clip's stop
    killed_at = time.time()
    client.start()
    assert wait_for(lambda: len([e for e in stops(client) if e["t"] > killed_at]) >= 3, 40)
    # The clip it died in reaches the server as cut at its start.
    assert_each_play_arrives_once(server, [client])
    cut = query(server.db, "SELECT reason, completed FROM play_log WHERE reason = 'cut:shutdown'")
    assert cut and not any(completed for _, completed in cut), cut
    assert_silent_outside(client, start, end)


@pytest.mark.slow  # 45 s: kept out of `make test` (10 minutes)
def test_client_clock_stepped_an_hour_or_five_minutes_keeps_server_time(stack, tmp_path):
    # The system clock steps (+1 h on spk-1, -5 min on spk-2) while they play; the window
    # ends 40 s from now by the server's clock. (libfaketime cannot do this to a Python
    # process: unfaked monotonic breaks time.sleep, faked monotonic breaks timed waits.)
    config, _, end = open_window(40, speakers=2)
    stack.serve(config)
    offsets = {}
    running = []
    for speaker in ("spk-1", "spk-2"):
        offsets[speaker] = tmp_path / f"{speaker}.offset"
        offsets[speaker].write_text("0")
        env = {"PYTHONPATH": os.pathsep.join([str(WALLCLOCK), os.environ.get("PYTHONPATH", "")]),
               "BROADCASTER_TEST_WALL_OFFSET_FILE": str(offsets[speaker])}  # fmt: skip
        running.append(stack.client(speaker, env=env))
    with SinkWatcher(*running) as watcher:
        assert wait_for(
            lambda: all(len(watcher.events(c.speaker, "stop")) >= 2 for c in running), 30
        )
        for speaker, step in (("spk-1", "3600"), ("spk-2", "-300")):
            tmp = offsets[speaker].with_suffix(".tmp")
            tmp.write_text(step)
            tmp.replace(offsets[speaker])
        stepped_at = time.time()
        assert wait_for(lambda: time.time() > end.timestamp() + 4, 60, step_s=0.5)
    for client in running:
        seen = watcher.events(client.speaker)
        assert any(t > stepped_at + 3 and e["event"] == "start" for t, e in seen), client.speaker
        last = max(t for t, e in seen)
        # Real time, as the watcher saw the lines appear (polled every 20 ms).
        assert end.timestamp() - 8 <= last <= end.timestamp() + 0.3, (
            client.speaker,
            last - end.timestamp(),
        )
        assert all(t <= end.timestamp() + 0.3 for t, _ in seen)
        assert client.proc.poll() is None
    assert_each_play_arrives_once(stack.server, running)
    for speaker in ("spk-1", "spk-2"):
        rows = query(
            stack.server.db,
            "SELECT MAX(ended_at) FROM play_log WHERE speaker_id = ?", speaker,
        )  # fmt: skip
        last_end = datetime.fromisoformat(rows[0][0]).replace(tzinfo=ZoneInfo("UTC"))
        assert last_end <= end + timedelta(seconds=SLACK_S), (speaker, last_end, end)


def midnight_zone(tmp_path: Path, midnight_in_s: int) -> tuple[Path, ZoneInfo, datetime]:
    """A zone (compiled with zic) whose local midnight is `midnight_in_s` seconds away.

    Returns the zone folder (for PYTHONTZPATH), the zone and the midnight instant.
    """
    require_tool("zic")
    midnight = datetime.now(UTC).replace(microsecond=0) + seconds(midnight_in_s)
    since = midnight.hour * 3600 + midnight.minute * 60 + midnight.second
    offset = (-since) % 86400
    if offset > 43200:
        offset -= 86400
    sign, offset = ("-" if offset < 0 else ""), abs(offset)
    stdoff = f"{sign}{offset // 3600}:{offset // 60 % 60:02d}:{offset % 60:02d}"
    source = tmp_path / "midnight.zi"
    source.write_text(f"Zone Test/Midnight {stdoff} - TMN\n")
    folder = tmp_path / "zoneinfo"
    subprocess.run(["zic", "-d", str(folder), str(source)], check=True)
    with (folder / "Test" / "Midnight").open("rb") as f:
        zone = ZoneInfo.from_file(f, key="Test/Midnight")
    local = midnight.astimezone(zone)
    assert (local.hour, local.minute, local.second) == (0, 0, 0), local
    return folder, zone, midnight


@pytest.mark.slow  # 75 s: kept out of `make test` (10 minutes)
def test_window_across_midnight_plays_through_and_stops_on_time(stack, tmp_path):
    # The deployment's zone has its midnight 40 s from now; the window crosses it.
    folder, zone, midnight = midnight_zone(tmp_path, 40)
    start, end = midnight - seconds(60), midnight + seconds(25)
    config = deployment_yaml(window_start=start, window_end=end, speakers=1)
    config = config.replace("timezone: Asia/Shanghai", "timezone: Test/Midnight")
    config = re.sub(r'start: "[0-9:]+"', f'start: "{start.astimezone(zone):%H:%M:%S}"', config)
    config = re.sub(r'end: "[0-9:]+"', f'end: "{end.astimezone(zone):%H:%M:%S}"', config)
    assert start.astimezone(zone).time() > end.astimezone(zone).time()  # crosses midnight
    env = {"PYTHONTZPATH": str(folder)}
    server = stack.serve(config, env=env)
    client = stack.client("spk-1", env=env)
    assert wait_for(lambda: time.time() > end.timestamp() + 4, 120, step_s=0.5)
    events = sorted(client.events(), key=lambda e: e["t"])
    assert events, client.log_text()[-2000:]
    assert events[0]["t"] < midnight.timestamp() - 5 < midnight.timestamp() + 5 < events[-1]["t"]
    # No silence around midnight longer than the gap (1 s) plus scheduling slack.
    silences = [b["t"] - a["t"] for a, b in itertools.pairwise(events) if a["event"] == "stop"]
    assert silences and max(silences) < 2.5, silences
    assert end.timestamp() - 8 <= events[-1]["t"] <= end.timestamp() + SLACK_S
    assert_silent_outside(client, start, end)
    assert_each_play_arrives_once(server, [client])
