"""Urgent latency on 23 real clients, and a client's memory and idle CPU.

Latency is measured from just before `POST /api/v1/urgent` to the first frame of the
urgent clip in each client's file sink (its log's wall-clock time).

    .venv/bin/python -m benchmarks.bench_urgent [--clients 23] [--urgents 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import requests

from benchmarks.common import cpu_seconds, deployment_server, rss_mb
from tests.integration.harness import Client, wait_for


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))]


def urgent_latency(clients: int, urgents: int) -> dict[str, object]:
    with deployment_server(clients) as server:
        root = server.root
        running = [
            Client(f"spk-{i}", root, server.url, server.device_token(f"spk-{i}"))
            for i in range(1, clients + 1)
        ]
        try:
            for client in running:
                client.start()
            headers = {"Authorization": f"Bearer {server.user_token('admin')}"}
            assert wait_for(
                lambda: all(any(e["event"] == "start" for e in c.events()) for c in running), 90
            )
            time.sleep(3)
            latencies: list[float] = []
            for n in range(urgents):
                before = {
                    c.speaker: sum(
                        1 for e in c.events() if e["kind"] == "urgent" and e["event"] == "start"
                    )
                    for c in running
                }
                sent = time.time()
                answer = requests.post(
                    f"{server.url}/api/v1/urgent",
                    json={"text": f"紧急通知第{n + 1}次：请注意防范。", "areas": ["district"], "repeats": 1},
                    headers=headers, timeout=30,
                )  # fmt: skip
                answer.raise_for_status()

                def heard(before: dict[str, int] = before) -> bool:
                    return all(
                        sum(
                            1 for e in c.events() if e["kind"] == "urgent" and e["event"] == "start"
                        )
                        > before[c.speaker]
                        for c in running
                    )

                assert wait_for(heard, 30)
                for c in running:
                    first = [
                        e for e in c.events() if e["kind"] == "urgent" and e["event"] == "start"
                    ][before[c.speaker]]
                    latencies.append(first["t"] - sent)
                time.sleep(6)
            rss = [rss_mb(c.proc.pid) for c in running if c.proc]
            return {
                "clients": clients,
                "urgents": urgents,
                "samples": len(latencies),
                "latency_ms": {
                    "p50": round(1000 * statistics.median(latencies), 1),
                    "p95": round(1000 * _pct(latencies, 0.95), 1),
                    "max": round(1000 * max(latencies), 1),
                },
                "client_rss_mb_playing": {
                    "mean": round(statistics.mean(rss), 1),
                    "max": round(max(rss), 1),
                },
            }
        finally:
            for client in running:
                client.stop()


def client_idle(seconds_idle: float = 60) -> dict[str, object]:
    """One client outside its window (the window opens in an hour): memory and CPU."""
    with deployment_server(1, opens_in_s=3600) as server:
        client = Client("spk-1", server.root, server.url, server.device_token("spk-1"))
        try:
            client.start()
            assert client.proc is not None
            time.sleep(10)  # first sync and downloads
            cpu0, t0 = cpu_seconds(client.proc.pid), time.monotonic()
            time.sleep(seconds_idle)
            cpu = cpu_seconds(client.proc.pid) - cpu0
            return {
                "idle_s": seconds_idle,
                "client_rss_mb_idle": round(rss_mb(client.proc.pid), 1),
                "client_idle_cpu_percent": round(100 * cpu / (time.monotonic() - t0), 3),
            }
        finally:
            client.stop()


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=23)
    parser.add_argument("--urgents", type=int, default=10)
    parser.add_argument("--idle", type=float, default=60)
    args = parser.parse_args(argv)
    result = {**urgent_latency(args.clients, args.urgents), **client_idle(args.idle)}
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
