"""Urgent announcements: create, cancel, list, and each speaker's acknowledgements."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Executable

from broadcaster.errors import Conflict, NotFound, ValidationError
from broadcaster.models import Urgent
from broadcaster.store import schema as t
from broadcaster.store.base import Part, insert_events, touch_catalog
from broadcaster.store.places import exists
from broadcaster.store.records import AckState, EventKind, UrgentAck

# Events queued in the same transaction as the change they announce: (speaker, kind, payload)
Events = Sequence[tuple[str | None, EventKind, Mapping[str, Any]]]

_ACK_COLUMN = {
    AckState.RECEIVED: "received_at",
    AckState.PLAYING: "playing_at",
    AckState.PLAYED: "played_at",
    AckState.CUT: "cut_at",
}


# Urgents that ended (expired or cancelled) this long ago still shape the plans: the loop
# goes on from where they left it, so a cancel or an expiry never moves the loop's clips.
RECENT = timedelta(days=2)


def recent_clause(now: datetime) -> ColumnElement[bool]:
    """Urgents live at `now` or ended within `RECENT` before it (the planner's input)."""
    return live_clause(now - RECENT)


def live_clause(now: datetime) -> ColumnElement[bool]:
    """Urgents not cancelled and not expired at `now` (including ones that start later)."""
    return and_(
        t.urgents.c.expires_at > now,
        or_(t.urgents.c.cancelled_at.is_(None), t.urgents.c.cancelled_at > now),
    )


def load_urgents(
    conn: Connection, where: ColumnElement[bool] | None = None, limit: int | None = None
) -> tuple[Urgent, ...]:
    """Urgents matching `where`, newest first."""
    query = select(t.urgents).order_by(t.urgents.c.created_at.desc(), t.urgents.c.id.desc())
    if where is not None:
        query = query.where(where)
    if limit is not None:
        query = query.limit(limit)
    rows = list(conn.execute(query).mappings())
    ids = [r["id"] for r in rows]
    speakers: dict[str, list[str]] = {}
    for uid, sid in conn.execute(
        select(t.urgent_speakers.c.urgent_id, t.urgent_speakers.c.speaker_id)
        .where(t.urgent_speakers.c.urgent_id.in_(ids))
        .order_by(t.urgent_speakers.c.position)
    ):
        speakers.setdefault(uid, []).append(sid)
    areas: dict[str, list[str]] = {}
    for uid, aid in conn.execute(
        select(t.urgent_areas.c.urgent_id, t.urgent_areas.c.area_id)
        .where(t.urgent_areas.c.urgent_id.in_(ids))
        .order_by(t.urgent_areas.c.position)
    ):
        areas.setdefault(uid, []).append(aid)
    return tuple(
        Urgent(
            id=r["id"],
            created_at=r["created_at"],
            starts_at=r["starts_at"],
            expires_at=r["expires_at"],
            text=r["text"],
            message_id=r["message_id"],
            speaker_ids=tuple(speakers.get(r["id"], ())),
            area_ids=tuple(areas.get(r["id"], ())),
            repeats=r["repeats"],
            interval_s=r["interval_s"],
            override_window=r["override_window"],
            cancelled_at=r["cancelled_at"],
            created_by=r["created_by"],
        )
        for r in rows
    )


def _check_targets(conn: Connection, u: Urgent) -> None:
    what = f"urgent {u.id}"
    if u.message_id is not None and not exists(conn, t.messages.c.id, u.message_id):
        raise ValidationError(f"{what}.message_id: no message {u.message_id!r}")
    for name, ids, column in (
        ("speaker_ids", u.speaker_ids, t.speakers.c.id),
        ("area_ids", u.area_ids, t.areas.c.id),
    ):
        if len(set(ids)) != len(ids):
            raise ValidationError(f"{what}.{name}: an id is listed twice")
        known = set(conn.execute(select(column).where(column.in_(set(ids)))).scalars())
        missing = [i for i in ids if i not in known]
        if missing:
            raise ValidationError(f"{what}.{name}: no such id {missing[0]!r}")


def _aimed_at(conn: Connection, urgent_id: str, speaker_id: str) -> bool:
    """Whether the urgent exists and targets the speaker: by id, or by an area the speaker is
    in (its area or one above it, as the planner and the send decide)."""
    named = select(t.urgent_speakers.c.urgent_id).where(
        t.urgent_speakers.c.urgent_id == urgent_id, t.urgent_speakers.c.speaker_id == speaker_id
    )
    if conn.execute(named).first() is not None:
        return True
    area = conn.execute(select(t.speakers.c.area_id).where(t.speakers.c.id == speaker_id)).scalar()
    chain: list[str] = []
    while area is not None and area not in chain and len(chain) < 100:
        chain.append(area)
        area = conn.execute(select(t.areas.c.parent_id).where(t.areas.c.id == area)).scalar()
    if not chain:
        return False
    by_area = select(t.urgent_areas.c.urgent_id).where(
        t.urgent_areas.c.urgent_id == urgent_id, t.urgent_areas.c.area_id.in_(chain)
    )
    return conn.execute(by_area).first() is not None


@functools.lru_cache(maxsize=16)
def _ack_statement(dialect: str, column: str) -> Executable:
    """INSERT ... ON CONFLICT (urgent, speaker) DO UPDATE SET <column> = COALESCE(<column>,
    the new time) RETURNING the row: a state's first time is kept (built once per column)."""
    acks = t.urgent_acks
    statement = postgresql.insert(acks) if dialect == "postgresql" else sqlite.insert(acks)
    return statement.on_conflict_do_update(
        index_elements=[acks.c.urgent_id, acks.c.speaker_id],
        set_={column: func.coalesce(acks.c[column], statement.excluded[column])},
    ).returning(*acks.c)


class Urgents(Part):
    """Urgent announcements and their per-speaker acknowledgements."""

    def create_urgent(
        self, urgent: Urgent, events: Events = (), now: datetime | None = None
    ) -> Urgent:
        """Store a new urgent announcement; its message and targets must exist.

        Targets are kept as plain ids afterwards: the record outlives a deleted speaker.
        `events` (e.g. one `urgent` per target) commit with it or not at all.
        """
        with self._db.transaction() as conn:
            if exists(conn, t.urgents.c.id, urgent.id):
                raise Conflict(f"urgent {urgent.id!r} already exists")
            _check_targets(conn, urgent)
            conn.execute(
                insert(t.urgents).values(
                    id=urgent.id,
                    text=urgent.text,
                    message_id=urgent.message_id,
                    repeats=urgent.repeats,
                    interval_s=urgent.interval_s,
                    override_window=urgent.override_window,
                    created_at=urgent.created_at,
                    starts_at=urgent.starts_at,
                    expires_at=urgent.expires_at,
                    cancelled_at=urgent.cancelled_at,
                    created_by=urgent.created_by,
                )
            )
            for table, column, ids in (
                (t.urgent_speakers, "speaker_id", urgent.speaker_ids),
                (t.urgent_areas, "area_id", urgent.area_ids),
            ):
                if ids:
                    rows = [
                        {"urgent_id": urgent.id, column: x, "position": i}
                        for i, x in enumerate(ids)
                    ]
                    conn.execute(insert(table), rows)
            touch_catalog(conn)
            insert_events(conn, events, now or urgent.created_at)
        return urgent

    def get_urgent(self, urgent_id: str) -> Urgent:
        with self._db.transaction(write=False) as conn:
            found = load_urgents(conn, t.urgents.c.id == urgent_id)
        if not found:
            raise NotFound(f"no urgent announcement {urgent_id!r}")
        return found[0]

    def cancel_urgent(self, urgent_id: str, now: datetime, events: Events = ()) -> Urgent:
        """Cancel from `now` on; cancelling twice keeps the first time (and queues `events`
        only the first time, in the same transaction)."""
        with self._db.transaction() as conn:
            if not exists(conn, t.urgents.c.id, urgent_id):
                raise NotFound(f"no urgent announcement {urgent_id!r}")
            done = conn.execute(
                update(t.urgents)
                .where(t.urgents.c.id == urgent_id, t.urgents.c.cancelled_at.is_(None))
                .values(cancelled_at=now)
            )
            if done.rowcount:
                touch_catalog(conn)
                insert_events(conn, events, now)
            return load_urgents(conn, t.urgents.c.id == urgent_id)[0]

    def list_urgents(
        self, *, live_at: datetime | None = None, limit: int = 100, before: str | None = None
    ) -> tuple[Urgent, ...]:
        """Newest first; with `live_at`, only those not cancelled or expired then; with
        `before` (an urgent id), only those older than it (pages: pass the last id seen)."""
        with self._db.transaction(write=False) as conn:
            where = live_clause(live_at) if live_at is not None else None
            if before is not None:
                row = conn.execute(
                    select(t.urgents.c.created_at).where(t.urgents.c.id == before)
                ).first()
                if row is None:
                    raise NotFound(f"no urgent announcement {before!r}")
                older = or_(
                    t.urgents.c.created_at < row[0],
                    and_(t.urgents.c.created_at == row[0], t.urgents.c.id < before),
                )
                where = older if where is None else and_(where, older)
            return load_urgents(conn, where, limit)

    def ack_urgent(
        self, urgent_id: str, speaker_id: str, state: AckState, at: datetime
    ) -> UrgentAck:
        """Record that a speaker received, started or finished playing an urgent.

        Idempotent: the same state reported twice keeps the first time. NotFound, with the
        same text, for an urgent that does not exist and for one not aimed at the speaker.
        """
        column = _ACK_COLUMN[AckState(state)]
        with self._db.transaction() as conn:
            # An urgent aimed elsewhere gets the answer of one that does not exist: a device
            # learns nothing about other speakers' urgents (issue 10).
            if not _aimed_at(conn, urgent_id, speaker_id):
                raise NotFound(f"no urgent announcement {urgent_id!r}")
            # One statement: the row if absent, else the state's time unless it has one; the
            # row as it now is comes back. Concurrent duplicate acks never clash (issue 11).
            statement = _ack_statement(conn.dialect.name, column)
            values = {"urgent_id": urgent_id, "speaker_id": speaker_id, column: at}
            row = conn.execute(statement, values).mappings().one()
        return UrgentAck(**dict(row))

    def urgent_acks(self, urgent_id: str) -> tuple[UrgentAck, ...]:
        """Every speaker's acknowledgements of one urgent, by speaker id."""
        with self._db.transaction(write=False) as conn:
            rows = conn.execute(
                select(t.urgent_acks)
                .where(t.urgent_acks.c.urgent_id == urgent_id)
                .order_by(t.urgent_acks.c.speaker_id)
            ).mappings()
            return tuple(UrgentAck(**dict(r)) for r in rows)
