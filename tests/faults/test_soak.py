"""Load and soak: 1,000 simulated speakers on loopback heartbeat, check their plan and hold
a long poll for 10 minutes. No errors, no 5xx, p99 latency recorded, server memory flat."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest

from benchmarks.common import rss_mb, running_server
from benchmarks.loadgen import run

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SPEAKERS = 1000
PERIOD_S = 5.0  # each speaker: a heartbeat and a plan check every 5 s (real ones: 30 s)
DURATION_S = 600.0
SAMPLE_S = 10.0
MAX_GROWTH = 0.15  # over the last 8 minutes


def test_thousand_speakers_for_ten_minutes_no_errors_and_flat_memory():
    with running_server(SPEAKERS, window_s=7200) as (server, tokens):
        assert server.proc is not None
        pid = server.proc.pid
        asyncio.run(run(tokens, server.port, period_s=30, duration_s=5))  # warm-up: plans
        result: dict[str, object] = {}

        def load() -> None:
            result["stats"], result["elapsed"] = asyncio.run(
                run(tokens, server.port, PERIOD_S, DURATION_S)
            )

        worker = threading.Thread(target=load, daemon=True)
        started = time.monotonic()
        worker.start()
        samples: list[tuple[float, float]] = []
        while worker.is_alive():
            samples.append((time.monotonic() - started, rss_mb(pid)))
            worker.join(SAMPLE_S)
        assert server.proc.poll() is None, "the server died under load"
    stats, elapsed = result["stats"], result["elapsed"]
    summary = stats.summary(elapsed)  # type: ignore[attr-defined]
    total = sum(k["count"] for k in summary.values())
    after_2min = [rss for t, rss in samples if t >= DURATION_S - 480]
    figures = {
        "speakers": SPEAKERS,
        "duration_s": round(elapsed, 1),
        "requests": summary,
        "rps": round(total / elapsed, 1),
        "errors": stats.errors,  # type: ignore[attr-defined]
        "statuses": stats.statuses,  # type: ignore[attr-defined]
        "rss_mb": {
            "start": round(samples[0][1], 1),
            "at_2min": round(after_2min[0], 1),
            "end": round(samples[-1][1], 1),
            "max_last_8min": round(max(after_2min), 1),
        },
    }
    print("\nsoak:", json.dumps(figures, indent=1))
    assert not stats.errors, figures  # type: ignore[attr-defined]
    assert all(code < 500 for code in stats.statuses), figures  # type: ignore[attr-defined]
    assert summary["heartbeat"]["count"] >= SPEAKERS * (DURATION_S / PERIOD_S) * 0.8, figures
    assert max(after_2min) <= after_2min[0] * (1 + MAX_GROWTH), figures
