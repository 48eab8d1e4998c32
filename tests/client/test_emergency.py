"""The emergency path on the client: chime first, urgent_clip, cancel and expiry cuts,
resync at once and prompt heartbeats. Against the device-API stub, listening to a file sink.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from broadcaster.client.plan import parse_plan, parse_urgent
from broadcaster.client.reporting import Heartbeater
from broadcaster.errors import ValidationError
from tests.client.fakes import RATE, Clip, StubServer, make_clip, plan_body, read_log
from tests.client.test_protocol import start_client, wait_for

OFFSET_MS = 600  # where the speech begins in an urgent clip (after its own chime)


@pytest.fixture
def server() -> Iterator[StubServer]:
    with StubServer() as s:
        yield s


def at(t0: datetime, x: float) -> datetime:
    return t0 + timedelta(seconds=x)


def desc(clip: Clip) -> dict[str, Any]:
    return {"key": clip.key, **clip.spec()}


def urgent_payload(
    uid: str,
    clip: Clip | None,
    chime: Clip | None = None,
    repeats: int = 2,
    interval_s: float = 0.3,
    expires_at: datetime | None = None,
) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "id": uid,
        "clip": desc(clip) if clip else None,
        "chime": desc(chime) if chime else None,
        "speech_offset_ms": OFFSET_MS,
        "message": "fire",
        "repeats": repeats,
        "interval_s": interval_s,
        "starts_at": now.isoformat(),
        "expires_at": (expires_at or now + timedelta(minutes=5)).isoformat(),
        "override_window": False,
    }


def with_chime(body: dict[str, Any], chime: Clip) -> dict[str, Any]:
    """The plan lists the chime (so every client has it cached before an urgent)."""
    body["clips"][chime.key] = chime.spec()
    body["chime"] = chime.key
    return body


def starts(out: Path) -> list[dict[str, Any]]:
    return [e for e in read_log(out) if e["event"] == "start"]


def stops(out: Path) -> list[dict[str, Any]]:
    return [e for e in read_log(out) if e["event"] == "stop"]


def ack_states(server: StubServer, uid: str) -> list[str]:
    return [a["state"] for a in server.state.acks if a["urgent"] == uid]


# -- parsing -------------------------------------------------------------------------------


def test_the_plan_names_its_chime_optionally() -> None:
    t0 = datetime.now(UTC)
    loop, chime = make_clip("loop01", 0.2), make_clip("chime1", 0.2, 1200)
    body = plan_body([(t0, at(t0, 60))], [(at(t0, 1), loop, "loop", None)])
    assert parse_plan(body).chime is None  # an older server: no chime
    assert parse_plan(with_chime(body, chime)).chime == "chime1"
    assert "chime1" in parse_plan(body).clips  # so the syncer caches it as any clip
    assert parse_plan({**body, "chime": None}).chime is None
    assert parse_plan({**body, "chime": "nowhere"}).chime is None  # not in clips: ignored


def test_an_urgent_event_may_come_without_its_clip_but_with_a_chime() -> None:
    chime, speech = make_clip("chime1", 0.2, 1200), make_clip("sp1", 1.0)
    now = datetime.now(UTC)
    ev = parse_urgent(3, urgent_payload("u-1", None, chime), now)
    assert ev.clip is None and ev.chime is not None and ev.chime.key == "chime1"
    assert ev.speech_offset_ms == OFFSET_MS
    old = urgent_payload("u-2", speech)
    del old["chime"], old["speech_offset_ms"]  # an older server
    ev = parse_urgent(4, old, now)
    assert ev.clip is not None and ev.chime is None and ev.speech_offset_ms == 0
    with pytest.raises(ValidationError):
        parse_urgent(5, {"id": "u-3", "chime": None}, now)  # no clip key at all
    with pytest.raises(ValidationError):
        parse_urgent(6, {**urgent_payload("u-4", None), "clip": {"url": "x"}}, now)


# -- chime first ---------------------------------------------------------------------------


def test_chime_first_then_the_speech_from_its_offset_then_whole_repeats(
    server: StubServer, tmp_path: Path
) -> None:
    t0 = datetime.now(UTC)
    loop = make_clip("loop01", 2.0)
    chime = make_clip("chime1", 0.5, 1200)
    speech = make_clip("speech1", 2.0, 660)
    items = [(at(t0, x), loop, "loop", None) for x in (1.0, 7.0, 9.5)]
    server.serve(with_chime(plan_body([(t0, at(t0, 20))], items), chime), [loop, chime])
    server.state.clips[speech.key] = speech.data
    out = tmp_path / "speaker.wav"
    client = start_client(server.url, tmp_path / "cache", out)
    try:
        wait_for(lambda: datetime.now(UTC) >= at(t0, 1.5), 10)
        sent = time.time()
        server.state.push_event("urgent", urgent_payload("u-1", None, chime))
        wait_for(lambda: any(e["kind"] == "urgent" for e in starts(out)), 3)
        first = next(e for e in starts(out) if e["kind"] == "urgent")
        assert first["clip"] == "chime1" and first["t"] - sent < 0.6  # at once, from cache
        # The speech is rendered a while later; meanwhile the loop stays quiet.
        time.sleep(1.5)
        assert [e["kind"] for e in starts(out)] == ["loop", "urgent"]
        server.state.push_event("urgent_clip", {"urgent": "u-1", "clip": desc(speech)})
        wait_for(lambda: len([e for e in stops(out) if e["kind"] == "urgent"]) == 3, 10)
        wait_for(lambda: "played" in ack_states(server, "u-1"), 5)
    finally:
        client.stop(upload_timeout_s=0.5)
    log = list(read_log(out))
    urgent_stops = [e for e in log if e["event"] == "stop" and e["kind"] == "urgent"]
    assert [e["clip"] for e in urgent_stops] == ["chime1", "speech1", "speech1"]
    assert all(e["reason"] == "" for e in urgent_stops)
    # The first repeat enters the clip after its chime; the second plays it whole.
    assert urgent_stops[0]["frames"] == pytest.approx(0.5 * RATE, abs=10)
    assert urgent_stops[1]["frames"] == pytest.approx((2.0 - OFFSET_MS / 1000) * RATE, abs=10)
    assert urgent_stops[2]["frames"] == pytest.approx(2.0 * RATE, abs=10)
    loop_stop = next(e for e in log if e["event"] == "stop" and e["kind"] == "loop")
    assert loop_stop["reason"] == "cut:urgent"
    assert ack_states(server, "u-1") == ["received", "playing", "played"]
    playing_ack = next(a for a in server.state.acks if a["state"] == "playing")
    assert datetime.fromisoformat(playing_ack["at"]).timestamp() - sent < 0.6  # at the chime


def test_a_clip_not_yet_cached_does_not_hold_back_the_chime(
    server: StubServer, tmp_path: Path
) -> None:
    t0 = datetime.now(UTC)
    loop = make_clip("loop01", 1.0)
    chime = make_clip("chime1", 0.5, 1200)
    speech = make_clip("speech1", 2.0, 660)
    server.serve(
        with_chime(plan_body([(t0, at(t0, 20))], [(at(t0, 0.5), loop, "loop", None)]), chime),
        [loop, chime],
    )
    server.state.clips[speech.key] = speech.data
    server.state.clip_delay_s[speech.key] = 1.5  # a slow download of the speech
    out = tmp_path / "speaker.wav"
    client = start_client(server.url, tmp_path / "cache", out)
    try:
        wait_for(lambda: datetime.now(UTC) >= at(t0, 2.0), 10)
        sent = time.time()
        server.state.push_event("urgent", urgent_payload("u-1", speech, chime, repeats=1))
        wait_for(lambda: any(e["clip"] == "speech1" for e in stops(out)), 10)
    finally:
        client.stop(upload_timeout_s=0.5)
    urgent = [e for e in starts(out) if e["kind"] == "urgent"]
    assert [e["clip"] for e in urgent] == ["chime1", "speech1"]
    assert urgent[0]["t"] - sent < 0.6
    assert urgent[1]["t"] - sent >= 1.4  # after its download
    speech_stop = next(e for e in stops(out) if e["clip"] == "speech1")
    assert speech_stop["frames"] == pytest.approx((2.0 - OFFSET_MS / 1000) * RATE, abs=10)


# -- cancel and expiry ---------------------------------------------------------------------


def test_cancel_cuts_the_urgent_acks_cut_and_the_resynced_loop_goes_on_at_once(
    server: StubServer, tmp_path: Path
) -> None:
    t0 = datetime.now(UTC)
    loop = make_clip("loop01", 1.5)
    speech = make_clip("speech1", 3.0, 660)
    window = (t0, at(t0, 30))
    server.serve(plan_body([window], [(at(t0, 0.5), loop, "loop", None)], heartbeat_s=30), [loop])
    server.state.clips[speech.key] = speech.data
    out = tmp_path / "speaker.wav"
    client = start_client(server.url, tmp_path / "cache", out)
    try:
        wait_for(lambda: any(e["kind"] == "loop" for e in stops(out)), 10)
        server.state.push_event("urgent", urgent_payload("u-1", speech, repeats=3))
        wait_for(lambda: any(e["kind"] == "urgent" for e in starts(out)), 5)
        time.sleep(0.8)
        cancelled = datetime.now(UTC)
        beats_before = len(server.state.heartbeats)
        # The server's new plan resumes the loop 0.5 s after the cancel; cancel and resync
        # come in one answer of the long poll.
        resumed = at(cancelled, 0.5)
        server.state.plan = plan_body([window], [(resumed, loop, "loop", None)], heartbeat_s=30)
        with server.state.cond:
            server.state.push_event("cancel", {"urgent": "u-1"})
            server.state.push_event("resync", {})
        wait_for(lambda: len(stops(out)) >= 3, 5)
        wait_for(lambda: "cut" in ack_states(server, "u-1"), 5)
        wait_for(
            lambda: any(p["reason"] == "cut:cancelled" for p in server.state.plays.values()), 5
        )
    finally:
        client.stop(upload_timeout_s=0.5)
    kinds = [(e["kind"], e["reason"]) for e in stops(out)]
    assert kinds[:3] == [("loop", ""), ("urgent", "cut:cancelled"), ("loop", "")]
    cut = stops(out)[1]
    assert cut["t"] - cancelled.timestamp() < 0.5  # faded at once
    # The loop goes on in step with the new plan, within a second of the cancel.
    again = starts(out)[2]
    assert again["t"] - cancelled.timestamp() < 1.0
    assert abs(again["t"] - resumed.timestamp()) < 0.25
    assert ack_states(server, "u-1") == ["received", "playing", "cut"]
    # The switch to the new plan is reported at once.
    new_etag = server.state.etag()
    assert any(h["plan_etag"] == new_etag for h in server.state.heartbeats[beats_before:])


def test_a_repeat_playing_at_the_expiry_is_cut_there_and_the_loop_resumes(
    server: StubServer, tmp_path: Path
) -> None:
    t0 = datetime.now(UTC)
    loop = make_clip("loop01", 1.0)
    speech = make_clip("speech1", 1.5, 660)
    expires = at(t0, 5.0)
    items = [(at(t0, 0.8), loop, "loop", None), (expires, loop, "loop", None)]
    server.serve(plan_body([(t0, at(t0, 20))], items), [loop, speech])
    server.state.plan["clips"][speech.key] = speech.spec()  # type: ignore[index]
    out = tmp_path / "speaker.wav"
    client = start_client(server.url, tmp_path / "cache", out)
    try:
        wait_for(lambda: datetime.now(UTC) >= at(t0, 2.5), 10)
        payload = urgent_payload("u-1", speech, repeats=3, interval_s=0.2, expires_at=expires)
        server.state.push_event("urgent", payload)
        wait_for(lambda: len(stops(out)) >= 4, 10)
        wait_for(lambda: "cut" in ack_states(server, "u-1"), 5)
    finally:
        client.stop(upload_timeout_s=0.5)
    log = stops(out)
    assert [(e["kind"], e["reason"]) for e in log[:4]] == [
        ("loop", ""),
        ("urgent", ""),
        ("urgent", "cut:expired"),
        ("loop", ""),
    ]
    assert abs(log[2]["t"] - expires.timestamp()) < 0.1  # cut exactly there (faded into it)
    assert abs(starts(out)[3]["t"] - expires.timestamp()) < 0.25  # and the loop goes on
    assert ack_states(server, "u-1") == ["received", "playing", "cut"]


# -- heartbeats ----------------------------------------------------------------------------


def test_a_clip_start_and_stop_are_reported_at_once(server: StubServer, tmp_path: Path) -> None:
    t0 = datetime.now(UTC)
    loop = make_clip("loop01", 1.0)
    begins = at(t0, 2.5)
    server.serve(plan_body([(t0, at(t0, 20))], [(begins, loop, "loop", None)], 30), [loop])
    out = tmp_path / "speaker.wav"
    client = start_client(server.url, tmp_path / "cache", out)
    beats = server.state.heartbeats
    try:
        wait_for(lambda: any(e["event"] == "stop" for e in read_log(out)), 10)
        wait_for(lambda: beats[-1]["now_playing"] is None, 2)
    finally:
        client.stop(upload_timeout_s=0.5)
    playing = next(h for h in beats if h["now_playing"])
    assert playing["now_playing"]["clip"] == "loop01"
    assert playing["now_playing"]["kind"] == "loop"
    assert playing["now_playing"]["message"] == "loop01"
    assert datetime.fromisoformat(playing["client_time"]) - begins < timedelta(seconds=1)
    ended = beats[beats.index(playing) + 1]
    assert ended["now_playing"] is None
    assert datetime.fromisoformat(ended["client_time"]) - at(begins, 1.0) < timedelta(seconds=1)


def test_a_resync_fetches_the_plan_and_reports_its_etag_at_once(
    server: StubServer, tmp_path: Path
) -> None:
    t0 = datetime.now(UTC)
    loop = make_clip("loop01", 0.5)
    other = make_clip("loop02", 0.5, 550)
    server.serve(plan_body([(t0, at(t0, 60))], [(at(t0, 50), loop, "loop", None)], 30), [loop])
    server.state.clips[other.key] = other.data
    client = start_client(server.url, tmp_path / "cache", tmp_path / "speaker.wav")
    beats = server.state.heartbeats
    try:
        wait_for(lambda: len(beats) >= 1, 10)
        time.sleep(0.6)
        server.state.plan = plan_body([(t0, at(t0, 60))], [(at(t0, 40), other, "loop", None)], 30)
        new_etag = server.state.etag()
        sent = time.monotonic()
        server.state.push_event("resync", {})
        wait_for(lambda: beats[-1]["plan_etag"] == new_etag, 3)
        took = time.monotonic() - sent
    finally:
        client.stop(upload_timeout_s=0.5)
    assert took < 1.0
    assert client.runner.plan is not None and client.runner.plan.etag == new_etag


class _Beats(Heartbeater):
    """A heartbeater that only records when it would have sent."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.min_gap_s = 0.5
        self._prompted = threading.Event()

        class _Syncer:
            attempted = threading.Event()
            heartbeat_s = 30.0

        _Syncer.attempted.set()
        self.syncer = _Syncer()  # type: ignore[assignment]

    def beat_once(self) -> None:
        self.times.append(time.monotonic())


def test_prompt_heartbeats_go_at_once_at_most_every_half_second_coalesced() -> None:
    beats = _Beats()
    stopping = threading.Event()
    thread = threading.Thread(target=beats.run, args=(stopping,), daemon=True)
    began = time.monotonic()
    thread.start()

    def prompt_at(x: float) -> None:
        time.sleep(max(0.0, began + x - time.monotonic()))
        beats.prompt()

    try:
        prompt_at(0.1)  # within 0.5 s of the periodic beat: waits for the gap
        for x in (0.7, 0.72, 0.74, 0.76, 0.8):  # a burst: one beat, 0.5 s after the last
            prompt_at(x)
        prompt_at(2.0)  # long after the last one: at once
        time.sleep(0.3)
    finally:
        stopping.set()
        thread.join(2)
    rel = [t - began for t in beats.times]
    assert len(rel) == 4, rel
    expected = [0.0, 0.5, 1.0, 2.0]
    assert all(abs(a - b) < 0.08 for a, b in zip(rel, expected, strict=True)), rel
