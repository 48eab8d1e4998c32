"""Text to speech: the `Synthesizer` protocol and the pyttsx3/espeak-ng implementation."""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import math
import re
import subprocess
import sys
import threading
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Protocol

from audio.errors import AudioError, SynthesisError, UnknownVoice

DEFAULT_VOICE = "sit/cmn-latn-pinyin"
# Voices that read tone-numbered pinyin as written (and each Han character with one fixed
# reading): they are given syllables from `audio.textnorm.pinyin` (issue 16).
PINYIN_VOICES = ("cmn-latn-pinyin",)
# espeak-ng reads a Han character in about 52 / rate seconds (rate in words per minute).
SECONDS_PER_HAN_AT_RATE_1 = 52.0
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_PAUSE = re.compile(r"[，。！？；：、,.!?;:\n]")
_SYLLABLE = re.compile(r"(?<![a-zü])[a-zü]{1,6}[1-5]")


def reads_pinyin(voice: str) -> bool:
    """Whether `voice` (an id or a bare name) is given pinyin instead of characters."""
    return voice.rsplit("/", 1)[-1].lower() in PINYIN_VOICES


@dataclass(frozen=True, slots=True)
class Voice:
    """An installed voice: `id` is what `Synthesizer.synthesize` takes."""

    id: str
    name: str
    languages: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SpeechRequest:
    """What to say and how. `rate` is in words per minute, `volume` in 0..1."""

    text: str
    voice: str = DEFAULT_VOICE
    rate: int = 160
    volume: float = 1.0


@dataclass(frozen=True, slots=True)
class ClipCheck:
    """Measurements of a synthesized clip that passed the checks."""

    duration_s: float
    rms_dbfs: float
    sample_rate: int


class Synthesizer(Protocol):
    """Turns text into a mono 16-bit WAV file; raises `SynthesisError` on any failure."""

    @property
    def engine_id(self) -> str:
        """Engine name and version, e.g. 'pyttsx3-2.99/espeak-ng-1.51' (part of the cache key)."""
        ...

    def voices(self) -> Sequence[Voice]:
        """The voices this engine can use."""
        ...

    def resolve_voice(self, voice: str) -> str:
        """The full id for `voice`, or `UnknownVoice`."""
        ...

    def synthesize(self, request: SpeechRequest, out_path: Path) -> ClipCheck:
        """Write the speech for `request` to `out_path` (WAV); return the checked measurements."""
        ...


def expected_duration_s(text: str, rate: int) -> tuple[float, float]:
    """A plausible (low, high) band for the spoken duration of normalized `text` at `rate`."""
    # A tone-numbered pinyin syllable (yin2) takes as long as the character it stands for.
    syllables = len(_SYLLABLE.findall(text))
    han = len(_HAN.findall(text)) + syllables
    text = _SYLLABLE.sub("", text)
    pauses = len(_PAUSE.findall(text))
    per_han = SECONDS_PER_HAN_AT_RATE_1 / rate
    other = sum(1 for ch in text if ch.isalnum() and not _HAN.match(ch))
    nominal = per_han * han + per_han * 0.5 * other
    low = 0.4 * nominal
    high = 2.0 * nominal + 0.6 * pauses + 1.0
    return low, high


def check_clip(path: Path, text: str, rate: int) -> ClipCheck:
    """Check a synthesized WAV: parses, mono 16-bit, not silent, duration plausible for `text`."""
    try:
        with wave.open(str(path), "rb") as wav:
            channels, width, sample_rate = (
                wav.getnchannels(),
                wav.getsampwidth(),
                wav.getframerate(),
            )
            frames = wav.readframes(wav.getnframes())
    except FileNotFoundError:
        raise SynthesisError(text, "the engine wrote no file") from None
    except (wave.Error, EOFError) as exc:
        raise SynthesisError(text, f"the engine wrote an unreadable WAV ({exc})") from exc
    if channels != 1 or width != 2:
        raise SynthesisError(text, f"expected mono 16-bit, got {channels} ch x {8 * width} bit")
    count = len(frames) // 2
    if count == 0:
        raise SynthesisError(text, "the engine wrote an empty clip")
    import numpy as np  # heavy import kept out of module import time

    samples = np.frombuffer(frames[: 2 * count], dtype="<i2").astype(np.float64) / 32768.0
    rms = float(np.sqrt(np.mean(samples * samples)))
    rms_dbfs = 20 * math.log10(rms) if rms > 0 else -math.inf
    if rms_dbfs < -50.0:
        raise SynthesisError(text, f"the clip is silent (RMS {rms_dbfs:.1f} dBFS)")
    duration_s = count / sample_rate
    low, high = expected_duration_s(text, rate)
    if not low <= duration_s <= high:
        raise SynthesisError(
            text,
            f"implausible duration {duration_s:.2f} s for {len(text)} characters at rate {rate} "
            f"(expected {low:.2f} to {high:.2f} s)",
        )
    return ClipCheck(duration_s=duration_s, rms_dbfs=rms_dbfs, sample_rate=sample_rate)


