"""Helpers shared by the benchmarks: a real server on loopback with many speakers."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from broadcaster.store import Store, TokenKind, sqlite_url
from tests.integration.harness import Server, aware_now, deployment_yaml, seconds


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MiB (from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    import os

    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def deployment_server(
    speakers: int, opens_in_s: float = -60, length_s: float = 3600, heartbeat_s: int = 2
) -> Iterator[Server]:
    """A real server on loopback for `speakers` loudspeakers, with a window that opens
    `opens_in_s` from now (negative: already open) and lasts `length_s`."""
    with tempfile.TemporaryDirectory(prefix="broadcaster-bench-") as tmp:
        root = Path(tmp)
        start = aware_now() + seconds(opens_in_s)
        config = root / "config.yaml"
        config.write_text(
            deployment_yaml(
                window_start=start,
                window_end=start + seconds(length_s),
                speakers=speakers,
                heartbeat_s=heartbeat_s,
            )
        )
        server = Server(root, config)
        server.start(timeout_s=120)
        try:
            yield server
        finally:
            server.stop()


@contextlib.contextmanager
def running_server(
    speakers: int, window_s: float = 3600, heartbeat_s: int = 30
) -> Iterator[tuple[Server, dict[str, str]]]:
    """A server with an open window and a device token for each speaker (issued straight
    into the database: 1,000 CLI runs are slow)."""
    # Production heartbeat (30 s): speakers that poll every few seconds stay online.
    with deployment_server(speakers, -60, window_s + 60, heartbeat_s) as server:
        now = aware_now()
        store = Store.open(sqlite_url(server.data), upgrade=False)
        try:
            tokens = {
                f"spk-{i}": store.people.issue_token(TokenKind.DEVICE, f"spk-{i}", now)[1]
                for i in range(1, speakers + 1)
            }
        finally:
            store.close()
        yield server, tokens
