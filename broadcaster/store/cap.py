"""CAP alerts received (issue 15, docs/cap.md): `store.cap`.

One row per info block acted on (an alert with several infos in the chosen language gives
several rows, `part` 0, 1, ...), keyed by the CAP triple (sender, identifier) and the part:
a repeated identifier finds its rows and is ignored. A row says what became of it: `held`
(waits for approval), `broadcast` (an urgent was made at once), `approved`, `rejected`,
`cancelled` (by a later Cancel), `superseded` (by a later Update), `ignored` (no target
here, expired, the rules), `applied` (a Cancel that found what it cancels). Refused documents are never stored (only the audit log names them).

The table is declared here, on the shared metadata, next to the only code that uses it
(migration 0009 creates it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from broadcaster.errors import Conflict, NotFound
from broadcaster.store import schema as t
from broadcaster.store.base import Part
from broadcaster.store.coltypes import UtcDateTime

cap_alerts = Table(
    "cap_alerts",
    t.metadata,
    Column("id", t.ID, primary_key=True),
    Column("source", Text, nullable=False),
    Column("sender", Text, nullable=False),
    Column("identifier", Text, nullable=False),
    Column("sent", UtcDateTime, nullable=False),
    Column("part", Integer, nullable=False),
    Column("msg_type", String(10), nullable=False),
    Column("received_at", UtcDateTime, nullable=False, index=True),
    Column("state", String(20), nullable=False, index=True),
    Column("action", String(30), nullable=False),
    Column("urgent_id", t.ID, nullable=True, index=True),
    Column("language", Text, nullable=False),
    Column("event", Text, nullable=False),
    Column("severity", String(20), nullable=False),
    Column("urgency", String(20), nullable=False),
    Column("certainty", String(20), nullable=False),
    Column("headline", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("area_ids", JSON, nullable=False),
    Column("speaker_ids", JSON, nullable=False),
    Column("expires_at", UtcDateTime, nullable=True),
    Column("override_window", Boolean, nullable=False),
    Column("refs", JSON, nullable=False),
    Column("document", Text, nullable=False),
    Column("decided_by", Text, nullable=True),
    Column("decided_at", UtcDateTime, nullable=True),
    UniqueConstraint("sender", "identifier", "part"),
)

HELD = "held"
BROADCAST = "broadcast"
APPROVED = "approved"
REJECTED = "rejected"
CANCELLED = "cancelled"
SUPERSEDED = "superseded"
IGNORED = "ignored"
APPLIED = "applied"  # a Cancel that cancelled what it referenced


@dataclass(frozen=True, slots=True)
class CapRecord:
    """One info block of a received alert and what became of it."""

    id: str
    source: str
    sender: str
    identifier: str
    sent: datetime
    part: int
    msg_type: str
    received_at: datetime
    state: str
    action: str
    language: str
    event: str
    severity: str
    urgency: str
    certainty: str
    headline: str
    text: str
    area_ids: tuple[str, ...]
    speaker_ids: tuple[str, ...]
    expires_at: datetime | None
    override_window: bool
    refs: tuple[tuple[str, str], ...] = ()  # (sender, identifier) of the alerts it references
    document: str = ""
    urgent_id: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None


def _record(row: Any) -> CapRecord:
    return CapRecord(
        id=row["id"],
        source=row["source"],
        sender=row["sender"],
        identifier=row["identifier"],
        sent=row["sent"],
        part=row["part"],
        msg_type=row["msg_type"],
        received_at=row["received_at"],
        state=row["state"],
        action=row["action"],
        language=row["language"],
        event=row["event"],
        severity=row["severity"],
        urgency=row["urgency"],
        certainty=row["certainty"],
        headline=row["headline"],
        text=row["text"],
        area_ids=tuple(row["area_ids"] or ()),
        speaker_ids=tuple(row["speaker_ids"] or ()),
        expires_at=row["expires_at"],
        override_window=bool(row["override_window"]),
        refs=tuple((s, i) for s, i in row["refs"] or ()),
        document=row["document"],
        urgent_id=row["urgent_id"],
        decided_by=row["decided_by"],
        decided_at=row["decided_at"],
    )


class CapAlerts(Part):
    """The `cap_alerts` table."""

    def add(self, record: CapRecord) -> None:
        """Keep a received info block; Conflict if its (sender, identifier, part) is known."""
        try:
            with self._db.transaction() as conn, conn.begin_nested():
                conn.execute(
                    insert(cap_alerts).values(
                        id=record.id,
                        source=record.source,
                        sender=record.sender,
                        identifier=record.identifier,
                        sent=record.sent,
                        part=record.part,
                        msg_type=record.msg_type,
                        received_at=record.received_at,
                        state=record.state,
                        action=record.action,
                        urgent_id=record.urgent_id,
                        language=record.language,
                        event=record.event,
                        severity=record.severity,
                        urgency=record.urgency,
                        certainty=record.certainty,
                        headline=record.headline,
                        text=record.text,
                        area_ids=list(record.area_ids),
                        speaker_ids=list(record.speaker_ids),
                        expires_at=record.expires_at,
                        override_window=record.override_window,
                        refs=[list(r) for r in record.refs],
                        document=record.document,
                        decided_by=record.decided_by,
                        decided_at=record.decided_at,
                    )
                )
        except IntegrityError:
            raise Conflict(
                f"cap: alert {record.sender},{record.identifier} part {record.part} is known"
            ) from None

    def known(self, sender: str, identifier: str) -> bool:
        """Whether an alert with this sender and identifier was received before."""
        with self._db.transaction(write=False) as conn:
            found = conn.execute(
                select(cap_alerts.c.id)
                .where(cap_alerts.c.sender == sender, cap_alerts.c.identifier == identifier)
                .limit(1)
            ).first()
        return found is not None

    def for_alert(self, sender: str, identifier: str) -> tuple[CapRecord, ...]:
        """Every row of one alert, by part."""
        with self._db.transaction(write=False) as conn:
            rows = conn.execute(
                select(cap_alerts)
                .where(cap_alerts.c.sender == sender, cap_alerts.c.identifier == identifier)
                .order_by(cap_alerts.c.part)
            ).mappings()
            return tuple(_record(r) for r in rows)

    def get(self, record_id: str) -> CapRecord:
        with self._db.transaction(write=False) as conn:
            row = (
                conn.execute(select(cap_alerts).where(cap_alerts.c.id == record_id))
                .mappings()
                .first()
            )
        if row is None:
            raise NotFound(f"no CAP alert {record_id!r}")
        return _record(row)

    def for_urgent(self, urgent_id: str) -> CapRecord | None:
        """The row an urgent was made from, if it came from CAP."""
        with self._db.transaction(write=False) as conn:
            row = (
                conn.execute(select(cap_alerts).where(cap_alerts.c.urgent_id == urgent_id))
                .mappings()
                .first()
            )
        return None if row is None else _record(row)

    def decide(
        self,
        record_id: str,
        state: str,
        *,
        by: str | None,
        at: datetime,
        urgent_id: str | None = None,
        only_from: Sequence[str] = (),
    ) -> CapRecord:
        """Move a row to `state` (with who, when and the urgent made); with `only_from`, only
        if its state is one of those (Conflict otherwise: someone decided first)."""
        values: dict[str, Any] = {"state": state, "decided_by": by, "decided_at": at}
        if urgent_id is not None:
            values["urgent_id"] = urgent_id
        query = update(cap_alerts).where(cap_alerts.c.id == record_id)
        if only_from:
            query = query.where(cap_alerts.c.state.in_(list(only_from)))
        with self._db.transaction() as conn:
            done = conn.execute(query.values(**values))
            if done.rowcount == 0:
                exists = conn.execute(
                    select(cap_alerts.c.state).where(cap_alerts.c.id == record_id)
                ).first()
                if exists is None:
                    raise NotFound(f"no CAP alert {record_id!r}")
                raise Conflict(f"cap: alert {record_id} is already {exists[0]}")
            row = (
                conn.execute(select(cap_alerts).where(cap_alerts.c.id == record_id))
                .mappings()
                .one()
            )
        return _record(row)

    def list(
        self, *, states: Sequence[str] = (), limit: int = 200, since: datetime | None = None
    ) -> tuple[CapRecord, ...]:
        """Newest first; with `states`, only rows in one of them."""
        query = select(cap_alerts).order_by(cap_alerts.c.received_at.desc(), cap_alerts.c.id.desc())
        if states:
            query = query.where(cap_alerts.c.state.in_(list(states)))
        if since is not None:
            query = query.where(or_(cap_alerts.c.received_at >= since, cap_alerts.c.state == HELD))
        with self._db.transaction(write=False) as conn:
            rows = conn.execute(query.limit(limit)).mappings()
            return tuple(_record(r) for r in rows)
