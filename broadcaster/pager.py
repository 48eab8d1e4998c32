"""`broadcaster page`: a live page from the command line (issue 12, docs/live-paging.md).

Streams a WAV file, or a WAV stream on standard input (`-`), in real time as a live page over
the pager's WebSocket (`GET /api/v1/live`) with a personal API token, exactly as the panel's
Talk button does: the targets as the first message, then 20 ms frames of 16-bit mono PCM at
the server's rate (the first answer says `rate` and `frame_ms`; ffmpeg converts when the
input differs), paced on a monotonic clock, then `{"end": true}`.

- `live` is printed on its own line (flushed) when the first frame goes out;
- exit 0 once the server confirmed the end (`{"ended": "released", ...}`);
- exit 2 when the page is refused (busy: who is talking; no right; not a WAV; bad token):
  one line on stderr, and nothing was sent;
- exit 1 when it failed on the way (the server went away, an admin took the page over, the
  page ran past its maximum length): one line on stderr.

Before the first frame it waits (at most `wait_s`) until every target's stream is reading,
and until the speakers' chime is over (`chime_ms` in the answer): what a speaker receives
during its chime is dropped (live, not late), as the Talk button tells its user to wait.
"""

from __future__ import annotations

import contextlib
import json
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

EXIT_OK, EXIT_FAILED, EXIT_REFUSED = 0, 1, 2
CONNECT_TIMEOUT_S = 10.0
ANSWER_TIMEOUT_S = 15.0
END_TIMEOUT_S = 15.0
WAIT_FOR_TARGETS_S = 3.0
# After the page's answer the speakers fade out what plays (100 ms) and sound the chime
# (`chime_ms` in the answer); what comes before its end is dropped by them (live, not late).
FADE_S = 0.15
PCM, EXTENSIBLE = 1, 0xFFFE


class PageRefused(Exception):
    """The page did not start (exit 2): the server refused it or the input is unusable."""


class PageFailed(Exception):
    """The page started but did not end as asked (exit 1)."""


@dataclass(frozen=True, slots=True)
class WavFormat:
    """What a WAV header says: PCM format, channels, rate, bits; `data_bytes` None when the
    header does not know (a stream)."""

    audio_format: int
    channels: int
    rate: int
    bits: int
    data_bytes: int | None

    def is_frames_at(self, rate: int) -> bool:
        """Already what the wire carries: 16-bit mono PCM at `rate`."""
        return (
            self.audio_format in (PCM, EXTENSIBLE)
            and self.channels == 1
            and self.bits == 16
            and self.rate == rate
        )


def read_exact(stream: IO[bytes], n: int) -> bytes:
    out = b""
    while len(out) < n:
        got = stream.read(n - len(out))
        if not got:
            break
        out += got
    return out


def read_wav_header(stream: IO[bytes]) -> tuple[WavFormat, bytes]:
    """Read a WAV header up to the start of its samples; (its format, the header's bytes).
    Works on a pipe (no seeking); PageRefused for anything that is not a PCM WAV."""
    head = read_exact(stream, 12)
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
        raise PageRefused("the input is not a WAV file (RIFF/WAVE header missing)")
    raw = bytearray(head)
    found: WavFormat | None = None
    while True:
        chunk = read_exact(stream, 8)
        raw += chunk
        if len(chunk) < 8:
            raise PageRefused("the WAV input ends before its audio data")
        name, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
        if name == b"data":
            if found is None:
                raise PageRefused("the WAV input has no format chunk before its data")
            known = None if size in (0, 0xFFFFFFFF) or size >= 0x7FFFF000 else size
            return WavFormat(found.audio_format, found.channels, found.rate, found.bits, known), (
                bytes(raw)
            )
        body = read_exact(stream, size + (size & 1))
        raw += body
        if len(body) < size:
            raise PageRefused("the WAV input ends inside its header")
        if name == b"fmt ":
            if size < 16:
                raise PageRefused("the WAV input's format chunk is too short")
            audio_format, channels, rate, _, _, bits = struct.unpack("<HHIIHH", body[:16])
            found = WavFormat(audio_format, channels, rate, bits, None)


