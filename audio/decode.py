"""Bounded probing and decoding of audio files that come from outside (uploaded recordings).

A small compressed file can hold hours of audio (2 hours of Opus silence in 2.7 MB), so a
recording is never decoded whole into memory:

- `probe` asks `ffprobe` (a subprocess with a time limit) for the container format, the
  duration and the streams, without decoding anything;
- `decode_stream` runs `ffmpeg` writing raw mono s16le PCM at the render rate to a pipe,
  reads it in chunks and kills ffmpeg as soon as more than the allowed samples (plus a small
  margin) or a wall-time cap is reached;
- at most `DECODE_SLOTS` decodes run at once; a caller that gets no slot within
  `SLOT_WAIT_S` gets `DecodeBusy`.

Under `broadcaster serve` (gevent, monkey-patched) the subprocess waits and pipe reads are
cooperative, so a decode never blocks the other requests.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from audio.errors import InvalidInput

PROBE_TIMEOUT_S = 5.0
DECODE_WALL_S = 30.0  # a legitimate 5-minute recording decodes in about a second
DECODE_SLOTS = 2
SLOT_WAIT_S = 5.0
MARGIN_S = 1.0  # containers round durations; this much over the limit is still "the limit"
CHUNK = 64 * 1024

# Container formats (ffprobe's format_name parts) accepted for each stored extension.
FAMILIES: dict[str, frozenset[str]] = {
    "wav": frozenset({"wav"}),
    "mp3": frozenset({"mp3"}),
    "m4a": frozenset({"mov", "mp4", "m4a", "3gp", "3g2", "mj2", "aac"}),
    "webm": frozenset({"matroska", "webm"}),
    "ogg": frozenset({"ogg"}),
}
FAMILY_OF_EXT = {
    "wav": "wav",
    "mp3": "mp3",
    "m4a": "m4a",
    "aac": "m4a",
    "mp4": "m4a",
    "webm": "webm",
    "ogg": "ogg",
    "oga": "ogg",
    "opus": "ogg",
}


class Unreadable(InvalidInput):
    """ffprobe/ffmpeg cannot read the file as audio (damaged, not audio, no audio stream)."""


class UnknownFormat(InvalidInput):
    """The file is audio in a container we do not take, or not the one its name says."""

    def __init__(self, found: str, ext: str) -> None:
        super().__init__(f"the file holds {found!r}, not a .{ext} recording")
        self.found = found
        self.ext = ext


class TooLong(InvalidInput):
    """More audio than allowed; `seconds` is the probed length (None: found while decoding)."""

    def __init__(self, seconds: float | None, limit: float) -> None:
        shown = "more than the limit" if seconds is None else f"{seconds:.0f} s"
        super().__init__(f"the recording is {shown}; the limit is {limit:.0f} s")
        self.seconds = seconds
        self.limit = limit


class DecodeBusy(InvalidInput):
    """Every decode slot is taken; try again shortly."""


class DecodeTimeout(InvalidInput):
    """ffmpeg took longer than the wall-time cap."""


@dataclass(frozen=True, slots=True)
class Probe:
    formats: frozenset[str]  # ffprobe's format_name split on commas
    format_name: str
    duration_s: float | None  # None: the container does not say (e.g. a live WebM)
    audio_streams: int
    codec: str


def probe(path: Path, timeout_s: float = PROBE_TIMEOUT_S) -> Probe:
    """Format, duration and streams of `path`, read by ffprobe without decoding."""
    command = [
        "ffprobe", "-v", "error", "-hide_banner", "-of", "json",
        "-show_entries", "format=format_name,duration:stream=codec_type,codec_name,duration",
        str(path),
    ]  # fmt: skip
    try:
        done = subprocess.run(
            command, capture_output=True, timeout=timeout_s, stdin=subprocess.DEVNULL, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise Unreadable(f"ffprobe took more than {timeout_s:.0f} s on {path.name}") from exc
    except OSError as exc:
        raise Unreadable(f"cannot run ffprobe: {exc}") from exc
    try:
        info = json.loads(done.stdout or b"{}")
    except ValueError:
        info = {}
    fmt = info.get("format") or {}
    if done.returncode != 0 or not fmt.get("format_name"):
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise Unreadable(f"cannot read {path.name}: {reason[-1] if reason else 'unknown format'}")
    audio = [s for s in info.get("streams") or [] if s.get("codec_type") == "audio"]
    durations = [_seconds(fmt.get("duration"))] + [_seconds(s.get("duration")) for s in audio]
    known = [d for d in durations if d is not None]
    name = str(fmt["format_name"])
    return Probe(
        formats=frozenset(part.strip() for part in name.split(",")),
        format_name=name,
        duration_s=max(known) if known else None,
        audio_streams=len(audio),
        codec=str(audio[0].get("codec_name", "?")) if audio else "",
    )


def _seconds(value: object) -> float | None:
    try:
        seconds = float(str(value))
    except ValueError:
        return None
    return seconds if seconds == seconds and seconds >= 0 else None  # NaN, negative: unknown


def check(found: Probe, ext: str, max_s: float) -> None:
    """Refuse, before decoding, what has no audio, is not the format `ext` names, or is
    longer than `max_s` by the container's own account."""
    family = FAMILY_OF_EXT.get(ext)
    if family is None or not found.formats & FAMILIES[family]:
        raise UnknownFormat(found.format_name, ext)
    if found.audio_streams == 0:
        raise Unreadable("the file holds no audio stream")
    if found.duration_s is not None and found.duration_s > max_s + MARGIN_S:
        raise TooLong(found.duration_s, max_s)