class Pyttsx3Synthesizer:
    """pyttsx3 on espeak-ng, a fresh process per clip, forked from a synthesis server.

    The server (`python -m audio.tts_worker`) has imported pyttsx3 once and forks a child for
    each request: the engine is never reused, and a clip costs the synthesis plus a fork
    instead of a Python start-up and import (~40 ms of CPU). One server per synthesizer,
    started ahead of time unless `prestart` is false, started again if it ever stops; the
    server kills a child past its request's timeout. Thread-safe (and greenlet-safe under
    gevent's monkey-patching); call `close()` when done.
    """

    def __init__(
        self,
        *,
        timeout_s: float = 30.0,
        per_char_timeout_s: float = 0.5,
        startup_grace_s: float = 2.0,
        prestart: bool = True,
    ) -> None:
        self._timeout_s = timeout_s
        self._startup_grace_s = startup_grace_s
        self._per_char_timeout_s = per_char_timeout_s
        self._lock = threading.Lock()
        self._server: _EngineServer | None = None
        self._closed = False
        if prestart:
            self._running_server()

    def _running_server(self) -> _EngineServer:
        with self._lock:
            if self._closed:
                raise AudioError("synthesizer is closed")
            if self._server is None or self._server.stopped is not None:
                if self._server is not None:
                    self._server.close()
                self._server = _EngineServer()
            return self._server

    def close(self) -> None:
        """Stop the synthesis server."""
        with self._lock:
            self._closed = True
            server, self._server = self._server, None
        if server is not None:
            server.close()

    def __enter__(self) -> Pyttsx3Synthesizer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, request: dict[str, object], timeout_s: float, text: str) -> dict[str, object]:
        server = self._running_server()
        try:
            reply = server.call(request, timeout_s)
        except TimeoutError:
            reply = {"ok": False, "timeout": True}
        if reply is None:
            raise SynthesisError(text, f"the engine process failed ({server.stopped})")
        if reply.get("timeout"):
            raise SynthesisError(text, f"the engine did not finish within {timeout_s:.0f} s")
        if not reply.get("ok"):
            raise SynthesisError(text, str(reply.get("reason", "unknown failure")))
        return reply

    # -- Synthesizer ----------------------------------------------------------
    @functools.cached_property
    def engine_id(self) -> str:
        return f"pyttsx3-{metadata.version('pyttsx3')}/espeak-ng-{espeak_version()}"

    def voices(self) -> Sequence[Voice]:
        return self._voices

    @functools.cached_property
    def _voices(self) -> tuple[Voice, ...]:
        reply = self._call({"op": "voices"}, self._timeout_s, "(voice list)")
        raw = reply["voices"]
        assert isinstance(raw, list)
        return tuple(Voice(v["id"], v["name"], tuple(v["languages"])) for v in raw)

    def resolve_voice(self, voice: str) -> str:
        ids = [v.id for v in self._voices]
        if voice in ids:
            return voice
        # pyttsx3 silently falls back to another voice for a bare name: resolve it here.
        matches = [i for i in ids if i.rsplit("/", 1)[-1] == voice]
        if len(matches) == 1:
            return matches[0]
        hint = ", ".join(i for i in ids if "cmn" in i or "yue" in i) or ", ".join(ids[:5])
        raise UnknownVoice(f"unknown voice {voice!r} (Chinese voices here: {hint})")

    def synthesize(self, request: SpeechRequest, out_path: Path) -> ClipCheck:
        if not request.text.strip():
            raise SynthesisError(request.text, "nothing to say")
        voice = self.resolve_voice(request.voice)
        timeout_s = self._timeout_s + self._per_char_timeout_s * len(request.text)
        out_path.unlink(missing_ok=True)
        self._call(
            {
                "op": "synth",
                "text": request.text,
                "voice": voice,
                "rate": request.rate,
                "volume": request.volume,
                "path": str(out_path),
                "timeout_s": timeout_s,
            },
            timeout_s + self._startup_grace_s,
            request.text,
        )
        return check_clip(out_path, request.text, request.rate)


class _EngineServer:
    """One `python -m audio.tts_worker` process, and the answers it sends back by id."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "audio.tts_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=str(Path(__file__).resolve().parent.parent),
        )
        self.stopped: str | None = None  # why, once the server is gone
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._waiting: dict[int, _Answer] = {}
        self._reader = threading.Thread(target=self._read, name="tts-answers", daemon=True)
        self._reader.start()

    def call(self, request: dict[str, object], timeout_s: float) -> dict[str, object] | None:
        """The server's answer, None if it stopped first; `TimeoutError` after `timeout_s`."""
        answer = _Answer()
        with self._lock:
            if self.stopped is not None:
                return None
            request_id = next(self._ids)
            self._waiting[request_id] = answer
            line = (json.dumps({**request, "id": request_id}) + "\n").encode("utf-8")
            assert self.proc.stdin is not None
            try:  # under the lock: lines of concurrent callers never interleave
                self.proc.stdin.write(line)
                self.proc.stdin.flush()
            except OSError as exc:
                self._waiting.pop(request_id, None)
                self.stopped = f"cannot reach the synthesis server: {exc}"
                return None
        if not answer.done.wait(timeout_s):
            with self._lock:
                self._waiting.pop(request_id, None)
            raise TimeoutError
        return answer.reply

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            try:
                reply = json.loads(raw)
            except ValueError:
                continue
            with self._lock:
                answer = self._waiting.pop(reply.get("id"), None)
            if answer is not None:
                answer.reply = reply
                answer.done.set()
        self.proc.stdout.close()
        code = self.proc.wait()
        with self._lock:
            self.stopped = f"the synthesis server exited with status {code}"
            waiting, self._waiting = list(self._waiting.values()), {}
        for answer in waiting:
            answer.done.set()  # reply None: the server is gone

    def close(self) -> None:
        """Close the server's input (it stops, killing any child at work) and reap it."""
        with self._lock:
            if self.stopped is None:
                self.stopped = "closed"
            assert self.proc.stdin is not None
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=5)


class _Answer:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.reply: dict[str, object] | None = None


@functools.cache
def espeak_version() -> str:
    """The installed espeak-ng version, e.g. '1.51'."""
    try:
        out = subprocess.run(
            ["espeak-ng", "--version"], capture_output=True, text=True, timeout=10, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise AudioError(f"espeak-ng is not available: {exc}") from exc
    match = re.search(r"text-to-speech:\s*(\S+)", out)
    return match.group(1) if match else out.strip()[:40]
