"""The client's live mode on a real `broadcaster serve` (issue 12, docs/live-paging.md): real
`broadcaster-client` processes with file sinks, paged by a raw WebSocket pager (as
test_live_relay.py pages). What each sink heard: the loop, then the chime, then the page's
frames in order, then the loop again; the play log on the server has one `live` entry per
page and target; the heartbeat says `live` while the page plays.

The helpers here (the pager, reading what a sink heard) serve tests/faults/test_live_faults.py
too."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import struct
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import simple_websocket

from broadcaster.store.engine import DB_FILE
from tests.integration.harness import (
    Client,
    Server,
    aware_now,
    deployment_yaml,
    seconds,
    starts,
    stops,
    wait_for,
)

pytestmark = pytest.mark.integration

SAMPLES = 441  # 20 ms at 22,050 Hz, as the panel and the CLI send
BASE = 1000  # frame n carries the sample value BASE + n: what a sink heard says which frames


def frame(n: int) -> bytes:
    return struct.pack("<h", BASE + n) * SAMPLES


@dataclass
class Pager:
    """A raw WebSocket pager (docs/live-paging.md, "Pager to server")."""

    server: Server
    token: str
    ws: Any = None
    answer: dict[str, Any] = field(default_factory=dict)
    sent_at: dict[int, float] = field(default_factory=dict)  # frame -> wall time sent
    messages: list[dict[str, Any]] = field(default_factory=list)  # what the server said
    _talker: threading.Thread | None = None
    _listener: threading.Thread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    def open(self, speakers: list[str]) -> dict[str, Any]:
        self.ws = simple_websocket.Client.connect(
            self.server.url.replace("http", "ws") + "/api/v1/live",
            headers={"Authorization": f"Bearer {self.token}"},
        )
        self.ws.send(json.dumps({"speakers": speakers}))
        self.answer = json.loads(self.ws.receive(timeout=10))
        assert "page" in self.answer, self.answer
        self._listener = threading.Thread(target=self._listen, daemon=True)
        self._listener.start()
        return self.answer

    @property
    def page(self) -> str:
        return str(self.answer["page"])

    def _listen(self) -> None:
        with contextlib.suppress(Exception):
            while True:
                message = self.ws.receive(timeout=None)
                if message is None:
                    return
                if isinstance(message, str):
                    self.messages.append(json.loads(message))

    def talk(self, frames: int, first: int = 0, background: bool = False) -> None:
        """Send frames `first`..`first + frames - 1`, one every 20 ms on a monotonic clock."""

        def run() -> None:
            start = time.monotonic()
            for i in range(frames):
                if self._stop.is_set():
                    return
                wait = start + i * 0.02 - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                self.sent_at[first + i] = time.time()
                try:
                    self.ws.send(frame(first + i))
                except Exception:
                    return

        if background:
            self._talker = threading.Thread(target=run, daemon=True)
            self._talker.start()
        else:
            run()

    def wait_talked(self, timeout_s: float = 120) -> None:
        if self._talker is not None:
            self._talker.join(timeout_s)

    def stop_talking(self) -> None:
        """Send no more frames (a `talk(background=True)` ends early); `end()` lets go."""
        self._stop.set()
        self.wait_talked(5)

    def end(self) -> dict[str, Any] | None:
        """Let go; the server's confirmation (`ended`), if it came within 10 s."""
        self.ws.send(json.dumps({"end": True}))
        wait_for(lambda: any("ended" in m for m in self.messages), 10)
        return next((m for m in self.messages if "ended" in m), None)

    def vanish(self) -> None:
        """The pager goes away without a word (the tab closed)."""
        self._stop.set()
        self.wait_talked(5)
        with contextlib.suppress(Exception):
            self.ws.sock.shutdown(2)
        with contextlib.suppress(Exception):
            self.ws.sock.close()

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(Exception):
            self.ws.close()


