"""Run every benchmark: `make bench` (or `.venv/bin/python -m benchmarks`). Not tests.

Each prints its figures as JSON; the issue notes quote them.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

from benchmarks import bench_audio, bench_emergency, bench_load, bench_urgent


def main() -> int:
    print("== planning: one day for 10,000 speakers (benchmarks/bench_planning.py)", flush=True)
    runpy.run_path(
        str(Path(__file__).with_name("bench_planning.py")),
        run_name="__main__",
    )
    print("== audio: default messages cold vs espeak-ng -w, cache hits", flush=True)
    bench_audio.main()
    print("== urgent latency on 23 real clients; client memory and idle CPU", flush=True)
    bench_urgent.main([])
    print(
        "== emergency path on 23 real clients: edit -> synced, urgent -> first sample, cancel -> loop",
        flush=True,
    )
    bench_emergency.main([])
    print("== 1,000 simulated speakers: plan and heartbeat throughput and latency", flush=True)
    bench_load.main([])
    return 0


if __name__ == "__main__":
    sys.exit(main())
