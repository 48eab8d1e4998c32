"""What the speakers report and receive: status, play log, long-poll events, clip renders."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.engine import RowMapping

from broadcaster.errors import NotFound, ValidationError
from broadcaster.models import PlayLogEntry
from broadcaster.store import schema as t
from broadcaster.store.base import StoreBase, insert_if_absent
from broadcaster.store.places import area_ids_under, exists
from broadcaster.store.records import ClipStatus, Event, EventKind, PlayUpload, SpeakerStatus

MAX_PLAYS_PER_UPLOAD = 500


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
    }


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


class DevicesStore(StoreBase):
    """Speaker status, play log, events and clip render status."""

    def put_speaker_status(self, status: SpeakerStatus) -> None:
        """Store a speaker's latest reported status (replacing the previous one)."""
        row = _status_row(status)
        with self.transaction() as conn:
            if not exists(conn, t.speakers.c.id, status.speaker_id):
                raise NotFound(f"no speaker {status.speaker_id!r}")
            table = t.speaker_status
            done = conn.execute(
                update(table).where(table.c.speaker_id == status.speaker_id).values(row)
            )
            if done.rowcount == 0 and not insert_if_absent(
                conn, table, row | {"speaker_id": status.speaker_id}
            ):
                conn.execute(
                    update(table).where(table.c.speaker_id == status.speaker_id).values(row)
                )

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
        with self.transaction(write=False) as conn:
            return {
                r["speaker_id"]: SpeakerStatus(**dict(r)) for r in conn.execute(query).mappings()
            }

    def add_plays(self, entries: Iterable[PlayLogEntry], now: datetime) -> PlayUpload:
        """Store play-log entries, idempotent by entry id.

        Ids the server already had are reported as duplicates and left as first stored, so a
        client can resend a batch it is unsure about without creating doubles.
        """
        batch: dict[str, PlayLogEntry] = {}
        for entry in entries:
            batch.setdefault(entry.id, entry)
        if len(batch) > MAX_PLAYS_PER_UPLOAD:
            raise ValidationError(f"plays: at most {MAX_PLAYS_PER_UPLOAD} entries per upload")
        accepted: list[str] = []
        duplicates: list[str] = []
        with self.transaction() as conn:
            known = set(
                conn.execute(
                    select(t.play_log.c.id).where(t.play_log.c.id.in_(list(batch)))
                ).scalars()
            )
            for entry_id, e in batch.items():
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
                if entry_id not in known and insert_if_absent(conn, t.play_log, row):
                    accepted.append(entry_id)
                else:
                    duplicates.append(entry_id)
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
            .order_by(t.play_log.c.started_at, t.play_log.c.id)
        )
        if speaker_id is not None:
            query = query.where(t.play_log.c.speaker_id == speaker_id)
        if limit is not None:
            query = query.limit(limit)
        with self.transaction(write=False) as conn:
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
        with self.transaction() as conn:
            return self._insert_events(conn, checked, now)

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
        with self.transaction(write=False) as conn:
            return tuple(_event(r) for r in conn.execute(query).mappings())

    def last_event_seq(self) -> int:
        """The newest sequence number handed out (0 before the first event)."""
        with self.transaction(write=False) as conn:
            return self._counter(conn, "events")

    def prune_events(self, before: datetime) -> int:
        """Delete events created before `before` (clients older than that resync from the plan)."""
        with self.transaction() as conn:
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
        key = (t.clips.c.key == status.key) & (t.clips.c.fmt == status.fmt)
        with self.transaction() as conn:
            done = conn.execute(update(t.clips).where(key).values(row))
            if done.rowcount == 0 and not insert_if_absent(
                conn, t.clips, row | {"key": status.key, "fmt": status.fmt}
            ):
                conn.execute(update(t.clips).where(key).values(row))

    def clip_status(self, key: str, fmt: str) -> ClipStatus | None:
        with self.transaction(write=False) as conn:
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
        with self.transaction(write=False) as conn:
            return tuple(ClipStatus(**dict(r)) for r in conn.execute(query).mappings())

    def count_plays(self, start: datetime, end: datetime) -> int:
        """How many plays started in `[start, end)`."""
        query = select(func.count()).where(
            t.play_log.c.started_at >= start, t.play_log.c.started_at < end
        )
        with self.transaction(write=False) as conn:
            return int(conn.execute(query).scalar() or 0)