@dataclass
class Heard:
    """One clip in a sink: its start and stop lines and its samples."""

    start: dict[str, Any]
    stop: dict[str, Any] | None
    pcm: bytes

    @property
    def frames(self) -> list[int]:
        """The page's frame numbers in the order heard (one per run of a frame's value)."""
        values = struct.unpack(f"<{len(self.pcm) // 2}h", self.pcm[: len(self.pcm) // 2 * 2])
        out: list[int] = []
        run, length = None, 0
        for v in values:
            if v == run:
                length += 1
                continue
            if run is not None and run >= BASE and length >= SAMPLES // 2:
                out.append(run - BASE)
            run, length = v, 1
        if run is not None and run >= BASE and length >= SAMPLES // 2:
            out.append(run - BASE)
        return out


def latency_ms(pager: Pager, page: Heard) -> tuple[int, int]:
    """Pager frame to sink, for the page's first and last frames heard: the first is written
    when the page's clip starts, the last 20 ms before its stop line (a file sink plays what
    is written at once)."""
    got = page.frames
    assert page.stop is not None and got
    first = page.start["t"] - pager.sent_at[got[0]]
    last = page.stop["t"] - 0.02 - pager.sent_at[got[-1]]
    return round(first * 1000), round(last * 1000)


def heard(client: Client) -> list[Heard]:
    """What the client's file sink heard, clip by clip (the WAV holds only clip audio, in
    the order of the log's lines)."""
    events = client.events()
    data = client.wav.read_bytes()[44:] if client.wav.exists() else b""
    out: list[Heard] = []
    at = 0
    for i, e in enumerate(events):
        if e["event"] != "start":
            continue
        stop = events[i + 1] if i + 1 < len(events) and events[i + 1]["event"] == "stop" else None
        n = 2 * (stop["frames"] if stop else 0)
        out.append(Heard(e, stop, data[at : at + n]))
        at += n
    return out


def live_clips(client: Client) -> list[Heard]:
    return [h for h in heard(client) if h.start["kind"] == "live"]


def db_rows(server: Server, sql: str, *args: object) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"file:{server.data / DB_FILE}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def live_plays(server: Server, speaker: str) -> list[tuple[Any, ...]]:
    """The server's play-log entries of kind live for `speaker`: (clip, completed, reason)."""
    return db_rows(
        server,
        "SELECT clip, completed, reason FROM play_log WHERE speaker_id = ? AND kind = 'live' "
        "ORDER BY started_at",
        speaker,
    )


def now_playing(server: Server, speaker: str) -> tuple[str, Any]:
    rows = db_rows(
        server, "SELECT state, now_playing FROM speaker_status WHERE speaker_id = ?", speaker
    )
    if not rows:
        return "", None
    state, playing = rows[0]
    return state, json.loads(playing) if isinstance(playing, str) else playing


def online(server: Server, speakers: list[str]) -> bool:
    return all(now_playing(server, s)[0] for s in speakers)


def start_deployment(tmp_path: Path, speakers: int) -> Server:
    now = aware_now()
    config = tmp_path / "config.yaml"
    config.write_text(
        deployment_yaml(
            window_start=now - seconds(60), window_end=now + seconds(3600), speakers=speakers
        )
    )
    running = Server(tmp_path, config)
    running.start()
    return running


def tokens(server: Server, *names: str) -> dict[str, str]:
    """Tokens for speakers (`spk-…`) and users, issued at once (each is a CLI run)."""
    with ThreadPoolExecutor(len(names)) as pool:
        found = pool.map(
            lambda n: server.device_token(n) if n.startswith("spk-") else server.user_token(n),
            names,
        )
        return dict(zip(names, found, strict=True))


def started(
    server: Server, root: Path, speakers: list[str], url: str | None = None
) -> list[Client]:
    """Clients for `speakers`, started together."""
    issued = tokens(server, *speakers)
    group = [Client(s, root, url or server.url, issued[s]) for s in speakers]
    for c in group:
        c.start()
    return group


def in_a_clip(group: list[Client]) -> bool:
    """Every client is early in a loop clip (the page will cut it)."""
    now = time.time()
    for c in group:
        events = c.events()
        if not events or events[-1]["event"] != "start" or now - events[-1]["t"] > 0.6:
            return False
    return True


def looping(group: list[Client]) -> bool:
    return all(starts(c, "loop") for c in group)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = start_deployment(tmp_path, speakers=3)
    yield running
    running.stop()


@pytest.mark.slow
def test_a_page_is_heard_in_order_after_the_chime_and_the_loop_goes_on(
    server: Server, tmp_path: Path
) -> None:
    speakers = ["spk-1", "spk-2", "spk-3"]
    group = started(server, tmp_path, speakers)
    pager = Pager(server, tokens(server, "admin")["admin"])
    try:
        assert wait_for(lambda: looping(group) and online(server, speakers), 60), [
            c.log_text()[-2000:] for c in group
        ]
        targets = group[:2]  # spk-3 is not paged: it loops on
        assert wait_for(lambda: in_a_clip(targets), 10)
        pager.open(["spk-1", "spk-2"])
        # The chief talks for 4 s (the first second goes under the chime: live, not late).
        pager.talk(200, background=True)
        # What the heartbeats say while the page plays (checked below): read until every
        # target says it plays the page, within the 4 s of talk (a fixed 1.5 s could still
        # be the chime, or before the heartbeat, on a loaded machine).
        during: dict[str, tuple[str, Any]] = {}

        def playing_the_page() -> bool:
            during.update({c.speaker: now_playing(server, c.speaker) for c in targets})
            return all(
                state == "live" and playing and playing.get("clip") == pager.page
                for state, playing in during.values()
            )

        wait_for(playing_the_page, 3.5, step_s=0.1)
        pager.wait_talked()
        ended = pager.end()
        assert ended is not None and ended["ended"] == "released", pager.messages
        assert wait_for(
            lambda: all(len([h for h in live_clips(c) if h.stop]) >= 2 for c in targets), 15
        ), [c.log_text()[-3000:] for c in targets]
        # The loop goes on after the page (its next clip), everywhere.
        assert wait_for(
            lambda: all(
                any(
                    h.start["kind"] == "loop" and h.start["t"] > live_clips(c)[-1].stop["t"]  # type: ignore[index]
                    for h in heard(c)
                )
                for c in targets
            ),
            20,
        )
        assert wait_for(lambda: all(live_plays(server, c.speaker) for c in targets), 15)
    finally:
        pager.close()
        for c in group:
            c.stop()
    for c in targets:
        clips = heard(c)
        kinds = [(h.start["kind"], h.start["clip"]) for h in clips]
        i = kinds.index(("live", pager.page))
        chime = clips[i - 1]
        assert chime.start["kind"] == "live" and chime.start["clip"] != pager.page, kinds
        assert chime.stop is not None and chime.stop["reason"] == ""  # the whole chime
        assert chime.stop["frames"] > 0.9 * 22050  # about 1 s
        before = clips[i - 2]
        assert before.start["kind"] == "loop", kinds
        assert before.stop is not None and before.stop["reason"] == "cut:live", kinds
        page = clips[i]
        assert page.stop is not None and page.stop["reason"] == "", page.stop
        got = page.frames
        # In order, none twice, up to the last frame sent; what came during the chime was
        # dropped (at most its length and the buffer), the rest heard (a burst may drop a few).
        assert got == sorted(set(got)), got
        assert got[-1] == 199, got[-10:]
        assert got[0] <= 80, got[:5]
        assert len(got) >= 0.9 * (200 - got[0]), (len(got), got[0])
        assert clips[i + 1].start["kind"] == "loop"
        print(f"{c.speaker}: pager frame to sink, first/last frame: {latency_ms(pager, page)} ms")
        # The play log: one live entry for the page, completed.
        assert live_plays(server, c.speaker) == [(pager.page, 1, "")]
        # The heartbeat said live while the page played.
        state, playing = during[c.speaker]
        assert state == "live" and playing["kind"] == "live", during
        assert playing["clip"] == pager.page
    assert not live_clips(group[2])  # not paged: not a sound of it
    assert not live_plays(server, "spk-3")


@pytest.mark.slow  # kept out of `make test` (10 minutes); runs in `make test-slow`
def test_an_urgent_sent_during_a_page_waits_for_its_end(server: Server, tmp_path: Path) -> None:
    (client,) = started(server, tmp_path, ["spk-1"])
    admin = server.user_token("admin")  # before the page: the CLI holds the database a while
    pager = Pager(server, admin)
    try:
        assert wait_for(lambda: looping([client]) and online(server, ["spk-1"]), 60)
        pager.open(["spk-1"])
        pager.talk(150, background=True)  # 3 s
        time.sleep(1.5)
        sent = requests.post(
            f"{server.url}/api/v1/urgent",
            json={"text": "请注意，停水通知。", "speakers": ["spk-1"], "repeats": 1},
            headers={"Authorization": f"Bearer {admin}"},
            timeout=30,
        )
        assert sent.status_code in (200, 201, 202), sent.text
        pager.wait_talked()
        pager.end()
        assert wait_for(lambda: stops(client, "urgent"), 30), client.log_text()[-3000:]
    finally:
        pager.close()
        client.stop()
    clips = heard(client)
    page_at = next(i for i, h in enumerate(clips) if h.start["clip"] == pager.page)
    page = clips[page_at]
    assert page.stop is not None and page.stop["reason"] == "", page.stop  # not cut by it
    urgent = [h for h in clips if h.start["kind"] == "urgent"]
    assert urgent and urgent[0].start["t"] >= page.stop["t"], [h.start for h in clips]
