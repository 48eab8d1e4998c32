"""Engines for SQLite (the default: one file under the data folder) and PostgreSQL."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, ExceptionContext, make_url

from broadcaster.errors import StorageFull

log = logging.getLogger(__name__)
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
        if "options" not in parsed.query:
            # Sessions in UTC, as every time is stored and read (UtcDateTime). In a cluster
            # whose zone is east of UTC, a stored 9999-12-31T20:00Z reads back as year 10000,
            # which the driver cannot represent: every read of that row would fail.
            options = {"options": "-c timezone=UTC"}
            kwargs["connect_args"] = {**options, **kwargs.get("connect_args", {})}
        # A server process answers thousands of speakers: 20 connections (PostgreSQL's
        # default limit of 100 leaves room for 4 workers and the tools).
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 10)
        engine = create_engine(url, pool_pre_ping=True, **kwargs)
        event.listen(engine, "handle_error", _disk_full)
        return engine
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        raise ValueError("use a SQLite file: WAL mode and several connections need one")
    Path(database).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    private_database(Path(database))
    engine = create_engine(url, **kwargs)
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    event.listen(engine, "handle_error", _disk_full)
    return engine


def private_database(path: Path) -> None:
    """Make the SQLite file its owner's alone (it holds password and token hashes).

    A new file is created empty with mode 0600 before SQLite opens it; SQLite gives the
    `-wal` and `-shm` files it makes the database file's mode. An existing file (and its
    `-wal`, `-shm`, `-journal`) readable by others is narrowed to 0600.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        os.close(fd)
        return
    for suffix in ("", "-wal", "-shm", "-journal"):
        part = path.with_name(path.name + suffix)
        try:
            if part.stat().st_mode & 0o077:
                part.chmod(0o600)
                log.warning("%s was readable by other users: now 0600", part)
        except FileNotFoundError:
            continue
        except OSError as exc:  # not ours to change (another owner): say so, go on
            log.warning("%s is readable by other users and cannot be narrowed: %s", part, exc)


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
