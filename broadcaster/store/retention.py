"""Data that grows is bounded (issue 14): plays retired into daily totals, old events and
track points deleted, each in bounded batches (a gevent server and SQLite's one writer must
never wait behind one huge DELETE).

A play's own row is kept `retention.plays_days`; then `retire_plays` folds it into its
`play_days` row (local day in the deployment's zone, loudspeaker, message, kind: plays, played
to the end, urgent plays, seconds) and deletes it, both in one transaction. So for any span
"the plays still kept + the daily totals" is the same before and after a retirement: the
reports add the two (`play_day_totals`), read in one snapshot. A play uploaded late for a
day already retired is a kept play until the next run retires it too: it is counted, never
lost, and its id still finds it while a client may resend it.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Table, and_, case, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from broadcaster.models import PlayKind
from broadcaster.store import schema as t
from broadcaster.store.base import Part
from broadcaster.store.devices import PlayTotal, _play_seconds, day_bounds, sounded
from broadcaster.store.places import area_ids_under

NO_MESSAGE = ""  # `play_days.message_id` of a play without a message (a typed urgent)


def seconds_span(zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants `zone` can show as local times (datetime's years 1 to 9999): a play
    with a time outside counts no seconds (a bad row), in the reports and in the totals
    `retire_plays` keeps, alike."""
    early = zone.utcoffset(datetime(1, 1, 2)) or timedelta(0)
    late = zone.utcoffset(datetime(9999, 12, 30)) or timedelta(0)
    first = datetime.min.replace(tzinfo=UTC) + max(-early, timedelta(0))
    return first, datetime.max.replace(tzinfo=UTC) - max(late, timedelta(0))


def first_detail_day(today: date, plays_days: int) -> date:
    """The first day whose plays keep their own rows when `plays_days` are kept."""
    return today - timedelta(days=plays_days)


class _Raced(Exception):
    """Another process retired some of the same plays first: this batch is undone."""


class Retention(Part):
    """Retiring plays into daily totals, reading those totals, pruning events and tracks."""

    def retire_plays(
        self,
        before: datetime,
        received_before: datetime,
        zone: ZoneInfo,
        *,
        limit: int = 500,
    ) -> int:
        """Fold about `limit` of the oldest plays that started before `before` (and reached
        the server before `received_before`: a client may still resend a recent upload,
        which its id must find) into their day's totals and delete them; returns how many
        (0: nothing more to do now).

        One batch is one local day's oldest plays, up to the `limit`-th one's start (plays
        starting at that same instant too): found by ranges of the `started_at` index.
        One transaction: the totals grow by exactly the plays deleted (counted and deleted
        by the same condition; if the DELETE finds another number, a play arrived or left
        meanwhile on PostgreSQL, and the batch is undone: 0, the next run tries again)."""
        p = t.play_log
        waiting = and_(p.c.started_at < before, p.c.received_at < received_before)
        try:
            with self._db.transaction() as conn:
                oldest = conn.execute(
                    select(p.c.started_at).where(waiting).order_by(p.c.started_at).limit(1)
                ).scalar()
                if oldest is None:
                    return 0
                day = _local_day(oldest, zone)
                low, high = _day_span(day, zone, oldest)
                batch = and_(waiting, p.c.started_at >= low, p.c.started_at < high)
                last = conn.execute(
                    select(p.c.started_at)
                    .where(batch)
                    .order_by(p.c.started_at)
                    .offset(limit - 1)
                    .limit(1)
                ).scalar()
                if last is not None:
                    batch = and_(batch, p.c.started_at <= last)
                counted = _add_totals(conn, day, batch, seconds_span(zone))
                gone = _count(conn.execute(delete(p).where(batch)))
                if gone != counted:
                    raise _Raced
                return counted
        except _Raced:
            return 0

    def play_day_totals(
        self,
        first: date,
        last: date,
        *,
        by: Literal["speaker", "message", "speaker_message"],
        speaker_ids: Collection[str] | None = None,
        area_id: str | None = None,
    ) -> dict[Any, PlayTotal]:
        """The retired plays' totals of the days `first..last`, keyed as
        `store.devices.play_totals` keys them (a typed urgent's message id is None); add
        them to the kept plays' totals of the same days (in one `store.snapshot()`)."""
        d = t.play_days
        keys = {
            "speaker": [d.c.speaker_id],
            "message": [d.c.message_id, d.c.kind],
            "speaker_message": [d.c.speaker_id, d.c.message_id, d.c.kind],
        }[by]
        query = (
            select(
                *keys,
                func.sum(d.c.plays),
                func.sum(d.c.completed),
                func.sum(d.c.urgent),
                func.sum(d.c.seconds),
            )
            .where(d.c.day >= first, d.c.day <= last)
            .group_by(*keys)
        )
        if speaker_ids is not None:
            query = query.where(d.c.speaker_id.in_(sorted(speaker_ids)))
        found: dict[Any, PlayTotal] = {}
        with self._db.transaction(write=False) as conn:
            if area_id is not None:
                inside = area_ids_under(conn, area_id)
                speakers = select(t.speakers.c.id).where(t.speakers.c.area_id.in_(inside))
                query = query.where(d.c.speaker_id.in_(speakers))
            for row in conn.execute(query):
                *named, plays, completed, urgent, seconds = tuple(row)
                if by == "speaker":
                    key: Any = named[0]
                else:
                    *who, message_id, kind = named
                    key = (*who, message_id or None, PlayKind(kind))
                found[key] = PlayTotal(
                    int(plays or 0), int(completed or 0), int(urgent or 0), float(seconds or 0)
                )
        return found

    def retired_days(self) -> int:
        """How many (day, loudspeaker, message, kind) totals are kept."""
        with self._db.transaction(write=False) as conn:
            return int(conn.execute(select(func.count()).select_from(t.play_days)).scalar() or 0)

    def prune_events(self, before: datetime, *, limit: int = 2000) -> int:
        """Delete up to `limit` of the oldest events created before `before` (a client that
        was away longer resyncs from its plan); fewer than `limit`: nothing more to do now."""
        e = t.events
        oldest = select(e.c.seq).where(e.c.created_at < before).order_by(e.c.seq).limit(limit)
        with self._db.transaction() as conn:
            return _count(conn.execute(delete(e).where(e.c.seq.in_(oldest.scalar_subquery()))))

    def prune_tracks(self, before: datetime, *, limit: int = 2000) -> int:
        """Delete about `limit` of the oldest GPS points whose fix is before `before` (up to
        the `limit`-th one's time, points at that same instant too), by the `at` index."""
        tp = t.track_points
        old = tp.c.at < before
        with self._db.transaction() as conn:
            last = conn.execute(
                select(tp.c.at).where(old).order_by(tp.c.at).offset(limit - 1).limit(1)
            ).scalar()
            if last is not None:
                old = and_(old, tp.c.at <= last)
            return _count(conn.execute(delete(tp).where(old)))


