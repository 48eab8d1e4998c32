"""systemd notifications (sd_notify) without a dependency: READY=1 and WATCHDOG=1."""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Mapping


class Watchdog:
    """Sends ``READY=1`` and ``WATCHDOG=1``, the latter at most once a second (or every half
    watchdog period when that is shorter).

    Does nothing unless ``NOTIFY_SOCKET`` is set (``WATCHDOG_USEC`` enables the pings).
    Only the playback loop calls ``tick``, so systemd restarts a client whose loop hangs.
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        addr = env.get("NOTIFY_SOCKET") or ""
        if addr.startswith("@"):
            addr = "\0" + addr[1:]  # abstract namespace
        self._addr = addr
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        enabled = usec.isdigit() and int(usec) > 0 and (not pid or pid == str(os.getpid()))
        self.interval_s = int(usec) / 2e6 if enabled else None
        self._last = 0.0

    def notify(self, message: str) -> bool:
        if not self._addr:
            return False
        with (
            contextlib.suppress(OSError),
            socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock,
        ):
            sock.sendto(message.encode("ascii"), self._addr)
            return True
        return False

    def ready(self) -> None:
        self.notify("READY=1")

    def stopping(self) -> None:
        self.notify("STOPPING=1")

    def tick(self) -> None:
        if self.interval_s is None:
            return
        now = time.monotonic()
        if now - self._last >= min(1.0, self.interval_s):
            self._last = now
            self.notify("WATCHDOG=1")
