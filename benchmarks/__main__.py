"""Run every benchmark: `make bench` (or `.venv/bin/python -m benchmarks`). Not tests.

Each prints its figures as JSON; the issue notes quote them.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

from benchmarks import (
    bench_audio,
    bench_cap,
    bench_emergency,
    bench_fairness,
    bench_gps,
    bench_hostile_device,
    bench_live,
    bench_load,
    bench_reading,
    bench_reports,
    bench_scale,
    bench_slow_clients,
    bench_tracks,
    bench_urgent,
    bench_workers,
)


def main() -> int:
    print("== planning: one day for 10,000 speakers (benchmarks/bench_planning.py)", flush=True)
    runpy.run_path(
        str(Path(__file__).with_name("bench_planning.py")),
        run_name="__main__",
    )
    print("== audio: default messages cold vs espeak-ng -w, cache hits", flush=True)
    bench_audio.main()
    print(
        "== reading (issue 16): polyphone accuracy before/after, G2P cost, notices vs espeak-ng -w",
        flush=True,
    )
    bench_reading.main()
    print("== urgent latency on 23 real clients; client memory and idle CPU", flush=True)
    bench_urgent.main([])
    print(
        "== emergency path on 23 real clients: edit -> synced, urgent -> first sample, cancel -> loop",
        flush=True,
    )
    bench_emergency.main([])
    print(
        "== live paging on 23 real clients: a click into `broadcaster page` -> each sink "
        "(p50/p95/max), and the delay over a 5-minute page",
        flush=True,
    )
    bench_live.main([])
    print("== CAP alert received -> first audible sample on real clients (p50/p95)", flush=True)
    bench_cap.main([])
    print("== 1,000 simulated speakers: plan and heartbeat throughput and latency", flush=True)
    bench_load.main([])
    print(
        "== fairness: /healthz while 8 users preview 500 characters; dashboard with 50k plays",
        flush=True,
    )
    bench_fairness.main([])
    print(
        "== the admin's month-long report: 23 speakers x 31 days x 200 plays, page and CSV",
        flush=True,
    )
    bench_reports.main([])
    print(
        "== one process at scale: 1,000 speakers at the production heartbeat with 4 dashboards "
        "(p50/p99, loop stalls, plan bytes); wrk on our 304 vs nginx's",
        flush=True,
    )
    bench_scale.main([])
    print("== dashboard polls while 23 devices send their biggest heartbeats", flush=True)
    bench_hostile_device.main([])
    print("== 210 slow and idle connections against the default deadlines", flush=True)
    bench_slow_clients.main([])
    print(
        "== a vehicle with GPS (issue 13): client CPU and memory with --gpsd on and off, "
        "track upload bytes per day",
        flush=True,
    )
    bench_gps.main([])
    print(
        "== vehicles' tracks on the server (issue 13): upload, today's tracks for the map, "
        "route progress, a day's coverage report (23 vehicles, 64 villages)",
        flush=True,
    )
    bench_tracks.main([])
    print(
        "== 5,000 simulated speakers on 2 workers + PostgreSQL: latency per kind, an urgent "
        "to all, the cost of one speaker (issue 14)",
        flush=True,
    )
    bench_workers.main([])
    return 0


if __name__ == "__main__":
    sys.exit(main())