def _count(result: Any) -> int:
    return int(result.rowcount or 0)


def _local_day(moment: datetime, zone: ZoneInfo) -> date:
    """The local calendar day of `moment` (a time no zone can show: its UTC day)."""
    try:
        return moment.astimezone(zone).date()
    except (OverflowError, ValueError):
        return moment.astimezone(UTC).date()


def _day_span(day: date, zone: ZoneInfo, moment: datetime) -> tuple[datetime, datetime]:
    """The UTC span of local `day` (which holds `moment`); at the ends of what datetime can
    hold, the span from `moment` to the end of its UTC day."""
    try:
        return day_bounds(day, zone)
    except (OverflowError, ValueError):
        start = datetime.combine(moment.astimezone(UTC).date(), time(0), UTC)
        try:
            return moment, start + timedelta(days=1)
        except OverflowError:
            return moment, datetime.max.replace(tzinfo=UTC)


def _add_totals(
    conn: Connection, day: date, plays: ColumnElement[bool], span: tuple[datetime, datetime]
) -> int:
    """Add the totals of the plays found by `plays` (all of one local day) to that day's
    rows, counted as `store.devices.play_totals` counts them (seconds only for sane times
    within `span`; a skipped slot is deleted with them but not a play); returns how many
    rows they were."""
    p = t.play_log
    low, high = span
    sane = and_(
        p.c.ended_at > p.c.started_at,
        p.c.started_at.between(low, high),
        p.c.ended_at.between(low, high),
    )
    seconds = case((sane, _play_seconds(conn.dialect.name)), else_=0)
    # None and '' are one row of play_days, grouped as one here (each key once per upsert)
    message = func.coalesce(p.c.message_id, NO_MESSAGE).label("message")
    query = (
        select(
            p.c.speaker_id,
            message,
            p.c.kind,
            func.count(),
            func.sum(case((sounded(p), 1), else_=0)),
            func.sum(case((p.c.completed, 1), else_=0)),
            func.sum(case((p.c.kind == PlayKind.URGENT.value, 1), else_=0)),
            func.sum(seconds),
        )
        .where(plays)
        .group_by(p.c.speaker_id, "message", p.c.kind)
    )
    found = conn.execute(query).all()
    rows = [
        {
            "day": day,
            "speaker_id": speaker_id,
            "message_id": message_id,
            "kind": kind,
            "plays": int(heard or 0),
            "completed": int(completed or 0),
            "urgent": int(urgent or 0),
            "seconds": float(total or 0),
        }
        for speaker_id, message_id, kind, _count, heard, completed, urgent, total in found
    ]
    if rows:
        conn.execute(_add_statement(conn.dialect.name, t.play_days), rows)
    return sum(int(row[3]) for row in found)


def _add_statement(dialect: str, table: Table) -> Any:
    """INSERT a day's totals, or add them to the row already there (one statement, atomic
    against another writer of the same row)."""
    statement = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    counts = ("plays", "completed", "urgent", "seconds")
    return statement.on_conflict_do_update(
        index_elements=[table.c.day, table.c.speaker_id, table.c.message_id, table.c.kind],
        set_={name: table.c[name] + statement.excluded[name] for name in counts},
    )
