"""The ALSA sink with the real ``aplay``: proof of play is what the device received.

There is no sound card here: an ``~/.asoundrc`` makes ALSA's default pcm the ``file`` plugin
over the ``null`` device, so everything aplay plays lands in a raw file. The null device
takes samples as fast as they come (it does not play in real time), so the pacing that
file shows is the client's own. The playback loop is the real one (``Runner`` with the
real plan, clock, clip store and journal), only the loudspeaker is replaced.
"""

from __future__ import annotations

import itertools
import subprocess
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from audio.player import AlsaSink, ClipInfo
from broadcaster.client.cache import ClipStore
from broadcaster.client.clock import Clock
from broadcaster.client.journal import Journal
from broadcaster.client.pacing import Pacer
from broadcaster.client.pcm import ClipReader
from broadcaster.client.plan import parse_plan
from broadcaster.client.runner import Runner
from tests.client.fakes import RATE, Clip, plan_body
from tests.conftest import require_tool

LEAD_S = AlsaSink.lead_s
Items = list[tuple[datetime, Clip, str, str | None]]  # (start, clip, kind, urgent id)


@pytest.fixture
def device(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The raw file that ALSA's default pcm (as aplay opens it) writes what it plays to."""
    require_tool("aplay")
    out = tmp_path / "device.raw"
    home = tmp_path / "home"
    home.mkdir()
    (home / ".asoundrc").write_text(
        "pcm.!default {\n"
        "    type file\n"
        '    slave.pcm "null"\n'
        f'    file "{out}"\n'
        '    format "raw"\n'
        "}\n"
    )
    monkeypatch.setenv("HOME", str(home))
    listed = subprocess.run(["aplay", "-L"], capture_output=True, text=True, timeout=10)
    assert "default" in listed.stdout.split(), listed.stdout + listed.stderr
    return out


def noise_clip(key: str, seconds: float, seed: int) -> Clip:
    """A WAV clip of seeded noise: no shifted or partial copy of it looks like the whole."""
    import io
    import wave

    samples = np.random.default_rng(seed).integers(-8000, 8000, int(seconds * RATE), "<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(samples.tobytes())
    return Clip(key, buf.getvalue())


def pcm(clip: Clip) -> bytes:
    return clip.data[44:]


@dataclass
class Played:
    entries: list[dict[str, Any]]  # the play log (the journal), in order
    raw: bytes  # what reached the device
    growth: list[tuple[float, int]]  # (monotonic, device file size) every 10 ms
    restarts: int


def run_client(
    tmp_path: Path,
    device: Path,
    window: tuple[datetime, datetime],
    items: Items,
    until: datetime,
) -> Played:
    """Run the playback loop on a real AlsaSink until ``until``."""
    clips = {c.key: c for _, c, _, _ in items}
    store = ClipStore(tmp_path / "cache")
    for c in clips.values():
        (store.root / f"{c.key}.wav").write_bytes(c.data)
    journal = Journal(tmp_path / "journal.sqlite3")
    sink = AlsaSink(RATE)
    runner = Runner(Pacer(sink), Clock(), store, journal)
    runner.set_plan(parse_plan(plan_body([window], items)))
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    growth: list[tuple[float, int]] = []
    try:
        while datetime.now(UTC) < until:
            size = device.stat().st_size if device.exists() else 0
            growth.append((time.monotonic(), size))
            time.sleep(0.01)
    finally:
        runner.shutdown()
        thread.join(5)
        sink.close()
    entries = journal.pending()
    journal.close()
    return Played(entries, device.read_bytes(), growth, sink.restarts)


def find_all(raw: bytes, clip: Clip) -> list[int]:
    """Sample offsets in ``raw`` where the whole clip's PCM is found."""
    data, found, at = pcm(clip), [], raw.find(pcm(clip))
    while at >= 0:
        if at % 2 == 0:
            found.append(at // 2)
        at = raw.find(data, at + 1)
    return found


def mono_at(t: datetime) -> float:
    return time.monotonic() + (t - datetime.now(UTC)).total_seconds()


def test_loop_clips_reach_the_device_whole_in_order_in_real_time_and_are_logged_complete(
    tmp_path: Path, device: Path
) -> None:
    clips = [noise_clip(f"loop{i}", 0.6, seed=i) for i in range(3)]
    now = datetime.now(UTC)
    first = now + timedelta(seconds=0.5)
    # Back to back, as the planner lays out a loop: each item ends at start + duration.
    items: Items = [
        (first + timedelta(seconds=0.6 * i), c, "loop", None) for i, c in enumerate(clips)
    ]
    first_mono = mono_at(first)
    played = run_client(
        tmp_path,
        device,
        (now - timedelta(seconds=1), now + timedelta(seconds=30)),
        items,
        until=first + timedelta(seconds=1.8 + LEAD_S + 0.3),
    )

    # The play log: every clip played, none cut.
    assert [(e["clip"], e["completed"], e["reason"]) for e in played.entries] == [
        (c.key, True, "") for c in clips
    ]
    for e in played.entries:
        heard = datetime.fromisoformat(e["ended_at"]) - datetime.fromisoformat(e["started_at"])
        assert heard.total_seconds() == pytest.approx(0.6, abs=0.01)
        late = datetime.fromisoformat(e["started_at"]) - datetime.fromisoformat(e["planned_start"])
        assert 0 <= late.total_seconds() <= LEAD_S + 0.05
    assert played.restarts == 0

    # The device: each clip exactly once, whole, in order and back to back (no gap, no overlap).
    offsets = [find_all(played.raw, c) for c in clips]
    assert [len(o) for o in offsets] == [1, 1, 1], offsets
    starts = [o[0] for o in offsets]
    length = len(pcm(clips[0])) // 2
    assert [b - a for a, b in itertools.pairwise(starts)] == [length, length]
    samples = np.frombuffer(played.raw, "<i2")
    assert not samples[: starts[0]].any()  # silence before: the sink kept the device fed
    assert not samples[starts[-1] + len(pcm(clips[-1])) // 2 :].any()  # and after

    # Real time: the device file grew at the sample rate, not all at once (the null device
    # takes whatever it is given at once, so this is the client's pacing), and the first
    # clip reached it around its planned start.
    t0 = next(t for t, s in played.growth if s > 0)
    ref_t, ref_s = next((t, s) for t, s in played.growth if t >= t0 + 0.3)
    for t, s in played.growth:
        if t >= ref_t:
            audio_s = (s - ref_s) / 2 / RATE
            assert audio_s == pytest.approx(t - ref_t, abs=0.08), (t - ref_t, audio_s)
    assert played.growth[-1][0] - ref_t > 2.0
    reached = next(t for t, s in played.growth if s >= 2 * (starts[0] + 1))
    assert first_mono - 0.05 <= reached <= first_mono + LEAD_S + 0.15


def test_a_window_end_in_the_middle_of_a_clip_still_cuts_it_on_the_device_and_in_the_log(
    tmp_path: Path, device: Path
) -> None:
    whole, cut = noise_clip("loopa", 0.6, seed=10), noise_clip("loopb", 1.0, seed=11)
    now = datetime.now(UTC)
    s = lambda x: now + timedelta(seconds=x)  # noqa: E731
    window_end = s(1.8)
    items: Items = [(s(0.4), whole, "loop", None), (s(1.2), cut, "loop", None)]  # a bad last item
    played = run_client(
        tmp_path, device, (s(-1), window_end), items, until=window_end + timedelta(seconds=0.4)
    )

    assert [(e["clip"], e["completed"], e["reason"]) for e in played.entries] == [
        (whole.key, True, ""),
        (cut.key, False, "cut:window-end"),
    ]
    # The sound stops at the window end, not a lead later.
    ended = datetime.fromisoformat(played.entries[-1]["ended_at"])
    assert abs((ended - window_end).total_seconds()) < 0.03
    # The device got the first clip whole and, of the cut one, what was heard before the
    # window end (about 0.4 s: the first 0.2 s untouched, then the fade), not the rest.
    assert len(find_all(played.raw, whole)) == 1
    assert find_all(played.raw, cut) == []
    data = pcm(cut)
    assert played.raw.find(data[: int(0.15 * RATE) * 2]) >= 0
    assert played.raw.find(data[int(0.5 * RATE) * 2 : int(0.6 * RATE) * 2]) < 0


def test_an_urgent_still_cuts_a_clip_before_its_end(device: Path, tmp_path: Path) -> None:
    clip = noise_clip("loopc", 1.0, seed=12)
    path = tmp_path / "loopc.wav"
    path.write_bytes(clip.data)
    sink = AlsaSink(RATE)
    pacer = Pacer(sink)
    try:
        pacer.idle(time.monotonic() + 0.3, threading.Event())
        began = time.monotonic()
        result = pacer.play(
            ClipReader(path, RATE),
            ClipInfo(clip.key, "loop", "m", None, RATE),
            stop_at=began + 1.0,  # the item's end: start + duration
            check=lambda: "cut:urgent" if time.monotonic() - began > 0.3 else None,
        )
        pacer.idle(time.monotonic() + 0.3, threading.Event())
    finally:
        sink.close()
    assert (result.completed, result.reason) == (False, "cut:urgent")
    # Written until the cut (at about 0.3 s) and its 0.1 s urgent fade; heard a lead later.
    assert result.frames / RATE == pytest.approx(0.3 + 0.1, abs=0.04)
    assert result.started_mono - began == pytest.approx(LEAD_S, abs=0.03)
    raw = device.read_bytes()
    assert find_all(raw, clip) == []
    data = pcm(clip)
    assert raw.find(data[: int(0.05 * RATE) * 2]) >= 0
    assert raw.find(data[int(0.5 * RATE) * 2 : int(0.6 * RATE) * 2]) < 0
