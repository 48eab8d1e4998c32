"""The vehicles' GPS tracks (issue 13): points uploaded in batches, read back by time."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, RowMapping

from broadcaster.errors import ValidationError
from broadcaster.schema import MAX_TRACK_POINTS
from broadcaster.store import schema as t
from broadcaster.store.base import Part
from broadcaster.store.records import PlayUpload

MAX_POINTS_PER_UPLOAD = MAX_TRACK_POINTS  # the wire format's bound
_CHUNK = 500  # ids per IN (...) when looking up which points are already stored


@dataclass(frozen=True, slots=True)
class TrackPoint:
    """One point of a vehicle's track: degrees, the fix's own time (UTC), m/s and degrees
    from north when known. `id` is the client's, unique per speaker."""

    speaker_id: str
    id: str
    lat: float
    lon: float
    at: datetime
    speed: float | None = None
    heading: float | None = None


def _point(r: RowMapping) -> TrackPoint:
    return TrackPoint(
        speaker_id=r["speaker_id"],
        id=r["id"],
        lat=r["lat"],
        lon=r["lon"],
        at=r["at"],
        speed=r["speed"],
        heading=r["heading"],
    )


_COLUMNS = [c for c in t.track_points.c if c.name != "received_at"]


class Tracks(Part):
    """`store.tracks`: record a batch of points (idempotent), read a span, prune."""

    def add(self, speaker_id: str, points: Iterable[TrackPoint], now: datetime) -> PlayUpload:
        """Store one speaker's points, idempotent by (speaker, point id), as plays are: ids
        the server already had are reported as duplicates and left as first stored (a point
        repeated within the batch counts once, as first given). The points are inserted in
        one statement that skips a key a concurrent upload stored meanwhile."""
        batch: dict[str, TrackPoint] = {}
        for point in points:
            batch.setdefault(point.id, point)
        if len(batch) > MAX_POINTS_PER_UPLOAD:
            raise ValidationError.at(
                "points", f"at most {MAX_POINTS_PER_UPLOAD} track points per upload"
            )
        if not batch:
            return PlayUpload((), ())
        tp = t.track_points
        ids = list(batch)
        with self._db.transaction() as conn:
            known: set[str] = set()
            for i in range(0, len(ids), _CHUNK):
                chunk = ids[i : i + _CHUNK]
                known.update(
                    conn.execute(
                        select(tp.c.id).where(tp.c.speaker_id == speaker_id, tp.c.id.in_(chunk))
                    ).scalars()
                )
            rows = [
                {
                    "speaker_id": speaker_id,
                    "id": p.id,
                    "lat": p.lat,
                    "lon": p.lon,
                    "at": p.at,
                    "speed": p.speed,
                    "heading": p.heading,
                    "received_at": now,
                }
                for p in batch.values()
                if p.id not in known
            ]
            if rows:
                _insert_ignoring_known(conn, rows)
        accepted = tuple(i for i in ids if i not in known)
        return PlayUpload(accepted, tuple(i for i in ids if i in known))

    def between(
        self, speaker_id: str, start: datetime, end: datetime, *, limit: int | None = None
    ) -> tuple[TrackPoint, ...]:
        """One speaker's points with `start <= at < end`, oldest first (by the index)."""
        tp = t.track_points
        query = (
            select(*_COLUMNS)
            .where(tp.c.speaker_id == speaker_id, tp.c.at >= start, tp.c.at < end)
            .order_by(tp.c.at, tp.c.id)
        )
        if limit is not None:
            query = query.limit(limit)
        with self._db.transaction(write=False) as conn:
            return tuple(_point(r) for r in conn.execute(query).mappings())

    def positions(
        self, speaker_id: str, start: datetime, end: datetime
    ) -> list[tuple[datetime, float, float]]:
        """`between` as bare (at, lat, lon) rows, oldest first: a day of a vehicle (~8,640
        points) reads in a third of the time (the map's cold start, broadcaster/trackview.py)."""
        tp = t.track_points
        query = (
            select(tp.c.at, tp.c.lat, tp.c.lon)
            .where(tp.c.speaker_id == speaker_id, tp.c.at >= start, tp.c.at < end)
            .order_by(tp.c.at, tp.c.id)
        )
        with self._db.transaction(write=False) as conn:
            return [(at, lat, lon) for at, lat, lon in conn.execute(query)]

    def positions_of(
        self, speaker_ids: Collection[str], start: datetime, end: datetime
    ) -> dict[str, list[tuple[datetime, float, float]]]:
        """`positions` for several speakers in one read (speakers without points left out):
        the coverage report's day of every vehicle."""
        found: dict[str, list[tuple[datetime, float, float]]] = {}
        if not speaker_ids:
            return found
        tp = t.track_points
        query = (
            select(tp.c.speaker_id, tp.c.at, tp.c.lat, tp.c.lon)
            .where(tp.c.speaker_id.in_(sorted(speaker_ids)), tp.c.at >= start, tp.c.at < end)
            .order_by(tp.c.speaker_id, tp.c.at, tp.c.id)
        )
        with self._db.transaction(write=False) as conn:
            for speaker, at, lat, lon in conn.execute(query):
                found.setdefault(speaker, []).append((at, lat, lon))
        return found

    def of_speakers(
        self, speaker_ids: Collection[str], start: datetime, end: datetime
    ) -> dict[str, tuple[TrackPoint, ...]]:
        """`between` for several speakers in one read: speaker id -> its points, oldest first
        (speakers without points in the span are left out)."""
        found: dict[str, list[TrackPoint]] = {}
        if not speaker_ids:
            return {}
        tp = t.track_points
        query = (
            select(*_COLUMNS)
            .where(tp.c.speaker_id.in_(sorted(speaker_ids)), tp.c.at >= start, tp.c.at < end)
            .order_by(tp.c.speaker_id, tp.c.at, tp.c.id)
        )
        with self._db.transaction(write=False) as conn:
            for r in conn.execute(query).mappings():
                found.setdefault(r["speaker_id"], []).append(_point(r))
        return {speaker: tuple(points) for speaker, points in found.items()}

    def summary(
        self, speaker_ids: Collection[str], start: datetime, end: datetime
    ) -> dict[str, tuple[int, datetime]]:
        """Per speaker with points in `[start, end)`: how many, and the newest one's time (one
        GROUP BY over the (speaker, at) index: cheap to ask on every poll)."""
        if not speaker_ids:
            return {}
        tp = t.track_points
        query = (
            select(tp.c.speaker_id, func.count(), func.max(tp.c.at))
            .where(tp.c.speaker_id.in_(sorted(speaker_ids)), tp.c.at >= start, tp.c.at < end)
            .group_by(tp.c.speaker_id)
        )
        with self._db.transaction(write=False) as conn:
            rows = conn.execute(query).all()
        return {speaker: (int(n), newest) for speaker, n, newest in rows}

    def count(self, speaker_id: str | None = None) -> int:
        """How many points are stored (of one speaker, or of all)."""
        query = select(func.count()).select_from(t.track_points)
        if speaker_id is not None:
            query = query.where(t.track_points.c.speaker_id == speaker_id)
        with self._db.transaction(write=False) as conn:
            return int(conn.execute(query).scalar() or 0)

    def prune(self, before: datetime) -> int:
        """Delete the points whose fix time is before `before`; returns how many."""
        with self._db.transaction() as conn:
            result = conn.execute(delete(t.track_points).where(t.track_points.c.at < before))
            return int(result.rowcount or 0)


def _insert_ignoring_known(conn: Connection, rows: Sequence[Mapping[str, object]]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING (SQLite and PostgreSQL), one executemany."""
    table = t.track_points
    dialect = conn.dialect.name
    statement = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    conn.execute(statement.on_conflict_do_nothing(index_elements=["speaker_id", "id"]), rows)
