"""The engine holder and transaction helper every part of the store builds on."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Table, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from broadcaster.store import schema as t
from broadcaster.store.engine import WRITE_OPTION


class StoreBase:
    """Holds the engine; `transaction()` groups calls so they commit (or fail) together."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        # The connection of the transaction open in this thread/task, if any.
        self._current: ContextVar[Connection | None] = ContextVar(f"store-{id(self)}", default=None)

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self._engine.dialect.name

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Connection]:
        """Run the store calls inside the block in one transaction (commit on success).

        Store methods called inside join it. `write=False` marks a read-only block, which on
        SQLite does not take the write lock (and so never waits for a writer).
        """
        outer = self._current.get()
        if outer is not None:
            yield outer
            return
        with self._engine.connect() as conn:
            if write:
                conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                token = self._current.set(conn)
                try:
                    yield conn
                finally:
                    self._current.reset(token)

    @contextmanager
    def _snapshot(self) -> Iterator[Connection]:
        """A read-only transaction that sees one consistent state of the whole database."""
        if self._current.get() is not None or self.dialect != "postgresql":
            # SQLite: a transaction's first read pins its snapshot (WAL), which is enough.
            with self.transaction(write=False) as conn:
                yield conn
            return
        with self._engine.connect() as conn:
            conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                token = self._current.set(conn)
                try:
                    yield conn
                finally:
                    self._current.reset(token)

    def get_meta(self, key: str) -> str | None:
        """A value of the small key/value table, or None."""
        with self.transaction(write=False) as conn:
            value = conn.execute(select(t.meta.c.value).where(t.meta.c.key == key)).scalar()
        return None if value is None else str(value)

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as conn:
            done = conn.execute(update(t.meta).where(t.meta.c.key == key).values(value=value))
            if done.rowcount == 0 and not insert_if_absent(
                conn, t.meta, {"key": key, "value": value}
            ):
                conn.execute(update(t.meta).where(t.meta.c.key == key).values(value=value))

    def _bump(self, conn: Connection, counter: str) -> int:
        """Add one to a counter and return the new value.

        The UPDATE locks the counter's row until commit, so numbers are handed out in commit
        order on PostgreSQL too (a reader never sees 7 before 6 is committed).
        """
        conn.execute(
            update(t.counters)
            .where(t.counters.c.name == counter)
            .values(value=t.counters.c.value + 1)
        )
        value = conn.execute(
            select(t.counters.c.value).where(t.counters.c.name == counter)
        ).scalar()
        if value is None:
            raise RuntimeError(f"counter {counter!r} is missing: was the database migrated?")
        return int(value)

    def _insert_events(
        self,
        conn: Connection,
        events: Sequence[tuple[str | None, str, Mapping[str, Any]]],
        now: datetime,
    ) -> int:
        """Queue events (speaker id or None for all, kind, payload) in the caller's
        transaction; returns the last sequence number (0 when there were none)."""
        seq = 0
        for speaker_id, kind, payload in events:
            seq = self._bump(conn, "events")
            conn.execute(
                insert(t.events).values(
                    seq=seq, speaker_id=speaker_id, kind=kind, payload=dict(payload),
                    created_at=now,
                )
            )  # fmt: skip
        return seq

    def _touch_catalog(self, conn: Connection) -> None:
        """Record that areas, speakers, messages, programs or schedules changed."""
        self._bump(conn, "catalog")

    def _counter(self, conn: Connection, counter: str) -> int:
        value = conn.execute(
            select(t.counters.c.value).where(t.counters.c.name == counter)
        ).scalar()
        return int(value or 0)


def insert_if_absent(conn: Connection, table: Table, values: Mapping[str, object]) -> bool:
    """Insert one row unless its key is taken (also by a concurrent transaction).

    The savepoint keeps the surrounding transaction usable after the key clash, which
    PostgreSQL would otherwise abort.
    """
    try:
        with conn.begin_nested():
            conn.execute(insert(table).values(values))
    except IntegrityError:
        return False
    return True
