"""The client's clock: anchored to the server, immune to a stepped system clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from broadcaster.client.clock import Clock
from broadcaster.client.retry import Backoff

SERVER = datetime(2026, 11, 29, 4, 0, tzinfo=UTC)


class FakeTime:
    def __init__(self) -> None:
        self.wall = SERVER.timestamp() + 0.120  # the system clock is 120 ms ahead
        self.mono = 1000.0

    def advance(self, s: float) -> None:
        self.wall += s
        self.mono += s


@pytest.fixture
def ft() -> FakeTime:
    return FakeTime()


def clock_for(ft: FakeTime) -> Clock:
    return Clock(wall=lambda: ft.wall, mono=lambda: ft.mono)


def test_before_any_server_contact_the_system_clock_is_used(ft: FakeTime) -> None:
    clock = clock_for(ft)
    assert clock.now() == datetime.fromtimestamp(ft.wall, UTC)
    assert clock.offset_ms() is None


def test_the_anchor_takes_the_middle_of_the_round_trip(ft: FakeTime) -> None:
    clock = clock_for(ft)
    sent = ft.mono
    ft.advance(0.2)  # the server answered at the middle of a 0.4 s round trip
    server_time = SERVER + timedelta(seconds=0.2)
    ft.advance(0.2)
    clock.anchor(server_time, sent, ft.mono)
    assert clock.now() == SERVER + timedelta(seconds=0.4)
    assert clock.offset_ms() == 120


@pytest.mark.parametrize("step_s", [3600, -3600, 300, -300])
def test_a_stepped_system_clock_does_not_move_anchored_time(ft: FakeTime, step_s: int) -> None:
    clock = clock_for(ft)
    clock.anchor(SERVER, ft.mono, ft.mono)
    ft.advance(10)
    ft.wall += step_s
    assert clock.now() == SERVER + timedelta(seconds=10)
    assert clock.offset_ms() == step_s * 1000 + 120
    deadline = SERVER + timedelta(seconds=20)
    assert clock.to_mono(deadline) == pytest.approx(ft.mono + 10)


def test_a_slow_sample_does_not_replace_a_good_anchor(ft: FakeTime) -> None:
    clock = clock_for(ft)
    clock.anchor(SERVER, ft.mono, ft.mono)
    sent = ft.mono
    ft.advance(5)  # a 5 s round trip on a bad link: its midpoint is uncertain by 2.5 s
    assert clock.anchor(SERVER + timedelta(seconds=4), sent, ft.mono) is False
    assert clock.now() == SERVER + timedelta(seconds=5)


def test_a_slow_sample_that_contradicts_the_anchor_replaces_it(ft: FakeTime) -> None:
    clock = clock_for(ft)
    clock.anchor(SERVER, ft.mono, ft.mono)
    sent = ft.mono
    ft.advance(3)
    assert clock.anchor(SERVER + timedelta(minutes=10), sent, ft.mono) is True


def test_backoff_grows_with_full_jitter_between_one_and_sixty_seconds() -> None:
    import random

    backoff = Backoff(rng=random.Random(7))
    delays = [backoff.next() for _ in range(12)]
    assert all(1.0 <= d <= 60.0 for d in delays)
    assert max(delays[:2]) <= 2.0 and max(delays[6:]) > 10
    backoff.reset()
    assert backoff.next() <= 1.0 + 1e-9
