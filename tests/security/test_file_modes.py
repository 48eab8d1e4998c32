"""Files that hold secrets are their owner's alone (issue 10, item 6): the SQLite database
with its -wal and -shm files, token files, the session key; a real `broadcaster serve` keeps
its whole data folder private; the client's journal too. The tests run with umask 022 (what
a shell gives), so a file made with the default mode would be readable by everyone."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from broadcaster.client.journal import Journal
from broadcaster.client.main import token_file_problem
from broadcaster.store import Store, TokenKind, sqlite_url
from tests.conftest import BIN, SAMPLE_CONFIG
from tests.integration.harness import ADMIN_PASSWORD, Server, aware_now, deployment_yaml, seconds


@pytest.fixture(autouse=True)
def shell_umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _db_files(folder: Path) -> dict[str, int]:
    return {p.name: mode(p) for p in folder.iterdir() if p.name.startswith("broadcaster.db")}


def test_a_new_sqlite_database_and_its_wal_and_shm_are_0600(tmp_path: Path) -> None:
    store = Store.open(sqlite_url(tmp_path / "data"))
    try:
        store.set_meta("probe", "x")  # a write: the WAL has content
        found = _db_files(tmp_path / "data")
        assert set(found) >= {"broadcaster.db", "broadcaster.db-wal", "broadcaster.db-shm"}
        assert found == dict.fromkeys(found, 0o600), {k: oct(v) for k, v in found.items()}
        assert mode(tmp_path / "data") == 0o700
    finally:
        store.close()


def test_an_existing_database_readable_by_others_is_narrowed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    Store.open(sqlite_url(tmp_path)).close()
    path = tmp_path / "broadcaster.db"
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        store = Store.open(sqlite_url(tmp_path))
    try:
        store.set_meta("probe", "x")
        found = _db_files(tmp_path)
        assert found == dict.fromkeys(found, 0o600), {k: oct(v) for k, v in found.items()}
        assert "readable by other users: now 0600" in caplog.text
    finally:
        store.close()


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "broadcaster"), *args, "--config", str(SAMPLE_CONFIG),
         "--data", str(tmp_path / "data")],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip


def test_token_issue_writes_a_0600_file_and_never_over_another(tmp_path: Path) -> None:
    target = tmp_path / "device.token"
    done = _cli(tmp_path, "token", "issue", "--speaker", "vehicle-01", "--output", str(target))
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""  # not printed
    assert f"written to {target} (mode 0600)" in done.stderr
    assert mode(target) == 0o600
    token = target.read_text().strip()
    store = Store.open(sqlite_url(tmp_path / "data"), upgrade=False)
    try:
        assert store.people.verify_token(token, TokenKind.DEVICE, datetime.now(UTC)) == "vehicle-01"
        tokens_before = len(store.people.list_tokens())
    finally:
        store.close()
    again = _cli(tmp_path, "token", "issue", "--speaker", "vehicle-01", "--output", str(target))
    assert again.returncode == 2 and "exists" in again.stderr
    assert target.read_text().strip() == token
    store = Store.open(sqlite_url(tmp_path / "data"), upgrade=False)
    try:
        assert len(store.people.list_tokens()) == tokens_before  # refused before issuing
    finally:
        store.close()
    assert _db_files(tmp_path / "data")["broadcaster.db"] == 0o600


def test_other_commands_keep_the_data_folder_private_too(tmp_path: Path) -> None:
    """`synth` renders into the data folder's clip cache before any `serve`; the file it
    hands to the user is an ordinary 0644 file."""
    out = tmp_path / "out.wav"
    done = _cli(tmp_path, "synth", "测试", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert mode(out) == 0o644
    data = tmp_path / "data"
    folders = [data, *(p for p in data.rglob("*") if p.is_dir())]
    assert len(folders) > 1
    assert {p: oct(mode(p)) for p in folders} == {p: "0o700" for p in folders}


def test_serve_keeps_its_data_folder_private(tmp_path: Path) -> None:
    now = aware_now()
    config = tmp_path / "config.yaml"
    config.write_text(
        deployment_yaml(window_start=now - seconds(60), window_end=now + seconds(3600), speakers=1)
    )
    server = Server(tmp_path, config)
    server.start()
    try:
        session = requests.Session()
        page = session.get(f"{server.url}/login", timeout=10).text
        token = page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
        answer = session.post(
            f"{server.url}/login",
            data={"name": "admin", "password": ADMIN_PASSWORD, "csrf_token": token},
            timeout=10, allow_redirects=False,
        )  # fmt: skip
        assert answer.status_code == 302
        plan = session.get(f"{server.url}/messages/m1/audio.wav", timeout=60)
        assert plan.status_code == 200  # a clip was rendered into the cache
    finally:
        server.stop()
    data = server.data
    assert mode(data) == 0o700
    for name in ("secret_key", "broadcaster.db", "broadcaster.db-wal", "broadcaster.db-shm"):
        if (data / name).exists() or name == "broadcaster.db":
            assert mode(data / name) == 0o600, (name, oct(mode(data / name)))
    folders = [p for p in data.rglob("*") if p.is_dir()]
    assert folders, "no clip folder was made"
    for folder in folders:
        assert mode(folder) == 0o700, (folder, oct(mode(folder)))
    loose = [p for p in data.rglob("*") if p.is_file() and mode(p) & 0o077]
    # Clip files keep 0644 (audio/cache.py): unreachable inside 0700 folders.
    assert all("clips" in p.relative_to(data).parts for p in loose), loose


def test_the_clients_journal_is_0600_and_a_loose_token_file_is_named(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "cache" / "journal.db")
    try:
        journal.open_play({"id": "p1", "clip": "c", "started_at": "x"})
        files = {p.name: mode(p) for p in (tmp_path / "cache").iterdir()}
        assert files and files == dict.fromkeys(files, 0o600), files
    finally:
        journal._db.close()
    token = tmp_path / "device.token"
    token.write_text("secret\n")
    token.chmod(0o644)
    assert token_file_problem(token) == (
        f"the token file {token} can be read by other users: chmod 600 {token}"
    )
    token.chmod(0o600)
    assert token_file_problem(token) is None
