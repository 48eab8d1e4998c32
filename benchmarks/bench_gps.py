"""A vehicle with GPS (issue 13): the client's CPU and memory with `--gpsd` on and off, and
the track upload's volume per vehicle per day.

A real `broadcaster serve` on loopback with two vehicles playing the same loop (a message
bound to a village, one not; a hospital quiet zone in the village): `car-1` runs
`broadcaster-client --gpsd` against the real gpsd under `gpsfake`, replaying a drive at
~9 m/s (a fix a second) in and out of the village and the zone; `car-2` runs without GPS.
Both run side by side for `--seconds`, so they share the machine's load. CPU is user +
system time from /proc over the run after a warm-up, memory the resident set at the end.

The track's bytes are counted on the wire: both clients talk to the server through a
counting HTTP relay, which adds up the request (request line, headers, body) and the answer
(status line, headers, body) of every `POST .../track`. Per day: bytes per point and per
request measured here, for a vehicle on for 12 hours (8 driving at 8 m/s: a point every
50 m = 6.25 s; 4 parked: a point every 10 s), uploading every 60 s.

    .venv/bin/python -m benchmarks.bench_gps [--seconds 120]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from benchmarks.common import cpu_seconds, rss_mb
from tests.integration.harness import Client, Server, aware_now, seconds, wait_for
from tests.integration.test_gps_vehicle import (
    HOSPITAL,
    VILLAGE,
    GpsClient,
    Gpsd,
    Heard,
    config_yaml,
    heard,
    in_range,
    write_track,
)

HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "proxy-connection"}


class CountingRelay:
    """Forwards HTTP to `upstream` and counts the bytes of each request and answer by path
    kind (the last path segment: track, plays, heartbeat, ...)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        # kind -> [requests, request bytes, answer bytes, body bytes both ways, points]
        self.bytes: dict[str, list[int]] = {}
        self.lock = threading.Lock()
        relay = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                sent = len(self.requestline) + 2 + len(str(self.headers)) + len(body)
                conn = http.client.HTTPConnection(
                    relay.upstream.hostname or "127.0.0.1", relay.upstream.port, timeout=120
                )
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
                conn.request(self.command, self.path, body=body or None, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                conn.close()
                self.send_response(resp.status, resp.reason)
                answer_headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP]
                for k, v in answer_headers:
                    if k.lower() != "content-length":
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                try:
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # a client stopping mid-answer (its long poll)
                    return
                got = len(f"HTTP/1.1 {resp.status} {resp.reason}\r\n") + len(data)
                got += sum(len(f"{k}: {v}\r\n") for k, v in answer_headers) + 2
                parts = self.path.split("?")[0].rstrip("/").split("/")
                kind = "/".join(parts[-2:] if parts[-1] == "heartbeat" else parts[-1:])
                points = 0
                if kind == "track" and body:
                    points = len(json.loads(body).get("points", []))
                with relay.lock:
                    row = relay.bytes.setdefault(kind, [0, 0, 0, 0, 0])
                    for i, n in enumerate((1, sent, got, len(body) + len(data), points)):
                        row[i] += n

            do_GET = do_POST = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _zone_latency(gps: Gpsd, sound: Heard) -> dict[str, float | None]:
    """From gpsd's first report inside the hospital to the last audible sample (`mute`),
    and from its first report outside again to the first audible one (`restore`): None when
    no clip was playing across that boundary (then there is nothing to time)."""
    inside = in_range(HOSPITAL)
    try:
        t_in = gps.first(inside)
        t_out = gps.first(lambda lon: not inside(lon), after=t_in)
    except StopIteration:
        return {"mute": None, "restore": None}
    loud = [t for t, s in zip(sound.times, sound.samples, strict=True) if abs(s) > 300]
    before = [t for t in loud if t_in <= t < t_out]
    after = [t for t in loud if t >= t_out]
    played_at = lambda t: any(abs(x - t) < 0.05 for x in sound.times[::441])  # noqa: E731
    mute = (max(before) - t_in) if before else (0.0 if played_at(t_in) else None)
    restore = (min(after) - t_out) if after and played_at(t_out) else None
    return {
        "mute": None if mute is None else round(mute, 2),
        "restore": None if restore is None else round(restore, 2),
    }


