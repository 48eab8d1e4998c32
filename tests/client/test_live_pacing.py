"""Pacing a live page (broadcaster/client/pacing.py): a clip a page preempts fades out over
100 ms as for an urgent; the page's chunks are written in real time, silence where the jitter
buffer has nothing, until the source says the page is over or a cut fades it out."""

from __future__ import annotations

import struct
import time
from pathlib import Path

import pytest

from audio.player import ClipInfo, FileSink
from broadcaster.client.livemode import Chunk
from broadcaster.client.pacing import Pacer
from broadcaster.client.pcm import ClipReader
from tests.client.fakes import RATE, read_log, wav_bytes

FRAME = RATE // 50
PAGE = ClipInfo("live-1", "live", None, None, RATE)


def test_a_clip_a_live_page_preempts_fades_out_over_100_ms(tmp_path: Path) -> None:
    clip = tmp_path / "clip.wav"
    clip.write_bytes(wav_bytes(2.0))
    sink = FileSink(tmp_path / "speaker.wav")
    began = time.monotonic()
    result = Pacer(sink).play(
        ClipReader(clip, RATE),
        ClipInfo("k1", "loop", "masks", None, RATE),
        check=lambda: "cut:live" if time.monotonic() - began > 0.5 else None,
    )
    took = time.monotonic() - began
    sink.close()
    assert result.reason == "cut:live" and not result.completed
    assert took == pytest.approx(0.52 + 0.1, abs=0.04)


class Source:
    """Frames 0..n-1 (sample value 1000 + i), with a frame time of silence before frame 5."""

    def __init__(self, n: int, why: str | None = None) -> None:
        self.n, self.i, self.silent, self.why = n, 0, False, why
        self.asked: list[float] = []

    def __call__(self, now: float) -> Chunk | None:
        self.asked.append(now)
        if self.i == 5 and not self.silent:
            self.silent = True
            return Chunk(None, FRAME)
        if self.i >= self.n:
            return None
        self.i += 1
        return Chunk(struct.pack("<h", 999 + self.i) * FRAME, FRAME)


def test_a_page_is_written_in_real_time_with_silence_where_nothing_came(tmp_path: Path) -> None:
    sink = FileSink(tmp_path / "speaker.wav")
    source = Source(25)
    began = time.monotonic()
    result = Pacer(sink).play_live(source, PAGE, ended=lambda: None)
    took = time.monotonic() - began
    sink.close()
    assert result.completed and result.reason == "" and result.frames == 25 * FRAME
    assert took == pytest.approx(26 * 0.02, abs=0.04)  # 25 frames and one of silence
    gaps = [b - a for a, b in zip(source.asked, source.asked[1:], strict=False)]
    assert max(gaps) < 0.035  # one chunk per frame time
    data = (tmp_path / "speaker.wav").read_bytes()[44:]
    heard = [struct.unpack_from("<h", data, 2 * FRAME * k)[0] for k in range(25)]
    assert heard == list(range(1000, 1025))  # the file sink keeps no silence
    (stop,) = [e for e in read_log(tmp_path / "speaker.wav") if e["event"] == "stop"]
    assert stop["reason"] == "" and stop["clip"] == "live-1"


def test_a_page_the_source_ends_says_why(tmp_path: Path) -> None:
    sink = FileSink(tmp_path / "speaker.wav")
    result = Pacer(sink).play_live(Source(3), PAGE, ended=lambda: "cut:stream-lost")
    sink.close()
    assert not result.completed and result.reason == "cut:stream-lost"
    (stop,) = [e for e in read_log(tmp_path / "speaker.wav") if e["event"] == "stop"]
    assert stop["reason"] == "cut:stream-lost"


def test_a_cut_page_fades_out_over_100_ms(tmp_path: Path) -> None:
    sink = FileSink(tmp_path / "speaker.wav")
    began = time.monotonic()
    result = Pacer(sink).play_live(
        Source(1000),
        PAGE,
        check=lambda: "cut:stop" if time.monotonic() - began > 0.3 else None,
    )
    took = time.monotonic() - began
    sink.close()
    assert result.reason == "cut:stop" and not result.completed
    assert took == pytest.approx(0.32 + 0.1, abs=0.04)
    data = (tmp_path / "speaker.wav").read_bytes()[44:]
    tail = struct.unpack(f"<{FRAME}h", data[-2 * FRAME :])
    assert max(abs(s) for s in tail) < 250  # faded, not a click
