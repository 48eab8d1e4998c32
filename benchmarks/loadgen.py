"""Simulated speakers on loopback: heartbeats, plan checks and a held long poll each.

Raw HTTP/1.1 over asyncio streams (keep-alive), so one process can play 1,000 speakers.
Bounded in count and time; talks only to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import statistics
import time
from dataclasses import dataclass, field


@dataclass
class Stats:
    """Latencies in seconds per request kind, and errors by kind."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)

    def add(self, kind: str, seconds: float, status: int) -> None:
        self.latencies.setdefault(kind, []).append(seconds)
        self.statuses[status] = self.statuses.get(status, 0) + 1

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def summary(self, elapsed_s: float) -> dict[str, dict[str, float]]:
        out = {}
        for kind, values in sorted(self.latencies.items()):
            ordered = sorted(values)
            out[kind] = {
                "count": len(values),
                "per_s": round(len(values) / elapsed_s, 1),
                "p50_ms": round(1000 * statistics.median(ordered), 2),
                "p95_ms": round(1000 * ordered[int(0.95 * (len(ordered) - 1))], 2),
                "p99_ms": round(1000 * ordered[int(0.99 * (len(ordered) - 1))], 2),
                "max_ms": round(1000 * ordered[-1], 2),
            }
        return out


class Connection:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes = b"",
        timeout_s: float = 30,
    ) -> tuple[int, dict[str, str], bytes]:
        if self.reader is not None and self.reader.at_eof():
            await self.close()  # the server closed it while idle: open another (as urllib3 does)
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        lines = [
            f"{method} {path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            f"Content-Length: {len(body)}",
        ]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        try:
            return await asyncio.wait_for(self._response(), timeout_s)
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            await self.close()
            raise

    async def _response(self) -> tuple[int, dict[str, str], bytes]:
        assert self.reader is not None
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("connection closed")
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            key, _, value = line.decode().partition(":")
            headers[key.strip().lower()] = value.strip()
        if "chunked" in headers.get("transfer-encoding", ""):
            data = b""
            while True:
                size = int((await self.reader.readline()).strip(), 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                data += chunk[:-2]
        else:
            data = await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status, headers, data

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


async def speaker(
    speaker_id: str, token: str, port: int, period_s: float, stop_at: float, stats: Stats
) -> None:
    """Heartbeat and plan check every `period_s` (jittered); a long poll held meanwhile."""
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    base = f"/api/v1/speakers/{speaker_id}"
    work, poll = Connection("127.0.0.1", port), Connection("127.0.0.1", port)

    async def hold_poll() -> None:
        after = None
        while time.monotonic() < stop_at:
            path = f"{base}/events?wait=25" + (f"&after={after}" if after is not None else "")
            started = time.monotonic()
            try:
                status, _, data = await poll.request("GET", path, auth, timeout_s=40)
                stats.add("events", time.monotonic() - started, status)
                if status == 200:
                    after = json.loads(data)["last"]
            except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
                stats.error("events")
                await asyncio.sleep(1)

    etag = None
    await asyncio.sleep(random.uniform(0, period_s))  # real speakers do not start in step
    poller = asyncio.create_task(hold_poll())
    gzip = {"Accept-Encoding": "gzip"}  # as the real client asks for its plan
    beat = json.dumps({"state": "playing", "volume": 100, "version": "loadgen"}).encode()
    while time.monotonic() < stop_at:
        cycle = time.monotonic()
        calls: tuple[tuple[str, str, str, bytes, dict[str, str]], ...] = (
            ("heartbeat", "POST", f"{base}/heartbeat", beat, {}),
            ("plan", "GET", f"{base}/plan", b"", {"If-None-Match": etag} if etag else gzip),
        )
        for kind, method, path, body, extra in calls:
            started = time.monotonic()
            try:
                status, headers, _ = await work.request(method, path, {**auth, **extra}, body)
                stats.add(kind, time.monotonic() - started, status)
                if kind == "plan" and status in (200, 304):
                    etag = headers.get("etag", etag)
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


async def run(
    tokens: dict[str, str], port: int, period_s: float, duration_s: float
) -> tuple[Stats, float]:
    """Run every speaker for `duration_s`; returns the stats and the elapsed time."""
    stats = Stats()
    started = time.monotonic()
    stop_at = started + duration_s
    await asyncio.gather(
        *(speaker(sid, tok, port, period_s, stop_at, stats) for sid, tok in tokens.items()),
        return_exceptions=False,
    )
    return stats, time.monotonic() - started