def drive(path: Path) -> None:
    """East through the village and the hospital and back west, ~9 m/s, a fix a second."""
    west, east = VILLAGE[0] - 0.004, VILLAGE[1] + 0.004
    step = 0.0001  # degrees of longitude at 36.2 N: ~9 m
    lons = [west + i * step for i in range(round((east - west) / step))]
    legs: list[tuple[float | None, int]] = [(lon, 1) for lon in lons + lons[::-1]]
    write_track(path, legs)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=120.0)
    p.add_argument("--warmup", type=float, default=15.0)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="broadcaster-bench-gps-") as tmp:
        root = Path(tmp)
        now = aware_now()
        config = root / "config.yaml"
        config.write_text(config_yaml(now - seconds(60), now + seconds(args.seconds + 600), 2))
        server = Server(root, config)
        server.start(timeout_s=120)
        relay = CountingRelay(server.url)
        track = root / "drive.nmea"
        drive(track)
        gps = Gpsd(track)
        gps.start()
        on = GpsClient(
            "car-1", root, relay.url, server.device_token("car-1"), gpsd=f"127.0.0.1:{gps.port}"
        )
        off = Client("car-2", root, relay.url, server.device_token("car-2"))
        clients = [on, off]
        try:
            for c in clients:
                c.start()
            assert wait_for(lambda: all(c.sink_log.exists() for c in clients), 60)
            time.sleep(args.warmup)
            pids = {c.speaker: c.proc.pid for c in clients if c.proc is not None}
            cpu0 = {s: cpu_seconds(pid) for s, pid in pids.items()}
            began = time.monotonic()
            peak = dict.fromkeys(pids, 0.0)
            while time.monotonic() - began < args.seconds:
                for s, pid in pids.items():
                    peak[s] = max(peak[s], rss_mb(pid))
                time.sleep(1.0)
            took = time.monotonic() - began
            cpu = {s: (cpu_seconds(pid) - cpu0[s]) / took for s, pid in pids.items()}
            rss = {s: rss_mb(pid) for s, pid in pids.items()}
            load = os.getloadavg()
            time.sleep(1.0)
        finally:
            for c in clients:
                c.stop()  # the track still in the journal goes on the way out
            gps.stop()
            relay.close()
            server.stop()
            quiet_logs = on.log_text().count("quiet zone:")
            skips = on.log_text().count("skipped:outside_area")
            latency = _zone_latency(gps, heard(on))
    requests_n, sent, got, bodies, points = relay.bytes.get("track", [0, 0, 0, 0, 0])
    beats = {s: relay.bytes.get(f"{s}/heartbeat", [0, 1, 0, 0, 0]) for s in ("car-1", "car-2")}
    per_beat = {s: b[1] / max(1, b[0]) for s, b in beats.items()}
    # What grows with the points (the bodies both ways: each point, then its id in the
    # answer), and what each request costs besides (request and answer headers).
    per_point = bodies / points if points else 0.0
    per_request = (sent + got - bodies) / requests_n if requests_n else 0.0
    day_points = 8 * 3600 / (50 / 8) + 4 * 3600 / 10
    day_requests = 12 * 3600 / 60
    result = {
        "seconds": round(took, 1),
        "load_average": [round(x, 2) for x in load],
        "cpu_percent": {
            "gps_on": round(100 * cpu["car-1"], 2),
            "gps_off": round(100 * cpu["car-2"], 2),
        },
        "rss_mb_end": {"gps_on": round(rss["car-1"], 1), "gps_off": round(rss["car-2"], 1)},
        "rss_mb_peak": {"gps_on": round(peak["car-1"], 1), "gps_off": round(peak["car-2"], 1)},
        "quiet_zone_changes_logged": quiet_logs,
        "quiet_zone_latency_s": latency,
        "skipped_outside_area": skips,
        "heartbeat_request_bytes": {
            "gps_on": round(per_beat["car-1"]),
            "gps_off": round(per_beat["car-2"]),
        },
        "track": {
            "uploads": requests_n,
            "points": points,
            "request_bytes": sent,
            "answer_bytes": got,
            "bytes_per_point": round(per_point, 1),
            "bytes_per_request_besides_points": round(per_request, 1),
        },
        "per_day_12h_on": {
            "points": round(day_points),
            "uploads": round(day_requests),
            "bytes": round(day_points * per_point + day_requests * per_request),
            "heartbeat_position_bytes_at_30_s": round(
                12 * 120 * (per_beat["car-1"] - per_beat["car-2"])
            ),
        },
    }
    print(json.dumps(result, indent=2), flush=True)
    return result


if __name__ == "__main__":
    main()
