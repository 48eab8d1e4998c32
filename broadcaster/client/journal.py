"""The client's journal: play-log entries and urgent acks kept until the server has them.

A small SQLite file in the cache folder (WAL, synchronous=FULL). An entry is written when
its clip starts (as if it were cut by a shutdown at its start) and rewritten when it ends,
so a crash leaves a truthful "cut" entry instead of nothing. Entries are deleted only when
the server lists their id as accepted or duplicate; the server deduplicates by id, so each
entry reaches it exactly once across crashes and retries.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

MAX_BATCH = 500

_SCHEMA = """
CREATE TABLE IF NOT EXISTS plays (
    id TEXT PRIMARY KEY, body TEXT NOT NULL, open INTEGER NOT NULL DEFAULT 0,
    seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS acks (
    urgent TEXT NOT NULL, state TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (urgent, state)
);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class Journal:
    """Thread-safe; every method commits before it returns."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Its owner's alone; SQLite gives the -wal and -shm files the same mode.
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self.recovered = self._recover()

    def _recover(self) -> int:
        """Entries left open by a crash keep their "cut at start" body and become pending."""
        with self._lock:
            return self._db.execute("UPDATE plays SET open = 0 WHERE open = 1").rowcount

    def _next_seq(self) -> int:
        row = self._db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM plays").fetchone()
        return int(row[0])

    def open_play(self, entry: dict[str, Any]) -> None:
        """Record a clip that has just started (``entry`` as it reads if we crash now)."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO plays (id, body, open, seq) VALUES (?, ?, 1, ?)",
                (entry["id"], json.dumps(entry, ensure_ascii=False), self._next_seq()),
            )

    def close_play(self, entry: dict[str, Any]) -> None:
        """Record how a clip ended; the entry becomes pending for upload."""
        with self._lock:
            body = json.dumps(entry, ensure_ascii=False)
            cur = self._db.execute(
                "UPDATE plays SET body = ?, open = 0 WHERE id = ?", (body, entry["id"])
            )
            if cur.rowcount == 0:
                self._db.execute(
                    "INSERT INTO plays (id, body, open, seq) VALUES (?, ?, 0, ?)",
                    (entry["id"], body, self._next_seq()),
                )

    def pending(self, limit: int = MAX_BATCH) -> list[dict[str, Any]]:
        """The oldest finished entries not yet acknowledged, at most ``limit``."""
        with self._lock:
            rows = self._db.execute(
                "SELECT body FROM plays WHERE open = 0 ORDER BY seq LIMIT ?",
                (min(limit, MAX_BATCH),),
            ).fetchall()
        return [json.loads(r[0]) for r in rows]

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM plays").fetchone()[0])

    def acknowledge(self, ids: list[str]) -> int:
        """Forget entries the server has (accepted or duplicates)."""
        if not ids:
            return 0
        with self._lock:
            self._db.execute("BEGIN")
            removed = 0
            for i in ids:
                removed += self._db.execute(
                    "DELETE FROM plays WHERE id = ? AND open = 0", (i,)
                ).rowcount
            self._db.execute("COMMIT")
        return removed

    def add_ack(self, urgent: str, state: str, at: str) -> None:
        """Queue an urgent acknowledgement (the first time for a state wins)."""
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO acks (urgent, state, at) VALUES (?, ?, ?)",
                (urgent, state, at),
            )

    def pending_acks(self) -> list[dict[str, str]]:
        with self._lock:
            rows = self._db.execute("SELECT urgent, state, at FROM acks ORDER BY rowid").fetchall()
        return [{"urgent": u, "state": s, "at": a} for u, s, a in rows]

    def drop_ack(self, urgent: str, state: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM acks WHERE urgent = ? AND state = ?", (urgent, state))

    def get(self, key: str) -> Any:
        with self._lock:
            row = self._db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)",
                (key, json.dumps(value, ensure_ascii=False)),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()
