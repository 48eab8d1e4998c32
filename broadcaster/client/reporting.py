"""What the client tells the server: heartbeats, play-log uploads and urgent acks."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from broadcaster.client.api import ApiError, DeviceApi, Unauthorized, Unreachable, held
from broadcaster.client.journal import MAX_BATCH, Journal
from broadcaster.client.retry import Retry
from broadcaster.client.runner import Runner, iso
from broadcaster.client.sync import Syncer

log = logging.getLogger(__name__)

FIRST_BEAT_WAIT_S = 10.0
PROMPT_GAP_S = 0.5  # prompt heartbeats (a clip started or stopped, a new plan): at most this often
VOLUME = 100  # the amplifier sets the level; the client scales only in quiet zones


class Heartbeater:
    """POSTs the speaker's state every ``heartbeat_s``, and at once (at most one every
    ``PROMPT_GAP_S``, prompts in between coalesced) when ``prompt()`` is called: a clip
    started or stopped, a new plan was switched to. A new plan ETag triggers a sync."""

    def __init__(
        self,
        api: DeviceApi,
        runner: Runner,
        syncer: Syncer,
        version: str,
        on_success: Callable[[], None] = lambda: None,
        position: Callable[[], dict[str, Any] | None] = lambda: None,
    ) -> None:
        self.api = api
        self.position = position  # the vehicle's fresh fix as the heartbeat's `position`
        self.runner = runner
        self.syncer = syncer
        self.version = version
        self.on_success = on_success
        self.sent = 0
        self.min_gap_s = PROMPT_GAP_S
        self._prompted = threading.Event()

    def prompt(self) -> None:
        """Send a heartbeat now (or as soon as the rate limit allows); thread-safe."""
        self._prompted.set()

    def payload(self) -> dict[str, Any]:
        snap = self.runner.snapshot()
        plan = self.runner.plan
        clock = self.runner.clock
        last_sync = self.syncer.last_sync
        payload = {
            "state": snap["state"],
            "now_playing": snap["now_playing"],
            # A quiet zone lowers (or mutes) what plays: the level the speaker plays at now.
            "volume": round(VOLUME * snap.get("gain", 1.0)),
            "last_sync": iso(last_sync) if last_sync else None,
            "plan_etag": plan.etag if plan else None,
            "client_time": iso(clock.system_now()),
            "clock_offset_ms": clock.offset_ms(),
            "cache": self.syncer.health().as_json(),
            "selftest": snap["selftest"],
            "version": self.version,
        }
        position = self.position()
        if position is not None:  # no fix (or none fresh): left out, as a fixed speaker's
            payload["position"] = position
        return payload

    def beat_once(self) -> None:
        answer = self.api.heartbeat(self.payload())
        self.sent += 1
        self.on_success()
        if isinstance(answer.get("heartbeat_s"), int | float) and answer["heartbeat_s"] > 0:
            self.syncer.heartbeat_s = float(answer["heartbeat_s"])
        plan = self.runner.plan
        etag = answer.get("plan_etag")
        if etag and (plan is None or etag != plan.etag) and etag != self.syncer.pending_etag:
            log.info("heartbeat: the server has plan %s; syncing", etag)
            self.syncer.request()

    def run(self, stopping: threading.Event) -> None:
        # The first heartbeat reports the state after the first sync, not before it.
        self.syncer.attempted.wait(FIRST_BEAT_WAIT_S)
        retry = Retry("heartbeat")
        while not stopping.is_set():
            self._prompted.clear()
            sent_at = time.monotonic()
            try:
                self.beat_once()
                retry.succeeded()
                delay = self.syncer.heartbeat_s
                ok = True
            except Exception as exc:  # the loop's boundary: log, back off, keep beating
                delay = retry.failed(exc, cap_s=self.syncer.heartbeat_s)
                ok = False
            self._wait(stopping, sent_at, delay, prompts=ok)

    def _wait(self, stopping: threading.Event, sent_at: float, delay: float, prompts: bool) -> None:
        """Until ``delay`` after ``sent_at``, or a prompt once ``min_gap_s`` has passed
        (after a failure prompts do not shorten the backoff)."""
        deadline = sent_at + delay
        while not stopping.is_set():
            now = time.monotonic()
            if now >= deadline:
                return
            if prompts and self._prompted.is_set():
                gap = sent_at + self.min_gap_s - now
                if gap <= 0:
                    return
                stopping.wait(min(gap, deadline - now))
                continue
            wait = min(deadline - now, 0.5)
            if prompts:
                self._prompted.wait(wait)
            else:
                stopping.wait(wait)


class Uploader:
    """Sends journaled play-log entries (batches of at most 500) and urgent acks."""

    def __init__(self, api: DeviceApi, journal: Journal, idle_s: float = 30.0) -> None:
        self.api = api
        self.journal = journal
        self.idle_s = idle_s
        self._wake = threading.Event()
        self._reachable = threading.Event()
        self.uploaded = 0

    def wake(self) -> None:
        self._wake.set()

    def server_reachable(self) -> None:
        """The server answered again (a heartbeat went through): stop waiting out the
        backoff of a failed upload and send what is pending now."""
        self._reachable.set()

    def flush_once(self) -> int:
        """Upload everything pending; returns how many entries the server took. Raises."""
        for ack in self.journal.pending_acks():
            try:
                self.api.ack(ack["urgent"], ack["state"], ack["at"])
            except Unauthorized:
                raise
            except ApiError as exc:
                if isinstance(exc, Unreachable) or exc.status is None:
                    raise  # kept for the next try
                log.warning("ack %s %s refused (%s); dropping it", ack["urgent"], ack["state"], exc)
            self.journal.drop_ack(ack["urgent"], ack["state"])
        done = 0
        while batch := self.journal.pending(MAX_BATCH):
            answer = self.api.plays(batch)
            removed = self.journal.acknowledge(held(answer))
            done += removed
            self.uploaded += removed
            if removed == 0:
                raise ApiError(f"the server acknowledged none of {len(batch)} play-log entries")
        return done

    def run(self, stopping: threading.Event) -> None:
        retry = Retry("upload")
        while not stopping.is_set():
            self._wake.clear()
            try:
                sent = self.flush_once()
                if sent:
                    log.info("uploaded %d play-log entries", sent)
                retry.succeeded()
                delay = self.idle_s
            except Exception as exc:  # the loop's boundary: log, back off, keep the entries
                delay = retry.failed(exc)
                if not isinstance(exc, Unauthorized):
                    # Failures wait out the backoff even if more entries arrive, but not
                    # once the server answers again: after an outage the play log goes at once.
                    self._wake.clear()
                    self._reachable.clear()
                    deadline = time.monotonic() + delay
                    while not (stopping.is_set() or self._reachable.is_set()):
                        remaining = deadline - time.monotonic()
                        if remaining <= 0:
                            break
                        stopping.wait(min(0.5, remaining))
                    continue
            self._wake.wait(delay)
