"""One process, no stalls (issue 14, item 1), measured on a real server on loopback.

speakers: 1,000 simulated speakers (benchmarks/loadgen.py) at the production heartbeat (a
heartbeat and a plan check each every 30 s, a long poll held) while 4 admins keep the
dashboard open (its script polls /dashboard/live every 2 s and swaps the cards every 30 s);
SQLite, one `broadcaster serve`. Prints heartbeat, plan and dashboard p50/p95/p99, errors,
the server's CPU and memory, and the bytes of one vehicle's plan (plain, gzip) and what a
vehicle downloads a day.

wrk: 50 connections against our `304` (a plan check with the current ETag) and against nginx
answering the same `304` from a static file on the same machine, in one run; prints both
rates, latencies and the ratio. Skipped with a message when `wrk` or `nginx` is missing
(`apt-get install -y wrk nginx-light`).

    .venv/bin/python -m benchmarks.bench_scale [--only speakers|wrk] [--duration 120]

To see what blocks the loop: GEVENT_MONITOR_THREAD_ENABLE=1 GEVENT_MAX_BLOCKING_TIME=0.05
... --server-log /tmp/scale.log (gevent prints the stack of each greenlet that blocked).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests

from benchmarks.common import cpu_seconds, rss_mb, running_server
from benchmarks.loadgen import Connection, Stats, run
from tests.integration.harness import ADMIN_PASSWORD, Server
from tests.integration.panel_users import login

DASHBOARDS = 4
STALL = re.compile(r"the request loop stalled for (\d+) ms")
LIVE_EVERY_S = 2.0
CARDS_EVERY_S = 30.0


async def _dashboard(port: int, cookie: str, stop_at: float, stats: Stats) -> None:
    """One open dashboard page: /dashboard/live every 2 s, the cards every 30 s."""
    conn = Connection("127.0.0.1", port)
    headers = {"Cookie": cookie}
    next_cards = time.monotonic() + CARDS_EVERY_S * (0.2 + 0.8 * os.urandom(1)[0] / 255)
    while time.monotonic() < stop_at:
        cycle = time.monotonic()
        calls = [("dashboard_live", "/dashboard/live")]
        if cycle >= next_cards:
            calls.append(("dashboard_cards", "/dashboard/cards"))
            next_cards += CARDS_EVERY_S
        for kind, path in calls:
            started = time.monotonic()
            try:
                status, _, _ = await conn.request("GET", path, headers, timeout_s=30)
                stats.add(kind, time.monotonic() - started, status)
                if status >= 400:
                    stats.error(kind)
            except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
                stats.error(kind)
        await asyncio.sleep(max(0.0, LIVE_EVERY_S - (time.monotonic() - cycle)))
    await conn.close()


async def _with_dashboards(
    tokens: dict[str, str], port: int, cookies: list[str], period_s: float, duration_s: float
) -> tuple[Stats, float]:
    board_stats = Stats()
    stop_at = time.monotonic() + duration_s
    boards = [asyncio.create_task(_dashboard(port, c, stop_at, board_stats)) for c in cookies]
    stats, elapsed = await run(tokens, port, period_s, duration_s)
    await asyncio.gather(*boards)
    for kind, values in board_stats.latencies.items():
        stats.latencies[kind] = values
    for kind, count in board_stats.errors.items():
        stats.errors[kind] = count
    for code, count in board_stats.statuses.items():
        stats.statuses[code] = stats.statuses.get(code, 0) + count
    return stats, elapsed


def _plan_bytes(server: Server, token: str, speaker: str) -> dict[str, int]:
    url = f"{server.url}/api/v1/speakers/{speaker}/plan"
    auth = {"Authorization": f"Bearer {token}"}
    plain = requests.get(url, headers={**auth, "Accept-Encoding": "identity"}, timeout=60)
    packed = requests.get(url, headers={**auth, "Accept-Encoding": "gzip"}, stream=True, timeout=60)
    wire = packed.raw.read(decode_content=False)
    if packed.headers.get("Content-Encoding") == "gzip":
        unpacked = json.loads(gzip.decompress(wire))
    else:
        unpacked = json.loads(wire)
    moving = ("server_time", "generated_at")
    same = {k: v for k, v in unpacked.items() if k not in moving} == {
        k: v for k, v in plain.json().items() if k not in moving
    }
    assert same, "the gzip plan is not the plain plan"
    return {
        "items": len(plain.json()["items"]),
        "plain_bytes": len(plain.content),
        "gzip_bytes": len(wire),
    }


def speakers(
    count: int, duration_s: float, period_s: float, server_log: Path | None = None
) -> dict[str, Any]:
    with running_server(count, window_s=max(7200, duration_s * 2)) as (server, tokens):
        assert server.proc is not None
        pid = server.proc.pid
        cookies = []
        for _ in range(DASHBOARDS):
            session, _csrf = login(server.url, "admin", ADMIN_PASSWORD)
            cookies.append("; ".join(f"{k}={v}" for k, v in session.cookies.items()))
            session.get(server.url + "/", timeout=120).raise_for_status()
        # Warm-up: every speaker fetches its plan once (computed once per distinct plan).
        asyncio.run(run(tokens, server.port, period_s=5, duration_s=6))
        rss_before, cpu_before = rss_mb(pid), cpu_seconds(pid)
        log_from = len(server.log_text())
        stats, elapsed = asyncio.run(
            _with_dashboards(tokens, server.port, cookies, period_s, duration_s)
        )
        cpu = cpu_seconds(pid) - cpu_before
        stalls = [int(m) for m in STALL.findall(server.log_text()[log_from:])]
        sizes = _plan_bytes(server, tokens["spk-1"], "spk-1")
        if server_log is not None:  # e.g. with GEVENT_MONITOR_THREAD_ENABLE=1: who blocked
            server_log.write_text(server.log_text())
        summary = stats.summary(elapsed)
        return {
            "speakers": count,
            "dashboards": DASHBOARDS,
            "period_s": period_s,
            "duration_s": round(elapsed, 1),
            "requests_per_s": round(sum(k["count"] for k in summary.values()) / elapsed, 1),
            "requests": summary,
            "errors": stats.errors,
            "statuses": stats.statuses,
            # Stalls of the server's loop itself (broadcaster.httpserver.watch_loop), apart
            # from this load generator's own delays on a busy machine.
            "loop_stalls_over_100_ms": {"count": len(stalls), "max_ms": max(stalls, default=0)},
            "server_cpu_percent": round(100 * cpu / elapsed, 1),
            "server_rss_mb": {"before": round(rss_before, 1), "after": round(rss_mb(pid), 1)},
            "plan_of_spk_1": sizes,
            "load_average": os.getloadavg(),
        }


# -- wrk: our 304 against nginx's --------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _nginx(root: Path, etag: str) -> Iterator[int]:
    """nginx answering `If-None-Match: <etag>` on /plan with a 304 from a static file."""
    port = _free_port()
    www = root / "www"
    www.mkdir()
    (www / "plan").write_bytes(b"{}")
    conf = root / "nginx.conf"
    conf.write_text(
        f"""
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log;
daemon off;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {root}/body;
  proxy_temp_path {root}/proxy;
  fastcgi_temp_path {root}/fastcgi;
  uwsgi_temp_path {root}/uwsgi;
  scgi_temp_path {root}/scgi;
  server {{
    listen 127.0.0.1:{port};
    location /plan {{
      root {www};
      etag off;
      if ($http_if_none_match = '{etag}') {{ return 304; }}
      add_header ETag '{etag}';
    }}
  }}
}}
"""
    )
    proc = subprocess.Popen(
        [shutil.which("nginx") or "nginx", "-c", str(conf), "-p", str(root)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.RequestException):
                requests.get(f"http://127.0.0.1:{port}/plan", timeout=1)
                break
            time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _wrk(url: str, headers: dict[str, str], seconds: int, connections: int) -> dict[str, Any]:
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    for key, value in headers.items():
        args += ["-H", f"{key}: {value}"]
    out = subprocess.run(
        [*args, url], capture_output=True, text=True, timeout=seconds + 60, check=True
    ).stdout
    result: dict[str, Any] = {}
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    result["requests_per_s"] = float(rate.group(1)) if rate else 0.0
    for pct in ("50", "99"):
        found = re.search(rf"\s{pct}(?:\.000)?%\s+([\d.]+)(us|ms|s)\b", out)
        if found:
            result[f"p{pct}_ms"] = round(float(found.group(1)) * _UNITS[found.group(2)], 2)
    errors = re.search(r"Socket errors: (.*)", out)
    result["socket_errors"] = errors.group(1) if errors else "none"
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result["non_2xx_3xx"] = int(non2xx.group(1)) if non2xx else 0
    return result


def wrk(seconds: int, connections: int) -> dict[str, Any]:
    missing = [tool for tool in ("wrk", "nginx") if shutil.which(tool) is None]
    if missing:
        message = (
            f"skipped: {' and '.join(missing)} not installed (apt-get install -y wrk nginx-light)"
        )
        print(message, flush=True)
        return {"skipped": message}
    with running_server(1) as (server, tokens), tempfile.TemporaryDirectory() as tmp:
        assert server.proc is not None
        url = f"{server.url}/api/v1/speakers/spk-1/plan"
        auth = {"Authorization": f"Bearer {tokens['spk-1']}"}
        etag = requests.get(url, headers=auth, timeout=60).headers["ETag"]
        check = requests.get(url, headers={**auth, "If-None-Match": etag}, timeout=60)
        assert check.status_code == 304, check.status_code
        cpu_before = cpu_seconds(server.proc.pid)
        ours = _wrk(url, {**auth, "If-None-Match": etag}, seconds, connections)
        ours["server_cpu_s"] = round(cpu_seconds(server.proc.pid) - cpu_before, 1)
        with _nginx(Path(tmp), etag) as port:
            nginx_url = f"http://127.0.0.1:{port}/plan"
            probe = requests.get(nginx_url, headers={"If-None-Match": etag}, timeout=5)
            assert probe.status_code == 304, probe.status_code
            theirs = _wrk(nginx_url, {"If-None-Match": etag}, seconds, connections)
    ratio = theirs["requests_per_s"] / ours["requests_per_s"] if ours["requests_per_s"] else None
    return {
        "connections": connections,
        "seconds": seconds,
        "ours_304": ours,
        "nginx_304": theirs,
        "nginx_over_ours": round(ratio, 1) if ratio else None,
        "load_average": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", choices=("speakers", "wrk"))
    parser.add_argument("--speakers", type=int, default=1000)
    parser.add_argument("--period", type=float, default=30.0)
    parser.add_argument("--duration", type=float, default=120.0)
    parser.add_argument("--wrk-seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--server-log", type=Path, help="write the server's log here")
    args = parser.parse_args(argv)
    result: dict[str, Any] = {}
    if args.only in (None, "speakers"):
        result["speakers"] = speakers(args.speakers, args.duration, args.period, args.server_log)
    if args.only in (None, "wrk"):
        result["wrk"] = wrk(args.wrk_seconds, args.connections)
    print(json.dumps(result, indent=1, ensure_ascii=False))
    return result


if __name__ == "__main__":
    main()
