"""One user cannot stall everyone (issue 10, item 5), against a real `broadcaster serve`.

Four users ask for two 500-character spoken previews each at once (the real engine: about
150 s of speech each) while a fifth uploads a recording bomb, and /healthz is probed every
50 ms on a fixed schedule. Before the fix the loudness pass of each clip ran on the request
loop: /healthz p95 was 6.9 s (max 7.1 s) and every preview was accepted. Now:

- /healthz p95 stays under 1 s (measured: about 0.1 s on a loaded machine);
- the eight are admitted (two per user, eight in all) and all answer 200;
- a ninth preview while they are under way is a 429 with Retry-After and says so in Chinese,
  and a user's third one is a 429 naming the per-user limit;
- the clip cache is brought back under its budget (server.clip_cache_mb: 20) once renders
  took it over: previews do not fill the disk.
"""

from __future__ import annotations

import re
import statistics
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from tests.integration.harness import Server, aware_now, deployment_yaml, wait_for
from tests.integration.panel_users import Poller, add_users, login, long_text, opus_bomb, preview

pytestmark = [pytest.mark.integration, pytest.mark.slow]

HEALTHZ_P95_S = 1.0
BUDGET_MB = 20
PER_USER = "您已有 2 段音频正在生成，请等它们生成完再试。"
QUEUE_FULL = re.compile(r"服务器正忙于生成其他音频，请 (\d+) 秒后再试。")


def clip_bytes(data: Path) -> int:
    return sum(p.stat().st_size for p in (data / "clips").glob("*/*") if p.is_file())


def test_eight_previews_and_a_bomb_do_not_stall_the_server(tmp_path: Path) -> None:
    bomb = opus_bomb(tmp_path)
    now = aware_now()
    text = deployment_yaml(
        window_start=now - timedelta(hours=1), window_end=now + timedelta(hours=1), speakers=1
    )
    marker = "long_poll_max_s: 30}"
    assert marker in text
    config = tmp_path / "config.yaml"
    config.write_text(text.replace(marker, f"long_poll_max_s: 30, clip_cache_mb: {BUDGET_MB}}}"))
    server = Server(tmp_path, config)
    server.start()
    try:
        names = [f"user{i}" for i in range(5)]
        add_users(server, names)
        sessions = {name: login(server.url, name) for name in names}
        answers: dict[str, requests.Response | Exception] = {}

        def ask(name: str, label: str, i: int) -> None:
            session, csrf = sessions[name]
            try:
                answers[label] = preview(session, csrf, server.url, long_text(i))
            except requests.RequestException as exc:
                answers[label] = exc

        def upload_bomb() -> None:
            session, csrf = sessions["user4"]
            answers["bomb"] = session.post(
                server.url + "/messages/new",
                data={"csrf_token": csrf, "id": "bomb", "title": "炸弹", "text": "", "voice": "",
                      "rate": "170", "volume": "1", "area": ""},
                files={"recording": ("bomb.opus", bomb)}, allow_redirects=False, timeout=180,
            )  # fmt: skip

        with Poller(server.url + "/healthz") as health:
            time.sleep(0.5)
            threads = [
                threading.Thread(target=ask, args=(f"user{i // 2}", f"p{i}", i)) for i in range(8)
            ]
            threads.append(threading.Thread(target=upload_bomb))
            for thread in threads:
                thread.start()
            assert wait_for(lambda: "users' 8/8" in server.log_text(), 60), server.log_text()[
                -3000:
            ]
            ask("user4", "ninth", 8)
            ask("user0", "third of user0", 9)
            for thread in threads:
                thread.join(300)
            time.sleep(0.5)

        latencies = health.latencies
        p95 = statistics.quantiles(latencies, n=20)[-1]
        print(
            f"/healthz p95 {p95 * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms over "
            f"{len(latencies)} probes; clip cache {clip_bytes(server.data) / 2**20:.1f} MB"
        )
        ninth, third = answers["ninth"], answers["third of user0"]
        assert isinstance(ninth, requests.Response) and ninth.status_code == 429, ninth
        found = QUEUE_FULL.fullmatch(ninth.json()["error"]["message"])
        assert found and found.group(1) == ninth.headers["Retry-After"], ninth.text
        assert isinstance(third, requests.Response) and third.status_code == 429, third
        assert third.json() == {"error": {"code": "busy", "message": PER_USER}}
        assert int(third.headers["Retry-After"]) >= 1
        for i in range(8):
            answer = answers[f"p{i}"]
            assert isinstance(answer, requests.Response), answer
            assert answer.status_code == 200, answer.text[:500]
            assert answer.json()["duration_ms"] > 100_000
        bombed = answers["bomb"]
        assert isinstance(bombed, requests.Response) and bombed.status_code == 422
        assert health.failures == 0
        assert p95 < HEALTHZ_P95_S, f"/healthz p95 {p95:.2f} s"
        # Eight clips of about 6 MB went past the 20 MB budget: the collection runs soon
        # after and keeps the latest previews within it (plus the tiny clips in use).
        assert wait_for(lambda: clip_bytes(server.data) <= BUDGET_MB * 2**20, 30), clip_bytes(
            server.data
        )
        assert server.proc is not None and server.proc.poll() is None
    finally:
        server.stop()
