"""The speaker's live mode, its pure decisions (broadcaster/client/livemode.py): the event,
when a page is too old to join, how a page ends, where a reconnect rejoins."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta

import pytest

from broadcaster.client.jitter import JitterBuffer
from broadcaster.client.livemode import (
    COMPLETED,
    GIVE_UP_MS,
    MAX_LENGTH,
    STREAM_LOST,
    Chunk,
    LivePage,
    LiveSession,
    cut_by_stop,
    event_age_ms,
    is_stale,
    parse_live,
    resample,
)
from broadcaster.errors import ValidationError

RATE = 22050
FRAME = 20


def payload(**over: object) -> dict[str, object]:
    body: dict[str, object] = {
        "page": "live-abc",
        "stream": "/api/v1/speakers/{speaker}/live/live-abc",
        "chime": {
            "key": "chime1",
            "url": "/api/v1/clips/chime1",
            "sha256": "ab" * 32,
            "size": 100,
            "duration_ms": 1050,
            "format": "wav",
        },
        "rate": RATE,
        "frame_ms": FRAME,
        "max_ms": 600_000,
        "by": "张主任",
    }
    body.update(over)
    return body


def page(max_ms: int = 600_000, seq: int = 7) -> LivePage:
    return parse_live(seq, payload(max_ms=max_ms), "spk 1/a")


def pcm(n: int) -> bytes:
    return struct.pack("<h", n) * (RATE * FRAME // 1000)


def session(max_ms: int = 600_000, started: int = 0) -> LiveSession:
    return LiveSession(page(max_ms), started, RATE)


# -- the event -----------------------------------------------------------------------------


def test_the_live_event_is_read_with_this_speakers_stream_path() -> None:
    p = page()
    assert p.page == "live-abc" and p.seq == 7 and p.by == "张主任"
    assert p.stream == "/api/v1/speakers/spk%201%2Fa/live/live-abc"  # the id quoted
    assert p.stream_path(120) == p.stream + "?behind_ms=120"
    assert p.stream_path(99_999).endswith("behind_ms=2000")  # what the server accepts
    assert p.chime is not None and p.chime.key == "chime1" and p.chime.duration_ms == 1050
    assert (p.rate, p.frame_ms, p.max_ms) == (RATE, FRAME, 600_000)
    # An older server's event may lack the optional parts: defaults.
    bare = parse_live(3, {"page": "p", "stream": "/s/{speaker}"}, "x")
    assert bare.chime is None and bare.rate == RATE and bare.frame_ms == 20 and bare.by == ""


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"page": None}, "page"),
        ({"page": ""}, "page"),
        ({"stream": "/api/v1/speakers/x/live/p"}, "stream"),  # not this speaker's to fill in
        ({"stream": "http://elsewhere/{speaker}"}, "stream"),  # never another host
        ({"rate": "22050"}, "rate"),
        ({"rate": 0}, "rate"),
        ({"frame_ms": 1.5}, "frame_ms"),
        ({"max_ms": -1}, "max_ms"),
        ({"max_ms": True}, "max_ms"),
        ({"chime": {"key": "c"}}, "chime"),
    ],
)
def test_a_malformed_live_event_is_refused_naming_the_field(
    change: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_live(9, payload(**change), "spk-1")
    assert field in str(caught.value)


def test_a_page_older_than_2_s_when_it_arrives_is_not_resumed() -> None:
    made = datetime(2026, 12, 1, 23, 59, 59, 500_000, tzinfo=UTC)  # across midnight
    at = lambda s: (made + timedelta(seconds=s)).isoformat()  # noqa: E731
    assert event_age_ms(made.isoformat(), at(0.3)) == 300
    assert not is_stale(event_age_ms(made.isoformat(), at(2.0)))
    assert is_stale(event_age_ms(made.isoformat(), at(2.01)))
    assert is_stale(event_age_ms(made.isoformat(), at(3600)))  # a client back after an hour
    # By the server's clock alone: a poll answered at once is fresh whatever the speaker's
    # clock says; an answer without times is taken as fresh (never refuse a page for it).
    assert event_age_ms(None, at(5)) is None and not is_stale(None)
    assert event_age_ms(made.isoformat(), "garbage") is None
    shanghai = (made + timedelta(seconds=1)).astimezone().isoformat()
    assert event_age_ms(made.isoformat(), shanghai) == 1000


def test_a_stop_ends_a_page_only_when_it_came_after_the_page() -> None:
    p = page(seq=7)
    assert cut_by_stop(p, 8, stopped_now=True)
    assert not cut_by_stop(p, 6, stopped_now=True)  # the server paged a stopped speaker
    assert not cut_by_stop(p, 8, stopped_now=False)  # the stop is over already
    assert not cut_by_stop(p, None, stopped_now=True)


def test_resampling_keeps_the_duration_and_is_a_no_op_at_the_same_rate() -> None:
    data = b"".join(struct.pack("<h", v) for v in range(441))
    assert resample(data, RATE, RATE) is data
    half = resample(data, RATE, RATE // 2)
    assert len(half) == 2 * 220
    assert struct.unpack("<3h", half[:6]) == (0, 2, 4)
    assert len(resample(data, 22050, 44100)) == 2 * 882


# -- a page from start to end ----------------------------------------------------------------


def feed(s: LiveSession, first: int, count: int, at_ms: int) -> int:
    """Frames `first`.. all arrive now (a burst, or during the chime); the time after."""
    for i in range(count):
        s.push(first + i, pcm(first + i), at_ms)
    return at_ms


def run(
    s: LiveSession, arrivals: dict[int, int], from_ms: int, until_ms: int
) -> tuple[list[int], int]:
    """Frame n arrives at `arrivals[n]` ms; one chunk is pulled every 20 ms from `from_ms`.
    (The frames heard, the time the page ended or `until_ms`.)"""
    heard: list[int] = []
    pending = sorted(arrivals.items(), key=lambda kv: kv[1])
    i = 0
    for now in range(from_ms, until_ms, FRAME):
        while i < len(pending) and pending[i][1] <= now:
            s.push(pending[i][0], pcm(pending[i][0]), pending[i][1])
            i += 1
        chunk = s.next_chunk(now)
        if chunk is None:
            return heard, now
        assert chunk.frames == RATE * FRAME // 1000
        if chunk.pcm is not None:
            heard.append(struct.unpack_from("<h", chunk.pcm)[0])
    return heard, until_ms


def play(s: LiveSession, from_ms: int, until_ms: int) -> tuple[list[int], int]:
    return run(s, {}, from_ms, until_ms)


def steady(first: int, count: int, at_ms: int) -> dict[int, int]:
    return {first + i: at_ms + i * FRAME for i in range(count)}


def test_the_end_flag_completes_the_page_after_what_is_buffered() -> None:
    s = session()
    heard: list[int] = []
    for n in range(50):  # frames arrive as they are played, the buffer's target ahead
        s.push(n, pcm(n), n * FRAME)
        chunk = s.next_chunk(n * FRAME)
        assert chunk is not None
        if chunk.pcm is not None:
            heard.append(struct.unpack_from("<h", chunk.pcm)[0])
    s.finish()
    rest, ended_at = play(s, 50 * FRAME, 10_000)
    assert heard + rest == list(range(50))
    assert s.ended == COMPLETED and ended_at < 50 * FRAME + 200
    assert s.next_chunk(ended_at + FRAME) is None  # over is over
    assert s.counts()["played"] == 50 and s.counts()["dropped"] == 0


def test_what_came_during_the_chime_is_dropped_to_the_newest() -> None:
    s = session()
    feed(s, 0, 52, 0)  # 1.04 s of frames while the chime played (the buffer kept 400 ms)
    s.begin_audio(1040)
    heard, _ = play(s, 1040, 1040 + 6 * FRAME)
    # The newest 120 ms (the buffer's target), not 400 ms behind.
    assert heard == list(range(46, 52))
    assert s.counts()["dropped"] == 46


def test_no_audio_for_2_s_ends_the_page_as_stream_lost() -> None:
    s = session()
    s.begin_audio(0)
    heard, ended_at = run(s, steady(0, 25, 0), 0, 10_000)  # half a second, then a stall
    after = 24 * FRAME  # the last frame came then
    assert heard == list(range(25))
    assert s.ended == STREAM_LOST
    assert after - FRAME + GIVE_UP_MS <= ended_at <= after + GIVE_UP_MS + FRAME
    assert s.counts()["underruns"] > 0  # silence (not a stop) while it waited


def test_a_stream_that_never_brings_a_frame_ends_2_s_after_the_audio_was_due() -> None:
    s = session(started=0)
    assert s.wants_stream(5_000)  # the chime plays: the reader keeps trying
    s.begin_audio(1_000)  # the chime is over
    heard, ended_at = play(s, 1_000, 10_000)
    assert heard == [] and s.ended == STREAM_LOST
    assert ended_at == 1_000 + GIVE_UP_MS
    assert not s.wants_stream(ended_at)


def test_a_stall_shorter_than_2_s_rejoins_at_the_newest_audio() -> None:
    s = session()
    s.begin_audio(0)
    heard, _ = run(s, steady(0, 25, 0), 0, 500)
    # Stalled 1.5 s: the reader is still worth reconnecting, and asks for the newest audio
    # less the buffer's target.
    assert s.wants_stream(500 + 1500)
    assert s.behind_ms == 120
    # The server sends from there (frames 97.. of a sender that went on meanwhile).
    more, _ = run(s, steady(97, 50, 2000), 500, 3000)
    assert s.ended is None
    both = heard + more  # what was buffered before the stall, then the newest audio
    assert both[:25] == list(range(25))
    assert both[25:] == list(range(97, 97 + len(both) - 25)) and len(both) - 25 >= 40


def test_a_burst_after_a_stall_is_cut_to_keep_the_delay_bounded() -> None:
    s = session()
    s.begin_audio(0)
    run(s, steady(0, 10, 0), 0, 200)
    feed(s, 10, 50, 1000)  # a second of frames at once
    assert s.buffer.buffered_ms <= s.buffer.max_ms
    heard, _ = play(s, 1000, 1200)
    assert heard[0] >= 60 - s.buffer.max_ms // FRAME  # at most 400 ms behind the newest


def test_the_page_ends_at_its_maximum_length_on_the_speakers_own_clock() -> None:
    s = session(max_ms=5_000, started=100)
    assert s.limit(5_099) is None
    assert s.limit(5_100) == MAX_LENGTH
    assert not s.wants_stream(5_100)


def test_a_cut_keeps_its_reason_and_stops_the_audio() -> None:
    s = session()
    feed(s, 0, 20, 0)
    s.end("cut:stop")
    s.end(COMPLETED)  # the first reason stays
    assert s.ended == "cut:stop" and s.next_chunk(400) is None
    s.push(99, pcm(99), 420)  # late frames are not taken
    assert s.counts()["played"] == 0


def test_silence_while_the_buffer_fills_keeps_the_pace() -> None:
    s = session()
    s.begin_audio(0)
    chunk = s.next_chunk(0)
    assert chunk == Chunk(None, RATE * FRAME // 1000)  # a frame time of silence


def test_frames_at_another_rate_are_resampled_to_the_sink() -> None:
    s = LiveSession(parse_live(1, payload(rate=11025), "spk"), 0, RATE)
    for n in range(8):
        s.push(n, struct.pack("<h", n) * 220, n * FRAME)
    s.finish()
    chunk = s.next_chunk(200)
    assert chunk is not None and chunk.pcm is not None and chunk.frames == 440


def test_the_jitter_buffer_trims_to_its_target() -> None:
    b = JitterBuffer()
    for n in range(15):
        b.push(n, b"x" * 8, 0)
    assert b.trim() == 15 - b.target_ms // b.frame_ms
    assert b.buffered_ms == b.target_ms and b.last_arrival_ms == 0
    assert b.pull(0).seq == 9
    assert b.trim() == 0