_slots = threading.BoundedSemaphore(DECODE_SLOTS)


@contextlib.contextmanager
def decode_slot(wait_s: float = SLOT_WAIT_S) -> Iterator[None]:
    """One of the `DECODE_SLOTS`; DecodeBusy when none frees up within `wait_s`."""
    if not _slots.acquire(timeout=wait_s):
        raise DecodeBusy("other recordings are being decoded; try again in a minute")
    try:
        yield
    finally:
        _slots.release()


def decode_stream(
    path: Path, rate: int, max_s: float, *, wall_s: float = DECODE_WALL_S
) -> np.ndarray:
    """The first audio stream of `path` as mono float samples at `rate`, decoded by an
    ffmpeg subprocess; TooLong once more than `max_s` (+ margin) of audio comes out,
    DecodeTimeout after `wall_s`. Memory stays at the limit's worth of samples."""
    limit_bytes = int((max_s + MARGIN_S) * rate) * 2
    command = [
        "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-threads", "1",
        "-i", str(path), "-map", "0:a:0", "-vn", "-sn", "-dn",
        "-ac", "1", "-ar", str(rate), "-f", "s16le", "-acodec", "pcm_s16le", "pipe:1",
    ]  # fmt: skip
    with tempfile.TemporaryFile(prefix="broadcaster-ffmpeg-") as errors:  # never a full pipe
        data = _run(command, errors, path.name, limit_bytes, max_s, wall_s)
    usable = len(data) // 2
    if usable == 0:
        raise InvalidInput(f"audio file {path.name} holds no sound")
    return np.frombuffer(data, dtype="<i2", count=usable).astype(np.float64) / 32768.0


def _run(
    command: list[str], errors: IO[bytes], name: str, limit_bytes: int, max_s: float, wall_s: float
) -> bytearray:
    """ffmpeg's PCM output, read in chunks; killed past `limit_bytes` or `wall_s`."""
    deadline = time.monotonic() + wall_s
    data = bytearray()
    try:
        proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors
        )
    except OSError as exc:
        raise Unreadable(f"cannot run ffmpeg: {exc}") from exc
    assert proc.stdout is not None
    watchdog = threading.Timer(wall_s, _kill, (proc,))
    watchdog.daemon = True
    watchdog.start()
    try:
        while chunk := proc.stdout.read(CHUNK):
            if len(data) + len(chunk) > limit_bytes:
                raise TooLong(None, max_s)
            data += chunk
        if time.monotonic() >= deadline:
            raise DecodeTimeout(f"decoding {name} took more than {wall_s:.0f} s")
        code = proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        if code != 0:
            errors.seek(0)
            text = errors.read(4096).decode("utf-8", "replace").strip().splitlines()
            raise Unreadable(f"cannot decode {name}: {text[-1] if text else code}")
    except subprocess.TimeoutExpired as exc:
        raise DecodeTimeout(f"decoding {name} took more than {wall_s:.0f} s") from exc
    finally:
        watchdog.cancel()
        _kill(proc)
        proc.stdout.close()
        proc.wait()
    return data


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(OSError):
            proc.kill()


def decode_bounded(path: Path, rate: int, ext: str, max_s: float) -> np.ndarray:
    """Probe, check and decode an outside file within the limits and a decode slot."""
    found = probe(path)
    check(found, ext, max_s)
    with decode_slot():
        return decode_stream(path, rate, max_s)
