"""Many processes, one database (issue 14, items 2 and 3), measured on this machine.

5,000 simulated speakers (benchmarks/loadgen.py: raw HTTP/1.1 keep-alive, a heartbeat and a
plan check each every 30 s, the production heartbeat, and a long poll held) against
`broadcaster serve --workers 2` on a throwaway PostgreSQL (initdb in a temp folder, as
tests/broadcaster/store/conftest.py does). Prints:

- p50/p95/p99 per request kind, errors, HTTP statuses (all; before the urgent; and
  settled: from one heartbeat period after the 5,000 connected at once until the urgent);
  RSS and CPU of each worker and of PostgreSQL; how the connections spread over the workers (their open long polls);
- an urgent sent to all 5,000 (their district) through the user API: the time until each
  simulated speaker's long poll returned it (p50/p95/max, and how many never got it);
- the cost of one speaker: server + database CPU ms per second, bytes per day both ways on
  the wire (HTTP as sent, before TLS), database commits and row writes per second; the bytes
  one play-log row and one speaker's status take in PostgreSQL (for the capacity table in
  deploy/README.md).

    .venv/bin/python -m benchmarks.bench_workers [--speakers 5000] [--workers 2] [--duration 120]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import pwd
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import requests

from benchmarks.common import cpu_seconds, rss_mb
from benchmarks.loadgen import Connection, Stats
from broadcaster.models import PlayKind, PlayLogEntry
from broadcaster.store import Store, TokenKind
from tests.integration.harness import aware_now, deployment_yaml, free_port, seconds

PG_OPTIONS = "-c max_connections=200 -c shared_buffers=256MB"


@contextlib.contextmanager
def postgres() -> Iterator[tuple[str, str, Path]]:
    """A throwaway PostgreSQL cluster: (SQLAlchemy URL, libpq DSN, data folder)."""
    bindir = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)[0].parent
    root = Path(tempfile.mkdtemp(prefix="broadcaster-bench-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        pg = pwd.getpwnam("postgres")
        os.chown(root, pg.pw_uid, pg.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, log, port = root / "data", root / "log", free_port()
    run = {"check": True, "capture_output": True, "timeout": 120}
    subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-U", "postgres",
                    "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"], **run)  # type: ignore[call-overload]  # fmt: skip
    options = f"-k {root} -p {port} -h 127.0.0.1 {PG_OPTIONS}"
    subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o",
                    options, "-w", "-t", "60", "start"], **run)  # type: ignore[call-overload]  # fmt: skip
    dsn = f"host=127.0.0.1 port={port} user=postgres dbname=postgres"
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE DATABASE bench")
        url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/bench"
        yield url, f"host=127.0.0.1 port={port} user=postgres dbname=bench", data
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                        "stop"], capture_output=True, timeout=60)  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(p) for p in text]
    return found


def _postgres_cpu_s(data: Path) -> float:
    """CPU of the whole cluster so far: the postmaster, its live children and those that
    ended (a connection's backend exits when the connection closes)."""
    master = int((data / "postmaster.pid").read_text().split()[0])
    fields = Path(f"/proc/{master}/stat").read_text().rsplit(")", 1)[1].split()
    ended = (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")
    live = 0.0
    for pid in [master, *_children(master)]:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            live += cpu_seconds(pid)
    return ended + live


def _db_counters(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT xact_commit, tup_inserted, tup_updated, tup_deleted FROM pg_stat_database "
            "WHERE datname = current_database()"
        ).fetchone()
    assert row is not None
    return {"commits": row[0], "inserted": row[1], "updated": row[2], "deleted": row[3]}


class Wire:
    """Bytes on the wire, both ways, by request kind (`plan-200`, `plan-304`, ...)."""

    def __init__(self) -> None:
        self.sent: dict[str, int] = {}
        self.received: dict[str, int] = {}
        self.count: dict[str, int] = {}

    def add(self, kind: str, sent: int, received: int) -> None:
        self.sent[kind] = self.sent.get(kind, 0) + sent
        self.received[kind] = self.received.get(kind, 0) + received
        self.count[kind] = self.count.get(kind, 0) + 1


async def speaker(
    speaker_id: str,
    token: str,
    port: int,
    period_s: float,
    stop_at: float,
    stats: Stats,
    wire: Wire,
    urgent_seen: dict[str, float],
    etags: dict[str, str],
) -> None:
    """loadgen.speaker, also noting when its long poll returned an `urgent` event."""
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    base = f"/api/v1/speakers/{speaker_id}"
    work, poll = Connection("127.0.0.1", port), Connection("127.0.0.1", port)

    async def request(
        kind: str, conn: Connection, method: str, path: str, headers: dict[str, str],
        body: bytes = b"", timeout_s: float = 30,
    ) -> tuple[int, dict[str, str], bytes]:  # fmt: skip
        # Request line, headers and body as Connection writes them; the answer's status
        # line (~20 bytes), its headers and its body as they came.
        sent = len(path) + 60 + sum(len(k) + len(v) + 4 for k, v in headers.items()) + len(body)
        status, got, data = await conn.request(method, path, headers, body, timeout_s)
        received = 20 + sum(len(k) + len(v) + 4 for k, v in got.items()) + len(data)
        wire.add(f"{kind}-{status}", sent, received)
        return status, got, data

    async def hold_poll() -> None:
        after = None
        while time.monotonic() < stop_at:
            path = f"{base}/events?wait=25" + (f"&after={after}" if after is not None else "")
            started = time.monotonic()
            try:
                status, _, data = await request("events", poll, "GET", path, auth, timeout_s=40)
                stats.add("events", time.monotonic() - started, status)
                if status == 200:
                    answer = json.loads(data)
                    after = answer["last"]
                    if any(e["kind"] == "urgent" for e in answer["events"]):
                        urgent_seen.setdefault(speaker_id, time.monotonic())
            except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
                stats.error("events")
                await asyncio.sleep(1)

    poller = asyncio.create_task(hold_poll())
    etag = etags.get(speaker_id)  # what it fetched in the warm-up, as a client keeps it
    await asyncio.sleep(random.uniform(0, period_s))
    beat = json.dumps({"state": "playing", "volume": 100, "version": "loadgen"}).encode()
    while time.monotonic() < stop_at:
        cycle = time.monotonic()
        calls: tuple[tuple[str, str, str, bytes, dict[str, str]], ...] = (
            ("heartbeat", "POST", f"{base}/heartbeat", beat, {}),
            (
                "plan",
                "GET",
                f"{base}/plan",
                b"",
                {"Accept-Encoding": "gzip", **({"If-None-Match": etag} if etag else {})},
            ),
        )
        for kind, method, path, body, extra in calls:
            started = time.monotonic()
            try:
                status, headers, _ = await request(
                    kind, work, method, path, {**auth, **extra}, body
                )
                stats.add(kind, time.monotonic() - started, status)
                if kind == "plan" and status in (200, 304):
                    etag = headers.get("etag", etag)
                    if etag:
                        etags[speaker_id] = etag
                if status >= 500:
                    stats.error(kind)
            except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
                stats.error(kind)
        await asyncio.sleep(
            max(0.0, period_s * random.uniform(0.9, 1.1) - (time.monotonic() - cycle))
        )
    poller.cancel()
    await work.close()
    await poll.close()


async def load(
    tokens: dict[str, str],
    port: int,
    period_s: float,
    duration_s: float,
    urgent_at_s: float | None,
    send_urgent: Any,
    etags: dict[str, str],
    sample: Any = None,
) -> dict[str, Any]:
    stats, wire, seen = Stats(), Wire(), {}  # type: ignore[var-annotated]
    started = time.monotonic()
    stop_at = started + duration_s
    tasks = [
        asyncio.create_task(speaker(sid, tok, port, period_s, stop_at, stats, wire, seen, etags))
        for sid, tok in tokens.items()
    ]
    sent_at = sampled = None
    steady: dict[str, Any] = {}
    if urgent_at_s is not None:
        # 5,000 connections opened in the same second (every speaker at once) are their own
        # case: the latencies from one heartbeat period on are reported apart, as settled.
        settle_s = min(period_s, urgent_at_s)
        await asyncio.sleep(settle_s)
        mark = {k: len(v) for k, v in stats.latencies.items()}
        await asyncio.sleep(urgent_at_s - settle_s)
        # Before the urgent: the steady state (its bytes are what a speaker costs a day).
        steady = {"elapsed": time.monotonic() - started, "sent": dict(wire.sent),
                  "received": dict(wire.received), "count": dict(wire.count),
                  "latencies": {k: list(v) for k, v in stats.latencies.items()},
                  "settled": {k: v[mark.get(k, 0):] for k, v in stats.latencies.items()},
                  "settled_s": time.monotonic() - started - settle_s}  # fmt: skip
        if sample is not None:
            sampled = await asyncio.to_thread(sample)
        sent_at = await asyncio.to_thread(send_urgent)
    await asyncio.gather(*tasks)
    return {
        "stats": stats,
        "elapsed": time.monotonic() - started,
        "wire": wire,
        "seen": seen,
        "sent_at": sent_at,
        "steady": steady,
        "sampled": sampled,
    }


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    return {
        "p50_s": round(statistics.median(ordered), 3),
        "p95_s": round(ordered[int(0.95 * (len(ordered) - 1))], 3),
        "max_s": round(ordered[-1], 3),
    }


def _row_bytes(url: str, dsn: str, speakers: list[str]) -> dict[str, float]:
    """Bytes per play-log row (with its indexes) and per speaker status row, measured."""
    with psycopg.connect(dsn) as conn:
        before = conn.execute("SELECT pg_total_relation_size('play_log')").fetchone()
    store = Store.open(url, upgrade=False)
    now = datetime.now(UTC)
    rows = 20_000
    try:
        for batch in range(rows // 500):
            entries = [
                PlayLogEntry(
                    id=f"bench-{batch}-{i}",
                    speaker_id=speakers[i % len(speakers)],
                    clip="c" * 64,
                    message_id="m1",
                    kind=PlayKind.LOOP,
                    planned_start=now,
                    started_at=now + timedelta(seconds=i),
                    ended_at=now + timedelta(seconds=i + 12),
                    completed=True,
                )
                for i in range(500)
            ]
            store.devices.add_plays(entries, now)
    finally:
        store.close()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE play_log")  # type: ignore[arg-type]
        after = conn.execute("SELECT pg_total_relation_size('play_log')").fetchone()
        status = conn.execute(
            "SELECT pg_total_relation_size('speaker_status') / greatest(count(*), 1) "
            "FROM speaker_status"
        ).fetchone()
    assert before is not None and after is not None and status is not None
    return {
        "play_row_bytes": round((after[0] - before[0]) / rows, 1),
        "status_row_bytes": round(float(status[0]), 1),
    }


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--speakers", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--period", type=float, default=30.0, help="heartbeat period (s)")
    parser.add_argument("--duration", type=float, default=120.0)
    parser.add_argument("--server-log", type=Path, help="keep the server's log here")
    args = parser.parse_args(argv)
    from tests.integration.test_workers import Workers

    with postgres() as (url, dsn, pg_data), tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        start = aware_now() - seconds(60)
        config = root / "config.yaml"
        config.write_text(
            deployment_yaml(
                window_start=start,
                window_end=start + seconds(args.duration + 3600),
                speakers=args.speakers,
                heartbeat_s=int(args.period),
            )
        )
        server = Workers(root, config, db=url, workers=args.workers)
        server.start(timeout_s=300)
        try:
            assert server.proc is not None
            workers = _children(server.proc.pid)
            now = aware_now()
            with Store.open(url, upgrade=False) as store:
                tokens = {
                    f"spk-{i}": store.people.issue_token(TokenKind.DEVICE, f"spk-{i}", now)[1]
                    for i in range(1, args.speakers + 1)
                }
                admin = store.people.issue_token(TokenKind.USER, "admin", now)[1]

            def send_urgent() -> tuple[float, float]:
                asked = time.monotonic()
                answer = requests.post(
                    f"{server.url}/api/v1/urgent",
                    json={"text": "山洪预警，请立即转移。", "areas": ["district"],
                          "override_window": True},
                    headers={"Authorization": f"Bearer {admin}"}, timeout=120,
                )  # fmt: skip
                done = time.monotonic()
                assert answer.status_code == 201, answer.text[:500]
                return asked, done

            # Warm-up: every speaker fetches its plan once (keeping its ETag), spread over a
            # minute as speakers that come online over time would, and polls.
            etags: dict[str, str] = {}
            asyncio.run(load(tokens, server.port, 60, 70, None, None, etags))

            def long_polls() -> dict[str, Any]:
                """Open long polls per worker, and how long /healthz took under the load."""
                seen_at: dict[str, Any] = {}
                took = []
                for _ in range(6 * args.workers):
                    asked = time.monotonic()
                    try:
                        with requests.Session() as s:
                            h = s.get(f"{server.url}/healthz", timeout=60).json()
                    except requests.RequestException as exc:
                        seen_at["error"] = repr(exc)
                        continue
                    took.append(time.monotonic() - asked)
                    if "worker" in h:
                        seen_at[str(h["worker"]["pid"])] = h["worker"]["long_polls"]
                    if not h.get("ok"):
                        seen_at["not_ok"] = h.get("database")
                seen_at["healthz_s"] = _percentiles(took)
                return seen_at

            cpu0 = {p: cpu_seconds(p) for p in workers}
            pg_cpu0 = _postgres_cpu_s(pg_data)
            db0 = _db_counters(dsn)
            load_before = os.getloadavg()
            got = asyncio.run(
                load(tokens, server.port, args.period, args.duration, args.duration / 2,
                     send_urgent, etags, long_polls)
            )  # fmt: skip
            elapsed = got["elapsed"]
            db1 = _db_counters(dsn)
            worker_cpu = {p: cpu_seconds(p) - cpu0[p] for p in workers}
            pg_cpu = _postgres_cpu_s(pg_data) - pg_cpu0
            rss = {p: round(rss_mb(p), 1) for p in workers}
            stats: Stats = got["stats"]
            wire: Wire = got["wire"]
            seen: dict[str, float] = got["seen"]
            asked, answered = got["sent_at"]
            n = args.speakers
            cpu_total = sum(worker_cpu.values()) + pg_cpu
            writes = sum(db1[k] - db0[k] for k in ("inserted", "updated", "deleted"))
            steady = got["steady"]
            day = 86_400 / steady["elapsed"]
            plan_200 = wire.count.get("plan-200", 0)
            result = {
                "speakers": n,
                "workers": args.workers,
                "period_s": args.period,
                "duration_s": round(elapsed, 1),
                "load_average": {
                    "before": [round(x, 2) for x in load_before],
                    "after": [round(x, 2) for x in os.getloadavg()],
                },
                "requests": stats.summary(elapsed),
                "requests_before_the_urgent": Stats(latencies=steady["latencies"]).summary(
                    steady["elapsed"]
                ),
                # From one heartbeat period after every speaker connected until the urgent.
                "requests_settled": Stats(latencies=steady["settled"]).summary(steady["settled_s"]),
                "errors": stats.errors,
                "statuses": stats.statuses,
                "worker_rss_mb": rss,
                "worker_cpu_s": {p: round(c, 1) for p, c in worker_cpu.items()},
                "postgres_cpu_s": round(pg_cpu, 1),
                "open_long_polls_by_worker": got["sampled"],
                "urgent_to_all": {
                    "reached": len(seen),
                    "missed": n - len(seen),
                    "send_answered_after_s": round(answered - asked, 3),
                    "after_the_send_began": _percentiles([t - asked for t in seen.values()]),
                    "after_the_send_answered": _percentiles([t - answered for t in seen.values()]),
                },
                "per_speaker": {
                    "cpu_ms_per_s": round(1000 * cpu_total / elapsed / n, 4),
                    "server_cpu_ms_per_s": round(1000 * sum(worker_cpu.values()) / elapsed / n, 4),
                    "db_cpu_ms_per_s": round(1000 * pg_cpu / elapsed / n, 4),
                    # Steady state (before the urgent), at the production heartbeat.
                    "bytes_up_per_day": round(sum(steady["sent"].values()) * day / n),
                    "bytes_down_per_day": round(sum(steady["received"].values()) * day / n),
                    "steady_requests_by_kind": steady["count"],
                    # Each change of its plan (an edit, an urgent) costs one download more.
                    "bytes_per_plan_download_gzip": round(
                        wire.received.get("plan-200", 0) / plan_200
                    )
                    if plan_200
                    else None,
                    "db_commits_per_s": round((db1["commits"] - db0["commits"]) / elapsed / n, 4),
                    "db_row_writes_per_s": round(writes / elapsed / n, 4),
                },
                "postgres_rows": _row_bytes(url, dsn, list(tokens)),
            }
        finally:
            server.stop()
            if args.server_log is not None:
                shutil.copyfile(root / "server.log", args.server_log)
    print(json.dumps(result, indent=1, default=str))
    return result


if __name__ == "__main__":
    main()
