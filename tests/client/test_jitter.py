"""The live page's jitter buffer (pure): order, a bounded delay, an end after silence."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from broadcaster.client.jitter import JitterBuffer, State

FRAME = 20


def _run(arrivals: list[int], buffer: JitterBuffer, until_ms: int) -> list[tuple[int, int]]:
    """Frames 0.. arrive at `arrivals` (ms, nondecreasing); the player pulls one frame every
    FRAME ms from 0. Returns (seq, played at) for every frame played."""
    return _run_counted(arrivals, buffer, until_ms)[0]


def _run_counted(
    arrivals: list[int], buffer: JitterBuffer, until_ms: int
) -> tuple[list[tuple[int, int]], int]:
    """`_run`, and how many frames arrived before the page ended."""
    played = []
    accepted = 0
    pending = sorted(enumerate(arrivals), key=lambda item: item[1])
    i = 0
    for now in range(0, until_ms, FRAME):
        while i < len(pending) and pending[i][1] <= now:
            seq, at = pending[i]
            if buffer.state is not State.ENDED:
                accepted += 1
            buffer.push(seq, bytes([seq % 256]) * 640, at)
            i += 1
        pulled = buffer.pull(now)
        if pulled.seq is not None:
            played.append((pulled.seq, now))
        if pulled.state is State.ENDED:
            break
    return played, accepted


def test_a_steady_stream_plays_every_frame_after_the_start_delay():
    buffer = JitterBuffer()
    arrivals = [FRAME * n for n in range(500)]
    played = _run(arrivals, buffer, 20_000)
    assert [seq for seq, _ in played] == list(range(500))
    delays = {at - arrivals[seq] for seq, at in played}
    assert max(delays) <= buffer.target_ms + FRAME
    assert buffer.stats.dropped == buffer.stats.late == 0
    assert buffer.state is State.ENDED  # 2 s after the last frame


def test_a_burst_after_a_stall_is_cut_back_to_the_target_delay():
    buffer = JitterBuffer()
    # 1.5 s of nothing (less than the 2 s after which the page is over), then all of it at once.
    stall_end = 100 * FRAME + 1500
    arrivals = [FRAME * n for n in range(100)] + [stall_end] * 75
    arrivals += [stall_end + FRAME * n for n in range(200)]
    played = _run(arrivals, buffer, 30_000)
    assert [seq for seq, _ in played][:100] == list(range(100))
    assert buffer.stats.dropped > 0
    assert buffer.stats.underruns > 0
    worst = max(at - arrivals[seq] for seq, at in played)
    assert worst <= buffer.max_ms + FRAME


def test_the_page_ends_two_seconds_after_the_stream_stops():
    buffer = JitterBuffer()
    arrivals = [FRAME * n for n in range(50)]
    _run(arrivals, buffer, 60_000)
    assert buffer.state is State.ENDED
    ended = JitterBuffer()
    for n in range(50):
        ended.push(n, b"x", FRAME * n)
    t = 0
    while ended.pull(t).state is not State.ENDED:
        t += FRAME
    assert 49 * FRAME + ended.give_up_ms <= t <= 49 * FRAME + ended.give_up_ms + 2 * FRAME


def test_finish_plays_what_is_buffered_then_ends():
    buffer = JitterBuffer()
    for n in range(3):  # less than the target: a short page is not held back
        buffer.push(n, b"x", 0)
    buffer.finish()
    pulls = [buffer.pull(t) for t in range(0, 200, FRAME)]
    assert [p.seq for p in pulls[:3]] == [0, 1, 2]
    assert pulls[3].state is State.ENDED


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(0, 3000), min_size=1, max_size=400),
    st.sampled_from([(120, 400), (60, 200), (200, 600)]),
)
def test_order_and_bounded_delay_whatever_the_network_does(gaps, sizes):
    """Any arrival pattern (bursts, stalls, trickles): frames play in order, each at most once,
    and no frame waits more than the buffer's bound."""
    target, most = sizes
    buffer = JitterBuffer(target_ms=target, max_ms=most)
    arrivals, t = [], 0
    for gap in gaps:
        t += gap if gap > 100 else gap % 40  # mostly near real time, some stalls
        arrivals.append(t)
    played, accepted = _run_counted(arrivals, buffer, t + 10_000)
    seqs = [seq for seq, _ in played]
    assert seqs == sorted(set(seqs))
    assert buffer.bound_ms == max(most, buffer.start_wait_ms + target) + FRAME
    assert all(at - arrivals[seq] <= buffer.bound_ms for seq, at in played)
    assert buffer.stats.played + buffer.stats.dropped + buffer.stats.late == accepted
    assert buffer.state is State.ENDED
