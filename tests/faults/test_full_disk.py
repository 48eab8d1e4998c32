"""The server's data folder on a small tmpfs that fills up: writes fail clearly (507 with a
JSON message, and a log line), reads keep working, and once space is freed everything works
again on a sound database."""

from __future__ import annotations

import subprocess
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests

from broadcaster.store import Store, TokenKind, sqlite_url
from tests.faults.processes import FaultServer, integrity, play_ids
from tests.integration.harness import aware_now, deployment_yaml, seconds

pytestmark = pytest.mark.integration


@pytest.fixture
def small_disk(tmp_path):
    """`tmp_path/data` is a 32 MiB tmpfs (unmounted after the test)."""
    data = tmp_path / "data"
    data.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(data)], check=True)
    try:
        yield data
    finally:
        subprocess.run(["umount", "-l", str(data)], check=False)


def _entries(n: int) -> list[dict[str, object]]:
    start = datetime.now(UTC) - timedelta(seconds=5)
    return [
        {"id": str(uuid.uuid4()), "clip": "c" * 64, "message": "m1-" + "x" * 60, "kind": "loop",
         "started_at": start.isoformat(), "ended_at": start.isoformat(), "completed": False,
         "reason": "cut:shutdown"}
        for _ in range(n)
    ]  # fmt: skip


def test_full_disk_refuses_writes_clearly_keeps_reads_and_recovers(tmp_path, small_disk):
    now = aware_now()
    config = tmp_path / "config.yaml"
    config.write_text(
        deployment_yaml(window_start=now - seconds(60), window_end=now + seconds(3600), speakers=2)
    )
    server = FaultServer(tmp_path, config)
    server.start()
    try:
        store = Store.open(sqlite_url(server.data), upgrade=False)
        try:
            device = store.people.issue_token(TokenKind.DEVICE, "spk-1", now)[1]
            user = store.people.issue_token(TokenKind.USER, "admin", now)[1]
        finally:
            store.close()
        dev = requests.Session()
        dev.headers["Authorization"] = f"Bearer {device}"
        base = f"{server.url}/api/v1/speakers/spk-1"
        plan = dev.get(f"{base}/plan", timeout=30)  # renders the clips while there is room
        assert plan.status_code == 200, plan.text
        clip_url = next(iter(plan.json()["clips"].values()))["url"]
        acked: set[str] = set()

        def upload(n: int) -> requests.Response:
            answer = dev.post(f"{base}/plays", json={"entries": _entries(n)}, timeout=30)
            if answer.status_code == 200:
                acked.update(answer.json()["accepted"])
            return answer

        assert upload(50).status_code == 200

        filler = small_disk / "filler"
        subprocess.run(
            ["dd", "if=/dev/zero", f"of={filler}", "bs=64k"], capture_output=True, check=False
        )
        # SQLite may still fit some pages into its WAL: write until the disk says no.
        statuses = []
        for _ in range(200):
            answer = upload(200)
            statuses.append(answer.status_code)
            if answer.status_code != 200:
                break
        assert answer.status_code == 507, (statuses, answer.text, server.log_text()[-3000:])
        error = answer.json()["error"]
        assert error["code"] == "storage_full"
        assert "disk is full" in error["message"]
        assert "disk is full" in server.log_text()
        beat = dev.post(f"{base}/heartbeat", json={"state": "playing"}, timeout=30)
        assert beat.status_code in (200, 507), beat.text

        # Reads keep working: plan, clip, events, the user API, the health check.
        again = dev.get(f"{base}/plan", timeout=30)
        assert again.status_code == 200, again.text
        assert again.headers["ETag"] == plan.headers["ETag"]
        assert dev.get(f"{server.url}{clip_url}", timeout=30).status_code == 200
        assert dev.get(f"{base}/events", timeout=30).status_code == 200
        users = requests.get(
            f"{server.url}/api/v1/speakers", headers={"Authorization": f"Bearer {user}"},
            timeout=30,
        )  # fmt: skip
        assert users.status_code == 200, users.text
        assert requests.get(f"{server.url}/healthz", timeout=10).status_code == 200
        assert server.proc is not None and server.proc.poll() is None

        filler.unlink()
        assert upload(50).status_code == 200
        beat = dev.post(f"{base}/heartbeat", json={"state": "playing"}, timeout=30)
        assert beat.status_code == 200, beat.text
    finally:
        server.stop()
    assert integrity(server.db) == "ok"
    assert acked <= set(play_ids(server.db)["spk-1"])
    server.start()  # and it starts again on that database
    server.stop()
