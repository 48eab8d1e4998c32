"""Dashboard polls while every device sends the biggest heartbeat it can (issue 10, item 2).

Each of `--speakers` devices (raw HTTP with its own token) sends one heartbeat whose `cache`
and `now_playing` carry `--junk-mb` MB of keys the client never sends; then an admin polls
`/dashboard/live`, `/api/v1/speakers` and `/dashboard/cards` (`--polls` times each). Prints
the heartbeat answers and, per page, the median, p95 and largest time and the body size.

The server drops unknown keys and refuses bodies over 1 MB (413), so what it stores and
serves stays small. To compare with an older server, run it from another source tree:

    git archive dd11f79 broadcaster web audio | tar -x -C /tmp/old
    .venv/bin/python -m benchmarks.bench_hostile_device --source /tmp/old --junk-mb 15
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from tests.integration.harness import (
    ADMIN_PASSWORD,
    Server,
    aware_now,
    deployment_yaml,
    seconds,
)


def _beat(junk: dict[str, str]) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    return {
        "state": "playing", "volume": 100, "client_time": now, "last_sync": now,
        "clock_offset_ms": 5, "version": "0.1.0",
        "cache": {"clips": 2, "bytes": 1000, "missing": 0, "corrupt": 0, **junk},
        "now_playing": {"clip": "ab" * 32, "message": "m1", "kind": "loop", "started_at": now,
                        "position_ms": 10, **junk},
        "selftest": {"at": now, "ok": True, "detail": "played 1.0 s"},
    }  # fmt: skip


def _admin(server: Server) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{server.url}/login", timeout=30).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, page[:300]
    session.post(
        f"{server.url}/login",
        data={"name": "admin", "password": ADMIN_PASSWORD, "csrf_token": token.group(1)},
        allow_redirects=False,
        timeout=30,
    )
    return session


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--speakers", type=int, default=23)
    parser.add_argument("--junk-mb", type=float, default=0.45, help="per field (two fields)")
    parser.add_argument("--polls", type=int, default=20)
    parser.add_argument("--source", help="run the server from this source tree (PYTHONPATH)")
    args = parser.parse_args(argv)
    junk = {f"k{i}": "x" * 1000 for i in range(int(args.junk_mb * 1000))}
    with tempfile.TemporaryDirectory(prefix="broadcaster-bench-") as tmp:
        root = Path(tmp)
        now = aware_now()
        config = root / "config.yaml"
        config.write_text(
            deployment_yaml(window_start=now - seconds(60), window_end=now + seconds(3600),
                            speakers=args.speakers, heartbeat_s=30)
        )  # fmt: skip
        server = Server(root, config, extra_env={"PYTHONPATH": args.source} if args.source else {})
        server.start(timeout_s=120)
        try:
            answers: dict[str, int] = {}
            for i in range(1, args.speakers + 1):
                speaker = f"spk-{i}"
                headers = {"Authorization": f"Bearer {server.device_token(speaker)}"}
                url = f"{server.url}/api/v1/speakers/{speaker}/heartbeat"
                status = requests.post(url, json=_beat(junk), headers=headers, timeout=300)
                if status.status_code != 200:  # refused: the speaker still reports, plainly
                    requests.post(url, json=_beat({}), headers=headers, timeout=60)
                key = str(status.status_code)
                answers[key] = answers.get(key, 0) + 1
            admin = _admin(server)
            pages: dict[str, dict[str, float]] = {}
            for page in ("/dashboard/live", "/api/v1/speakers", "/dashboard/cards"):
                times, size = [], 0
                for _ in range(args.polls):
                    started = time.monotonic()
                    answer = admin.get(server.url + page, timeout=300)
                    times.append(time.monotonic() - started)
                    size = len(answer.content)
                    assert answer.status_code == 200, (page, answer.status_code)
                times.sort()
                pages[page] = {
                    "median_s": round(statistics.median(times), 3),
                    "p95_s": round(times[max(0, int(len(times) * 0.95) - 1)], 3),
                    "max_s": round(times[-1], 3),
                    "body_bytes": size,
                }
        finally:
            server.stop()
    result = {
        "speakers": args.speakers,
        "junk_mb_per_field": args.junk_mb,
        "source": args.source or "this tree",
        "heartbeat_answers": answers,
        "polls": pages,
    }
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
