"""Live paging (issue 12): mouth-to-speaker latency on real clients, and the delay a client
accumulates over a long page.

A real `broadcaster serve` on loopback, `--clients` real `broadcaster-client`s with file
sinks, and `broadcaster page --area district -` fed a WAV stream on its stdin in real time
(20 ms frames of low noise with clicks): the clock starts when a click's frame is written into
the pager's stdin ("a click entering `broadcaster page`") and stops when a sink plays it.

A file sink writes each frame when it plays it, and logs the wall clock at a clip's first
frame (`start`) and just after its last (`stop`); silence it plays while its jitter buffer
fills or runs dry is not written. So a sample `j` of a page's clip played at
`stop.t - (frames - j) / rate` if no silence came after it (later silence makes this too
late), and at `start.t + j / rate` if none came before it (too early): the truth is between.

- Latency (p50/p95/max): `--pages` short pages, each ending 3 frames after its one click, so
  the stop line times the click within those 60 ms (no underrun fits in them unnoticed).
- The long page (`--seconds`, 5 minutes): a click a second, the last 3 frames before the end.
  The delay a client accumulated is the last click's (timed by the stop line as above); the
  worst delay at any point lies between the two bounds, and `silence_ms` says how much
  silence the client played in the page (its buffer's start included).

Each click says which one it is (its burst is 40 + 20 * (k % 8) samples long: the newest
click sent with that length before it was heard), so a client that skipped audio is read
right.

    .venv/bin/python -m benchmarks.bench_live [--clients 23] [--seconds 300] [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import struct
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import IO, Any

from benchmarks.common import deployment_server
from tests.conftest import BIN
from tests.integration.harness import Client, Server, wait_for

RATE = 22050
FRAME = 441  # samples per 20 ms frame
CLICK_EVERY = 50  # frames: a click a second
CLICK_LEVEL = 30000
THRESHOLD = 8000  # a click, even at a third of its level; the noise stays under 400
NOISE = [((i * 7919) % 601) - 300 for i in range(FRAME)]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))]


def burst_len(k: int) -> int:
    return 40 + 20 * (k % 8)


def wav_stream_header() -> bytes:
    """A WAV header for a stream of unknown length (16-bit mono at RATE)."""
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF", 0xFFFFFFFF, b"WAVE", b"fmt ", 16, 1, 1, RATE, RATE * 2, 2, 16,
        b"data", 0xFFFFFFFF,
    )  # fmt: skip


@dataclass
class Talk:
    """`broadcaster page -` fed in real time: `frames` frames, clicks at the frames of
    `clicks_at` (frame -> click number); when each click entered the pager's stdin."""

    server: Server
    frames: int
    clicks_at: dict[int, int]
    proc: subprocess.Popen[bytes] | None = None
    clicks: dict[int, float] = field(default_factory=dict)  # click -> wall time written
    live_at: float | None = None
    err: bytes = b""

    def frame(self, i: int) -> bytes:
        samples = list(NOISE)
        if i in self.clicks_at:
            for j in range(burst_len(self.clicks_at[i])):
                samples[j] = CLICK_LEVEL
        return struct.pack(f"<{FRAME}h", *samples)

    def run(self) -> int:
        token = self.server.user_token("admin")
        self.proc = subprocess.Popen(
            [str(BIN / "broadcaster"), "page", "--server", self.server.url, "--token", token,
             "--area", "district", "-"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        assert self.proc.stdin is not None and self.proc.stdout is not None
        stdin: IO[bytes] = self.proc.stdin
        live = threading.Event()

        def watch() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            if self.proc.stdout.readline() == b"live\n":
                self.live_at = time.time()
                live.set()

        threading.Thread(target=watch, daemon=True).start()
        stdin.write(wav_stream_header())
        stdin.write(self.frame(0))  # the pager sends it (and prints `live`) once it may talk
        stdin.flush()
        if not live.wait(30):
            self.proc.kill()
            _, self.err = self.proc.communicate(timeout=10)
            raise RuntimeError(f"the page did not start: {self.err.decode()[-500:]}")
        assert self.live_at is not None
        if 0 in self.clicks_at:
            self.clicks[self.clicks_at[0]] = self.live_at
        start = time.monotonic()
        for i in range(1, self.frames):
            wait = start + i * 0.02 - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            if i in self.clicks_at:
                self.clicks[self.clicks_at[i]] = time.time()
            stdin.write(self.frame(i))
            stdin.flush()
        stdin.close()
        self.proc.stdin = None  # closed: the end of the talk
        _, self.err = self.proc.communicate(timeout=60)
        return self.proc.returncode


@dataclass
class Heard:
    """One page's clip in a client's sink: its start and stop lines and its samples."""

    start: dict[str, Any]
    stop: dict[str, Any]
    samples: tuple[int, ...]

    @property
    def silence_s(self) -> float:
        """Time the clip took beyond its written audio: silence not written (the jitter
        buffer filling at the start, underruns)."""
        return float(self.stop["t"]) - float(self.start["t"]) - int(self.stop["frames"]) / RATE


def page_clips(client: Client) -> list[Heard]:
    """The live pages' clips in the client's sink (not their chimes), in order."""
    events = client.events()
    data = client.wav.read_bytes()[44:] if client.wav.exists() else b""
    at = 0
    found = []
    for i, e in enumerate(events):
        if e["event"] != "start":
            continue
        stop = events[i + 1] if i + 1 < len(events) and events[i + 1]["event"] == "stop" else None
        n = 2 * (stop["frames"] if stop else 0)
        if stop is not None and e["kind"] == "live" and str(e["clip"]).startswith("live-"):
            chunk = data[at : at + n]
            found.append(Heard(e, stop, struct.unpack(f"<{len(chunk) // 2}h", chunk)))
        at += n
    return found


def clicks_heard(heard: Heard) -> list[tuple[int, int]]:
    """(sample index, burst length) of each click in the clip."""
    out = []
    s = heard.samples
    j = 0
    while j < len(s):
        if abs(s[j]) > THRESHOLD:
            k = j
            while k < len(s) and abs(s[k]) > THRESHOLD:
                k += 1
            out.append((j, k - j))
            j = k
        else:
            j += 1
    return out


def latencies(heard: Heard, sent: dict[int, float]) -> list[tuple[int, float, float]]:
    """(click, low, high): the seconds from stdin to the sink of each click heard, between
    the bound from the clip's start line (as if no silence came before the click: too early)
    and the one from its stop line (as if none came after it: too late). A click just before
    the end has the stop line's figure, within the few frames after it."""
    start_t, stop_t = float(heard.start["t"]), float(heard.stop["t"])
    frames = int(heard.stop["frames"])
    out = []
    for index, length in clicks_heard(heard):
        high = stop_t - (frames - index) / RATE
        low = start_t + index / RATE
        residue = round((length - 40) / 20) % 8
        candidates = [k for k, t in sent.items() if k % 8 == residue and t <= high]
        if candidates:
            k = max(candidates)
            out.append((k, low - sent[k], high - sent[k]))
    return out


def _ms(value: float) -> float:
    return round(1000 * value, 1)


def _stats(values: list[float]) -> dict[str, float]:
    return {"p50": _ms(statistics.median(values)), "p95": _ms(_pct(values, 0.95)),
            "max": _ms(max(values))}  # fmt: skip


def live_latency(clients: int, pages: int, long_s: float) -> dict[str, object]:
    with deployment_server(clients) as server:
        running = [
            Client(f"spk-{i}", server.root, server.url, server.device_token(f"spk-{i}"))
            for i in range(1, clients + 1)
        ]
        try:
            for client in running:
                client.start()
            assert wait_for(
                lambda: all(any(e["event"] == "start" for e in c.events()) for c in running), 120
            ), "the clients did not start playing"
            time.sleep(3)

            # Short pages, each ending 3 frames after its click: the stop line times it.
            short: list[float] = []
            for n in range(pages):
                talk = Talk(server, 59, {55: n})
                assert talk.run() == 0, talk.err.decode()[-500:]
                assert wait_for(lambda n=n: all(len(page_clips(c)) > n for c in running), 30)
                for client in running:
                    heard = page_clips(client)[n]
                    short += [high for _, _, high in latencies(heard, talk.clicks)]
                time.sleep(2)

            # One long page, a click a second, the last one 3 frames before its end.
            frames = int(long_s * 50)
            marks = {i: i // CLICK_EVERY for i in range(0, frames - 4, CLICK_EVERY)}
            marks[frames - 4] = (frames - 4) // CLICK_EVERY + 1
            talk = Talk(server, frames, marks)
            assert talk.run() == 0, talk.err.decode()[-500:]
            assert wait_for(lambda: all(len(page_clips(c)) > pages for c in running), 30)
            last_click = max(talk.clicks)
            at_end: list[float] = []
            worst_high: list[float] = []
            worst_low: list[float] = []
            per_client: dict[str, dict[str, object]] = {}
            for client in running:
                heard = page_clips(client)[pages]
                measured = latencies(heard, talk.clicks)
                end = [high for k, _, high in measured if k == last_click]
                at_end += end
                if measured:
                    worst_high.append(max(high for _, _, high in measured))
                    worst_low.append(max(low for _, low, _ in measured))
                per_client[client.speaker] = {
                    "clicks": len(measured),
                    "at_end_ms": _ms(end[0]) if end else None,
                    "worst_ms_between": [_ms(max(lo for _, lo, _ in measured)),
                                         _ms(max(hi for _, _, hi in measured))]
                    if measured else None,
                    "silence_ms": _ms(heard.silence_s),
                }  # fmt: skip
            return {
                "clients": clients,
                "short_pages": pages,
                "latency_ms": _stats(short),
                "latency_samples": len(short),
                "long_page_s": long_s,
                "long_clicks_sent": len(talk.clicks),
                "long_clicks_heard": sum(int(str(c["clicks"])) for c in per_client.values()),
                "delay_at_end_of_long_page_ms": _stats(at_end) if at_end else None,
                "worst_delay_in_long_page_ms": {
                    "at_least": _ms(max(worst_low)) if worst_low else None,
                    "at_most": _ms(max(worst_high)) if worst_high else None,
                },
                "silence_ms_max": max(float(str(c["silence_ms"])) for c in per_client.values()),
                "per_client": per_client,
            }
        finally:
            for client in running:
                client.stop()


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=23)
    parser.add_argument("--pages", type=int, default=10, help="short pages for the latency")
    parser.add_argument("--seconds", type=float, default=300, help="the long page's length")
    parser.add_argument("--quick", action="store_true", help="3 short pages and a 40 s page")
    parser.add_argument("--per-client", action="store_true", help="print each client's figures")
    args = parser.parse_args(argv)
    result = live_latency(
        args.clients, 3 if args.quick else args.pages, 40 if args.quick else args.seconds
    )
    shown = (
        dict(result) if args.per_client else {k: v for k, v in result.items() if k != "per_client"}
    )
    print(json.dumps(shown, indent=1))
    return result


if __name__ == "__main__":
    main()
