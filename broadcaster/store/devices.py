"""What the speakers report and receive: status, play log, long-poll events, clip renders."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    case,
    cast,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection, RowMapping

from broadcaster.errors import NotFound, ValidationError
from broadcaster.models import PlayKind, PlayLogEntry
from broadcaster.store import schema as t
from broadcaster.store.base import Part, counter, insert_events, insert_if_absent, upsert
from broadcaster.store.places import area_ids_under, exists
from broadcaster.store.records import (
    ClipStatus,
    Event,
    EventKind,
    Fix,
    PlayUpload,
    SpeakerStatus,
)

MAX_PLAYS_PER_UPLOAD = 500
PAGE_SPAN = timedelta(days=1)  # iter_plays reads a day of the span at a time, in pages


def _status_row(s: SpeakerStatus) -> dict[str, Any]:
    return {
        "last_heartbeat": s.last_heartbeat,
        "state": s.state,
        "now_playing": dict(s.now_playing) if s.now_playing is not None else None,
        "position_ms": s.position_ms,
        "volume": s.volume,
        "clock_offset_ms": s.clock_offset_ms,
        "selftest_ok": s.selftest_ok,
        "selftest_at": s.selftest_at,
        "selftest_detail": s.selftest_detail,
        "cache_health": dict(s.cache_health) if s.cache_health is not None else None,
        "last_sync": s.last_sync,
        "plan_etag": s.plan_etag,
        "client_version": s.client_version,
    } | _fix_row(s.fix)


_FIX_COLUMNS = ("fix_lat", "fix_lon", "fix_at", "fix_speed", "fix_heading")


def _fix_row(fix: Fix | None) -> dict[str, Any]:
    """The latest GPS fix's columns (issue 13), all None without one."""
    if fix is None:
        return dict.fromkeys(_FIX_COLUMNS)
    return dict(zip(_FIX_COLUMNS, (fix.lat, fix.lon, fix.at, fix.speed, fix.heading), strict=True))


def _status(r: RowMapping) -> SpeakerStatus:
    row = dict(r)
    lat, lon, at, speed, heading = (row.pop(c) for c in _FIX_COLUMNS)
    fix = None if lat is None or lon is None or at is None else Fix(lat, lon, at, speed, heading)
    return SpeakerStatus(**row, fix=fix)


def _play(r: RowMapping) -> PlayLogEntry:
    return PlayLogEntry(
        id=r["id"],
        speaker_id=r["speaker_id"],
        clip=r["clip"],
        message_id=r["message_id"],
        kind=r["kind"],
        planned_start=r["planned_start"],
        started_at=r["started_at"],
        ended_at=r["ended_at"],
        completed=r["completed"],
        reason=r["reason"],
    )


