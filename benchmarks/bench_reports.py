"""The admin's month-long report (issue 11): a real server on loopback with 23 speakers and
31 days of plays (~200 a day each: 142,600 rows, some urgent, some cut), then the reports
page and the CSV for the whole district over the 31 days, loaded by the admin while a
speaker fetches its plan every 100 ms: page time, CSV time to the first byte and to the
end, the CSV's size, the server's resident memory before and after (and its peak), and the
speaker's plan-fetch latency meanwhile.

    .venv/bin/python -m benchmarks.bench_reports [--speakers 23] [--days 31] [--per-day 200]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import insert

from benchmarks.common import deployment_server, rss_mb
from broadcaster.store import Store, TokenKind, sqlite_url
from broadcaster.store import schema as t
from tests.integration.harness import ADMIN_PASSWORD, ZONE, Server, aware_now
from tests.integration.panel_users import Poller, login


def _peak_mb(pid: int) -> float:
    """The most memory the process ever held resident, in MiB (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _quantiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "p50_ms": round(1000 * statistics.median(ordered), 1),
        "p95_ms": round(1000 * ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 1),
        "max_ms": round(1000 * ordered[-1], 1),
    }


def _add_plays(server: Server, speakers: int, days: int, per_day: int) -> tuple[str, str, str]:
    """`per_day` plays a day for each speaker over the `days` days before today, straight
    into the database (every 20th urgent, every 7th cut); returns the first and last day and
    a device token for spk-1."""
    now = aware_now()
    today = now.astimezone(ZONE).date()
    first = today - timedelta(days=days)
    store = Store.open(sqlite_url(server.data), upgrade=False)
    try:
        rows: list[dict[str, Any]] = []
        n = 0
        for d in range(days):
            day = first + timedelta(days=d)
            base = now.astimezone(ZONE).replace(
                year=day.year, month=day.month, day=day.day, hour=7, minute=0, second=0,
                microsecond=0,
            )  # fmt: skip
            for s in range(1, speakers + 1):
                for i in range(per_day):
                    at = base + timedelta(seconds=i * 180 + s)  # 07:00 to 17:00
                    urgent = n % 20 == 0
                    cut = n % 7 == 0
                    rows.append(
                        {"id": f"bench-{n}", "speaker_id": f"spk-{s}", "clip": "c" * 64,
                         "message_id": None if urgent else f"m{1 + n % 2}",
                         "kind": "urgent" if urgent else "loop", "planned_start": at,
                         "started_at": at, "ended_at": at + timedelta(seconds=3 if cut else 25),
                         "completed": not cut, "reason": "cut:urgent" if cut else "",
                         "received_at": now}
                    )  # fmt: skip
                    n += 1
        with store.transaction() as conn:
            for i in range(0, len(rows), 5000):
                conn.execute(insert(t.play_log), rows[i : i + 5000])
        token = store.people.issue_token(TokenKind.DEVICE, "spk-1", now)[1]
        last = first + timedelta(days=days - 1)
        return first.isoformat(), last.isoformat(), token
    finally:
        store.close()


def report(speakers: int, days: int, per_day: int, loads: int = 3) -> dict[str, Any]:
    with deployment_server(speakers, opens_in_s=-3600, length_s=7200) as server:
        first, last, token = _add_plays(server, speakers, days, per_day)
        session, _csrf = login(server.url, "admin", ADMIN_PASSWORD)
        query = f"?from={first}&to={last}"
        plan_url = server.url + "/api/v1/speakers/spk-1/plan"
        headers = {"Authorization": f"Bearer {token}"}
        requests.get(plan_url, headers=headers, timeout=60).raise_for_status()
        session.get(server.url + "/", timeout=120).raise_for_status()
        assert server.proc is not None
        rss_idle = rss_mb(server.proc.pid)
        peak_idle = _peak_mb(server.proc.pid)
        page: list[float] = []
        csv_first: list[float] = []
        csv_total: list[float] = []
        size = 0
        with Poller(plan_url, 0.1, headers) as device:
            time.sleep(0.3)
            for _ in range(loads):
                start = time.monotonic()
                answer = session.get(server.url + "/reports" + query, timeout=300)
                page.append(time.monotonic() - start)
                answer.raise_for_status()
                start = time.monotonic()
                with session.get(
                    server.url + "/reports/plays.csv" + query, timeout=300, stream=True
                ) as csv:
                    csv.raise_for_status()
                    size = 0
                    for n, chunk in enumerate(csv.iter_content(65536)):
                        if n == 0:
                            csv_first.append(time.monotonic() - start)
                        size += len(chunk)
                csv_total.append(time.monotonic() - start)
            time.sleep(0.3)
        return {
            "speakers": speakers,
            "days": days,
            "plays": speakers * days * per_day,
            "reports_page": _quantiles(page),
            "csv_first_byte": _quantiles(csv_first),
            "csv_whole": _quantiles(csv_total),
            "csv_mb": round(size / 2**20, 1),
            "server_rss_mb": {
                "before": round(rss_idle),
                "peak_before": round(peak_idle),
                "after": round(rss_mb(server.proc.pid)),
                "peak": round(_peak_mb(server.proc.pid)),
            },
            "device_plan_fetch": _quantiles(device.latencies),
        }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--speakers", type=int, default=23)
    parser.add_argument("--days", type=int, default=31)
    parser.add_argument("--per-day", type=int, default=200)
    parser.add_argument("--loads", type=int, default=3)
    args = parser.parse_args(argv)
    result = report(args.speakers, args.days, args.per_day, args.loads)
    print(json.dumps(result, indent=1, ensure_ascii=False))
    return result


if __name__ == "__main__":
    main()
