"""Store fixtures: every core test runs on a SQLite file and on a throwaway PostgreSQL 15.

The PostgreSQL cluster is real and local: initdb in a temp folder (as the `postgres` system
user when the tests run as root, since initdb refuses root), a unix socket in that folder,
a free TCP port on 127.0.0.1, trust auth. It is migrated once by `Store.open`; each test
then starts from a snapshot of that state (empty, or seeded from config.yaml by
`seed_from`), restored by TRUNCATE + INSERT, which is ten times faster than a CREATE
DATABASE per test. If PostgreSQL cannot start, the tests fail with the reason: never skip.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, create_engine, insert, select
from sqlalchemy.pool import NullPool

from broadcaster.config import Settings
from broadcaster.store import Store, sqlite_url
from broadcaster.store.engine import make_engine
from broadcaster.store.schema import metadata

NOW = datetime(2026, 11, 29, 4, 0, tzinfo=UTC)
BACKENDS = ["sqlite", "postgresql"]
WORK = "bc_work"  # the database the PostgreSQL tests share, reset before each test
# fsync off and minimal WAL: the cluster is thrown away after the run.
SERVER_OPTIONS = "-F -c full_page_writes=off -c wal_level=minimal -c max_wal_senders=0"

Snapshot = dict[str, list[dict[str, Any]]]


def _pg_bindir() -> Path:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    if not candidates:
        pytest.fail(
            "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb): "
            "run `make test` (scripts/bootstrap.sh installs the Debian `postgresql` package)"
        )
    return candidates[0].parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    """A running throwaway cluster with one shared, resettable work database."""

    port: int
    root: Path
    snapshots: dict[str, Snapshot] = field(default_factory=dict)
    _names: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _work: Engine | None = None

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str) -> None:
        dsn = f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def empty_database(self) -> str:
        """A brand-new database no migration has touched."""
        name = f"empty_{next(self._names)}"
        self.admin(f"CREATE DATABASE {name}")
        return self.url(name)

    @property
    def work(self) -> Engine:
        if self._work is None:
            self._work = create_engine(self.url(WORK), poolclass=NullPool)
        return self._work

    def take_snapshot(self, name: str) -> None:
        with self.work.connect() as conn:
            self.snapshots[name] = {
                table.name: [dict(row) for row in conn.execute(select(table)).mappings()]
                for table in metadata.sorted_tables
            }

    def reset(self, name: str) -> str:
        """Put the work database back to snapshot `name`; returns its URL."""
        tables = ", ".join(table.name for table in metadata.sorted_tables)
        with self.work.begin() as conn:
            # The audit log refuses TRUNCATE by design; lift that for the reset only.
            conn.exec_driver_sql("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_truncate")
            conn.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY")
            conn.exec_driver_sql("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_truncate")
            for table in metadata.sorted_tables:
                rows = self.snapshots[name][table.name]
                if rows:
                    conn.execute(insert(table), rows)
        return self.url(WORK)


def _run(command: list[str], what: str, log: Path | None = None) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        detail = result.stderr + (log.read_text() if log is not None and log.exists() else "")
        pytest.fail(f"PostgreSQL: {what} failed ({result.returncode}):\n{detail}")


@pytest.fixture(scope="session")
def postgres(settings: Settings) -> Iterator[PostgresServer]:
    bindir = _pg_bindir()
    root = Path(tempfile.mkdtemp(prefix="broadcaster-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        pg = pwd.getpwnam("postgres")
        os.chown(root, pg.pw_uid, pg.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, log = root / "data", root / "log"
    port = _free_port()
    started = False
    server: PostgresServer | None = None
    try:
        initdb = ["-D", str(data), "-U", "postgres", "--auth=trust", "--encoding=UTF8"]
        _run([*as_user, str(bindir / "initdb"), *initdb, "--locale=C", "--no-sync"], "initdb")
        options = f"-k {root} -p {port} -h 127.0.0.1 {SERVER_OPTIONS}"
        start = ["-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60"]
        _run([*as_user, str(bindir / "pg_ctl"), *start, "start"], "pg_ctl start", log)
        started = True
        server = PostgresServer(port, root)
        server.admin(f"CREATE DATABASE {WORK}")
        with Store.open(server.url(WORK)) as store:
            server.take_snapshot("migrated")
            store.seed_from(settings, NOW)
            server.take_snapshot("seeded")
        yield server
    finally:
        if server is not None:
            server.work.dispose()
        if started:
            subprocess.run(
                [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(root, ignore_errors=True)


def _database(request: pytest.FixtureRequest, tmp_path: Path, snapshot: str) -> str:
    if request.param == "sqlite":
        return sqlite_url(tmp_path)
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.reset(snapshot)


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database on each backend."""
    return _database(request, tmp_path, "migrated")


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    with Store.open(db_url) as opened:
        yield opened


@pytest.fixture(params=BACKENDS)
def seeded(request: pytest.FixtureRequest, tmp_path: Path, settings: Settings) -> Iterator[Store]:
    """A store seeded from the sample config.yaml at NOW."""
    url = _database(request, tmp_path, "seeded")
    with Store.open(url) as opened:
        if request.param == "sqlite":
            opened.seed_from(settings, NOW)
        yield opened


@pytest.fixture(params=BACKENDS)
def unmigrated(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database no migration has touched yet (the migration tests take it step by step)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'm.db'}"
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        url = server.empty_database()
    made = make_engine(url)
    yield made
    made.dispose()