def _event(r: RowMapping) -> Event:
    return Event(r["seq"], r["speaker_id"], EventKind(r["kind"]), r["payload"], r["created_at"])


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC span of one calendar day in `zone` (23 or 25 hours on DST change days)."""
    start = datetime.combine(day, time(0), zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
    return start, end


class Devices(Part):
    """Speaker status, play log, events and clip render status."""

    def put_speaker_status(self, status: SpeakerStatus) -> None:
        """Store a speaker's latest reported status (replacing the previous one)."""
        row = _status_row(status)
        with self._db.transaction() as conn:
            if not exists(conn, t.speakers.c.id, status.speaker_id):
                raise NotFound(f"no speaker {status.speaker_id!r}")
            upsert(conn, t.speaker_status, row | {"speaker_id": status.speaker_id}, ("speaker_id",))

    def speaker_status(self, speaker_id: str) -> SpeakerStatus | None:
        """The last status a speaker reported, or None if it never did."""
        return self.speaker_statuses([speaker_id]).get(speaker_id)

    def speaker_statuses(
        self, speaker_ids: Iterable[str] | None = None
    ) -> dict[str, SpeakerStatus]:
        """The last status of each speaker that reported one (all, or those given)."""
        query = select(t.speaker_status)
        if speaker_ids is not None:
            query = query.where(t.speaker_status.c.speaker_id.in_(list(speaker_ids)))
        with self._db.transaction(write=False) as conn:
            return {r["speaker_id"]: _status(r) for r in conn.execute(query).mappings()}

    def mark_offline(self, now: datetime, silence: timedelta) -> list[tuple[str, datetime | None]]:
        """Set `offline` on every speaker not already so whose last heartbeat is `silence` or
        more old at `now` (or that never sent one); returns (speaker, last heartbeat) of each.

        One statement that rechecks the time itself: a heartbeat that arrives meanwhile is
        never overwritten, and no row stays locked longer than the statement (5,000 rows
        written back one by one held heartbeats of those speakers waiting for seconds)."""
        status = t.speaker_status
        query = (
            update(status)
            .where(
                status.c.state != "offline",
                or_(status.c.last_heartbeat.is_(None), status.c.last_heartbeat <= now - silence),
            )
            .values(state="offline")
            .returning(status.c.speaker_id, status.c.last_heartbeat)
        )
        with self._db.transaction() as conn:
            return [(r[0], r[1]) for r in conn.execute(query)]

    def add_plays(self, entries: Iterable[PlayLogEntry], now: datetime) -> PlayUpload:
        """Store play-log entries, idempotent by (speaker, entry id).

        Ids the server already had from the same speaker are reported as duplicates and left
        as first stored, so a client can resend a batch it is unsure about without creating
        doubles. Ids are the client's: another speaker's entry with the same id is its own.
        """
        batch: dict[tuple[str, str], PlayLogEntry] = {}
        for entry in entries:
            batch.setdefault((entry.speaker_id, entry.id), entry)
        if len(batch) > MAX_PLAYS_PER_UPLOAD:
            raise ValidationError(f"plays: at most {MAX_PLAYS_PER_UPLOAD} entries per upload")
        accepted: list[str] = []
        duplicates: list[str] = []
        log = t.play_log
        with self._db.transaction() as conn:
            known: set[tuple[str, str]] = set()
            for speaker_id in {speaker for speaker, _ in batch}:
                ids = [i for speaker, i in batch if speaker == speaker_id]
                known.update(
                    (speaker_id, i)
                    for i in conn.execute(
                        select(log.c.id).where(log.c.speaker_id == speaker_id, log.c.id.in_(ids))
                    ).scalars()
                )
            for key, e in batch.items():
                row = {
                    "id": e.id,
                    "speaker_id": e.speaker_id,
                    "clip": e.clip,
                    "message_id": e.message_id,
                    "kind": e.kind.value,
                    "planned_start": e.planned_start,
                    "started_at": e.started_at,
                    "ended_at": e.ended_at,
                    "completed": e.completed,
                    "reason": e.reason,
                    "received_at": now,
                }
                # A concurrent upload of the same entry can win between the SELECT and here.
                if key not in known and insert_if_absent(conn, log, row):
                    accepted.append(e.id)
                else:
                    duplicates.append(e.id)
        return PlayUpload(tuple(accepted), tuple(duplicates))

    def plays(
        self,
        start: datetime,
        end: datetime,
        *,
        speaker_id: str | None = None,
        area_id: str | None = None,
        limit: int | None = None,
    ) -> tuple[PlayLogEntry, ...]:
        """Plays that started in `[start, end)`, oldest first; for one speaker, or for the
        speakers in an area and the areas below it."""
        query = (
            select(t.play_log)
            .where(t.play_log.c.started_at >= start, t.play_log.c.started_at < end)
            .order_by(t.play_log.c.started_at, t.play_log.c.speaker_id, t.play_log.c.id)
        )
        if speaker_id is not None:
            query = query.where(t.play_log.c.speaker_id == speaker_id)
        if limit is not None:
            query = query.limit(limit)
        with self._db.transaction(write=False) as conn:
            if area_id is not None:
                inside = area_ids_under(conn, area_id)
                speakers = select(t.speakers.c.id).where(t.speakers.c.area_id.in_(inside))
                query = query.where(t.play_log.c.speaker_id.in_(speakers))
            return tuple(_play(r) for r in conn.execute(query).mappings())

    def plays_on_day(
        self,
        day: date,
        zone: ZoneInfo,
        *,
        speaker_id: str | None = None,
        area_id: str | None = None,
    ) -> tuple[PlayLogEntry, ...]:
        """Plays that started on one calendar day in the deployment's zone."""
        start, end = day_bounds(day, zone)
        return self.plays(start, end, speaker_id=speaker_id, area_id=area_id)

    def append_event(
        self, speaker_id: str | None, kind: EventKind, payload: Mapping[str, Any], now: datetime
    ) -> int:
        """Queue a command for one speaker (or every speaker: None); returns its sequence."""
        return self.append_events([(speaker_id, kind, payload)], now)

    def append_events(
        self, events: Sequence[tuple[str | None, EventKind, Mapping[str, Any]]], now: datetime
    ) -> int:
        """Queue several events in one transaction (all or none); returns the last sequence."""
        checked = []
        for speaker_id, kind, payload in events:
            try:
                checked.append((speaker_id, EventKind(kind).value, payload))
            except ValueError:
                allowed = ", ".join(k.value for k in EventKind)
                raise ValidationError(f"event.kind: {kind!r} is not one of {allowed}") from None
        with self._db.transaction() as conn:
            return insert_events(conn, checked, now)

    def events_after(self, speaker_id: str, after_seq: int, limit: int = 100) -> tuple[Event, ...]:
        """Events for this speaker or for all speakers with `seq > after_seq`, in order."""
        query = (
            select(t.events)
            .where(
                t.events.c.seq > after_seq,
                or_(t.events.c.speaker_id == speaker_id, t.events.c.speaker_id.is_(None)),
            )
            .order_by(t.events.c.seq)
            .limit(limit)
        )
        with self._db.transaction(write=False) as conn:
            return tuple(_event(r) for r in conn.execute(query).mappings())

    def events_since(self, after_seq: int, limit: int) -> tuple[Event, ...]:
        """Events of all speakers with `seq > after_seq`, in order, at most `limit`."""
        query = select(t.events).where(t.events.c.seq > after_seq).order_by(t.events.c.seq)
        with self._db.transaction(write=False) as conn:
            return tuple(_event(r) for r in conn.execute(query.limit(limit)).mappings())

    def last_event_seq(self) -> int:
        """The newest sequence number handed out (0 before the first event)."""
        with self._db.transaction(write=False) as conn:
            return counter(conn, "events")

    def prune_events(self, before: datetime) -> int:
        """Delete events created before `before` (clients older than that resync from the plan)."""
        with self._db.transaction() as conn:
            return conn.execute(delete(t.events).where(t.events.c.created_at < before)).rowcount

    def record_clip(self, status: ClipStatus) -> None:
        """Store the outcome of rendering a clip (replacing an earlier outcome)."""
        row = {
            "message_id": status.message_id,
            "urgent_id": status.urgent_id,
            "duration_ms": status.duration_ms,
            "sha256": status.sha256,
            "size": status.size,
            "rendered_at": status.rendered_at,
            "error": status.error,
        }
        with self._db.transaction() as conn:
            upsert(conn, t.clips, row | {"key": status.key, "fmt": status.fmt}, ("key", "fmt"))

    def clip_status(self, key: str, fmt: str) -> ClipStatus | None:
        with self._db.transaction(write=False) as conn:
            row = (
                conn.execute(select(t.clips).where(t.clips.c.key == key, t.clips.c.fmt == fmt))
                .mappings()
                .first()
            )
        return ClipStatus(**dict(row)) if row is not None else None

    def clip_statuses(self, *, failed_only: bool = False) -> tuple[ClipStatus, ...]:
        """Clip render outcomes, newest first; `failed_only` for the dashboard's warnings."""
        query = select(t.clips).order_by(t.clips.c.rendered_at.desc(), t.clips.c.key)
        if failed_only:
            query = query.where(t.clips.c.error.is_not(None))
        with self._db.transaction(write=False) as conn:
            return tuple(ClipStatus(**dict(r)) for r in conn.execute(query).mappings())

    def count_plays(self, start: datetime, end: datetime) -> int:
        """How many plays started in `[start, end)`."""
        query = select(func.count()).where(
            t.play_log.c.started_at >= start, t.play_log.c.started_at < end, sounded()
        )
        with self._db.transaction(write=False) as conn:
            return int(conn.execute(query).scalar() or 0)

    # -- aggregates: the dashboard and the hourly rollup count in SQL, never load the rows --
    def play_counts(
        self, start: datetime, end: datetime, *, speaker_ids: Iterable[str] | None = None
    ) -> dict[str, PlayCount]:
        """Per speaker (all, or those given): how many plays started in `[start, end)` and
        when the last of them started. One GROUP BY: a row per speaker, not per play."""
        p = t.play_log
        query = (
            select(p.c.speaker_id, func.count(), func.max(p.c.started_at))
            .where(p.c.started_at >= start, p.c.started_at < end, sounded(p))
            .group_by(p.c.speaker_id)
        )
        if speaker_ids is not None:
            query = query.where(p.c.speaker_id.in_(list(speaker_ids)))
        with self._db.transaction(write=False) as conn:
            return {
                speaker: PlayCount(int(count), last) for speaker, count, last in conn.execute(query)
            }

    def play_counts_on_day(
        self, day: date, zone: ZoneInfo, *, speaker_ids: Iterable[str] | None = None
    ) -> dict[str, PlayCount]:
        """`play_counts` for one calendar day in the deployment's zone."""
        start, end = day_bounds(day, zone)
        return self.play_counts(start, end, speaker_ids=speaker_ids)

    def play_counts_by_hour(
        self, day: date, zone: ZoneInfo, *, until: datetime | None = None
    ) -> list[tuple[str, int, int]]:
        """(speaker, local hour, plays) for one calendar day in `zone` (up to `until`), the
        hours bucketed in SQL by their UTC bounds (DST days and half-hour zones included)."""
        start, day_end = day_bounds(day, zone)
        end = day_end if until is None else max(start, min(day_end, until))
        hours = _local_hours(start, day_end, zone)
        p = t.play_log
        # A play before the next change of the local hour belongs to this hour.
        bucket = case(
            *[(p.c.started_at < hours[i + 1][0], hours[i][1]) for i in range(len(hours) - 1)],
            else_=hours[-1][1],
        )
        query = (
            select(p.c.speaker_id, bucket.label("hour"), func.count())
            .where(p.c.started_at >= start, p.c.started_at < end, sounded(p))
            .group_by(p.c.speaker_id, "hour")  # by the label: PostgreSQL cannot match a
        )  # CASE with bound parameters in GROUP BY to the one in the select list
        with self._db.transaction(write=False) as conn:
            return sorted(
                (speaker, int(hour), int(count)) for speaker, hour, count in conn.execute(query)
            )

    # -- the reports page and its CSV: totals in SQL, the rows a page at a time --------------
    def play_totals(
        self,
        start: datetime,
        end: datetime,
        *,
        by: Literal["speaker", "message", "speaker_message"],
        speaker_ids: Collection[str] | None = None,
        area_id: str | None = None,
        seconds_within: tuple[datetime, datetime] | None = None,
    ) -> dict[Any, PlayTotal]:
        """Totals of the plays that started in `[start, end)`, one GROUP BY: per speaker (keyed
        by speaker id), per message (keyed by `(message_id, kind)`; typed urgents have no
        message id) or both (`(speaker_id, message_id, kind)`: a row per speaker and message,
        which the caller folds either way from one scan). Only the speakers given (all: None), and within an area and the areas
        below it. A play's seconds are its `ended_at - started_at` (0 if it ended before it
        started), counted only when both times lie within `seconds_within` (a report leaves
        out times its zone cannot show: bad rows, not 8,000 years of play)."""
        p = t.play_log
        keys = {
            "speaker": [p.c.speaker_id],
            "message": [p.c.message_id, p.c.kind],
            "speaker_message": [p.c.speaker_id, p.c.message_id, p.c.kind],
        }[by]
        with self._db.transaction(write=False) as conn:
            sane = p.c.ended_at > p.c.started_at
            if seconds_within is not None:
                low, high = seconds_within
                sane = and_(
                    sane, p.c.started_at.between(low, high), p.c.ended_at.between(low, high)
                )
            seconds = case((sane, _play_seconds(conn.dialect.name)), else_=0)
            query = select(
                *keys,
                func.count(),
                func.sum(case((p.c.completed, 1), else_=0)),
                func.sum(case((p.c.kind == PlayKind.URGENT.value, 1), else_=0)),
                func.sum(seconds),
            ).group_by(*keys)
            query = _in_span(conn, query.where(sounded(p)), start, end, speaker_ids, area_id)
            found: dict[Any, PlayTotal] = {}
            for row in conn.execute(query):
                last = len(keys) - 1  # the kind, after the message id
                key = row[0] if by == "speaker" else (*row[:last], PlayKind(row[last]))
                counts: tuple[Any, ...] = tuple(row)[len(keys) :]
                plays, completed, urgent, total = counts
                found[key] = PlayTotal(
                    int(plays), int(completed or 0), int(urgent or 0), float(total or 0)
                )
            return found

    def plays_per_quarter_hour(
        self,
        start: datetime,
        end: datetime,
        *,
        speaker_ids: Collection[str] | None = None,
        area_id: str | None = None,
    ) -> dict[datetime, int]:
        """How many plays started in `[start, end)` in each UTC quarter hour (keyed by its
        start; quarter hours without plays left out): a month is at most ~3,000 rows, which
        the caller buckets into local hours (every zone's offset is whole quarter hours)."""
        p = t.play_log
        with self._db.transaction(write=False) as conn:
            if conn.dialect.name == "postgresql":
                epoch: ColumnElement[Any] = func.floor(func.extract("epoch", p.c.started_at) / 900)
            else:
                epoch = cast(func.strftime("%s", p.c.started_at), Integer) // 900
            bucket = epoch.label("quarter")
            query = select(bucket, func.count()).where(sounded(p)).group_by("quarter")
            query = _in_span(conn, query, start, end, speaker_ids, area_id)
            return {
                datetime.fromtimestamp(int(quarter) * 900, UTC): int(count)
                for quarter, count in conn.execute(query)
            }

    def iter_plays(
        self,
        start: datetime,
        end: datetime,
        *,
        speaker_ids: Collection[str] | None = None,
        area_id: str | None = None,
        page: int = 2000,
    ) -> Iterator[PlayLogEntry]:
        """The plays of `plays()` (also only the speakers given), read `page` rows at a time,
        each page its own short transaction found by the last row's key (started_at, speaker,
        id) within a day of the span (so a page sorts at most a day's rows): a month of a
        district streams without holding its rows or a connection."""
        p = t.play_log
        columns = [c for c in p.c if c.name != "received_at"]  # not shown: not parsed
        lower = start
        while lower < end:
            upper = min(end, lower + PAGE_SPAN)
            after: PlayLogEntry | None = None
            while True:
                query = select(*columns).order_by(p.c.started_at, p.c.speaker_id, p.c.id)
                if after is not None:
                    moment, speaker, entry = after.started_at, after.speaker_id, after.id
                    query = query.where(
                        p.c.started_at >= moment,  # lets an index on started_at seek
                        or_(
                            p.c.started_at > moment,
                            and_(
                                p.c.started_at == moment,
                                or_(
                                    p.c.speaker_id > speaker,
                                    and_(p.c.speaker_id == speaker, p.c.id > entry),
                                ),
                            ),
                        ),
                    )
                with self._db.transaction(write=False) as conn:
                    query = _in_span(conn, query.limit(page), lower, upper, speaker_ids, area_id)
                    rows = [_play(r) for r in conn.execute(query).mappings()]
                yield from rows
                if len(rows) < page:
                    break
                after = rows[-1]
            lower = upper


