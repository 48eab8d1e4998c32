"""Quiet zones and area-bound messages as a vehicle plays (issue 13): the gain changes in the
middle of a clip without restarting it, and the client's play log says what was decided."""

from __future__ import annotations

import array
import time
import wave
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from audio.player import ClipInfo, FileSink
from broadcaster import schema
from broadcaster.client.app import Client, Options
from broadcaster.client.geo import LOWERED, MUTED
from broadcaster.client.geo import OUTSIDE as OUTSIDE_AREA
from broadcaster.client.gps import Fix
from broadcaster.client.pacing import GAIN_RAMP_S, Pacer
from broadcaster.client.pcm import ClipReader
from tests.client.fakes import (
    RATE,
    SPEAKER,
    TOKEN,
    StubServer,
    make_clip,
    plan_body,
    read_log,
    wav_bytes,
)

AMP = 8000


class Capture:
    """A sink that keeps every sample written, and when (monotonic) each chunk came."""

    rate = RATE
    lead_s = 0.0
    wants_silence = False

    def __init__(self) -> None:
        self.samples = array.array("h")

    def begin(self, info: ClipInfo) -> None:
        pass

    def write(self, pcm: bytes) -> None:
        self.samples.frombytes(pcm)

    def silence(self, frames: int) -> None:
        pass

    def end(self, reason: str) -> None:
        pass

    def health(self) -> tuple[bool, str]:
        return True, "capture"

    def close(self) -> None:
        pass


def peak(samples: array.array, start_s: float, end_s: float) -> int:
    part = samples[int(start_s * RATE) : int(end_s * RATE)]
    return max((abs(x) for x in part), default=0)


def test_a_quiet_zone_mutes_mid_clip_and_leaving_restores_it_where_it_is(tmp_path: Path) -> None:
    """Entering at 0.4 s mutes within the ramp; leaving at 0.9 s restores; the clip is
    played once, whole, in its own time (not restarted from the top)."""
    clip = tmp_path / "clip.wav"
    clip.write_bytes(wav_bytes(1.5, amp=AMP))
    sink = Capture()
    pacer = Pacer(sink)
    began = time.monotonic()

    def gain() -> float:
        elapsed = time.monotonic() - began
        return 0.0 if 0.4 <= elapsed < 0.9 else 1.0

    result = pacer.play(ClipReader(clip, RATE), ClipInfo("k", "loop", "m", None, RATE), gain=gain)
    assert result.completed and result.reason == ""
    assert len(sink.samples) == pytest.approx(1.5 * RATE, abs=1)  # once, whole
    ramp = GAIN_RAMP_S + 0.05  # the ramp, and a chunk (20 ms) of pacing
    assert peak(sink.samples, 0.0, 0.35) > 0.95 * AMP
    assert peak(sink.samples, 0.4 + ramp, 0.85) == 0  # muted
    assert peak(sink.samples, 0.9 + ramp, 1.5) > 0.95 * AMP  # restored where it was
    # Where it was: the sine goes on in phase (sample i is still sin(2 pi f i / rate)).
    i = int(1.3 * RATE)
    expected = wav_bytes(1.5, amp=AMP)[44 + 2 * i : 44 + 2 * i + 2]
    assert sink.samples[i] == int.from_bytes(expected, "little", signed=True)


def test_a_lowered_zone_plays_at_its_volume_and_a_clip_starts_at_its_gain(tmp_path: Path) -> None:
    clip = tmp_path / "clip.wav"
    clip.write_bytes(wav_bytes(0.5, amp=AMP))
    sink = Capture()
    Pacer(sink).play(
        ClipReader(clip, RATE), ClipInfo("k", "loop", "m", None, RATE), gain=lambda: 0.3
    )
    assert 0.28 * AMP <= peak(sink.samples, 0.0, 0.5) <= 0.3 * AMP  # from the first sample


# -- the client: the plan's places and a position -------------------------------------------

VILLAGE = [[36.20, 111.70], [36.20, 111.71], [36.21, 111.71], [36.21, 111.70]]
HOSPITAL = [[36.203, 111.703], [36.203, 111.705], [36.205, 111.705], [36.205, 111.703]]
IN_HOSPITAL = (36.204, 111.704)  # in the village too
IN_VILLAGE = (36.208, 111.708)
OUTSIDE = (36.30, 111.80)


