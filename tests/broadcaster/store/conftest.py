"""Store fixtures: every core test runs on a SQLite file and on a throwaway PostgreSQL 15.

The PostgreSQL cluster is real and local: initdb in a temp folder (as the `postgres` system
user when the tests run as root, since initdb refuses root), a unix socket in that folder,
a free TCP port on 127.0.0.1, trust auth. Each test gets its own database, cloned from a
migrated template. If PostgreSQL cannot start, the tests fail with the reason: never skip.
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

import psycopg
import pytest

from broadcaster.config import Settings
from broadcaster.store import Store, sqlite_url

NOW = datetime(2026, 11, 29, 4, 0, tzinfo=UTC)
BACKENDS = ["sqlite", "postgresql"]
TEMPLATE = "bc_template"  # migrated
SEEDED_TEMPLATE = "bc_seeded"  # migrated and seeded from the sample config.yaml at NOW


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
    """A running throwaway cluster; `new_database()` hands out fresh databases."""

    port: int
    root: Path
    _names: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _admin(self, sql: str) -> None:
        dsn = f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def new_database(self, template: str = TEMPLATE) -> str:
        """A new database cloned from `template` (`template0` for an empty one)."""
        name = f"test_{next(self._names)}"
        self._admin(f"CREATE DATABASE {name} TEMPLATE {template}")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        self._admin(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")


def _run(command: list[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        pytest.fail(f"PostgreSQL: {what} failed ({result.returncode}):\n{result.stderr}")


@pytest.fixture(scope="session")
def postgres(settings: Settings) -> Iterator[PostgresServer]:
    bindir = _pg_bindir()
    root = Path(tempfile.mkdtemp(prefix="broadcaster-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        pg = pwd.getpwnam("postgres")
        os.chown(root, pg.pw_uid, pg.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data = root / "data"
    port = _free_port()
    started = False
    try:
        initdb = ["-D", str(data), "-U", "postgres", "--auth=trust", "--encoding=UTF8"]
        _run([*as_user, str(bindir / "initdb"), *initdb, "--locale=C", "--no-sync"], "initdb")
        # fsync off: the cluster is thrown away after the run.
        options = f"-k {root} -p {port} -h 127.0.0.1 -F -c full_page_writes=off"
        start = ["-D", str(data), "-l", str(root / "log"), "-o", options, "-w", "-t", "60"]
        _run([*as_user, str(bindir / "pg_ctl"), *start, "start"], "pg_ctl start")
        started = True
        server = PostgresServer(port, root)
        server._admin(f"CREATE DATABASE {TEMPLATE}")
        Store.open(server.url(TEMPLATE)).close()
        server._admin(f"CREATE DATABASE {SEEDED_TEMPLATE} TEMPLATE {TEMPLATE}")
        with Store.open(server.url(SEEDED_TEMPLATE)) as store:
            store.seed_from(settings, NOW)
        yield server
    finally:
        if started:
            subprocess.run(
                [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(root, ignore_errors=True)


def _database(request: pytest.FixtureRequest, tmp_path: Path, template: str) -> Iterator[str]:
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    url = server.new_database(template)
    yield url
    server.drop_database(url)


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database on each backend."""
    yield from _database(request, tmp_path, TEMPLATE)


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    with Store.open(db_url) as opened:
        yield opened


@pytest.fixture(params=BACKENDS)
def seeded(request: pytest.FixtureRequest, tmp_path: Path, settings: Settings) -> Iterator[Store]:
    """A store seeded from the sample config.yaml at NOW (on PostgreSQL: a seeded clone)."""
    for url in _database(request, tmp_path, SEEDED_TEMPLATE):
        with Store.open(url) as opened:
            if request.param == "sqlite":
                opened.seed_from(settings, NOW)
            yield opened
