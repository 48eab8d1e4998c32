"""Real processes for the fault tests: the integration harness plus extra environment,
a raw look at the server's SQLite file, and a sink-log watcher."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from broadcaster.store.engine import DB_FILE
from tests.integration.harness import Client, Server


@dataclass
class FaultServer(Server):
    """A `broadcaster serve` whose SQLite file the test reads directly."""

    @property
    def db(self) -> Path:
        return self.data / DB_FILE


@dataclass
class FaultClient(Client):
    """A `broadcaster-client` that can also be SIGKILLed."""

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def integrity(db: Path) -> str:
    """`PRAGMA integrity_check` of a SQLite file ("ok" when sound)."""
    conn = sqlite3.connect(f"file:{db}?mode=rw", uri=True, timeout=30)
    try:
        return "\n".join(str(row[0]) for row in conn.execute("PRAGMA integrity_check"))
    finally:
        conn.close()


def query(db: Path, sql: str, *args: object) -> list[tuple]:
    conn = sqlite3.connect(f"file:{db}?mode=rw", uri=True, timeout=30)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def play_ids(db: Path) -> dict[str, list[str]]:
    """The server's play-log ids per speaker."""
    out: dict[str, list[str]] = {}
    for speaker, entry in query(db, "SELECT speaker_id, id FROM play_log"):
        out.setdefault(speaker, []).append(entry)
    return out


class SinkWatcher:
    """Stamps every new line of sink logs with the test's own wall clock.

    A client with a stepped clock writes its own clock into the sink log; this watcher sees
    the lines appear in real time (to within `step_s`).
    """

    def __init__(self, *clients: Client, step_s: float = 0.02) -> None:
        self.clients = clients
        self.step_s = step_s
        self.seen: dict[str, list[tuple[float, dict]]] = {c.speaker: [] for c in clients}
        self._offsets = {c.speaker: 0 for c in clients}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> SinkWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            for client in self.clients:
                self.poll(client)
            self._stop.wait(self.step_s)

    def poll(self, client: Client) -> None:
        path = client.sink_log
        if not path.exists():
            return
        with path.open("rb") as f:
            f.seek(self._offsets[client.speaker])
            data = f.read()
        complete = data[: data.rfind(b"\n") + 1]
        self._offsets[client.speaker] += len(complete)
        now = time.time()
        for line in complete.decode().splitlines():
            if line.strip():
                self.seen[client.speaker].append((now, json.loads(line)))

    def events(self, speaker: str, event: str | None = None) -> list[tuple[float, dict]]:
        return [(t, e) for t, e in self.seen[speaker] if event is None or e["event"] == event]
