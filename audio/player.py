"""Playback sinks: where a client's PCM goes (ALSA, a WAV file for tests, nowhere).

A sink receives mono signed 16-bit little-endian PCM at one sample rate in small chunks
(about 20 ms), framed by ``begin(info)`` and ``end(reason)``. Sinks do not pace: the
playback loop writes each chunk when its time has come (by a monotonic clock), so it can
stop at an exact instant. Only the standard library is used: 23 clients share a test box.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol

from audio.errors import AudioError

log = logging.getLogger(__name__)

DEFAULT_RATE = 22050
SAMPLE_WIDTH = 2  # bytes, signed 16-bit little-endian
_HEADER = struct.Struct("<4sI4s4sIHHIIHH4sI")  # the 44-byte canonical PCM WAV header


@dataclass(frozen=True, slots=True)
class ClipInfo:
    """What is about to be played (passed to ``Sink.begin``)."""

    clip: str
    kind: str
    message: str | None = None
    urgent: str | None = None
    rate: int = DEFAULT_RATE


class Sink(Protocol):
    """Receives paced PCM. ``lead_s``: how far ahead of real time the loop may write."""

    rate: int
    lead_s: float
    wants_silence: bool  # feed silence between clips (a device that must never underrun)

    def begin(self, info: ClipInfo) -> None: ...

    def write(self, pcm: bytes) -> None: ...

    def silence(self, frames: int) -> None: ...

    def end(self, reason: str) -> None: ...

    def health(self) -> tuple[bool, str]: ...

    def close(self) -> None: ...


class NullSink:
    """Discards audio; the loop paces it like a real device."""

    wants_silence = False
    lead_s = 0.0

    def __init__(self, rate: int = DEFAULT_RATE) -> None:
        self.rate = rate

    def begin(self, info: ClipInfo) -> None:
        pass

    def write(self, pcm: bytes) -> None:
        pass

    def silence(self, frames: int) -> None:
        pass

    def end(self, reason: str) -> None:
        pass

    def health(self) -> tuple[bool, str]:
        return True, "null sink"

    def close(self) -> None:
        pass


class FileSink:
    """Writes what would be heard to a WAV file (clips only, no gaps) plus a JSON-lines log.

    The RIFF sizes are rewritten every second and on close, so the file is valid while it
    grows. An existing file written by this sink at the same rate is appended to.
    ``path + ".log"`` gets ``{"event": "start"|"stop", "clip", "kind", "message", "urgent",
    "t", "at", "frames", "reason"}`` per clip; ``t`` is the wall clock at the first frame
    (start) or just after the last frame (stop).
    """

    wants_silence = False
    lead_s = 0.0

    def __init__(
        self, path: Path | str, rate: int = DEFAULT_RATE, wall: Callable[[], float] = time.time
    ) -> None:
        self.path = Path(path)
        self.rate = rate
        self._wall = wall
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._data_bytes = self._open()
        self._log = open(str(self.path) + ".log", "a", encoding="utf-8")  # noqa: SIM115
        self._info: ClipInfo | None = None
        self._frames = 0
        self._header_at = time.monotonic()

    def _open(self) -> int:
        existing = 0
        if self.path.exists():
            with self.path.open("rb") as f:
                head = f.read(_HEADER.size)
            if len(head) == _HEADER.size:
                fields = _HEADER.unpack(head)
                if fields[0] == b"RIFF" and fields[3] == b"fmt " and fields[7] == self.rate:
                    existing = self.path.stat().st_size - _HEADER.size
                    existing -= existing % SAMPLE_WIDTH
        self._file: BinaryIO = open(self.path, "r+b" if existing else "w+b")  # noqa: SIM115
        self._file.truncate(_HEADER.size + existing)
        self._write_header(existing)
        self._file.seek(0, os.SEEK_END)
        return existing

    def _write_header(self, data_bytes: int) -> None:
        header = _HEADER.pack(
            b"RIFF",
            36 + data_bytes,
            b"WAVE",
            b"fmt ",
            16,
            1,
            1,
            self.rate,
            self.rate * SAMPLE_WIDTH,
            SAMPLE_WIDTH,
            8 * SAMPLE_WIDTH,
            b"data",
            data_bytes,
        )
        self._file.seek(0)
        self._file.write(header)
        self._file.seek(0, os.SEEK_END)

    def _event(self, event: str, reason: str = "") -> None:
        info = self._info
        assert info is not None
        t = self._wall()
        record = {
            "event": event,
            "clip": info.clip,
            "kind": info.kind,
            "message": info.message,
            "urgent": info.urgent,
            "t": round(t, 4),
            "at": datetime.fromtimestamp(t).astimezone().isoformat(timespec="milliseconds"),
            "frames": self._frames,
            "reason": reason,
        }
        self._log.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._log.flush()

    def begin(self, info: ClipInfo) -> None:
        self._info = info
        self._frames = 0
        self._event("start")

    def write(self, pcm: bytes) -> None:
        self._file.write(pcm)
        self._frames += len(pcm) // SAMPLE_WIDTH
        self._data_bytes += len(pcm)
        if time.monotonic() - self._header_at >= 1.0:
            self._sync_header()

    def _sync_header(self) -> None:
        self._write_header(self._data_bytes)
        self._file.flush()
        self._header_at = time.monotonic()

    def silence(self, frames: int) -> None:
        pass  # only clip audio goes into the file: the log says when each clip played

    def end(self, reason: str) -> None:
        if self._info is None:
            return
        self._sync_header()
        self._event("stop", reason)
        self._info = None

    def health(self) -> tuple[bool, str]:
        return True, f"file {self.path}"

    def close(self) -> None:
        self._sync_header()
        self._file.close()
        self._log.close()


class AlsaSink:
    """One long-running ``aplay`` fed raw PCM on stdin, with silence between clips.

    Keeping one process open means loops have no gaps and a stop is exact to about the
    ALSA buffer (0.1 s). If the player dies or hangs it is restarted and the sink reports
    itself unhealthy for a minute.
    """

    wants_silence = True
    lead_s = 0.2  # >= the ALSA buffer: a stall of the loop (GC, fsync) does not underrun
    _UNHEALTHY_S = 60.0
    _WRITE_TIMEOUT_S = 2.0

    def __init__(self, rate: int = DEFAULT_RATE, command: Sequence[str] | None = None) -> None:
        self.rate = rate
        self._command = list(command or self.default_command(rate))
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self.restarts = 0
        self._trouble_at: float | None = None
        self._detail = "not started"
        self._start()

    @staticmethod
    def default_command(rate: int) -> list[str]:
        return [
            "aplay",
            "-q",
            "-t",
            "raw",
            "-f",
            "S16_LE",
            "-r",
            str(rate),
            "-c",
            "1",
            "--buffer-time=100000",
        ]

    def _start(self) -> None:
        try:
            self._proc = subprocess.Popen(self._command, stdin=subprocess.PIPE)
        except OSError as exc:
            self._proc = None
            self._trouble(f"cannot start {self._command[0]}: {exc}")
            return
        assert self._proc.stdin is not None
        fd = self._proc.stdin.fileno()
        with contextlib.suppress(OSError, AttributeError):
            # A small pipe keeps the distance between what was written and what is heard short.
            import fcntl

            fcntl.fcntl(fd, 1031, 16384)  # F_SETPIPE_SZ
        os.set_blocking(fd, False)
        if self._trouble_at is None:
            self._detail = f"{self._command[0]} running"

    def _trouble(self, detail: str) -> None:
        log.warning("alsa sink: %s", detail)
        self._trouble_at = time.monotonic()
        self._detail = detail

    def _restart(self, why: str) -> None:
        self.restarts += 1
        self._trouble(f"{why}; restarting the player (restart {self.restarts})")
        self._kill()
        self._start()

    def _kill(self, drain_s: float = 0.0) -> None:
        """End the player; with ``drain_s`` it first gets that long to play what it has."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(OSError):
            assert proc.stdin is not None
            proc.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=drain_s)
        proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=2)

    def _feed(self, pcm: bytes) -> None:
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._restart("the player is not running")
            proc = self._proc
            if proc is None or proc.stdin is None:
                return
            fd = proc.stdin.fileno()
            view = memoryview(pcm)
            deadline = time.monotonic() + self._WRITE_TIMEOUT_S
            while view:
                try:
                    n = os.write(fd, view)
                    view = view[n:]
                except BlockingIOError:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        self._restart("the player stopped reading")
                        return
                    select.select([], [fd], [], min(left, 0.1))
                except OSError as exc:  # BrokenPipeError: the player died
                    self._restart(f"the player died ({exc.__class__.__name__})")
                    return

    def begin(self, info: ClipInfo) -> None:
        pass

    def write(self, pcm: bytes) -> None:
        self._feed(pcm)

    def silence(self, frames: int) -> None:
        self._feed(bytes(frames * SAMPLE_WIDTH))

    def end(self, reason: str) -> None:
        pass

    def health(self) -> tuple[bool, str]:
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                return False, self._detail
            if self._trouble_at is not None:
                if time.monotonic() - self._trouble_at < self._UNHEALTHY_S:
                    return False, self._detail
                self._trouble_at = None
                self._detail = f"{self._command[0]} running"
            return True, self._detail

    def close(self) -> None:
        with self._lock:
            self._kill(drain_s=1.0)


def make_sink(spec: str, rate: int = DEFAULT_RATE) -> Sink:
    """A sink from its command-line spelling: ``alsa``, ``file:PATH`` or ``null``."""
    if spec == "alsa":
        return AlsaSink(rate)
    if spec == "null":
        return NullSink(rate)
    if spec.startswith("file:") and len(spec) > len("file:"):
        return FileSink(Path(spec[len("file:") :]), rate)
    raise AudioError(f"unknown output {spec!r}: expected alsa, file:PATH or null")
