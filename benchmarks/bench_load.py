"""Plan and heartbeat throughput and latency with 1,000 simulated speakers on loopback.

Each simulated speaker holds a long poll open and sends a heartbeat and a plan check
(If-None-Match) every PERIOD seconds. Prints requests per second, p50/p95/p99 latency,
errors, and the server's resident memory before and after.

    .venv/bin/python -m benchmarks.bench_load [--speakers 1000] [--period 2] [--duration 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json

from benchmarks.common import cpu_seconds, rss_mb, running_server
from benchmarks.loadgen import run


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--speakers", type=int, default=1000)
    parser.add_argument("--period", type=float, default=2.0)
    parser.add_argument("--duration", type=float, default=60.0)
    args = parser.parse_args(argv)
    with running_server(args.speakers) as (server, tokens):
        assert server.proc is not None
        pid = server.proc.pid
        # Warm-up: every speaker fetches its plan once (computed once per distinct plan).
        asyncio.run(run(tokens, server.port, period_s=30, duration_s=5))
        rss_before, cpu_before = rss_mb(pid), cpu_seconds(pid)
        stats, elapsed = asyncio.run(run(tokens, server.port, args.period, args.duration))
        result = {
            "speakers": args.speakers,
            "period_s": args.period,
            "duration_s": round(elapsed, 1),
            "requests": stats.summary(elapsed),
            "errors": stats.errors,
            "statuses": stats.statuses,
            "server_rss_mb": {"before": round(rss_before, 1), "after": round(rss_mb(pid), 1)},
            "server_cpu_s": round(cpu_seconds(pid) - cpu_before, 1),
        }
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
