"""Position from gpsd (issue 13): `broadcaster-client --gpsd HOST:PORT` reads fixes.

gpsd's JSON protocol over TCP (https://gpsd.gitlab.io/gpsd/gpsd_json.html), read with the
standard library: after the `VERSION` banner the client sends `?WATCH={"enable":true,
"json":true}` and gpsd streams reports, one JSON object per line; a `TPV` report with `mode`
2 (2D) or 3 (3D) carries a fix. The reader keeps the newest fix and when it came (monotonic
time); a fix older than `max_age_s` is no fix. gpsd gone, a receiver without a fix, garbage
on the line: the reader says so once, retries with the client's backoff, and the client
plays on without a position (fixed speakers use their configured location).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from broadcaster.client.retry import Backoff

log = logging.getLogger(__name__)

WATCH = b'?WATCH={"enable":true,"json":true};\n'
MAX_LINE = 64 * 1024  # gpsd's longest reports (SKY with many satellites) are a few kB


@dataclass(frozen=True, slots=True)
class Fix:
    """One position: degrees, the receiver's time (None if it gave none), when it came."""

    lat: float
    lon: float
    mode: int  # 2: 2D, 3: 3D
    received: float  # monotonic seconds
    at: datetime | None = None
    speed_mps: float | None = None
    track_deg: float | None = None


def parse_report(line: str | bytes, received: float) -> Fix | None:
    """The fix in one line of gpsd's JSON, or None (another class, no fix, not JSON, out of
    range): gpsd and the wire are input, never trusted."""
    try:
        report = json.loads(line)
    except ValueError:
        return None
    if not isinstance(report, dict) or report.get("class") != "TPV":
        return None
    mode, lat, lon = report.get("mode"), _float(report.get("lat")), _float(report.get("lon"))
    if mode not in (2, 3) or lat is None or lon is None:
        return None
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return None
    at = None
    if isinstance(report.get("time"), str):
        try:
            at = datetime.fromisoformat(report["time"].replace("Z", "+00:00"))
        except ValueError:
            at = None
    return Fix(
        lat, lon, int(mode), received, at, _float(report.get("speed")), _float(report.get("track"))
    )


def _float(value: object) -> float | None:
    """A finite JSON number as a float; anything else (strings, booleans, NaN) None."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def parse_address(text: str) -> tuple[str, int]:
    """`HOST:PORT` (or `HOST`, gpsd's port 2947) as given to `--gpsd`."""
    host, sep, port = text.rpartition(":")
    if not sep:
        return text, 2947
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--gpsd: expected HOST:PORT, got {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


class GpsReader:
    """Reads fixes from gpsd in a thread of its own; `latest()` is the newest fresh one."""

    def __init__(
        self,
        host: str,
        port: int = 2947,
        *,
        max_age_s: float = 10.0,
        silence_s: float = 15.0,
        mono: Callable[[], float] = time.monotonic,
        backoff: Backoff | None = None,
        on_fix: Callable[[Fix], object] | None = None,
    ) -> None:
        self.host, self.port = host, port
        self._on_fix = on_fix  # every fix, in this reader's thread (the track recorder)
        self.max_age_s = max_age_s
        self.silence_s = silence_s  # no line at all for this long: reconnect
        self._mono = mono
        self._backoff = backoff or Backoff(1.0, 30.0)
        self._fix: Fix | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None  # the open connection, shut down by stop()
        self._problem: str | None = ""  # the last one logged, so it is logged once ("": none yet)

    def latest(self) -> Fix | None:
        """The newest fix if it is fresh (`max_age_s`), else None."""
        with self._lock:
            fix = self._fix
        if fix is None or self._mono() - fix.received > self.max_age_s:
            return None
        return fix

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="gpsd", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        sock = self._sock
        if sock is not None:  # a read waiting on a silent gpsd returns at once
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._read_session()
                problem = "gpsd closed the connection"
            except OSError as exc:
                problem = f"gpsd at {self.host}:{self.port} is unreachable ({exc})"
            self._report(problem)
            self._stop.wait(self._backoff.next())

    def _read_session(self) -> None:
        with socket.create_connection((self.host, self.port), timeout=self.silence_s) as sock:
            self._sock = sock
            if self._stop.is_set():
                return
            sock.sendall(WATCH)
            pending = b""
            while not self._stop.is_set():
                try:
                    chunk = sock.recv(65536)
                except TimeoutError:
                    raise OSError(f"no report for {self.silence_s:.0f} s") from None
                if not chunk:
                    return
                pending += chunk
                *lines, pending = pending.split(b"\n")
                if len(pending) > MAX_LINE:
                    raise OSError("a report longer than 64 kB")
                for line in lines:
                    now = self._mono()
                    fix = parse_report(line, now)
                    if fix is None and self._problem is None:
                        with self._lock:
                            last = self._fix
                        if last is None or now - last.received > self.max_age_s:
                            # gpsd answers, the receiver has lost its fix (a tunnel, a dead
                            # antenna): said once, and again when fixes come back.
                            self._report(f"no fix from the receiver for {self.max_age_s:g} s")
                    if fix is not None:
                        with self._lock:
                            self._fix = fix
                        self._backoff.reset()
                        self._report(None)
                        if self._on_fix is not None:
                            self._on_fix(fix)

    def _report(self, problem: str | None) -> None:
        if problem == self._problem:
            return
        if problem is None:
            log.info("fixes from gpsd at %s:%s", self.host, self.port)
        else:  # (the thread's name, gpsd, is on the line)
            log.warning("%s; playing on without a position", problem)
        self._problem = problem
