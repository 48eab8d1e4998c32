"""The emergency path on 23 real clients (file sinks) and a real server, on loopback.

- edit -> synced: from just before `PATCH /api/v1/messages/m1` to the moment every speaker's
  row in `GET /api/v1/speakers` is `synced` on the new plan ETag (clients heartbeat every 30 s
  as in production, so only the pushed `resync` can make this fast);
- urgent send -> first audible sample: from just before `POST /api/v1/urgent` (a new text,
  so the speech is not rendered yet) to the first urgent frame in each client's sink;
- cancel -> loop audible again: from just before `DELETE /api/v1/urgent/{id}` (while the
  speech plays) to the first loop frame after it in each client's sink.

    .venv/bin/python -m benchmarks.bench_emergency [--clients 23] [--edits 20] [--urgents 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import requests

from benchmarks.common import deployment_server
from tests.integration.harness import Client, Server, starts, wait_for


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[round(q * (len(ordered) - 1))]


def _figures(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": round(1000 * statistics.median(values), 1),
        "p95_ms": round(1000 * _pct(values, 0.95), 1),
        "max_ms": round(1000 * max(values), 1),
    }


def _rows(server: Server, headers: dict[str, str]) -> list[dict[str, Any]]:
    got = requests.get(f"{server.url}/api/v1/speakers", headers=headers, timeout=30)
    got.raise_for_status()
    return list(got.json()["data"])


def edits_to_synced(server: Server, headers: dict[str, str], edits: int) -> list[float]:
    took = []
    for n in range(edits):
        before = {r["id"]: r["plan_etag"] for r in _rows(server, headers)}
        t0 = time.time()
        answer = requests.patch(
            f"{server.url}/api/v1/messages/m1",
            json={"text": f"第{n + 1}次修改：请大家戴好口罩，勤洗手。"},
            headers=headers, timeout=30,
        )  # fmt: skip
        answer.raise_for_status()

        def synced(before: dict[str, str] = before) -> bool:
            rows = _rows(server, headers)
            return all(r["synced"] and r["plan_etag"] != before[r["id"]] for r in rows)

        assert wait_for(synced, 60, step_s=0.05), "not every speaker synced"
        took.append(time.time() - t0)
        time.sleep(1)
    return took


def urgents_and_cancels(
    server: Server, headers: dict[str, str], running: list[Client], urgents: int
) -> tuple[list[float], list[float]]:
    first_sound: list[float] = []
    loop_again: list[float] = []
    for n in range(urgents):
        before = {c.speaker: len(starts(c, "urgent")) for c in running}
        sent = time.time()
        answer = requests.post(
            f"{server.url}/api/v1/urgent",
            json={"text": f"紧急通知第{n + 1}次：河水上涨，请沿河住户立即转移到村委会。",
                  "areas": ["district"], "repeats": 3},
            headers=headers, timeout=30,
        )  # fmt: skip
        answer.raise_for_status()
        urgent_id = answer.json()["id"]

        def heard(before: dict[str, int] = before) -> bool:
            return all(len(starts(c, "urgent")) > before[c.speaker] for c in running)

        assert wait_for(heard, 30), "not every client sounded the urgent"
        for c in running:
            first_sound.append(starts(c, "urgent")[before[c.speaker]]["t"] - sent)

        def speaking(before: dict[str, int] = before) -> bool:  # the speech has been playing
            return all(
                len(starts(c, "urgent")) >= before[c.speaker] + 2
                and time.time() - starts(c, "urgent")[-1]["t"] > 1.0
                for c in running
            )

        assert wait_for(speaking, 30), "the speech did not play everywhere"
        cancelled = time.time()
        requests.delete(
            f"{server.url}/api/v1/urgent/{urgent_id}", headers=headers, timeout=30
        ).raise_for_status()

        def looping(cancelled: float = cancelled) -> bool:
            return all(any(s["t"] > cancelled for s in starts(c, "loop")) for c in running)

        assert wait_for(looping, 30), "the loop did not come back everywhere"
        for c in running:
            loop_again.append(
                next(s["t"] for s in starts(c, "loop") if s["t"] > cancelled) - cancelled
            )
        time.sleep(3)
    return first_sound, loop_again


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=23)
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--urgents", type=int, default=10)
    args = parser.parse_args(argv)
    with deployment_server(args.clients, heartbeat_s=30) as server:
        running = [
            Client(f"spk-{i}", server.root, server.url, server.device_token(f"spk-{i}"))
            for i in range(1, args.clients + 1)
        ]
        try:
            for client in running:
                client.start()
            headers = {"Authorization": f"Bearer {server.user_token('admin')}"}
            assert wait_for(lambda: all(starts(c, "loop") for c in running), 120)
            assert wait_for(lambda: all(r["synced"] for r in _rows(server, headers)), 120)
            time.sleep(3)
            synced = edits_to_synced(server, headers, args.edits)
            first_sound, loop_again = urgents_and_cancels(server, headers, running, args.urgents)
        finally:
            for client in running:
                client.stop()
    result = {
        "clients": args.clients,
        "edit_to_all_synced": _figures(synced),
        "urgent_send_to_first_sample": _figures(first_sound),
        "cancel_to_loop_audible": _figures(loop_again),
    }
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
