"""Reading clips as the sinks want them: mono signed 16-bit PCM at the sink's rate."""

from __future__ import annotations

import array
import sys
import wave
from collections.abc import Sequence
from pathlib import Path

from audio.errors import AudioError
from audio.player import SAMPLE_WIDTH


class ClipReader:
    """Reads a PCM WAV clip as mono 16-bit frames at ``rate`` (downmix and resample if needed)."""

    def __init__(self, path: Path, rate: int) -> None:
        try:
            self._wav = wave.open(str(path), "rb")  # noqa: SIM115 - closed by close()
        except (OSError, EOFError, wave.Error) as exc:
            raise AudioError(f"{path}: not a playable WAV file: {exc}") from exc
        if self._wav.getsampwidth() != SAMPLE_WIDTH:
            self._wav.close()
            raise AudioError(f"{path}: {8 * self._wav.getsampwidth()}-bit audio, expected 16-bit")
        self.source_rate = self._wav.getframerate()
        self.channels = self._wav.getnchannels()
        self.rate = rate
        self.frames = self._wav.getnframes() * rate // self.source_rate

    def remaining_frames(self) -> int:
        """Frames (at ``rate``) left to read."""
        left = self._wav.getnframes() - self._wav.tell()
        return left * self.rate // self.source_rate

    def seek_s(self, seconds: float) -> None:
        """Skip the first ``seconds`` of the clip."""
        pos = min(self._wav.getnframes(), max(0, int(seconds * self.source_rate)))
        self._wav.setpos(pos)

    def read(self, frames: int) -> bytes:
        """Up to ``frames`` frames at ``rate``; empty at the end."""
        want = max(1, frames * self.source_rate // self.rate)
        raw = self._wav.readframes(want)
        samples = array.array("h")
        samples.frombytes(raw[: len(raw) - len(raw) % (SAMPLE_WIDTH * self.channels)])
        if sys.byteorder == "big":
            samples.byteswap()
        if self.channels > 1:
            n = self.channels
            samples = array.array(
                "h", (sum(samples[i : i + n]) // n for i in range(0, len(samples), n))
            )
        if self.source_rate != self.rate:
            step = self.source_rate / self.rate
            count = int(len(samples) / step)
            samples = array.array("h", (samples[int(i * step)] for i in range(count)))
        if sys.byteorder == "big":
            samples.byteswap()
        return samples.tobytes()

    def close(self) -> None:
        self._wav.close()


def scale(pcm: bytes, gains: Sequence[float]) -> bytes:
    """Multiply each sample by its gain (fades)."""
    samples = array.array("h")
    samples.frombytes(pcm)
    if sys.byteorder == "big":
        samples.byteswap()
    for i, g in enumerate(gains[: len(samples)]):
        samples[i] = int(samples[i] * g)
    if sys.byteorder == "big":
        samples.byteswap()
    return samples.tobytes()
