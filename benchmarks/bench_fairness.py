"""One user must not stall everyone (issue 10, item 5), measured on a real server.

previews: 8 signed-in users each ask for a 500-character spoken preview at once (and one
uploads a recording bomb) while /healthz is polled every 50 ms: /healthz p50/p95/max, each
preview's answer time and status, a 9th preview sent while the 8 are admitted, and the
clip cache's size afterwards.

dashboard: 50,000 plays today across the district's speakers; the dashboard page and its
30-second cards fragment are loaded by the admin while a speaker fetches its plan every
100 ms: page times and the speaker's plan-fetch latency.

    .venv/bin/python -m benchmarks.bench_fairness [--previews 8] [--plays 50000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import insert

from benchmarks.common import deployment_server, rss_mb
from broadcaster.store import Store, TokenKind, sqlite_url
from broadcaster.store import schema as t
from tests.integration.harness import (
    ADMIN_PASSWORD,
    Server,
    aware_now,
    seconds,
)
from tests.integration.panel_users import Poller, add_users, login, long_text, opus_bomb, preview


def _quantiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {}
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return {
        "n": len(ordered),
        "p50_ms": round(1000 * statistics.median(ordered)),
        "p95_ms": round(1000 * p95),
        "max_ms": round(1000 * ordered[-1]),
    }


def _clip_bytes(data: Path) -> tuple[int, int]:
    files = [p for p in (data / "clips").glob("*/*") if p.suffix != ".json"]
    return len(files), sum(p.stat().st_size for p in files)


def previews(count: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="broadcaster-bench-") as tmp:
        root = Path(tmp)
        bomb = opus_bomb(root)
        with deployment_server(1, opens_in_s=-3600, length_s=7200) as server:
            assert server.proc is not None
            names = [f"user{i}" for i in range(count + 1)]
            add_users(server, names)
            sessions = [login(server.url, name) for name in names]
            idle_rss = rss_mb(server.proc.pid)
            results: dict[int, tuple[int, float]] = {}

            def one(i: int) -> None:
                session, csrf = sessions[i]
                start = time.monotonic()
                try:
                    status = preview(session, csrf, server.url, long_text(i)).status_code
                except requests.RequestException:
                    status = 0
                results[i] = (status, time.monotonic() - start)

            def upload_bomb() -> None:
                session, csrf = sessions[0]
                start = time.monotonic()
                response = session.post(
                    server.url + "/messages/new",
                    data={"csrf_token": csrf, "id": "bomb", "title": "炸弹", "text": "",
                          "voice": "", "rate": "170", "volume": "1", "area": ""},
                    files={"recording": ("bomb.opus", bomb)},
                    allow_redirects=False, timeout=180,
                )  # fmt: skip
                results[-1] = (response.status_code, time.monotonic() - start)

            with Poller(server.url + "/healthz") as health:
                time.sleep(0.5)
                started = time.monotonic()
                threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
                threads.append(threading.Thread(target=upload_bomb))
                for thread in threads:
                    thread.start()
                time.sleep(1.0)  # the 8 are in; the first finishes after ~2 s at the earliest
                one(count)
                for thread in threads:
                    thread.join(300)
                wall = time.monotonic() - started
                time.sleep(0.5)
            clips, size = _clip_bytes(server.data)
            answers = [results[i] for i in range(count) if i in results]
            return {
                "previews": count,
                "healthz": _quantiles(health.latencies),
                "healthz_failures": health.failures,
                "preview_statuses": sorted(s for s, _ in answers),
                "preview_s": _quantiles([d for _, d in answers]),
                "ninth_status": results[count][0],
                "ninth_ms": round(1000 * results[count][1]),
                "bomb_status": results[-1][0],
                "wall_s": round(wall, 1),
                "cache_clips": clips,
                "cache_mb": round(size / 2**20, 1),
                "server_rss_mb": {"idle": round(idle_rss), "after": round(rss_mb(server.proc.pid))},
            }


def _add_plays(server: Server, plays: int, speakers: int) -> str:
    """`plays` rows today (spread over the past hours) straight into the database; returns
    a device token for spk-1."""
    now = aware_now()
    start = now.replace(hour=0, minute=0, second=1, microsecond=0)
    span = max(1.0, (now - start).total_seconds() - 2)
    store = Store.open(sqlite_url(server.data), upgrade=False)
    try:
        rows = []
        for i in range(plays):
            at = start + seconds(span * i / plays)
            rows.append(
                {"id": f"bench-{i}", "speaker_id": f"spk-{i % speakers + 1}", "clip": "c" * 64,
                 "message_id": "m1", "kind": "loop", "planned_start": at, "started_at": at,
                 "ended_at": at + seconds(5), "completed": True, "reason": "",
                 "received_at": now}
            )  # fmt: skip
        with store.transaction() as conn:
            for i in range(0, len(rows), 5000):
                conn.execute(insert(t.play_log), rows[i : i + 5000])
        return store.people.issue_token(TokenKind.DEVICE, "spk-1", now)[1]
    finally:
        store.close()


def dashboard(plays: int, speakers: int = 23, loads: int = 5) -> dict[str, Any]:
    with deployment_server(speakers, opens_in_s=-3600, length_s=7200) as server:
        token = _add_plays(server, plays, speakers)
        session, _csrf = login(server.url, "admin", ADMIN_PASSWORD)
        plan_url = server.url + "/api/v1/speakers/spk-1/plan"
        headers = {"Authorization": f"Bearer {token}"}
        requests.get(plan_url, headers=headers, timeout=60).raise_for_status()
        session.get(server.url + "/", timeout=120).raise_for_status()  # warm the plans
        page: list[float] = []
        cards: list[float] = []
        with Poller(plan_url, 0.1, headers) as device:
            time.sleep(0.3)
            for _ in range(loads):
                for url, into in (("/", page), ("/dashboard/cards", cards)):
                    start = time.monotonic()
                    answer = session.get(server.url + url, timeout=120)
                    into.append(time.monotonic() - start)
                    answer.raise_for_status()
            time.sleep(0.3)
        return {
            "plays": plays,
            "speakers": speakers,
            "dashboard_page": _quantiles(page),
            "cards_fragment": _quantiles(cards),
            "device_plan_fetch": _quantiles(device.latencies),
        }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--previews", type=int, default=8)
    parser.add_argument("--plays", type=int, default=50_000)
    parser.add_argument("--only", choices=("previews", "dashboard"))
    args = parser.parse_args(argv)
    result: dict[str, Any] = {}
    if args.only in (None, "previews"):
        result["previews"] = previews(args.previews)
    if args.only in (None, "dashboard"):
        result["dashboard"] = dashboard(args.plays)
    print(json.dumps(result, indent=1, ensure_ascii=False))
    return result


if __name__ == "__main__":
    main()