class PlayCount(NamedTuple):
    """Plays of one speaker in a span: how many, and when the last one started."""

    plays: int
    last_started_at: datetime | None


class PlayTotal(NamedTuple):
    """Plays of one speaker or message: how many, played to the end, urgent, seconds."""

    plays: int
    completed: int
    urgent: int
    seconds: float


def _play_seconds(dialect: str) -> ColumnElement[Any]:
    """A play's `ended_at - started_at` in seconds, to the millisecond on SQLite (julianday's
    doubles), exact on PostgreSQL."""
    p = t.play_log
    if dialect == "postgresql":
        return func.extract("epoch", p.c.ended_at - p.c.started_at)
    days = func.julianday(p.c.ended_at) - func.julianday(p.c.started_at)
    return func.round(days * 86400.0, 3)


def sounded(p: Any = None) -> ColumnElement[bool]:
    """Play-log rows that were a play: not a slot a vehicle skipped outside its message's
    areas (`skipped:...`, logged as proof of the decision, never heard). Totals, counts and
    charts count these; the list of entries and the CSV rows show every entry."""
    p = t.play_log if p is None else p
    return or_(p.c.reason.is_(None), ~p.c.reason.like("skipped:%"))


def _in_span(
    conn: Connection,
    query: Select[Any],
    start: datetime,
    end: datetime,
    speaker_ids: Collection[str] | None,
    area_id: str | None,
) -> Select[Any]:
    """`query` on play_log narrowed to plays that started in `[start, end)`, of the speakers
    given (all: None) and in an area or the areas below it."""
    p = t.play_log
    query = query.where(p.c.started_at >= start, p.c.started_at < end)
    if speaker_ids is not None:
        query = query.where(p.c.speaker_id.in_(sorted(speaker_ids)))
    if area_id is not None:
        inside = area_ids_under(conn, area_id)
        query = query.where(
            p.c.speaker_id.in_(select(t.speakers.c.id).where(t.speakers.c.area_id.in_(inside)))
        )
    return query


def _local_hours(start: datetime, end: datetime, zone: ZoneInfo) -> list[tuple[datetime, int]]:
    """(UTC instant, local hour) at `start` and wherever the local hour changes before `end`
    (offsets are whole quarter hours, so quarter-hour steps find every change)."""
    found: list[tuple[datetime, int]] = []
    moment = start
    while moment < end:
        hour = moment.astimezone(zone).hour
        if not found or found[-1][1] != hour:
            found.append((moment, hour))
        moment += timedelta(minutes=15)
    return found
