"""The database every part of the store shares (engine, transactions, the meta table) and the
row helpers they build on: counters, events, upserts."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Table, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import Executable

from broadcaster.store import schema as t
from broadcaster.store.engine import WRITE_OPTION


class Database:
    """Holds the engine; `transaction()` groups calls of every part so they commit (or fail)
    together."""

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

        Store methods called inside join it, whichever part they belong to. `write=False`
        marks a read-only block, which on SQLite does not take the write lock (and so never
        waits for a writer).
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
    def snapshot(self) -> Iterator[Connection]:
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
            upsert(conn, t.meta, {"key": key, "value": value}, ("key",))


class Part:
    """One part of the store (`store.places`, `store.urgents`, ...): its tables' methods, on
    the database all parts share (so a `store.transaction()` spans parts)."""

    def __init__(self, db: Database) -> None:
        self._db = db


INSERT_BATCH = 1_000  # rows per executemany


def bump(conn: Connection, counter: str, by: int = 1) -> int:
    """Add `by` to a counter and return the new value (the numbers value-by+1 .. value are
    the caller's).

    The UPDATE locks the counter's row until commit, so numbers are handed out in commit
    order on PostgreSQL too (a reader never sees 7 before 6 is committed).
    """
    conn.execute(
        update(t.counters).where(t.counters.c.name == counter).values(value=t.counters.c.value + by)
    )
    value = conn.execute(select(t.counters.c.value).where(t.counters.c.name == counter)).scalar()
    if value is None:
        raise RuntimeError(f"counter {counter!r} is missing: was the database migrated?")
    return int(value)


def insert_events(
    conn: Connection,
    events: Sequence[tuple[str | None, str, Mapping[str, Any]]],
    now: datetime,
) -> int:
    """Queue events (speaker id or None for all, kind, payload) in the caller's transaction;
    returns the last sequence number (0 when there were none).

    The numbers are taken in one move of the counter and the rows written in one statement:
    an urgent to 5,000 loudspeakers is 5,000 events, and 15,000 round trips to PostgreSQL
    took a minute under load."""
    if not events:
        return 0
    last = bump(conn, "events", len(events))
    first = last - len(events) + 1
    rows = [
        {
            "seq": first + i,
            "speaker_id": speaker_id,
            "kind": kind,
            "payload": dict(payload),
            "created_at": now,
        }
        for i, (speaker_id, kind, payload) in enumerate(events)
    ]
    for at in range(0, len(rows), INSERT_BATCH):
        conn.execute(insert(t.events), rows[at : at + INSERT_BATCH])
    return last


def touch_catalog(conn: Connection) -> None:
    """Record that areas, speakers, quiet zones, messages, programs, schedules or urgent
    announcements changed (`catalog_revision()` moves)."""
    bump(conn, "catalog")


def counter(conn: Connection, name: str) -> int:
    """A counter's value (0 before its first bump)."""
    value = conn.execute(select(t.counters.c.value).where(t.counters.c.name == name)).scalar()
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


def upsert(conn: Connection, table: Table, row: Mapping[str, object], key: Sequence[str]) -> None:
    """Insert `row`, or update the row with the same `key` columns to its other values: one
    INSERT ... ON CONFLICT DO UPDATE (SQLite and PostgreSQL), atomic also against concurrent
    writers of the same key."""
    statement = _upsert_statement(conn.dialect.name, table, tuple(row), tuple(key))
    conn.execute(statement, dict(row))


@functools.lru_cache(maxsize=64)
def _upsert_statement(
    dialect: str, table: Table, columns: tuple[str, ...], key: tuple[str, ...]
) -> Executable:
    """Built once per shape (building `excluded` costs more than running the statement on
    SQLite); the values are bound at execution."""
    statement = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    changes = {name: statement.excluded[name] for name in columns if name not in key}
    return statement.on_conflict_do_update(
        index_elements=[table.c[name] for name in key], set_=changes
    )
