"""Rendering: chime + speech (or a recording) + tail, mono, loudness-normalized, exported."""

from __future__ import annotations

import contextlib
import functools
import math
import re
import tempfile
import threading
import wave
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

import numpy as np

from audio import limits, loudness
from audio.cache import CacheEntry, ClipCache, cache_key, file_sha256
from audio.decode import DecodeTimeout, Unreadable, decode_slot, decode_stream
from audio.errors import AudioError, InvalidInput
from audio.textnorm import Reading, normalize, read
from audio.textnorm.pinyin import g2p_id
from audio.tts import SpeechRequest, Synthesizer, reads_pinyin

# Bump when the rendering changes in a way that changes the output bytes.
RENDERER_VERSION = 1
FORMATS = ("wav", "mp3", "ogg")
_EXTENSIONS = {".wav": "wav", ".mp3": "mp3", ".ogg": "ogg", ".opus": "ogg"}
_SPEAKABLE = re.compile(r"[\w\u3400-\u9fff]")
# No stored recording is decoded past this (uploads are checked against a shorter limit).
RECORDING_CAP_S = 3600.0
T = TypeVar("T")


class Workers(Protocol):
    """Who may render now, and where a render's CPU-bound part runs.

    `slot()` is held for a whole render that misses the cache (synthesis or decoding,
    loudness, export, cache write); it may wait, or refuse with an error of its own.
    `run(work)` runs the CPU-bound part (numpy loudness, WAV export, fsync) and returns its
    result: under the gevent server in a real OS thread, so the request loop goes on.
    """

    def slot(self) -> AbstractContextManager[object]: ...

    def run(self, work: Callable[[], T]) -> T: ...


class Inline:
    """Everything in the caller, nobody refused (the CLI, tests, plain threads)."""

    def slot(self) -> AbstractContextManager[object]:
        return contextlib.nullcontext()

    def run(self, work: Callable[[], T]) -> T:
        return work()


def format_for(path: Path) -> str:
    """The clip format for an output file name, by extension."""
    fmt = _EXTENSIONS.get(path.suffix.lower())
    if fmt is None:
        raise InvalidInput(
            f"unsupported output format {path.suffix or '(none)'!r}: use .wav, .mp3, .ogg or .opus"
        )
    return fmt


@dataclass(frozen=True, slots=True)
class RenderSettings:
    """Deployment-wide rendering settings (from config.yaml's `audio` section)."""

    target_lufs: float = -16.0
    true_peak_dbtp: float = -1.0
    sample_rate: int = 22050
    lead_ms: int = 300  # silence between the chime and the speech
    tail_ms: int = 700  # silence after the speech
    max_chars: int = 500
    mp3_bitrate: str = "64k"
    lexicon: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ClipRequest:
    """One announcement to render: the text as typed plus its voice settings."""

    text: str
    voice: str
    rate: int = 160
    volume: float = 1.0
    chime: bool = True
    fmt: str = "wav"


@dataclass(frozen=True, slots=True)
class RenderedClip:
    """A clip in the cache, and whether this call found it there."""

    entry: CacheEntry
    cached: bool

    @property
    def key(self) -> str:
        return self.entry.key

    @property
    def path(self) -> Path:
        return self.entry.path

    @property
    def duration_ms(self) -> int:
        return self.entry.duration_ms


@functools.cache
def chime(rate: int) -> np.ndarray:
    """A two-tone pre-announce chime (high then low, 'ding-dong'), about 1 s, float samples."""
    parts = []
    for freq, length_s in ((784.0, 0.45), (622.0, 0.6)):  # G5 then D#5: a falling major third
        t = np.arange(int(rate * length_s)) / rate
        tone = np.sin(2 * np.pi * freq * t) + 0.3 * np.sin(2 * np.pi * 2 * freq * t)
        envelope = np.minimum(1.0, t / 0.01) * np.exp(-t * 5.0)
        parts.append(0.5 * tone * envelope / 1.3)
    return np.concatenate(parts)


