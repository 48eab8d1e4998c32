"""The client's live mode against the device-API stub, listening to a file sink: the `live`
event preempts the loop (100 ms fade), the chime, then the stream's frames in order, then the
loop; the stream lost, stalled, refused, cut short by its maximum or a stop; a late event.

The stub serves `GET /speakers/{id}/live/{page}` from a `Feed` the test drives (frames, the end
flag, a broken connection, a stall), as the server's relay does (web/live_api.py)."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from broadcaster.client.app import Client
from tests.client.fakes import RATE, StubServer, make_clip, plan_body, read_log
from tests.client.test_emergency import desc, with_chime
from tests.client.test_protocol import start_client, wait_for

HEADER = struct.Struct(">IHH")
SAMPLES = RATE // 50  # 20 ms
BASE = 1000


def frame(n: int) -> bytes:
    return struct.pack("<h", BASE + n) * SAMPLES


@dataclass
class Feed:
    """A page's frames as the stub's stream serves them (the server's ring, in short)."""

    frames: list[bytes] = field(default_factory=list)
    ended: bool = False
    stalled: bool = False  # hold every stream: nothing is sent (a network that stalls)
    refuse: int | None = None  # answer the stream with this status
    requests: list[str] = field(default_factory=list)
    sockets: list[socket.socket] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def send(self, n: int) -> None:
        with self.cond:
            self.frames.append(frame(n))
            self.cond.notify_all()

    def end(self) -> None:
        with self.cond:
            self.ended = True
            self.cond.notify_all()

    def cut(self) -> None:
        """Break every open stream (the server went away)."""
        with self.cond:
            for s in self.sockets:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
            self.sockets.clear()

    def talk(self, first: int, count: int) -> threading.Thread:
        def run() -> None:
            start = time.monotonic()
            for i in range(count):
                time.sleep(max(0.0, start + i * 0.02 - time.monotonic()))
                self.send(first + i)

        t = threading.Thread(target=run, daemon=True)
        t.start()
        return t


class LiveStub(StubServer):
    """The device-API stub with a live stream per page (`feeds`)."""

    def __init__(self) -> None:
        super().__init__()
        self.feeds: dict[str, Feed] = {}
        base = self.httpd.RequestHandlerClass
        stub = self

        class Handler(base):  # type: ignore[valid-type,misc]
            def do_GET(self) -> None:
                if "/live/" not in self.path:
                    super().do_GET()
                    return
                if not self._auth():
                    return
                path, _, query = self.path.partition("?")
                feed = stub.feeds.get(path.rsplit("/", 1)[1])
                if feed is None or feed.refuse:
                    status = feed.refuse if feed and feed.refuse else 404
                    self._send(status, {"error": {"code": "not_found", "message": "no page"}})
                    return
                feed.requests.append(self.path)
                params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
                behind = int(params.get("behind_ms", "120")) // 20
                self.close_connection = True
                self.send_response(200)
                self.send_header("Content-Type", "application/vnd.broadcaster.pcm-frames")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                with feed.cond:
                    feed.sockets.append(self.connection)
                    seq = max(0, len(feed.frames) - behind)
                try:
                    while True:
                        with feed.cond:
                            feed.cond.wait_for(
                                lambda n=seq: (
                                    (len(feed.frames) > n or feed.ended)  # type: ignore[misc]
                                    and not feed.stalled
                                ),
                                timeout=0.5,
                            )
                            fresh = [] if feed.stalled else feed.frames[seq:]
                            done = feed.ended and not feed.stalled
                        data = b"".join(
                            HEADER.pack(seq + i, len(f), 0) + f for i, f in enumerate(fresh)
                        )
                        seq += len(fresh)
                        if done:
                            data += HEADER.pack(seq, 0, 1)
                        if data:
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                            self.wfile.flush()
                        if done:
                            self.wfile.write(b"0\r\n\r\n")
                            return
                except OSError:
                    return

        self.httpd.RequestHandlerClass = Handler

    def page(self, page_id: str, max_ms: int = 600_000, chime: Any = None) -> Feed:
        """Start a page: its feed, then its event."""
        feed = self.feeds[page_id] = Feed()
        self.state.push_event(
            "live",
            {
                "page": page_id,
                "stream": f"/api/v1/speakers/{{speaker}}/live/{page_id}",
                "chime": desc(chime) if chime else None,
                "rate": RATE,
                "frame_ms": 20,
                "max_ms": max_ms,
                "by": "张主任",
            },
        )
        return feed


@pytest.fixture
def server() -> Iterator[LiveStub]:
    stub = LiveStub()
    with stub:
        yield stub


CHIME = make_clip("chime1", 0.5, 1200)
LOOP = make_clip("loop01", 1.0)


def looping(server: LiveStub, tmp_path: Path) -> tuple[Client, Path]:
    """A client playing a loop of 1 s clips every 1.2 s, the chime in its cache."""
    t0 = datetime.now(UTC)
    items = [(t0 + timedelta(seconds=0.5 + 1.2 * i), LOOP, "loop", None) for i in range(40)]
    body = with_chime(plan_body([(t0, t0 + timedelta(seconds=60))], items, heartbeat_s=1), CHIME)
    server.serve(body, [LOOP, CHIME])
    out = tmp_path / "speaker.wav"
    client = start_client(server.url, tmp_path / "cache", out)
    wait_for(lambda: any(e["kind"] == "loop" for e in read_log(out)), 10)
    return client, out


def clips(out: Path) -> list[tuple[dict[str, Any], dict[str, Any] | None, list[int]]]:
    """(start, stop, the page's frame numbers heard) for each clip in the sink."""
    log = list(read_log(out))
    data = out.read_bytes()[44:]
    found = []
    at = 0
    for i, e in enumerate(log):
        if e["event"] != "start":
            continue
        stop = log[i + 1] if i + 1 < len(log) and log[i + 1]["event"] == "stop" else None
        n = 2 * (stop["frames"] if stop else 0)
        pcm = data[at : at + n]
        at += n
        heard: list[int] = []
        if e["kind"] == "live" and e["clip"] != CHIME.key:  # a page: frame n is BASE + n
            values = struct.unpack(f"<{len(pcm) // 2}h", pcm)
            heard = [v - BASE for v in values[::SAMPLES] if v >= BASE]
            assert heard == sorted(set(heard)), "frames out of order or repeated"
        found.append((e, stop, heard))
    return found


def live_entries(server: LiveStub) -> list[dict[str, Any]]:
    return [p for p in server.state.plays.values() if p["kind"] == "live"]


def page_over(out: Path, page: str) -> bool:
    return any(e["event"] == "stop" and e["clip"] == page for e in read_log(out))


def loop_after(out: Path, page: str) -> bool:
    log = list(read_log(out))
    ends = [e["t"] for e in log if e["event"] == "stop" and e["clip"] == page]
    return bool(ends) and any(
        e["event"] == "start" and e["kind"] == "loop" and e["t"] >= ends[-1] for e in log
    )


def test_a_page_preempts_the_loop_plays_the_chime_then_its_frames_then_the_loop(
    server: LiveStub, tmp_path: Path
) -> None:
    client, out = looping(server, tmp_path)
    try:
        # During a loop clip.
        wait_for(lambda: list(read_log(out))[-1]["event"] == "start", 5)
        sent = time.time()
        feed = server.page("live-1", chime=CHIME)
        talker = feed.talk(0, 100)  # 2 s
        wait_for(lambda: any(e["clip"] == "live-1" for e in read_log(out)), 5)
        during = client.runner.snapshot()
        beats = len(server.state.heartbeats)
        talker.join()
        feed.end()
        wait_for(lambda: loop_after(out, "live-1"), 10)
        wait_for(lambda: live_entries(server), 5)
        wait_for(lambda: len(server.state.heartbeats) > beats, 5)
    finally:
        client.stop(upload_timeout_s=0.5)
    found = clips(out)
    i = next(n for n, (start, _, _) in enumerate(found) if start["clip"] == "live-1")
    cut, chime, page = found[i - 2], found[i - 1], found[i]
    assert cut[0]["kind"] == "loop" and cut[1] is not None
    assert cut[1]["reason"] == "cut:live"
    assert chime[0]["clip"] == "chime1" and chime[0]["kind"] == "live"
    assert chime[0]["t"] - sent < 0.6  # at once, after a 100 ms fade
    assert chime[0]["t"] - cut[1]["t"] < 0.05
    assert chime[1] is not None and chime[1]["frames"] == pytest.approx(0.5 * RATE, abs=10)
    assert page[1] is not None and page[1]["reason"] == ""
    heard = page[2]
    assert heard[-1] == 99 and heard == list(range(heard[0], 100))  # none lost, in order
    assert heard[0] <= 35  # the chime's half second (and the buffer), not more, went by
    assert found[i + 1][0]["kind"] == "loop"
    # One play-log entry for the page: completed, with the jitter buffer's counts.
    (entry,) = live_entries(server)
    assert entry["clip"] == "live-1" and entry["completed"] and entry["reason"] == ""
    assert entry["live"]["played"] == len(heard) and entry["live"]["streams"] == 1
    assert datetime.fromisoformat(entry["started_at"]).timestamp() == pytest.approx(
        chime[0]["t"], abs=0.1
    )
    assert datetime.fromisoformat(entry["ended_at"]).timestamp() == pytest.approx(
        page[1]["t"], abs=0.1
    )
    loop_entry = next(p for p in server.state.plays.values() if p["reason"] == "cut:live")
    assert loop_entry["kind"] == "loop"
    # The heartbeat says live while the page plays.
    assert during["state"] == "live" and during["now_playing"]["kind"] == "live"
    assert during["now_playing"]["clip"] == "live-1"
    assert any(
        b["state"] == "live" and (b["now_playing"] or {}).get("kind") == "live"
        for b in server.state.heartbeats
    )
    assert server.state.heartbeats[-1]["state"] != "live"


def test_a_broken_stream_is_opened_again_at_the_newest_audio(
    server: LiveStub, tmp_path: Path
) -> None:
    client, out = looping(server, tmp_path)
    try:
        feed = server.page("live-2")
        talker = feed.talk(0, 150)  # 3 s
        time.sleep(1.0)
        feed.cut()  # the connection breaks; the server (and the page) go on
        talker.join()
        feed.end()
        wait_for(lambda: page_over(out, "live-2"), 10)
        wait_for(lambda: live_entries(server), 5)
    finally:
        client.stop(upload_timeout_s=0.5)
    assert len(feed.requests) >= 2
    assert all("behind_ms=120" in r for r in feed.requests)
    (entry,) = live_entries(server)
    assert entry["completed"] and entry["live"]["streams"] >= 2
    page = next(c for c in clips(out) if c[0]["clip"] == "live-2")
    assert page[2][-1] == 149  # in order to the end (clips() checks the order)


def test_a_stream_that_stalls_ends_the_page_2_s_later_and_the_loop_resumes(
    server: LiveStub, tmp_path: Path
) -> None:
    client, out = looping(server, tmp_path)
    try:
        feed = server.page("live-3")
        feed.talk(0, 50).join()  # 1 s
        feed.stalled = True  # 5 s without a byte on the stream, the connection open
        stalled_at = time.time()
        feed.talk(50, 250)  # the pager goes on meanwhile
        wait_for(lambda: page_over(out, "live-3"), 10)
        wait_for(lambda: loop_after(out, "live-3"), 10)
        wait_for(lambda: live_entries(server), 5)
    finally:
        client.stop(upload_timeout_s=0.5)
    stop = next(e for e in read_log(out) if e["event"] == "stop" and e["clip"] == "live-3")
    assert stop["reason"] == "cut:stream-lost"
    assert 1.7 <= stop["t"] - stalled_at <= 3.0  # 2 s without audio (plus what was buffered)
    (entry,) = live_entries(server)
    assert not entry["completed"] and entry["reason"] == "cut:stream-lost"
    assert entry["live"]["underruns"] > 0


def test_a_page_whose_stream_is_refused_ends_after_2_s(server: LiveStub, tmp_path: Path) -> None:
    client, out = looping(server, tmp_path)
    try:
        server.feeds["gone"] = Feed(refuse=404)  # the page is over on the server already
        server.state.push_event(
            "live", {"page": "gone", "stream": "/api/v1/speakers/{speaker}/live/gone"}
        )
        wait_for(lambda: page_over(out, "gone"), 10)
        wait_for(lambda: loop_after(out, "gone"), 10)
        wait_for(lambda: live_entries(server), 5)
    finally:
        client.stop(upload_timeout_s=0.5)
    start, stop = (e for e in read_log(out) if e["clip"] == "gone")
    assert stop["reason"] == "cut:stream-lost" and 1.8 <= stop["t"] - start["t"] <= 2.6
    assert live_entries(server)[0]["reason"] == "cut:stream-lost"


def test_a_page_ends_at_its_maximum_length_on_the_speakers_clock(
    server: LiveStub, tmp_path: Path
) -> None:
    client, out = looping(server, tmp_path)
    try:
        feed = server.page("live-4", max_ms=1500)
        talker = feed.talk(0, 200)  # the sender talks on (the server would end it)
        wait_for(lambda: page_over(out, "live-4"), 10)
        wait_for(lambda: live_entries(server), 5)
        talker.join()
    finally:
        client.stop(upload_timeout_s=0.5)
    start, stop = (e for e in read_log(out) if e["clip"] == "live-4")
    assert stop["reason"] == "cut:max-length"
    assert 1.3 <= stop["t"] - start["t"] <= 1.9
    assert live_entries(server)[0]["reason"] == "cut:max-length"


def test_a_stop_sent_during_a_page_ends_it(server: LiveStub, tmp_path: Path) -> None:
    client, out = looping(server, tmp_path)
    try:
        feed = server.page("live-5")
        talker = feed.talk(0, 150)
        wait_for(lambda: any(e["clip"] == "live-5" for e in read_log(out)), 5)
        time.sleep(0.5)
        until = datetime.now(UTC) + timedelta(seconds=2)
        server.state.push_event("stop", {"until": until.isoformat()})
        wait_for(lambda: page_over(out, "live-5"), 5)
        wait_for(lambda: live_entries(server), 5)
        talker.join()
    finally:
        client.stop(upload_timeout_s=0.5)
    stop = next(e for e in read_log(out) if e["event"] == "stop" and e["clip"] == "live-5")
    assert stop["reason"] == "cut:stop"
    assert live_entries(server)[0]["reason"] == "cut:stop"


def test_a_page_event_that_comes_late_is_not_resumed(server: LiveStub, tmp_path: Path) -> None:
    client, out = looping(server, tmp_path)
    try:
        feed = server.feeds["live-6"] = Feed()
        feed.talk(0, 100)
        with server.state.cond:  # the poll brings it 3 s after the server sent it
            server.state.events.append(
                {
                    "seq": len(server.state.events) + 1,
                    "kind": "live",
                    "created_at": (datetime.now(UTC) - timedelta(seconds=3)).isoformat(),
                    "payload": {
                        "page": "live-6",
                        "stream": "/api/v1/speakers/{speaker}/live/live-6",
                    },
                }
            )
            server.state.cond.notify_all()
        time.sleep(1.0)
        feed.end()
        fresh = server.page("live-7")  # a fresh one after it is taken
        fresh.talk(0, 20).join()
        fresh.end()
        wait_for(lambda: page_over(out, "live-7"), 10)
    finally:
        client.stop(upload_timeout_s=0.5)
    assert not any(e["clip"] == "live-6" for e in read_log(out))
    assert feed.requests == []


def test_an_urgent_during_a_page_waits_for_its_end(server: LiveStub, tmp_path: Path) -> None:
    from tests.client.test_emergency import urgent_payload

    speech = make_clip("speech1", 0.6, 660)
    client, out = looping(server, tmp_path)
    server.state.clips[speech.key] = speech.data
    try:
        feed = server.page("live-8")
        talker = feed.talk(0, 100)
        wait_for(lambda: any(e["clip"] == "live-8" for e in read_log(out)), 5)
        server.state.push_event("urgent", urgent_payload("u-1", speech, repeats=1))
        talker.join()
        feed.end()
        wait_for(lambda: any(e["kind"] == "urgent" for e in read_log(out)), 10)
    finally:
        client.stop(upload_timeout_s=0.5)
    log = list(read_log(out))
    page_stop = next(e for e in log if e["event"] == "stop" and e["clip"] == "live-8")
    urgent = next(e for e in log if e["event"] == "start" and e["kind"] == "urgent")
    assert page_stop["reason"] == "" and urgent["t"] >= page_stop["t"]


def test_an_urgent_a_page_cuts_is_played_again_whole_after_it(
    server: LiveStub, tmp_path: Path
) -> None:
    from tests.client.test_emergency import ack_states, urgent_payload

    speech = make_clip("speech1", 2.0, 660)
    client, out = looping(server, tmp_path)
    server.state.clips[speech.key] = speech.data
    try:
        server.state.push_event("urgent", urgent_payload("u-2", speech, repeats=1))
        wait_for(lambda: any(e["kind"] == "urgent" for e in read_log(out)), 5)
        time.sleep(0.5)
        feed = server.page("live-9")
        feed.talk(0, 50).join()
        feed.end()
        wait_for(lambda: "played" in ack_states(server, "u-2"), 10)
    finally:
        client.stop(upload_timeout_s=0.5)
    urgent = [e for e in read_log(out) if e["event"] == "stop" and e["kind"] == "urgent"]
    page_stop = next(e for e in read_log(out) if e["event"] == "stop" and e["clip"] == "live-9")
    assert [e["reason"] for e in urgent] == ["cut:live", ""]
    assert urgent[1]["frames"] == pytest.approx(2.0 * RATE, abs=10)  # whole, after the page
    assert urgent[1]["t"] > page_stop["t"]
    assert ack_states(server, "u-2") == ["received", "playing", "played"]


def test_a_chime_not_in_the_cache_does_not_hold_the_page_back(
    server: LiveStub, tmp_path: Path
) -> None:
    other = make_clip("chime2", 0.5, 900)  # not in the plan, never downloaded
    client, out = looping(server, tmp_path)
    try:
        feed = server.page("live-10", chime=other)
        feed.talk(0, 30).join()
        feed.end()
        wait_for(lambda: page_over(out, "live-10"), 10)
    finally:
        client.stop(upload_timeout_s=0.5)
    live = [e for e in read_log(out) if e["event"] == "start" and e["kind"] == "live"]
    assert [e["clip"] for e in live] == ["live-10"]
    assert "chime2" not in server.state.clip_gets
    page = next(c for c in clips(out) if c[0]["clip"] == "live-10")
    assert page[1] is not None and page[1]["reason"] == "" and page[2][-1] == 29
