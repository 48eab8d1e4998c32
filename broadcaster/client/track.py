"""A vehicle's track (issue 13): GPS points journaled on disk and uploaded in batches.

A point is kept every `every_s` seconds or every `every_m` metres from the last kept one,
whichever comes first (10 s / 50 m: about one point every 6 s at town speed, every 10 s
parked), only while there is a fresh fix. The journal is a small SQLite file of its own
beside the play log's (`track.sqlite3`, WAL, synchronous NORMAL: a power cut may lose the
last seconds of the track but never corrupts it, and a point every few seconds does not fsync
an SD card each time). It holds at most `max_points` (100,000: ten days parked, more
driving); when full the oldest points go first and are counted (`dropped`, logged).

Points are uploaded like the play log (`POST /speakers/{id}/track`, docs/device-api.md,
at most 1000 a request, oldest first) every `upload_s` and kept until the server lists their
ids as accepted or duplicates. Ids are the journal's own tag (random, made with the file)
and a sequence number, so a reinstalled client never reuses an id the server has. A server
that does not know the endpoint yet (404) keeps them waiting (retried with backoff); a point
the server refuses (422 naming `points[N]`) is dropped and counted, so one bad point never
holds the others back.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import sqlite3
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from broadcaster import limits, schema
from broadcaster.client.api import ApiError, DeviceApi, held
from broadcaster.client.clock import Clock
from broadcaster.client.geo import distance_m
from broadcaster.client.gps import Fix
from broadcaster.client.retry import Retry

log = logging.getLogger(__name__)

EVERY_S = 10.0
EVERY_M = 50.0
MAX_POINTS = 100_000
UPLOAD_S = 60.0
UPLOAD_RETRY_CAP_S = 300.0
BATCH = schema.MAX_TRACK_POINTS

_SCHEMA = """
CREATE TABLE IF NOT EXISTS points (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_POINT = re.compile(r"^points\[(\d+)\]")


def fix_time(fix: Fix, clock: Clock) -> datetime:
    """When the fix came, on the client's clock (anchored to the server's): the receiver's
    own time is not trusted (a replayed or cold-started receiver says another day)."""
    return clock.from_mono(fix.received)


def position_json(fix: Fix, clock: Clock) -> dict[str, Any]:
    """The heartbeat's `position` for a fix: values the server would refuse are left out
    (a refused heartbeat shows a working vehicle offline)."""
    return _point(fix, clock)


def _point(fix: Fix, clock: Clock) -> dict[str, Any]:
    out: dict[str, Any] = {
        "lat": round(fix.lat, 6),  # ~0.1 m: more than a receiver can tell
        "lon": round(fix.lon, 6),
        "fix_at": fix_time(fix, clock).isoformat(timespec="milliseconds"),
    }
    if fix.speed_mps is not None and limits.SPEED_MS.low <= fix.speed_mps <= limits.SPEED_MS.high:
        out["speed"] = round(fix.speed_mps, 1)
    if fix.track_deg is not None and limits.HEADING.low <= fix.track_deg <= limits.HEADING.high:
        out["heading"] = round(fix.track_deg)
    return out


class TrackJournal:
    """The points waiting for the server, oldest first; thread-safe, bounded."""

    def __init__(self, path: Path, max_points: int = MAX_POINTS) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        self.path = path
        self.max_points = max_points
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        tag = self._get("tag")
        if tag is None:
            tag = secrets.token_hex(4)
            self._put("tag", tag)
        self.tag = str(tag)
        self.dropped = int(self._get("dropped") or 0)
        self._count = int(self._db.execute("SELECT COUNT(*) FROM points").fetchone()[0])

    def _get(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _put(self, key: str, value: object) -> None:
        self._db.execute("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", (key, str(value)))

    def add(self, point: dict[str, Any]) -> None:
        """Keep a point (`lat`, `lon`, `at`, optional `speed`, `heading`); it gets its id.
        When full, the oldest go first (counted)."""
        with self._lock:
            self._db.execute("BEGIN")
            cur = self._db.execute("INSERT INTO points (body) VALUES ('')")
            seq = cur.lastrowid
            body = {"id": f"{self.tag}-{seq}", **point}
            self._db.execute(
                "UPDATE points SET body = ? WHERE seq = ?",
                (json.dumps(body, separators=(",", ":")), seq),
            )
            self._count += 1
            over = self._count - self.max_points
            if over > 0:
                self._db.execute(
                    "DELETE FROM points WHERE seq IN (SELECT seq FROM points ORDER BY seq LIMIT ?)",
                    (over,),
                )
                self._count -= over
                self.dropped += over
                self._put("dropped", self.dropped)
            self._db.execute("COMMIT")
        if over > 0 and (
            self.dropped == over or self.dropped // 1000 != (self.dropped - over) // 1000
        ):
            log.warning(
                "track journal full (%d points): dropped the oldest (%d so far)",
                self.max_points,
                self.dropped,
            )

    def pending(self, limit: int = BATCH) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT body FROM points ORDER BY seq LIMIT ?", (limit,)
            ).fetchall()
        return [_loads(r[0]) for r in rows]

    def count(self) -> int:
        with self._lock:
            return self._count

    def acknowledge(self, ids: list[str]) -> int:
        """Forget points the server holds (or refused for good)."""
        prefix = f"{self.tag}-"
        seqs = [
            int(i[len(prefix) :])
            for i in ids
            if i.startswith(prefix) and i[len(prefix) :].isdigit()
        ]
        if not seqs:
            return 0
        with self._lock:
            self._db.execute("BEGIN")
            removed = 0
            for seq in seqs:
                removed += self._db.execute("DELETE FROM points WHERE seq = ?", (seq,)).rowcount
            self._db.execute("COMMIT")
            self._count -= removed
        return removed

    def refuse(self, point_id: str) -> None:
        """A point the server will never take: dropped and counted."""
        if self.acknowledge([point_id]):
            with self._lock:
                self.dropped += 1
                self._put("dropped", self.dropped)

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _loads(text: str) -> dict[str, Any]:
    value = json.loads(text)
    return value if isinstance(value, dict) else {}


class TrackRecorder:
    """Offered every fix (gpsd's thread); keeps one every `every_s` or `every_m`."""

    def __init__(
        self,
        journal: TrackJournal,
        clock: Clock,
        every_s: float = EVERY_S,
        every_m: float = EVERY_M,
    ) -> None:
        self.journal = journal
        self.clock = clock
        self.every_s = every_s
        self.every_m = every_m
        self._last: Fix | None = None
        self.kept = 0

    def due(self, fix: Fix) -> bool:
        last = self._last
        if last is None or fix.received - last.received >= self.every_s:
            return True
        return distance_m((last.lat, last.lon), (fix.lat, fix.lon)) >= self.every_m

    def offer(self, fix: Fix) -> bool:
        """Journal `fix` if it is due; whether it was. Never raises (gpsd's thread)."""
        if not self.due(fix):
            return False
        point = _point(fix, self.clock)
        point["at"] = point.pop("fix_at")
        try:
            self.journal.add(point)
        except (sqlite3.Error, OSError) as exc:
            log.warning("track journal: %s; point not kept", exc)
            return False
        self._last = fix
        self.kept += 1
        return True


class TrackUploader:
    """Sends the journaled track every `upload_s` (and once more on the way out)."""

    def __init__(
        self,
        api: DeviceApi,
        journal: TrackJournal,
        upload_s: float = UPLOAD_S,
    ) -> None:
        self.api = api
        self.journal = journal
        self.upload_s = upload_s
        self.uploaded = 0
        self._wake = threading.Event()

    def wake(self) -> None:
        self._wake.set()

    def flush_once(self) -> int:
        """Upload everything pending; how many points the server took. Raises ApiError."""
        done = 0
        while batch := self.journal.pending(BATCH):
            try:
                answer = self.api.track(batch)
            except ApiError as exc:
                where = _POINT.match(exc.field or "") if exc.status == 422 else None
                if where is None or int(where.group(1)) >= len(batch):
                    raise
                bad = batch[int(where.group(1))]
                log.warning("track point %s refused (%s); dropping it", bad.get("id"), exc)
                self.journal.refuse(str(bad.get("id")))
                continue
            removed = self.journal.acknowledge(held(answer))
            done += removed
            self.uploaded += removed
            if removed == 0:
                raise ApiError(f"the server acknowledged none of {len(batch)} track points")
        return done

    def run(self, stopping: threading.Event) -> None:
        retry = Retry("track upload", cap_s=UPLOAD_RETRY_CAP_S)
        while not stopping.is_set():
            self._wake.clear()
            try:
                sent = self.flush_once()
                if sent:
                    log.debug("uploaded %d track points", sent)
                retry.succeeded()
                delay = self.upload_s
            except Exception as exc:  # the loop's boundary: log, back off, keep the points
                delay = retry.failed(exc)
                if isinstance(exc, ApiError) and exc.status == 404:
                    delay = max(delay, self.upload_s)  # a server without the endpoint yet
            self._wake.wait(delay)
