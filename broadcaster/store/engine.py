"""Engines for SQLite (the default: one file under the data folder) and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, ExceptionContext, make_url

from broadcaster.errors import StorageFull

DB_FILE = "broadcaster.db"
BUSY_TIMEOUT_MS = 30_000
# Execution option marking a transaction that will write: SQLite then takes the write lock
# at BEGIN, so two writers queue on the busy timeout instead of failing half-way through.
WRITE_OPTION = "broadcaster_write"
SQLITE_FULL = 13
POSTGRES_DISK_FULL = "53100"
FULL_MESSAGE = (
    "the server's disk is full: the change was not saved (free space under the data folder)"
)


def sqlite_url(data_dir: Path) -> str:
    """The default database: `broadcaster.db` in the data folder."""
    return f"sqlite:///{(Path(data_dir) / DB_FILE).resolve()}"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys, a busy timeout and real BEGINs."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        engine = create_engine(url, pool_pre_ping=True, **kwargs)
        event.listen(engine, "handle_error", _disk_full)
        return engine
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        raise ValueError("use a SQLite file: WAL mode and several connections need one")
    Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, **kwargs)
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    event.listen(engine, "handle_error", _disk_full)
    return engine


def _disk_full(context: ExceptionContext) -> None:
    # A full disk is an operating condition, not a crash: callers get StorageFull (HTTP 507).
    orig = context.original_exception
    if (
        getattr(orig, "sqlite_errorcode", None) == SQLITE_FULL
        or getattr(orig, "sqlstate", None) == POSTGRES_DISK_FULL
    ):
        raise StorageFull(FULL_MESSAGE) from orig


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Python's sqlite3 would otherwise BEGIN lazily (not before SELECTs, not before DDL);
    # we emit BEGIN ourselves in `_sqlite_begin`.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        # In WAL mode NORMAL loses no committed transaction on a process crash; only a power
        # cut can lose the last ones, and never corrupts the file.
        cursor.execute("PRAGMA synchronous = NORMAL")
    finally:
        cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    write = conn.get_execution_options().get(WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
