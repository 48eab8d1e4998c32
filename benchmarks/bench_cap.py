"""CAP received -> first audible sample (issue 15), on a real server and real clients.

A deployment of `--clients` fixed loudspeakers (village-a: the odd ones) with the loop
playing; each run posts an Extreme+Immediate CAP alert for village-a by geocode, with a
text never rendered before (so the chime goes first and the speech follows), and measures,
on every target's file sink, from just before the POST to the first urgent frame. A CAP
Cancel ends it before the next run.

    .venv/bin/python -m benchmarks.bench_cap [--clients 4] [--runs 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import requests

from tests.integration.harness import (
    Client,
    Server,
    aware_now,
    deployment_yaml,
    seconds,
    starts,
    wait_for,
)
from tests.integration.test_cap import alert, cap_section, info, post, ref


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[round(q * (len(ordered) - 1))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="broadcaster-bench-cap-") as tmp:
        root = Path(tmp)
        start = aware_now() - seconds(60)
        config = root / "config.yaml"
        config.write_text(
            deployment_yaml(
                window_start=start, window_end=start + seconds(7200), speakers=args.clients
            )
            + cap_section()
        )
        server = Server(root, config)
        server.start(timeout_s=120)
        clients = [
            Client(f"spk-{i}", root, server.url, server.device_token(f"spk-{i}"))
            for i in range(1, args.clients + 1)
        ]
        targets = [c for c in clients if int(c.speaker.split("-")[1]) % 2]
        try:
            for client in clients:
                client.start()
            admin = {"Authorization": f"Bearer {server.user_token('admin')}"}

            def online() -> bool:
                rows = requests.get(f"{server.url}/api/v1/speakers", headers=admin, timeout=10)
                return all(r["online"] for r in rows.json()["data"])

            assert wait_for(online, 60)
            time.sleep(3)  # the loop is playing
            took: list[float] = []
            for n in range(args.runs):
                seen = {c.speaker: len(starts(c, "urgent")) for c in targets}
                text = f"第{n + 1}号暴雨红色预警，编号{time.time_ns() % 100000}"
                t0 = time.time()
                answer = post(server, alert(f"BENCH-{n}", info(text)))
                assert answer.status_code == 201, answer.text
                for client in targets:
                    assert wait_for(
                        lambda c=client, k=seen[client.speaker]: len(starts(c, "urgent")) > k, 30
                    )
                    took.append(starts(client, "urgent")[seen[client.speaker]]["t"] - t0)
                cancel = post(server, alert(f"BENCH-{n}-C", msg_type="Cancel",
                                            references=ref(f"BENCH-{n}")))  # fmt: skip
                assert cancel.status_code == 201, cancel.text
                time.sleep(2)
            print(
                json.dumps(
                    {
                        "cap_received_to_first_audible": {
                            "n": len(took),
                            "clients": args.clients,
                            "targets": len(targets),
                            "p50_ms": round(1000 * statistics.median(took), 1),
                            "p95_ms": round(1000 * _pct(took, 0.95), 1),
                            "max_ms": round(1000 * max(took), 1),
                        }
                    }
                ),
                flush=True,
            )
        finally:
            for client in clients:
                client.stop()
            server.stop()


if __name__ == "__main__":
    main()