def _trim_silence(samples: np.ndarray, rate: int, threshold_db: float = -45.0) -> np.ndarray:
    """Drop leading and trailing near-silence, keeping 30 ms at each end."""
    threshold = 10 ** (threshold_db / 20)
    loud = np.flatnonzero(np.abs(samples) > threshold)
    if len(loud) == 0:
        return samples[:0]
    keep = int(0.03 * rate)
    return samples[max(0, loud[0] - keep) : loud[-1] + keep]


def decode_audio(path: Path, rate: int, max_s: float = RECORDING_CAP_S) -> np.ndarray:
    """Any audio file ffmpeg reads, as mono float samples at `rate`.

    Streamed through an ffmpeg subprocess with a hard cap of `max_s` seconds of samples and
    a wall-time cap (see `audio.decode`): never the whole file into memory.
    """
    try:
        return decode_stream(path, rate, max_s)
    except (Unreadable, DecodeTimeout) as exc:
        raise InvalidInput(f"cannot decode audio file {path.name}: {exc}") from exc


def read_wav(path: Path, rate: int) -> np.ndarray:
    """A mono 16-bit WAV (the engine's output) as float samples; other rates go via ffmpeg."""
    with wave.open(str(path), "rb") as wav:
        if wav.getnchannels() != 1 or wav.getsampwidth() != 2 or wav.getframerate() != rate:
            return decode_audio(path, rate)
        frames = wav.readframes(wav.getnframes())
    return np.frombuffer(frames, dtype="<i2").astype(np.float64) / 32768.0


def _to_pcm16(samples: np.ndarray) -> bytes:
    return np.clip(np.round(samples * 32768.0), -32768, 32767).astype("<i2").tobytes()


