"""The event long poll: urgent, cancel, stop and resync commands from the server."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from broadcaster.client.api import ApiError, DeviceApi
from broadcaster.client.cache import ClipError, ClipStore
from broadcaster.client.journal import Journal
from broadcaster.client.plan import parse_time, parse_urgent
from broadcaster.client.retry import Backoff, delay_after_failure
from broadcaster.client.runner import Runner, iso
from broadcaster.errors import ValidationError

log = logging.getLogger(__name__)

WAIT_S = 25


class EventListener:
    """Long-polls ``/events`` and hands each command to the runner (or the syncer)."""

    def __init__(
        self,
        api: DeviceApi,
        runner: Runner,
        clips: ClipStore,
        journal: Journal,
        resync: Callable[[], None],
        on_ack: Callable[[], None] = lambda: None,
        wait_s: int = WAIT_S,
    ) -> None:
        self.api = api
        self.runner = runner
        self.clips = clips
        self.journal = journal
        self._resync = resync
        self._on_ack = on_ack
        self.wait_s = wait_s
        self.after: int | None = None

    def poll_once(self) -> int:
        """One long poll; returns how many events were handled."""
        body = self.api.events(self.after, self.wait_s)
        last = _int(body.get("last"))
        if self.after is None:
            self.after = last or 0  # older events reach us through the plan
            return 0
        handled = 0
        events = [e for e in body.get("events") or [] if isinstance(e, dict)]
        for event in sorted(events, key=lambda e: _int(e.get("seq")) or 0):
            seq = _int(event.get("seq"))
            if seq is None or seq <= self.after:
                continue
            try:
                self.handle(seq, str(event.get("kind")), event.get("payload") or {})
            except (ValidationError, TypeError, ValueError) as exc:
                log.error(
                    "event %d (%s) is malformed, ignoring it: %s", seq, event.get("kind"), exc
                )
            self.after = seq
            handled += 1
        if last is not None and last < self.after:
            log.warning(
                "the server's event sequence went back (%d < %d); following it", last, self.after
            )
            self.after = last
        return handled

    def handle(self, seq: int, kind: str, payload: dict[str, Any]) -> None:
        if kind == "urgent":
            event = parse_urgent(seq, payload, self.runner.clock.now())
            log.info(
                "event %d: urgent %s (%d x, every %.0f s, expires %s, override %s)",
                seq,
                event.id,
                event.repeats,
                event.interval_s,
                event.expires_at,
                event.override_window,
            )
            self.journal.add_ack(event.id, "received", iso(self.runner.clock.now()))
            self._on_ack()
            self._fetch(event.clip)
            self.runner.add_urgent(event)
        elif kind == "cancel":
            log.info("event %d: cancel urgent %s", seq, payload.get("urgent"))
            self.runner.cancel(str(payload.get("urgent")))
        elif kind == "stop":
            until = payload.get("until")
            when = parse_time(until, f"event {seq}.until") if until else None
            log.info("event %d: stop until %s", seq, when or "the next window start")
            self.runner.stop(seq, when)
        elif kind == "resync":
            log.info("event %d: resync", seq)
            self._resync()
        else:
            log.info("event %d: unknown kind %r, ignored", seq, kind)

    def _fetch(self, spec: Any) -> None:
        """Get an urgent's clip now; a few quick tries (the runner skips it if it never comes)."""
        for attempt in range(3):
            try:
                self.clips.ensure(spec, self.api.download)
                return
            except (ApiError, ClipError, OSError) as exc:
                log.warning("urgent clip %s: %s (try %d)", spec.key[:12], exc, attempt + 1)
                time.sleep(0.5 * (attempt + 1))

    def run(self, stopping: threading.Event) -> None:
        backoff = Backoff()
        while not stopping.is_set():
            try:
                self.poll_once()
                backoff.reset()
                continue
            except Exception as exc:  # the loop's boundary: log, back off, keep polling
                delay = delay_after_failure("events", exc, backoff)
            stopping.wait(delay)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