def _limited(stream: IO[bytes], limit: int | None, size: int) -> Iterator[bytes]:
    """Blocks of up to `size` bytes from `stream`, at most `limit` bytes in all."""
    left = limit
    while left is None or left > 0:
        want = size if left is None else min(size, left)
        block = stream.read(want)
        if not block:
            return
        if left is not None:
            left -= len(block)
        yield block


class PcmSource:
    """The input as 16-bit mono PCM at the server's rate, read in blocks: straight from the
    WAV when it already is that, else through ffmpeg."""

    def __init__(self, path: str, stdin: IO[bytes]) -> None:
        self.path = path
        self._stdin = stdin
        self._stream: IO[bytes] = stdin if path == "-" else Path(path).open("rb")  # noqa: SIM115
        self.format, self._header = read_wav_header(self._stream)
        self._ffmpeg: subprocess.Popen[bytes] | None = None

    def blocks(self, rate: int, size: int) -> Iterator[bytes]:
        if self.format.is_frames_at(rate):
            yield from _limited(self._stream, self.format.data_bytes, size)
            return
        self._ffmpeg = subprocess.Popen(
            ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-i", "pipe:0",
             "-f", "s16le", "-acodec", "pcm_s16le", "-ac", "1", "-ar", str(rate), "pipe:1"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        assert self._ffmpeg.stdin is not None and self._ffmpeg.stdout is not None
        feeder = threading.Thread(target=self._feed, args=(self._ffmpeg.stdin,), daemon=True)
        feeder.start()
        yield from _limited(self._ffmpeg.stdout, None, size)
        if self._ffmpeg.wait() != 0:
            detail = (
                self._ffmpeg.stderr.read().decode(errors="replace") if self._ffmpeg.stderr else ""
            )
            raise PageFailed(f"ffmpeg could not convert the input: {detail.strip()[:200]}")

    def _feed(self, sink: IO[bytes]) -> None:
        with contextlib.suppress(OSError):
            sink.write(self._header)
            for block in _limited(self._stream, None, 65536):
                sink.write(block)
        with contextlib.suppress(OSError):
            sink.close()

    def close(self) -> None:
        if self._ffmpeg is not None and self._ffmpeg.poll() is None:
            self._ffmpeg.kill()
            self._ffmpeg.wait()
        if self._stream is not self._stdin:
            self._stream.close()


def frames_of(blocks: Iterator[bytes], frame_bytes: int) -> Iterator[bytes]:
    """Whole frames from blocks of any size; the last one padded with silence."""
    pending = b""
    for block in blocks:
        pending += block
        while len(pending) >= frame_bytes:
            yield pending[:frame_bytes]
            pending = pending[frame_bytes:]
    if pending:
        pending += b"\x00" * (-len(pending) % 2)
        yield pending + b"\x00" * (frame_bytes - len(pending))


def ws_url(server: str) -> str:
    base = server.rstrip("/")
    if base.startswith("https://"):
        return "wss://" + base[len("https://") :] + "/api/v1/live"
    if base.startswith("http://"):
        return "ws://" + base[len("http://") :] + "/api/v1/live"
    raise PageRefused(f"--server: expected an http:// or https:// URL, not {server!r}")


def _refusal_before_upgrade(server: str, token: str, status: object) -> str:
    """The server refused the upgrade (401, 403, ...): read its JSON error for the line."""
    request = urllib.request.Request(
        server.rstrip("/") + "/api/v1/live",
        headers={"Authorization": f"Bearer {token}", "Upgrade": "websocket",
                 "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
                 "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=CONNECT_TIMEOUT_S) as answer:
            body = answer.read(65536)
    except urllib.error.HTTPError as exc:
        body = exc.read(65536)
    except OSError:
        return f"the server refused the page (HTTP {status})"
    return _message(body) or f"the server refused the page (HTTP {status})"


def _message(body: bytes | str) -> str | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return None
    text = str(error.get("message") or error.get("code") or "refused")
    return text.replace("\n", " ")


@dataclass
class Pager:
    """One page from start to end; `out` gets `live`, `err` the one-line errors."""

    server: str
    token: str
    speakers: tuple[str, ...]
    areas: tuple[str, ...]
    override_window: bool = False
    take_over: bool = False
    wait_s: float = WAIT_FOR_TARGETS_S
    verbose: bool = False
    out: IO[str] = sys.stdout
    err: IO[str] = sys.stderr
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        self.states: dict[str, str] = {}
        self.ended: dict[str, Any] | None = None

    def run(self, source: PcmSource) -> int:
        import simple_websocket

        try:
            ws = simple_websocket.Client.connect(
                ws_url(self.server), headers={"Authorization": f"Bearer {self.token}"}
            )
        except ConnectionError as exc:  # refused before the upgrade: 401, 403, 409, ...
            status = exc.args[0] if exc.args else "?"
            if isinstance(status, int):
                raise PageRefused(
                    _refusal_before_upgrade(self.server, self.token, status)
                ) from None
            raise PageFailed(f"cannot reach the server at {self.server}: {exc}") from None
        except OSError as exc:
            raise PageFailed(f"cannot reach the server at {self.server}: {exc}") from None
        try:
            return self._page(ws, source)
        finally:
            with contextlib.suppress(Exception):
                ws.close()

    def _page(self, ws: Any, source: PcmSource) -> int:
        import simple_websocket

        ask: dict[str, Any] = {"speakers": list(self.speakers), "areas": list(self.areas)}
        if self.override_window:
            ask["override_window"] = True
        if self.take_over:
            ask["take_over"] = True
        # A server that goes away shows as ConnectionClosed or, when the socket is reset
        # under a send, as an OSError (ConnectionResetError, BrokenPipeError).
        lost = (simple_websocket.ConnectionClosed, OSError)
        try:
            ws.send(json.dumps(ask))
            answer = self._json(ws.receive(timeout=ANSWER_TIMEOUT_S))
        except lost:
            raise PageFailed("the server closed the connection before answering") from None
        if answer is None:
            raise PageFailed("the server did not answer the page request")
        if "error" in answer:
            raise PageRefused(_message(json.dumps(answer)) or "the server refused the page")
        answered = self.clock()
        rate, frame_ms = int(answer["rate"]), int(answer["frame_ms"])
        talk_from = answered + int(answer.get("chime_ms") or 0) / 1000 + FADE_S
        for target in answer.get("targets", []):
            self.states[target["speaker"]] = target.get("state") or "connecting"
            if not target.get("live", True):
                self._say(f"{target['speaker']}: not paged ({target.get('reason')})")
        frame_bytes = rate * frame_ms // 1000 * 2
        try:
            self._wait_for_targets(ws)
            self._wait_until(ws, talk_from)
            sent = self._stream(ws, frames_of(source.blocks(rate, frame_bytes), frame_bytes),
                                frame_ms)  # fmt: skip
            if self.ended is None:
                ws.send(json.dumps({"end": True}))
                self._wait_end(ws)
        except lost:
            with contextlib.suppress(*lost):
                self._drain(ws)  # what the server said before it closed (taken over, ...)
            if self.ended is None:
                raise PageFailed("the connection to the server was lost mid-page") from None
            sent = -1
        assert self.ended is not None
        reason = self.ended.get("ended")
        if reason != "released":
            raise PageFailed(f"the page was ended by the server: {reason}")
        self._say(f"ended after {sent} frames: " + ", ".join(
            f"{t['speaker']} {t.get('outcome')}" for t in self.ended.get("targets", [])
        ))  # fmt: skip
        return EXIT_OK

    def _json(self, message: object) -> dict[str, Any] | None:
        if message is None:
            return None
        if not isinstance(message, str):
            raise PageFailed("the server answered with binary data")
        data = json.loads(message)
        return data if isinstance(data, dict) else None

    def _say(self, line: str) -> None:
        if self.verbose:
            print(f"broadcaster: {line}", file=self.err, flush=True)

    def _take(self, message: object) -> None:
        """A message from the server while the page runs: targets' states, or the end."""
        data = self._json(message)
        if data is None:
            return
        for target in data.get("targets", []):
            if self.states.get(target["speaker"]) != target.get("state"):
                self.states[target["speaker"]] = target.get("state")
                self._say(f"{target['speaker']}: {target.get('state')}")
        if "ended" in data:
            self.ended = data

    def _drain(self, ws: Any) -> None:
        while self.ended is None:
            message = ws.receive(timeout=0)
            if message is None:
                return
            self._take(message)

    def _wait_for_targets(self, ws: Any) -> None:
        """Until no target is still `connecting` (their streams read), at most `wait_s`."""
        deadline = self.clock() + self.wait_s
        while self.ended is None and self.clock() < deadline:
            if "connecting" not in self.states.values():
                return
            self._take(ws.receive(timeout=max(0.0, min(0.05, deadline - self.clock()))))

    def _wait_until(self, ws: Any, moment: float) -> None:
        """Until `moment` (the chime is over), taking the server's messages meanwhile."""
        while self.ended is None and self.clock() < moment:
            self._take(ws.receive(timeout=max(0.0, min(0.05, moment - self.clock()))))

    def _stream(self, ws: Any, frames: Iterator[bytes], frame_ms: int) -> int:
        """Send the frames in real time; the number sent."""
        started: float | None = None
        count = 0
        step = frame_ms / 1000
        for frame in frames:
            self._drain(ws)
            if self.ended is not None:  # taken over, or past the maximum length
                return count
            now = self.clock()
            if started is None:
                started = now
            due = started + count * step
            if due > now:
                self.sleep(due - now)
            elif now - due > 0.5:  # the input stalled (a live source): do not burst
                started = now - count * step
            ws.send(frame)
            if count == 0:
                print("live", file=self.out, flush=True)
            count += 1
        return count

    def _wait_end(self, ws: Any) -> None:
        deadline = self.clock() + END_TIMEOUT_S
        while self.ended is None:
            left = deadline - self.clock()
            if left <= 0:
                raise PageFailed("the server did not confirm the end of the page")
            self._take(ws.receive(timeout=min(left, 1.0)))


def read_token(text: str) -> str:
    """`--token`: the token itself, or `@FILE` to read it from a file (not on the command
    line, where other users of the machine could see it)."""
    if text.startswith("@"):
        try:
            return Path(text[1:]).read_text().strip()
        except OSError as exc:
            raise PageRefused(f"--token: cannot read {text[1:]}: {exc.strerror}") from None
    return text.strip()


def page(
    *,
    server: str,
    token: str,
    speakers: tuple[str, ...],
    areas: tuple[str, ...],
    source: str,
    override_window: bool = False,
    take_over: bool = False,
    verbose: bool = False,
    stdin: IO[bytes] | None = None,
    out: IO[str] = sys.stdout,
    err: IO[str] = sys.stderr,
) -> int:
    """The whole command: the exit code, with the one-line error on `err`."""
    pcm: PcmSource | None = None
    try:
        ws_url(server)
        if not speakers and not areas:
            raise PageRefused("name at least one --speaker or --area")
        secret = read_token(token)
        try:
            pcm = PcmSource(source, stdin if stdin is not None else sys.stdin.buffer)
        except OSError as exc:
            raise PageRefused(f"cannot read {source}: {exc.strerror or exc}") from None
        pager = Pager(server, secret, speakers, areas, override_window, take_over,
                      verbose=verbose, out=out, err=err)  # fmt: skip
        return pager.run(pcm)
    except PageRefused as exc:
        print(f"broadcaster: refused: {exc}", file=err, flush=True)
        return EXIT_REFUSED
    except PageFailed as exc:
        print(f"broadcaster: failed: {exc}", file=err, flush=True)
        return EXIT_FAILED
    finally:
        if pcm is not None:
            pcm.close()