class FakeGps:
    """Stands for the gpsd reader: where the vehicle is by the wall clock, from `route`
    ((from, position or None for no fix), ...), so no sleep of the test can be late."""

    host, port = "fake", 0

    def __init__(self, route: list[tuple[datetime, tuple[float, float] | None]]) -> None:
        self.route = route

    def latest(self) -> Fix | None:
        now = datetime.now(UTC)
        at = [where for since, where in self.route if since <= now][-1]
        if at is None:
            return None
        return Fix(at[0], at[1], 3, time.monotonic(), speed_mps=500.0, track_deg=90.0)

    def stop(self) -> None:
        pass


@pytest.fixture
def server() -> Iterator[StubServer]:
    with StubServer() as s:
        yield s


def test_the_client_skips_area_bound_messages_outside_and_mutes_in_a_quiet_zone(
    server: StubServer, tmp_path: Path
) -> None:
    t0 = datetime.now(UTC)
    s = lambda x: t0 + timedelta(seconds=x)  # noqa: E731
    water, masks = make_clip("water", 0.6), make_clip("masks", 0.6, 660)
    items = [
        (s(1.0), water, "loop", None),  # outside the village: skipped
        (s(2.0), masks, "loop", None),  # in the hospital: muted
        (s(3.0), water, "loop", None),  # in the village: plays
        (s(4.0), masks, "loop", None),  # no fix: as without GPS
    ]
    plan = plan_body([(s(0.5), s(6.0))], items, heartbeat_s=1)
    plan["quiet_zones"] = [
        {"id": "hospital", "name": "卫生院", "polygon": HOSPITAL, "hours": [], "action": "mute",
         "volume": None},
    ]  # fmt: skip
    plan["message_areas"] = {"water": ["village"]}
    plan["areas"] = {"village": VILLAGE}
    server.serve(plan, [water, masks])
    out = tmp_path / "speaker.wav"
    client = Client(
        Options(server.url, SPEAKER, TOKEN, tmp_path / "cache", events_wait_s=5, upload_idle_s=1.0),
        FileSink(out),
    )
    route = [(s(-60), OUTSIDE), (s(1.5), IN_HOSPITAL), (s(2.8), IN_VILLAGE), (s(3.8), None)]
    client.gps = FakeGps(route)  # type: ignore[assignment]
    client.start()
    try:
        deadline = time.monotonic() + 10
        while len(server.state.plays) < 4 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        client.stop()
    plays = sorted(server.state.plays.values(), key=lambda e: e["planned_start"])
    got = [(e["message"], e["completed"], e["reason"]) for e in plays]
    assert got == [
        ("water", False, "skipped:outside_area"),
        ("masks", False, "muted:quiet_zone"),
        ("water", True, ""),
        ("masks", True, ""),
    ], got
    assert plays[0]["started_at"] == plays[0]["ended_at"]  # a silent slot, nothing played
    assert plays[1]["quiet"]["zone"] == "hospital" and plays[1]["quiet"]["gain"] == 0
    # The sink heard three clips; the muted one is silent, the others are not.
    starts = [e for e in read_log(out) if e["event"] == "start"]
    assert [e["message"] for e in starts] == ["masks", "water", "masks"]
    with wave.open(str(out), "rb") as w:
        heard = array.array("h", w.readframes(w.getnframes()))
    ends = [0]
    for e in read_log(out):
        if e["event"] == "stop":
            ends.append(ends[-1] + e["frames"])
    assert len(ends) == 4 and ends[-1] == len(heard)
    assert max(abs(x) for x in heard[ends[0] : ends[1]]) == 0  # muted in the hospital
    assert max(abs(x) for x in heard[ends[1] : ends[2]]) > 0.9 * AMP
    assert max(abs(x) for x in heard[ends[2] : ends[3]]) > 0.9 * AMP
    # Heartbeats carried the position while there was one (a speed out of range left out).
    positions = [h["position"] for h in server.state.heartbeats if h.get("position")]
    assert positions and all("speed" not in p and p["heading"] == 90 for p in positions)
    assert all({"lat", "lon", "fix_at"} <= set(p) for p in positions), positions


@pytest.mark.parametrize("reason", [OUTSIDE_AREA, MUTED, LOWERED])
def test_the_servers_wire_format_takes_the_gps_reasons(reason: str) -> None:
    entry = {"id": "p1", "clip": "k", "kind": "loop", "started_at": "2026-12-01T08:00:00+08:00",
             "ended_at": "2026-12-01T08:00:00+08:00", "completed": False, "reason": reason,
             "quiet": {"zone": "hospital", "gain": 0.0, "ms": 1200}}  # fmt: skip
    (parsed,) = schema.Plays.model_validate({"entries": [entry]}).entries
    assert parsed.reason == reason
