"""Bounded probing and decoding of uploaded recordings (issue 10, item 1)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from audio import decode
from broadcaster import editing
from broadcaster.editing import RecordingRefused
from tests.audio import bombs as bombs_

RATE = 22050


@pytest.fixture(scope="module")
def bombs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bombs")
    flac = bombs_.flac(folder / "bomb.flac")
    renamed = folder / "bomb.wav"
    renamed.write_bytes(flac.read_bytes())
    return {
        "opus": bombs_.opus(folder / "bomb.opus"),
        "flac.wav": renamed,
        "tone.webm": bombs_.opus(folder / "tone.webm", "sine=f=440:r=48000", 10, "8k"),
        "video.m4a": bombs_.lavfi(
            folder / "video.m4a",
            "testsrc=size=32x32:rate=1",
            2,
            "-an",
            "-c:v",
            "mpeg4",
            "-f",
            "mp4",
        ),
    }


def test_the_bombs_are_small_on_disk(bombs: dict[str, Path]) -> None:
    assert bombs["opus"].stat().st_size < 3 * 2**20
    assert bombs["flac.wav"].stat().st_size < 2 * 2**20


def test_probe_reads_format_and_duration_without_decoding(bombs: dict[str, Path]) -> None:
    start = time.monotonic()
    found = decode.probe(bombs["opus"])
    assert time.monotonic() - start < 3
    assert found.formats == {"ogg"} and found.codec == "opus" and found.audio_streams == 1
    assert found.duration_s is not None and abs(found.duration_s - 7200) < 1
    assert "flac" in decode.probe(bombs["flac.wav"]).formats


def test_probe_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF\x00\x00garbage" * 50)
    with pytest.raises(decode.Unreadable):
        decode.probe(junk)


@pytest.mark.parametrize(
    ("name", "ext", "error"),
    [
        ("opus", "opus", decode.TooLong),
        ("flac.wav", "wav", decode.UnknownFormat),  # FLAC is not WAV, whatever its name
        ("opus", "mp3", decode.UnknownFormat),  # Ogg named .mp3
        ("tone.webm", "webm", decode.TooLong),
        ("video.m4a", "m4a", decode.Unreadable),  # no audio stream
    ],
)
def test_check_refuses_before_decoding(
    bombs: dict[str, Path], name: str, ext: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        decode.check(decode.probe(bombs[name]), ext, 300)


def test_the_stream_decode_stops_at_the_sample_cap(bombs: dict[str, Path]) -> None:
    # 10 minutes of tone with a 20 s cap: stopped after the cap, not decoded to the end.
    start = time.monotonic()
    with pytest.raises(decode.TooLong):
        decode.decode_stream(bombs["tone.webm"], RATE, 20)
    assert time.monotonic() - start < 5
    samples = decode.decode_stream(bombs["tone.webm"], RATE, 700)
    assert abs(len(samples) / RATE - 600) < 1 and samples.dtype == np.float64
    assert 0.1 < float(np.max(np.abs(samples))) <= 1.0


def test_the_stream_decode_stops_at_the_wall_time_cap(bombs: dict[str, Path]) -> None:
    with pytest.raises(decode.DecodeTimeout):
        decode.decode_stream(bombs["opus"], RATE, 10_000, wall_s=0.05)


def test_at_most_two_decodes_run_at_once() -> None:
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with decode.decode_slot():
            held.set()
            release.wait(10)

    holders = [threading.Thread(target=hold) for _ in range(decode.DECODE_SLOTS)]
    for thread in holders:
        thread.start()
    try:
        assert held.wait(5)
        time.sleep(0.1)
        with pytest.raises(decode.DecodeBusy), decode.decode_slot(wait_s=0.2):
            pass
    finally:
        release.set()
        for thread in holders:
            thread.join(5)
    with decode.decode_slot(wait_s=1):
        pass


def _save(path: Path, ext: str, folder: Path, max_s: float = 300) -> tuple[str, str, float]:
    return editing.save_recording(folder, path.read_bytes(), ext, sample_rate=RATE, max_s=max_s)


@pytest.mark.parametrize(
    ("name", "ext", "code"),
    [
        ("opus", "opus", "too_long"),
        ("flac.wav", "wav", "format"),
        ("tone.webm", "webm", "too_long"),
        ("video.m4a", "m4a", "undecodable"),
    ],
)
def test_save_recording_refuses_bombs_and_keeps_nothing(
    bombs: dict[str, Path], tmp_path: Path, name: str, ext: str, code: str
) -> None:
    folder = tmp_path / "recordings"
    with pytest.raises(RecordingRefused) as refused:
        _save(bombs[name], ext, folder)
    assert refused.value.code == code
    assert not any(folder.iterdir())


def test_a_container_that_hides_its_length_is_stopped_while_decoding(
    bombs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = decode.probe

    def without_duration(path: Path, timeout_s: float = decode.PROBE_TIMEOUT_S) -> decode.Probe:
        found = real(path, timeout_s)
        return decode.Probe(found.formats, found.format_name, None, found.audio_streams, "opus")

    monkeypatch.setattr(decode, "probe", without_duration)
    folder = tmp_path / "recordings"
    with pytest.raises(RecordingRefused) as refused:
        _save(bombs["tone.webm"], "webm", folder, max_s=30)
    assert refused.value.code == "too_long_stream" and refused.value.detail == {"limit": 30}
    assert not any(folder.iterdir())


def test_oversized_files_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    folder = tmp_path / "recordings"
    with pytest.raises(RecordingRefused) as refused:
        editing.save_recording(
            folder, b"\0" * 2048, "wav", sample_rate=RATE, max_s=300, max_bytes=1024
        )
    assert refused.value.code == "too_big"
    assert not folder.exists()


@pytest.mark.parametrize(
    ("ext", "args"),
    [
        ("wav", ["-c:a", "pcm_s16le", "-ac", "2", "-ar", "44100"]),
        ("mp3", ["-c:a", "libmp3lame", "-b:a", "64k"]),
        ("m4a", ["-c:a", "aac", "-b:a", "64k"]),
        ("ogg", ["-c:a", "libopus", "-b:a", "32k"]),
        ("webm", ["-c:a", "libopus", "-b:a", "32k"]),
    ],
)
def test_legitimate_recordings_are_kept(tmp_path: Path, ext: str, args: list[str]) -> None:
    source = bombs_.lavfi(tmp_path / f"voice.{ext}", "sine=f=330:r=48000", 4, *args)
    folder = tmp_path / "recordings"
    name, sha, seconds = _save(source, ext, folder)
    assert name == f"{sha}.{ext}" and abs(seconds - 4) < 0.2
    assert [p.name for p in folder.iterdir()] == [name]
