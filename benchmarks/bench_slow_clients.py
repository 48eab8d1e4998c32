"""Slow and idle connections against a real server with the default deadlines (issue 10,
item 6): 210 sockets that dribble headers or bodies, send nothing, or sit idle after one
answer (tests/integration/test_slow_clients.py opens them), while /healthz is asked every
0.2 s and a device long-polls for 25 s.

Prints, per kind of socket, when the server closed it (seconds after it began), the /healthz
latency before and during, and how long the long poll waited. `--source DIR` runs the
server from another source tree; a server without deadlines keeps every socket open (the
run gives up after `--give-up-s` and counts them as `still_open`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

import requests

from tests.integration.harness import Server, aware_now, deployment_yaml, seconds
from tests.integration.test_slow_clients import advance, open_slow_sockets


def _latencies(url: str, count: int) -> list[float]:
    found = []
    for _ in range(count):
        started = time.monotonic()
        requests.get(url, timeout=30).raise_for_status()
        found.append(time.monotonic() - started)
    return found


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--give-up-s", type=float, default=60)
    parser.add_argument("--long-poll-s", type=int, default=25)
    parser.add_argument("--source", help="run the server from this source tree (PYTHONPATH)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="broadcaster-bench-") as tmp:
        root = Path(tmp)
        now = aware_now()
        config = root / "config.yaml"
        config.write_text(
            deployment_yaml(window_start=now - seconds(60), window_end=now + seconds(3600),
                            speakers=1, heartbeat_s=30)
        )  # fmt: skip
        server = Server(root, config, extra_env={"PYTHONPATH": args.source} if args.source else {})
        server.start(timeout_s=120)
        try:
            health = f"{server.url}/healthz"
            before = _latencies(health, 50)
            token = server.device_token("spk-1")
            events = f"{server.url}/api/v1/speakers/spk-1/events"
            auth = {"Authorization": f"Bearer {token}"}
            last = requests.get(events, headers=auth, timeout=10).json()["last"]
            poll: dict[str, float] = {}

            def long_poll() -> None:
                started = time.monotonic()
                answer = requests.get(events, params={"after": last, "wait": args.long_poll_s},
                                      headers=auth, timeout=args.long_poll_s + 30)  # fmt: skip
                poll.update(status=answer.status_code, waited_s=time.monotonic() - started)

            slow = open_slow_sockets(server.port, token)
            poller = threading.Thread(target=long_poll)
            poller.start()
            during: list[float] = []
            deadline = time.monotonic() + args.give_up_s
            while time.monotonic() < deadline:
                advance(slow)
                during += _latencies(health, 1)
                if all(s.closed_after is not None for s in slow) and not poller.is_alive():
                    break
                time.sleep(0.2)
            poller.join(args.long_poll_s + 40)
            for s in slow:
                s.sock.close()
        finally:
            server.stop()
    closed: dict[str, object] = {}
    for kind in sorted({s.kind for s in slow}):
        times = [s.closed_after for s in slow if s.kind == kind]
        done = sorted(t for t in times if t is not None)
        spread = [done[0], statistics.median(done), done[-1]] if done else []
        closed[kind] = {
            "sockets": len(times),
            "still_open": len(times) - len(done),
            "closed_after_s": [round(t, 2) for t in spread],
        }
    result: dict[str, object] = {
        "closed (min, median, max)": closed,
        "healthz before": _summary(before),
        "healthz during": _summary(during),
        "long poll": {k: round(v, 2) for k, v in poll.items()},
    }
    print(json.dumps(result, ensure_ascii=False, indent=1))
    return result


if __name__ == "__main__":
    main()
