"""systemd notifications: READY at start, WATCHDOG only while the playback loop ticks."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from audio.player import NullSink
from broadcaster.client.cache import ClipStore
from broadcaster.client.clock import Clock
from broadcaster.client.journal import Journal
from broadcaster.client.pacing import Pacer
from broadcaster.client.runner import Runner
from broadcaster.client.watchdog import Watchdog


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(3)
    yield sock, path
    sock.close()


def test_nothing_is_sent_without_notify_socket() -> None:
    watchdog = Watchdog({})
    assert watchdog.notify("READY=1") is False
    watchdog.tick()


def test_the_playback_loop_sends_ready_then_watchdog_pings(
    notify_socket: tuple[socket.socket, str], tmp_path: Path
) -> None:
    sock, path = notify_socket
    watchdog = Watchdog({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"})
    assert watchdog.interval_s == pytest.approx(0.2)
    clock = Clock()
    journal = Journal(tmp_path / "journal.sqlite3")
    runner = Runner(Pacer(NullSink()), clock, ClipStore(tmp_path), journal, watchdog=watchdog)
    thread = threading.Thread(target=runner.run)
    thread.start()
    try:
        got = [sock.recv(64).decode() for _ in range(3)]
    finally:
        runner.shutdown()
        thread.join(5)
        journal.close()
    assert got == ["READY=1", "WATCHDOG=1", "WATCHDOG=1"]
    assert runner.snapshot()["state"] == "stopped"


def test_a_watchdog_for_another_process_is_ignored() -> None:
    watchdog = Watchdog({"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "1000", "WATCHDOG_PID": "1"})
    assert watchdog.interval_s is None
