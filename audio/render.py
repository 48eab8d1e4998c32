"""Rendering: chime + speech (or a recording) + tail, mono, loudness-normalized, exported."""

from __future__ import annotations

import functools
import math
import re
import tempfile
import threading
import wave
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from audio import loudness
from audio.cache import CacheEntry, ClipCache, cache_key, file_sha256
from audio.decode import DecodeTimeout, Unreadable, decode_slot, decode_stream
from audio.errors import AudioError, InvalidInput
from audio.textnorm import normalize
from audio.tts import SpeechRequest, Synthesizer

# Bump when the rendering changes in a way that changes the output bytes.
RENDERER_VERSION = 1
FORMATS = ("wav", "mp3", "ogg")
_EXTENSIONS = {".wav": "wav", ".mp3": "mp3", ".ogg": "ogg", ".opus": "ogg"}
_SPEAKABLE = re.compile(r"[\w\u3400-\u9fff]")
# No stored recording is decoded past this (uploads are checked against a shorter limit).
RECORDING_CAP_S = 3600.0


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

    segment = AudioSegment(data=_to_pcm16(samples), sample_width=2, frame_rate=rate, channels=1)
    # pydub returns the file it wrote, still open: close it.
    if fmt == "wav":
        segment.export(str(out), format="wav").close()
        return
    if fmt == "mp3":
        segment.export(str(out), format="mp3", bitrate=mp3_bitrate).close()
    elif fmt == "ogg":
        # Opus runs at 48 kHz internally; 24 kHz keeps the speech band and the file small.
        segment.export(str(out), format="ogg", codec="libopus", parameters=["-ar", "24000"]).close()
    else:
        raise InvalidInput(f"unsupported clip format {fmt!r}")
    try:
        decoded = AudioSegment.from_file(str(out))
    except Exception as exc:  # ffmpeg failures come in many types
        raise AudioError(f"the exported {fmt} file does not decode: {exc}") from exc
    # MP3 and Opus pad the start and end a little; more than 0.2 s off is a broken file.
    if abs(len(decoded) - len(segment)) > 200:
        raise AudioError(
            f"the exported {fmt} file is {len(decoded)} ms, expected {len(segment)} ms"
        )


class Renderer:
    """Renders announcements through a `Synthesizer` into a `ClipCache`.

    The same request renders once: a hit is served from the cache after verification,
    and concurrent requests for one key wait for the first one.
    """

    def __init__(
        self, synthesizer: Synthesizer, cache: ClipCache, settings: RenderSettings
    ) -> None:
        self.synthesizer = synthesizer
        self.cache = cache
        self.settings = settings
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self.syntheses = 0  # how many times the engine actually ran (for tests and stats)

    def spoken_text(self, text: str) -> str:
        """Validate `text` and return it as it will be spoken; `InvalidInput` names the problem."""
        if len(text) > self.settings.max_chars:
            raise InvalidInput(
                f"text is {len(text)} characters long; the limit is {self.settings.max_chars}"
            )
        spoken = normalize(text, self.settings.lexicon)
        if not spoken.strip():
            raise InvalidInput("text is empty")
        if not _SPEAKABLE.search(spoken):
            raise InvalidInput("text has nothing to say (only punctuation or symbols)")
        return spoken

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
        if not 80 <= request.rate <= 400:
            raise InvalidInput(f"rate {request.rate} is out of range (80 to 400 words per minute)")
        if not 0.0 < request.volume <= 1.0:
            raise InvalidInput(f"volume {request.volume} is out of range (above 0, at most 1)")
        spoken = self.spoken_text(request.text)
        voice = self.synthesizer.resolve_voice(request.voice)
        request = ClipRequest(
            spoken, voice, request.rate, request.volume, request.chime, request.fmt
        )
        key = cache_key(self._fields(request, spoken, self.synthesizer.engine_id))
        return key, spoken, voice

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
            with tempfile.TemporaryDirectory(prefix="broadcaster-tts-") as tmp:
                speech_path = Path(tmp) / "speech.wav"
                speech = SpeechRequest(spoken, voice, request.rate, request.volume)
                self.synthesizer.synthesize(speech, speech_path)
                self.syntheses += 1
                samples = read_wav(speech_path, self.settings.sample_rate)
            entry = self._finish(key, samples, request.chime, request.fmt, spoken)
            return RenderedClip(entry, cached=False)

    def render_recording(self, source: Path, *, chime: bool, fmt: str = "wav") -> RenderedClip:
        """A human recording with the same chime, loudness treatment and cache as speech."""
        if fmt not in FORMATS:
            raise InvalidInput(f"unsupported clip format {fmt!r}")
        fields = self._fields(
            ClipRequest("", "", 160, 1.0, chime, fmt), "", f"recording:{file_sha256(source)}"
        )
        key = cache_key(fields)
        with self._lock(key):
            entry = self.cache.get(key, fmt)
            if entry is not None:
                return RenderedClip(entry, cached=True)
            with decode_slot():
                samples = decode_audio(source, self.settings.sample_rate)
            entry = self._finish(key, samples, chime, fmt, "")
            return RenderedClip(entry, cached=False)

    @property
    def chime_ms(self) -> int:
        """Where the speech part of a chimed clip begins: the chime's length in ms."""
        rate = self.settings.sample_rate
        return len(chime(rate)) * 1000 // rate

    def render_chime(self, fmt: str = "wav") -> RenderedClip:
        """The chime alone (plus a short tail), so a speaker can sound it before the speech
        of an urgent announcement is rendered; the same loudness treatment as every clip."""
        if fmt not in FORMATS:
            raise InvalidInput(f"unsupported clip format {fmt!r}")
        fields = self._fields(ClipRequest("", "", 160, 1.0, True, fmt), "", "chime")
        key = cache_key(fields)
        with self._lock(key):
            entry = self.cache.get(key, fmt)
            if entry is not None:
                return RenderedClip(entry, cached=True)
            rate = self.settings.sample_rate
            samples, lufs, peak = loudness.normalize(
                np.concatenate([chime(rate), np.zeros(int(rate * 0.1))]),
                rate,
                self.settings.target_lufs,
                self.settings.true_peak_dbtp,
            )
            with self.cache.writer(key, fmt) as tmp:
                export(samples, rate, fmt, tmp, self.settings.mp3_bitrate)
            entry = self.cache.put(
                key,
                fmt,
                duration_ms=round(1000 * len(samples) / rate),
                loudness_lufs=lufs,
                true_peak_dbtp=peak,
                spoken_text="",
            )
            return RenderedClip(entry, cached=False)

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
