"""The append-only audit log and leases between processes (the meta key/value table is the
store's own: `store.get_meta`/`set_meta`, in broadcaster/store/base.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, or_, select, text, update
from sqlalchemy.engine import RowMapping

from broadcaster.errors import ValidationError
from broadcaster.store import schema as t
from broadcaster.store.base import Part, insert_if_absent
from broadcaster.store.records import AuditEntry


def _audit(r: RowMapping) -> AuditEntry:
    return AuditEntry(
        r["seq"], r["at"], r["actor"], r["action"], r["object"], r["detail"], r["remote_addr"]
    )


class Journal(Part):
    """Audit log (append and read only) and leases."""

    def append_audits(
        self, at: datetime, actor: str, action: str, lines: Sequence[tuple[str, Mapping[str, Any]]]
    ) -> None:
        """Add one line per (object, detail) with the same time, actor and action, in one
        statement (a thousand speakers going offline at once)."""
        if not action:
            raise ValidationError("audit.action: must be a non-empty string")
        rows = [
            {"at": at, "actor": actor, "action": action, "object": obj, "detail": dict(detail),
             "remote_addr": None}
            for obj, detail in lines
        ]  # fmt: skip
        with self._db.transaction() as conn:
            for start in range(0, len(rows), 1_000):
                conn.execute(insert(t.audit_log), rows[start : start + 1_000])

    def append_audit(
        self,
        at: datetime,
        actor: str,
        action: str,
        obj: str = "",
        detail: Mapping[str, Any] | None = None,
        remote_addr: str | None = None,
    ) -> int:
        """Add one line to the audit log (`obj` names what was acted on); returns its seq.

        There is no way to change or remove a line: the database refuses UPDATE and DELETE
        on the table (triggers installed by the first migration).
        """
        if not action:
            raise ValidationError("audit.action: must be a non-empty string")
        with self._db.transaction() as conn:
            result = conn.execute(
                insert(t.audit_log).values(
                    at=at,
                    actor=actor,
                    action=action,
                    object=obj,
                    detail=dict(detail or {}),
                    remote_addr=remote_addr,
                )
            )
            key = result.inserted_primary_key
            if key is None:
                raise RuntimeError("the database did not number the audit entry")
            return int(key[0])

    def list_audit(
        self,
        *,
        limit: int = 100,
        before_seq: int | None = None,
        actor: str | None = None,
        action: str | None = None,
    ) -> tuple[AuditEntry, ...]:
        """Audit entries, newest first; page with `before_seq` (the last seq you saw)."""
        query = select(t.audit_log).order_by(t.audit_log.c.seq.desc()).limit(limit)
        if before_seq is not None:
            query = query.where(t.audit_log.c.seq < before_seq)
        if actor is not None:
            query = query.where(t.audit_log.c.actor == actor)
        if action is not None:
            query = query.where(t.audit_log.c.action == action)
        with self._db.transaction(write=False) as conn:
            return tuple(_audit(r) for r in conn.execute(query).mappings())

    def acquire_lease(self, name: str, owner: str, now: datetime, ttl: timedelta) -> bool:
        """Take or renew the lease `name` for `owner` until `now + ttl`.

        True if `owner` holds it now. At most one owner holds a lease at a time, across
        processes and on both databases: the renewal is one conditional UPDATE (free, expired
        or already mine), and the first holder is one INSERT that only one writer can win.
        Owners compare `now` from their own clocks: keep `ttl` well above clock skew.
        """
        if ttl <= timedelta(0):
            raise ValidationError("lease ttl: must be positive")
        leases = t.leases
        values = {"owner": owner, "expires_at": now + ttl}
        with self._db.transaction() as conn:
            taken = conn.execute(
                update(leases)
                .where(
                    leases.c.name == name,
                    or_(leases.c.expires_at <= now, leases.c.owner == owner),
                )
                .values(values)
            )
            if taken.rowcount == 1:
                return True
            held = conn.execute(select(leases.c.name).where(leases.c.name == name)).first()
            if held is not None:
                return False
            return insert_if_absent(conn, leases, values | {"name": name})

    def release_lease(self, name: str, owner: str) -> bool:
        """Give a lease back early (only its owner can); True if it was held by `owner`."""
        with self._db.transaction() as conn:
            done = conn.execute(
                delete(t.leases).where(t.leases.c.name == name, t.leases.c.owner == owner)
            )
            return done.rowcount == 1

    def lease_holder(self, name: str, now: datetime) -> str | None:
        """Who holds the lease at `now` (None if free or expired)."""
        with self._db.transaction(write=False) as conn:
            row = conn.execute(
                select(t.leases.c.owner).where(t.leases.c.name == name, t.leases.c.expires_at > now)
            ).first()
        return None if row is None else str(row[0])

    def lease(self, name: str) -> tuple[str, datetime] | None:
        """The lease's last owner and when it runs out (also if it already did); None if
        no one ever took it or it was given back."""
        with self._db.transaction(write=False) as conn:
            row = conn.execute(
                select(t.leases.c.owner, t.leases.c.expires_at).where(t.leases.c.name == name)
            ).first()
        return None if row is None else (str(row[0]), row[1])

    def schema_revision(self) -> str | None:
        """The migration revision the database is at, in one short query (for /healthz;
        Alembic's own reader logs two lines at INFO each time)."""
        with self._db.transaction(write=False) as conn:
            row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
        return None if row is None else str(row[0])