def export(samples: np.ndarray, rate: int, fmt: str, out: Path, mp3_bitrate: str) -> None:
    """Write float samples to `out` as WAV (16-bit), MP3 or Ogg/Opus, and check the result."""
    from pydub import AudioSegment

    pcm = _to_pcm16(samples)
    if fmt not in ("wav", "mp3", "ogg"):
        raise InvalidInput(f"unsupported clip format {fmt!r}")
    # The files are closed also when a write fails (pydub leaves the ones it opened open
    # then: a full disk leaked a descriptor per failed render).
    if fmt == "wav":
        with wave.open(str(out), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(rate)
            wav.writeframes(pcm)
        return
    segment = AudioSegment(data=pcm, sample_width=2, frame_rate=rate, channels=1)
    with out.open("wb+") as f:
        if fmt == "mp3":
            segment.export(f, format="mp3", bitrate=mp3_bitrate)
        else:  # Opus runs at 48 kHz internally; 24 kHz keeps the speech band and the file small.
            segment.export(f, format="ogg", codec="libopus", parameters=["-ar", "24000"])
    try:
        decoded = AudioSegment.from_file(str(out))
    except Exception as exc:  # ffmpeg failures come in many types
        raise AudioError(f"the exported {fmt} file does not decode: {exc}") from exc
    # MP3 and Opus pad the start and end a little; more than 0.2 s off is a broken file.
    if abs(len(decoded) - len(segment)) > 200:
        raise AudioError(
            f"the exported {fmt} file is {len(decoded)} ms, expected {len(segment)} ms"
        )


@functools.cache
def _warm_up_pinyin() -> None:
    from audio.textnorm.pinyin import warm_up

    threading.Thread(target=warm_up, name="pinyin-warm-up", daemon=True).start()


class Renderer:
    """Renders announcements through a `Synthesizer` into a `ClipCache`.

    The same request renders once: a hit is served from the cache after verification,
    and concurrent requests for one key wait for the first one. A miss holds one of the
    `workers`' slots and runs its CPU-bound part through `workers.run`.
    """

    def __init__(
        self,
        synthesizer: Synthesizer,
        cache: ClipCache,
        settings: RenderSettings,
        workers: Workers | None = None,
    ) -> None:
        self.synthesizer = synthesizer
        self.cache = cache
        self.settings = settings
        self.workers: Workers = workers or Inline()
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self.syntheses = 0  # how many times the engine actually ran (for tests and stats)
        # pypinyin's dictionaries take about 0.4 s and 50 MB to load: once per process, ahead
        # of the first clip rather than in it (issue 16).
        _warm_up_pinyin()

    def spoken_text(self, text: str) -> str:
        """Validate `text` and return it as it will be spoken; `InvalidInput` names the problem."""
        self._check_length(text)
        return self._check_spoken(normalize(text, self.settings.lexicon))

    def _check_length(self, text: str) -> None:
        if len(text) > self.settings.max_chars:
            raise InvalidInput(
                f"text is {len(text)} characters long; the limit is {self.settings.max_chars}"
            )

    @staticmethod
    def _check_spoken(spoken: str) -> str:
        if not spoken.strip():
            raise InvalidInput("text is empty")
        if not _SPEAKABLE.search(spoken):
            raise InvalidInput("text has nothing to say (only punctuation or symbols)")
        return spoken

    def reading(self, text: str, voice: str) -> Reading:
        """`text` as spoken (validated as by `spoken_text`) and, for a voice that reads pinyin
        (issue 16), the syllables it is given; `pinyin` is "" for other voices. The text is
        normalized once either way."""
        if not reads_pinyin(voice):
            return Reading(self.spoken_text(text), "")
        self._check_length(text)
        reading = read(text, self.settings.lexicon)
        self._check_spoken(reading.spoken)
        return reading

    def _fields(self, request: ClipRequest, spoken: str, source: str) -> dict[str, object]:
        s = self.settings
        return {
            "renderer": RENDERER_VERSION,
            "source": source,
            "text": spoken,
            "voice": request.voice,
            "rate": request.rate,
            "volume": request.volume,
            "chime": request.chime,
            "lead_ms": s.lead_ms,
            "tail_ms": s.tail_ms,
            "target_lufs": s.target_lufs,
            "true_peak_dbtp": s.true_peak_dbtp,
            "sample_rate": s.sample_rate,
            "fmt": request.fmt,
            "mp3_bitrate": s.mp3_bitrate if request.fmt == "mp3" else None,
        }

    def key_for(self, request: ClipRequest) -> str:
        """The cache key `render(request)` would use (validates the request)."""
        return self._prepare(request)[0]

    def _prepare(self, request: ClipRequest) -> tuple[str, str, str]:
        if request.fmt not in FORMATS:
            raise InvalidInput(f"unsupported clip format {request.fmt!r}")
        rate, volume = limits.RATE_WPM, limits.VOLUME
        if request.rate not in rate:
            raise InvalidInput(f"rate {request.rate} is out of range ({rate})")
        if request.volume not in volume:
            raise InvalidInput(f"volume {request.volume} is out of range ({volume})")
        reading = self.reading(request.text, request.voice)
        spoken = reading.spoken
        voice = self.synthesizer.resolve_voice(request.voice)
        request = ClipRequest(
            spoken, voice, request.rate, request.volume, request.chime, request.fmt
        )
        fields = self._fields(request, spoken, self.synthesizer.engine_id)
        if reading.pinyin:
            # A pinyin voice is given syllables (issue 16): they, and what made them, key it.
            fields |= {"pinyin": reading.pinyin, "g2p": g2p_id()}
            spoken = reading.pinyin
        return cache_key(fields), spoken, voice

    def _lock(self, key: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(key, threading.Lock())

    def render(self, request: ClipRequest) -> RenderedClip:
        """The clip for `request`, from the cache or freshly rendered."""
        key, spoken, voice = self._prepare(request)
        with self._lock(key):
            entry = self.cache.get(key, request.fmt)
            if entry is not None:
                return RenderedClip(entry, cached=True)
            rate = self.settings.sample_rate
            with (
                self.workers.slot(),
                tempfile.TemporaryDirectory(prefix="broadcaster-tts-") as tmp,
            ):
                speech_path = Path(tmp) / "speech.wav"
                speech = SpeechRequest(spoken, voice, request.rate, request.volume)
                # The engine runs in its own process; the caller waits for it cooperatively.
                self.synthesizer.synthesize(speech, speech_path)
                self.syntheses += 1
                entry = self._off(
                    request.fmt,
                    lambda: self._finish(
                        key, read_wav(speech_path, rate), request.chime, request.fmt, spoken
                    ),
                )
            return RenderedClip(entry, cached=False)

    def _off(self, fmt: str, work: Callable[[], CacheEntry]) -> CacheEntry:
        """`work` through the workers; MP3 and Opus export run ffmpeg, and a subprocess cannot
        be started from a worker thread under gevent, so those (the CLI's) stay here."""
        return self.workers.run(work) if fmt == "wav" else work()

    def recording_key(self, source: Path, *, chime: bool, fmt: str = "wav") -> str:
        """The cache key of a recording's clip (reads the whole file for its checksum)."""
        if fmt not in FORMATS:
            raise InvalidInput(f"unsupported clip format {fmt!r}")
        fields = self._fields(
            ClipRequest("", "", 160, 1.0, chime, fmt), "", f"recording:{file_sha256(source)}"
        )
        return cache_key(fields)

    def render_recording(self, source: Path, *, chime: bool, fmt: str = "wav") -> RenderedClip:
        """A human recording with the same chime, loudness treatment and cache as speech."""
        key = self.recording_key(source, chime=chime, fmt=fmt)
        with self._lock(key):
            entry = self.cache.get(key, fmt)
            if entry is not None:
                return RenderedClip(entry, cached=True)
            with self.workers.slot():
                with decode_slot():
                    samples = decode_audio(source, self.settings.sample_rate)
                entry = self._off(fmt, lambda: self._finish(key, samples, chime, fmt, ""))
            return RenderedClip(entry, cached=False)

    @property
    def chime_ms(self) -> int:
        """Where the speech part of a chimed clip begins: the chime's length in ms."""
        rate = self.settings.sample_rate
        return len(chime(rate)) * 1000 // rate

    def chime_key(self, fmt: str = "wav") -> str:
        """The cache key of the stand-alone chime clip."""
        if fmt not in FORMATS:
            raise InvalidInput(f"unsupported clip format {fmt!r}")
        return cache_key(self._fields(ClipRequest("", "", 160, 1.0, True, fmt), "", "chime"))

    def render_chime(self, fmt: str = "wav") -> RenderedClip:
        """The chime alone (plus a short tail), so a speaker can sound it before the speech
        of an urgent announcement is rendered; the same loudness treatment as every clip."""
        key = self.chime_key(fmt)
        with self._lock(key):
            entry = self.cache.get(key, fmt)
            if entry is not None:
                return RenderedClip(entry, cached=True)
            with self.workers.slot():
                entry = self._off(fmt, lambda: self._chime_entry(key, fmt))
            return RenderedClip(entry, cached=False)

    def _chime_entry(self, key: str, fmt: str) -> CacheEntry:
        rate = self.settings.sample_rate
        samples, lufs, peak = loudness.normalize(
            np.concatenate([chime(rate), np.zeros(int(rate * 0.1))]),
            rate,
            self.settings.target_lufs,
            self.settings.true_peak_dbtp,
        )
        with self.cache.writer(key, fmt) as tmp:
            export(samples, rate, fmt, tmp, self.settings.mp3_bitrate)
        return self.cache.put(
            key,
            fmt,
            duration_ms=round(1000 * len(samples) / rate),
            loudness_lufs=lufs,
            true_peak_dbtp=peak,
            spoken_text="",
        )

    def _finish(
        self, key: str, speech: np.ndarray, with_chime: bool, fmt: str, spoken: str
    ) -> CacheEntry:
        rate = self.settings.sample_rate
        speech = _trim_silence(speech, rate)
        if len(speech) < int(0.2 * rate):
            raise InvalidInput("the audio is silent or shorter than 0.2 s")
        parts = []
        if with_chime:
            parts += [chime(rate), np.zeros(int(rate * self.settings.lead_ms / 1000))]
        parts += [speech, np.zeros(int(rate * self.settings.tail_ms / 1000))]
        samples, lufs, peak = loudness.normalize(
            np.concatenate(parts), rate, self.settings.target_lufs, self.settings.true_peak_dbtp
        )
        if not math.isfinite(lufs):
            raise InvalidInput("the audio is silent")
        with self.cache.writer(key, fmt) as tmp:
            export(samples, rate, fmt, tmp, self.settings.mp3_bitrate)
        duration_ms = round(1000 * len(samples) / rate)
        return self.cache.put(
            key,
            fmt,
            duration_ms=duration_ms,
            loudness_lufs=lufs,
            true_peak_dbtp=peak,
            spoken_text=spoken,
        )
