"""The client end to end against a stub of the device API (scaffolding until the server runs).

Each test gives the client a window a few seconds long and listens to its file sink.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from audio.player import FileSink
from broadcaster.client.app import Client, Options
from tests.client.fakes import SPEAKER, TOKEN, StubServer, make_clip, plan_body, read_log


@pytest.fixture
def server() -> Iterator[StubServer]:
    with StubServer() as s:
        yield s


def start_client(server_url: str, cache: Path, out: Path, token: str = TOKEN) -> Client:
    client = Client(
        Options(server_url, SPEAKER, token, cache, events_wait_s=5, upload_idle_s=1.0),
        FileSink(out),
    )
    client.start()
    return client


def wait_for(cond: object, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_plays_the_plan_takes_an_urgent_and_stops_at_the_window_end(
    server: StubServer, tmp_path: Path
) -> None:
    t0 = datetime.now(UTC)
    loop, selftest, fire = (
        make_clip("loop01", 1.0),
        make_clip("self01", 0.4, 880),
        make_clip("fire01", 0.6, 660),
    )
    window_end = t0 + timedelta(seconds=6)
    s = lambda x: t0 + timedelta(seconds=x)  # noqa: E731
    items = [
        (s(0.6), selftest, "selftest", None),
        (s(1.5), loop, "loop", None),
        (s(3.0), loop, "loop", None),
        (s(4.5), loop, "loop", None),
        (s(5.5), loop, "loop", None),  # a bad plan: this one would run past the window end
    ]
    server.serve(plan_body([(s(0.5), window_end)], items, heartbeat_s=1), [loop, selftest])
    server.state.clips[fire.key] = fire.data
    out = tmp_path / "speaker.wav"
    client = start_client(server.url, tmp_path / "cache", out)
    try:
        # The urgent arrives while the loop at 3.0 s plays.
        wait_for(lambda: datetime.now(UTC) >= s(3.3), 10)
        sent = time.time()
        server.state.push_event(
            "urgent",
            {
                "id": "u-1",
                "clip": {"key": fire.key, **fire.spec()},
                "message": "fire",
                "repeats": 2,
                "interval_s": 0.3,
                "starts_at": datetime.now(UTC).isoformat(),
                "expires_at": (datetime.now(UTC) + timedelta(minutes=5)).isoformat(),
                "override_window": False,
            },
        )
        wait_for(lambda: datetime.now(UTC) >= window_end + timedelta(seconds=1.5), 15)
        wait_for(lambda: len(server.state.plays) >= 6, 5)
    finally:
        client.stop()
    log = list(read_log(out))
    starts = [e for e in log if e["event"] == "start"]
    stops = [e for e in log if e["event"] == "stop"]
    assert [e["kind"] for e in starts] == [
        "selftest",
        "loop",
        "loop",
        "urgent",
        "urgent",
        "loop",
        "loop",
    ]
    # The urgent is heard within a second and cut the loop clip with a short fade.
    first_urgent = next(e for e in starts if e["kind"] == "urgent")
    assert first_urgent["t"] - sent < 1.0
    assert stops[2]["reason"] == "cut:urgent"
    assert first_urgent["t"] - stops[2]["t"] < 0.1
    # Loop items start on time; the bad last item is cut exactly at the window end.
    assert abs(starts[1]["t"] - s(1.5).timestamp()) < 0.1
    assert stops[-1]["reason"] == "cut:window-end"
    assert abs(stops[-1]["t"] - window_end.timestamp()) < 0.1
    # Proof of play reached the server once per clip, and the urgent was acknowledged.
    plays = sorted(server.state.plays.values(), key=lambda e: e["started_at"])
    assert [p["kind"] for p in plays] == [e["kind"] for e in starts]
    assert [p["reason"] for p in plays if not p["completed"]] == ["cut:urgent", "cut:window-end"]
    assert server.state.duplicate_posts == 0
    assert [a["state"] for a in server.state.acks] == ["received", "playing", "played"]
    # Heartbeats carry the self-test result, the cache health and the clock offset.
    last = server.state.heartbeats[-1]
    assert last["selftest"]["ok"] is True
    assert last["cache"] == {
        "clips": 2,
        "bytes": len(loop.data) + len(selftest.data),
        "missing": 0,
        "corrupt": 0,
    }
    assert isinstance(last["clock_offset_ms"], int) and abs(last["clock_offset_ms"]) < 100
    assert last["plan_etag"] == server.state.etag()
    assert any(h["state"] == "playing" and h["now_playing"] for h in server.state.heartbeats)


def test_keeps_playing_when_the_server_goes_away_and_restarts_from_cache(
    server: StubServer, tmp_path: Path
) -> None:
    t0 = datetime.now(UTC)
    loop = make_clip("loop01", 0.5)
    s = lambda x: t0 + timedelta(seconds=x)  # noqa: E731
    window_end = s(4.0)
    items = [(s(x), loop, "loop", None) for x in (0.5, 1.5, 2.5, 3.5)]
    server.serve(plan_body([(s(0.3), window_end)], items, heartbeat_s=1), [loop])
    out = tmp_path / "speaker.wav"
    cache = tmp_path / "cache"
    client = start_client(server.url, cache, out)
    wait_for(lambda: any(e["event"] == "start" for e in read_log(out)), 5)
    server.__exit__()  # the server is gone for the rest of the window
    try:
        wait_for(lambda: datetime.now(UTC) >= window_end + timedelta(seconds=0.5), 10)
    finally:
        client.stop(upload_timeout_s=0.5)
    stops = [e for e in read_log(out) if e["event"] == "stop"]
    assert len(stops) == 4 and all(e["reason"] == "" for e in stops)
    assert stops[-1]["t"] <= window_end.timestamp() + 0.05

    # Restarted with no network, it plays the saved plan (a new window for the same clip).
    t1 = datetime.now(UTC)
    later = plan_body(
        [(t1, t1 + timedelta(seconds=3))], [(t1 + timedelta(seconds=0.8), loop, "loop", None)]
    )
    import json

    saved = json.loads((cache / "plan.json").read_text())
    (cache / "plan.json").write_text(json.dumps({"etag": saved["etag"], "body": later}))
    offline = start_client(server.url, cache, out)
    try:
        wait_for(lambda: len([e for e in read_log(out) if e["event"] == "stop"]) == 5, 5)
    finally:
        offline.stop(upload_timeout_s=0.5)
    # Every play is kept until a server acknowledges it: the first may have reached the stub
    # (its entry is written when the clip starts) before the stub went away; none is lost.
    acknowledged = set(server.state.plays)
    kept = {entry["id"] for entry in offline.journal.pending()}
    assert len(acknowledged | kept) >= 5 and not acknowledged & kept, (acknowledged, kept)


def test_a_rejected_token_is_logged_clearly_and_the_client_keeps_running(
    server: StubServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    client = start_client(server.url, tmp_path / "cache", tmp_path / "o.wav", token="wrong")
    try:
        wait_for(lambda: "rejects our token" in caplog.text, 5)
        assert client.wait(0.2) is False  # still alive (silent, no plan)
    finally:
        client.stop(upload_timeout_s=0.5)
    assert "401" in caplog.text


def test_the_command_fades_out_on_sigterm_records_the_cut_and_exits_0(
    server: StubServer, tmp_path: Path
) -> None:
    t0 = datetime.now(UTC)
    long = make_clip("long01", 4.0)
    server.serve(
        plan_body(
            [(t0, t0 + timedelta(minutes=5))], [(t0 + timedelta(seconds=0.8), long, "loop", None)]
        ),
        [long],
    )
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    out = tmp_path / "speaker.wav"
    exe = Path(sys.executable).parent / "broadcaster-client"
    cmd = [
        str(exe),
        "--server",
        server.url,
        "--speaker",
        SPEAKER,
        "--token-file",
        str(token_file),
        "--cache",
        str(tmp_path / "cache"),
        "--output",
        f"file:{out}",
    ]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env={**os.environ})
    try:
        wait_for(lambda: any(e["event"] == "start" for e in read_log(out)), 10)
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    stop = [e for e in read_log(out) if e["event"] == "stop"][-1]
    assert stop["reason"] == "cut:shutdown"
    assert [p["reason"] for p in server.state.plays.values()] == ["cut:shutdown"]
    assert "SIGTERM" in err and "switched to plan" in err


def test_a_clip_corrupted_in_the_cache_is_skipped_and_downloaded_again(
    server: StubServer, tmp_path: Path
) -> None:
    t0 = datetime.now(UTC)
    loop = make_clip("loop01", 0.5)
    s = lambda x: t0 + timedelta(seconds=x)  # noqa: E731
    items = [(s(x), loop, "loop", None) for x in (1.5, 2.5, 3.5)]
    server.serve(plan_body([(t0, s(4.2))], items, heartbeat_s=30), [loop])
    out = tmp_path / "speaker.wav"
    client = start_client(server.url, tmp_path / "cache", out)
    try:
        wait_for(lambda: client.runner.plan is not None, 5)
        path = client.clips.path(client.runner.plan.clips[loop.key])  # type: ignore[union-attr]
        path.write_bytes(path.read_bytes()[:-10] + b"0123456789")  # same size, other bytes
        wait_for(lambda: datetime.now(UTC) >= s(4.3), 10)
    finally:
        client.stop(upload_timeout_s=0.5)
    starts = [e["t"] for e in read_log(out) if e["event"] == "start"]
    assert server.state.clip_gets[loop.key] == 2  # once at sync, once after the damage
    assert len(starts) == 2 and abs(starts[0] - s(2.5).timestamp()) < 0.1
