"""A budget for the audit lines anonymous requests cause (denials, throttled sign-ins).

Every anonymous 401/403 used to append an undeletable audit line: 2,000 in 13 s from one
script. Now each client address (by `client_key`, an IPv6 client by its /64) gets
`PER_CLIENT` lines a minute and all anonymous clients together `PER_MINUTE`; what is left
out is counted, and the client's next written line says how many (`suppressed`).
Signed-in users' and devices' denials are always written.
"""

from __future__ import annotations

import threading
from datetime import datetime

from flask import Flask, current_app

PER_CLIENT = 20
PER_MINUTE = 300
MAX_CLIENTS = 10_000  # remembered clients per minute (beyond: counted as one)


class AnonymousAuditBudget:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._minute: datetime | None = None
        self._written: dict[str, int] = {}
        self._total = 0
        self._suppressed: dict[str, int] = {}

    def take(self, client: str, now: datetime) -> int | None:
        """None: leave this line out; else write it, noting this many left out before."""
        minute = now.replace(second=0, microsecond=0)
        with self._lock:
            if minute != self._minute:
                self._minute, self._written, self._total = minute, {}, 0
            if client not in self._written and len(self._written) >= MAX_CLIENTS:
                client = "(many)"
            used = self._written.get(client, 0)
            if used >= PER_CLIENT or self._total >= PER_MINUTE:
                if len(self._suppressed) < MAX_CLIENTS or client in self._suppressed:
                    self._suppressed[client] = self._suppressed.get(client, 0) + 1
                return None
            self._written[client] = used + 1
            self._total += 1
            return self._suppressed.pop(client, 0)


def install(app: Flask) -> None:
    app.extensions["broadcaster.anonymous_audit"] = AnonymousAuditBudget()


def anonymous_line(client: str, now: datetime) -> int | None:
    """See `AnonymousAuditBudget.take`, for the current app."""
    budget: AnonymousAuditBudget = current_app.extensions["broadcaster.anonymous_audit"]
    return budget.take(client, now)
