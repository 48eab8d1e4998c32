"""Sinks and real-time pacing: what a speaker hears, when it starts and when it stops."""

from __future__ import annotations

import sys
import threading
import time
import wave
from pathlib import Path

import pytest

from audio.errors import AudioError
from audio.player import AlsaSink, ClipInfo, FileSink, NullSink, make_sink
from broadcaster.client.pacing import Pacer
from broadcaster.client.pcm import ClipReader
from tests.client.fakes import RATE, read_log, wav_bytes

INFO = ClipInfo("k1", "loop", "masks", None, RATE)


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    path = tmp_path / "clip.wav"
    path.write_bytes(wav_bytes(2.0))
    return path


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, RATE)
        return w.getnframes() / w.getframerate()


def test_file_sink_writes_a_valid_wav_as_long_as_what_was_played_in_real_time(
    tmp_path: Path, clip: Path
) -> None:
    out = tmp_path / "speaker.wav"
    sink = FileSink(out)
    pacer = Pacer(sink)
    began = time.monotonic()
    result = pacer.play(ClipReader(clip, RATE), INFO)
    took = time.monotonic() - began
    sink.close()
    assert result.completed and result.reason == ""
    assert 1.95 <= took <= 2.3
    assert wav_seconds(out) == pytest.approx(2.0, abs=0.001)


def test_file_sink_log_has_start_and_stop_at_the_wall_clock(tmp_path: Path, clip: Path) -> None:
    out = tmp_path / "speaker.wav"
    sink = FileSink(out)
    before = time.time()
    Pacer(sink).play(ClipReader(clip, RATE), INFO)
    after = time.time()
    sink.close()
    start, stop = list(read_log(out))
    assert (start["event"], stop["event"]) == ("start", "stop")
    assert start["clip"] == "k1" and start["kind"] == "loop" and start["message"] == "masks"
    assert start["t"] == pytest.approx(before, abs=0.05)
    assert stop["t"] == pytest.approx(after, abs=0.05)
    assert stop["t"] - start["t"] == pytest.approx(2.0, abs=0.05)
    assert stop["frames"] == 2 * RATE and stop["reason"] == ""
    assert "+" in start["at"] or "-" in start["at"][19:]


def test_file_sink_is_valid_while_it_grows(tmp_path: Path) -> None:
    clip = tmp_path / "long.wav"
    clip.write_bytes(wav_bytes(1.6))
    out = tmp_path / "speaker.wav"
    sink = FileSink(out)
    done = threading.Thread(target=Pacer(sink).play, args=(ClipReader(clip, RATE), INFO))
    done.start()
    time.sleep(1.3)
    assert wav_seconds(out) >= 0.9  # the header was rewritten after a second
    done.join()
    sink.close()
    assert wav_seconds(out) == pytest.approx(1.6, abs=0.001)


def test_file_sink_appends_to_its_own_file_after_a_restart(tmp_path: Path, clip: Path) -> None:
    out = tmp_path / "speaker.wav"
    for _ in range(2):
        sink = FileSink(out)
        Pacer(sink, sleep=lambda s: None).play(ClipReader(clip, RATE), INFO)
        sink.close()
    assert wav_seconds(out) == pytest.approx(4.0, abs=0.001)
    assert [e["event"] for e in read_log(out)] == ["start", "stop", "start", "stop"]


def test_a_deadline_stops_playback_exactly_with_a_fade(tmp_path: Path, clip: Path) -> None:
    out = tmp_path / "speaker.wav"
    sink = FileSink(out)
    deadline = time.monotonic() + 0.7
    wall_deadline = time.time() + (deadline - time.monotonic())
    result = Pacer(sink).play(ClipReader(clip, RATE), INFO, stop_at=deadline)
    ended = time.monotonic()
    sink.close()
    assert not result.completed and result.reason == "cut:window-end"
    assert ended == pytest.approx(deadline, abs=0.05)
    stop = list(read_log(out))[-1]
    assert stop["t"] == pytest.approx(wall_deadline, abs=0.05)
    assert wav_seconds(out) == pytest.approx(0.7, abs=0.05)
    with wave.open(str(out), "rb") as w:
        w.setpos(w.getnframes() - 50)
        tail = memoryview(w.readframes(50)).cast("h")
        assert max(abs(s) for s in tail) < 200  # faded, not a click


@pytest.mark.parametrize(
    ("reason", "fade_s"),
    [("cut:stop", 0.2), ("cut:window-end", 0.2), ("cut:urgent", 0.1)],
)
def test_a_cut_fades_out_over_200_ms_or_100_ms_for_an_urgent(
    tmp_path: Path, clip: Path, reason: str, fade_s: float
) -> None:
    sink = FileSink(tmp_path / "speaker.wav")
    began = time.monotonic()
    result = Pacer(sink).play(
        ClipReader(clip, RATE),
        INFO,
        check=lambda: reason if time.monotonic() - began > 0.5 else None,
    )
    took = time.monotonic() - began
    sink.close()
    assert result.reason == reason and not result.completed
    assert took == pytest.approx(0.52 + fade_s, abs=0.04)


def test_null_sink_paces_like_a_device(clip: Path) -> None:
    began = time.monotonic()
    result = Pacer(NullSink()).play(ClipReader(clip, RATE), INFO)
    assert result.completed and 1.95 <= time.monotonic() - began <= 2.3


def test_idle_returns_when_woken() -> None:
    wake = threading.Event()
    threading.Timer(0.1, wake.set).start()
    began = time.monotonic()
    Pacer(NullSink()).idle(time.monotonic() + 5, wake)
    assert time.monotonic() - began < 0.5


def test_reader_joins_a_clip_late_by_seeking(clip: Path) -> None:
    reader = ClipReader(clip, RATE)
    reader.seek_s(1.5)
    assert reader.remaining_frames() == RATE // 2


def test_reader_converts_a_different_rate(tmp_path: Path) -> None:
    path = tmp_path / "hi.wav"
    path.write_bytes(wav_bytes(1.0, rate=44100))
    reader = ClipReader(path, RATE)
    total = 0
    while chunk := reader.read(441):
        total += len(chunk) // 2
    assert total == pytest.approx(RATE, abs=2)


def test_reader_rejects_what_is_not_a_wav(tmp_path: Path) -> None:
    path = tmp_path / "bad.wav"
    path.write_bytes(b"not a wav at all")
    with pytest.raises(AudioError):
        ClipReader(path, RATE)


def _recorder(tmp_path: Path) -> list[str]:
    """A stand-in for aplay that stores what it is fed."""
    script = "import sys,shutil; shutil.copyfileobj(sys.stdin.buffer, open(sys.argv[1], 'ab'))"
    return [sys.executable, "-c", script, str(tmp_path / "fed.raw")]


def test_alsa_sink_feeds_silence_between_clips_into_one_process(tmp_path: Path, clip: Path) -> None:
    sink = AlsaSink(RATE, command=_recorder(tmp_path))
    pacer = Pacer(sink)
    pacer.idle(time.monotonic() + 0.3, threading.Event())
    pacer.play(ClipReader(clip, RATE), INFO, stop_at=time.monotonic() + 0.5)
    pacer.idle(time.monotonic() + 0.3, threading.Event())
    assert sink.health()[0]
    sink.close()
    fed = (tmp_path / "fed.raw").stat().st_size / 2 / RATE
    assert fed == pytest.approx(1.1, abs=0.15)  # silence, clip, silence: no gap
    assert sink.restarts == 0


def test_alsa_sink_restarts_a_dead_player_and_reports_unhealthy(tmp_path: Path) -> None:
    sink = AlsaSink(RATE, command=_recorder(tmp_path))
    pacer = Pacer(sink)
    pacer.idle(time.monotonic() + 0.1, threading.Event())
    assert sink._proc is not None
    sink._proc.kill()
    sink._proc.wait()
    pacer.idle(time.monotonic() + 0.2, threading.Event())
    healthy, detail = sink.health()
    sink.close()
    assert sink.restarts == 1
    assert not healthy and "restart" in detail


def test_alsa_sink_without_aplay_is_unhealthy_not_fatal() -> None:
    sink = AlsaSink(RATE, command=["/nonexistent/aplay"])
    sink.silence(441)
    assert sink.health()[0] is False
    sink.close()


def test_make_sink_understands_the_command_line_spellings(tmp_path: Path) -> None:
    assert isinstance(make_sink("null"), NullSink)
    file_sink = make_sink(f"file:{tmp_path / 'x.wav'}")
    assert isinstance(file_sink, FileSink)
    file_sink.close()
    with pytest.raises(AudioError):
        make_sink("speakers")
