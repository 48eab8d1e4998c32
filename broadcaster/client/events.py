"""The event long poll: urgent, urgent_clip, cancel, stop, resync and live commands from the
server.

Handling an event never waits for a download: an urgent is queued at once with whatever
of its clips (the chime, the speech) is already cached, and the rest is downloaded on a
thread of its own that hands each clip to the runner when it is verified.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from broadcaster.client.api import ApiError, DeviceApi
from broadcaster.client.cache import ClipError, ClipStore
from broadcaster.client.journal import Journal
from broadcaster.client.live import LivePlayback, LiveReader
from broadcaster.client.livemode import event_age_ms, is_stale, parse_live
from broadcaster.client.plan import ClipSpec, parse_event_clip, parse_time, parse_urgent
from broadcaster.client.retry import Retry
from broadcaster.client.runner import Runner, iso
from broadcaster.errors import ValidationError

log = logging.getLogger(__name__)

WAIT_S = 25
FETCH_FOR_S = 30.0  # how long an urgent's clip download is retried (while the urgent lasts)


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
        self.downloads: list[threading.Thread] = []  # urgent clip downloads (tests join them)
        self.live_readers: list[LiveReader] = []  # live pages' stream readers

    def poll_once(self) -> int:
        """One long poll; returns how many events were handled."""
        body = self.api.events(self.after, self.wait_s)
        last = _int(body.get("last"))
        if self.after is None:
            self.after = last or 0  # older events reach us through the plan
            return 0
        handled = 0
        events = [e for e in body.get("events") or [] if isinstance(e, dict)]
        server_time = body.get("server_time")
        for event in sorted(events, key=lambda e: _int(e.get("seq")) or 0):
            seq = _int(event.get("seq"))
            if seq is None or seq <= self.after:
                continue
            try:
                self.handle(
                    seq,
                    str(event.get("kind")),
                    event.get("payload") or {},
                    age_ms=event_age_ms(event.get("created_at"), server_time),
                )
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

    def handle(
        self, seq: int, kind: str, payload: dict[str, Any], age_ms: int | None = None
    ) -> None:
        """One event; ``age_ms``: how old it was when the server answered (its clock)."""
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
            chime = event.chime if self._cached(event.chime) else None
            speech = event.clip if self._cached(event.clip) else None
            if not self.runner.add_urgent(event, chime=chime, speech=speech):
                return
            todo: list[tuple[str, ClipSpec]] = []
            if event.chime is not None and chime is None:
                todo.append(("chime", event.chime))  # tiny, and the first sound: first
            if event.clip is not None and speech is None:
                todo.append(("speech", event.clip))
            if todo:
                self._download(event.id, todo)
        elif kind == "urgent_clip":
            urgent_id = str(payload.get("urgent") or "")
            spec = parse_event_clip(payload.get("clip"), f"event {seq}.clip")
            if spec is None:
                raise ValidationError(f"event {seq}.clip: missing")
            if not self.runner.wants_clips(urgent_id):
                log.info(
                    "event %d: clip for urgent %s, which is not queued; ignored", seq, urgent_id
                )
                return
            log.info(
                "event %d: the speech of urgent %s is ready (%s)", seq, urgent_id, spec.key[:12]
            )
            if self._cached(spec):
                self.runner.urgent_ready(urgent_id, speech=spec)
            else:
                self._download(urgent_id, [("speech", spec)])
        elif kind == "cancel":
            log.info("event %d: cancel urgent %s", seq, payload.get("urgent"))
            self.runner.cancel(str(payload.get("urgent")))
        elif kind == "stop":
            until = payload.get("until")
            when = parse_time(until, f"event {seq}.until") if until else None
            log.info("event %d: stop until %s", seq, when or "the next window start")
            self.runner.stop(seq, when)
        elif kind == "live":
            self._live(seq, payload, age_ms)
        elif kind == "resync":
            log.info("event %d: resync", seq)
            self._resync()
        else:
            log.info("event %d: unknown kind %r, ignored", seq, kind)

    def _live(self, seq: int, payload: dict[str, Any], age_ms: int | None) -> None:
        """A live page: on the air at once (the runner preempts what plays), its stream
        opened meanwhile on a thread of its own. Not resumed when it comes late."""
        page = parse_live(seq, payload, self.api.speaker)
        if is_stale(age_ms):
            log.info(
                "event %d: live page %s began %.1f s ago: too late to join, not resumed",
                seq,
                page.page,
                (age_ms or 0) / 1000,
            )
            return
        log.info("event %d: live page %s by %s", seq, page.page, page.by or "-")
        playback = LivePlayback(page, self.runner.pacer.sink.rate, self.runner.clock.mono)
        if not self.runner.start_live(playback):
            log.info("event %d: live page %s is known already; ignored", seq, page.page)
            return
        self.live_readers = [r for r in self.live_readers if r.thread.is_alive()]
        reader = LiveReader(self.api, playback)
        self.live_readers.append(reader)
        reader.start()

    def _cached(self, spec: ClipSpec | None) -> bool:
        if spec is None:
            return False
        try:
            return self.clips.status(spec) == "ok"
        except (ClipError, OSError) as exc:
            log.warning("clip %s: %s", spec.key[:12], exc)
            return False

    def _download(self, urgent_id: str, parts: list[tuple[str, ClipSpec]]) -> None:
        thread = threading.Thread(
            target=self._fetch_parts, args=(urgent_id, parts), name="urgent-clips", daemon=True
        )
        self.downloads = [t for t in self.downloads if t.is_alive()] + [thread]
        thread.start()

    def _fetch_parts(self, urgent_id: str, parts: list[tuple[str, ClipSpec]]) -> None:
        for what, spec in parts:
            if self._fetch(urgent_id, spec):
                if what == "chime":
                    self.runner.urgent_ready(urgent_id, chime=spec)
                else:
                    self.runner.urgent_ready(urgent_id, speech=spec)
            elif what == "speech" and self.runner.wants_clips(urgent_id):
                self.runner.urgent_failed(urgent_id)

    def _fetch(self, urgent_id: str, spec: ClipSpec) -> bool:
        """Get an urgent's clip now, retrying quickly while the urgent lasts; True if it
        is in the cache and verified."""
        deadline = time.monotonic() + FETCH_FOR_S
        retry = Retry(f"urgent {urgent_id}: clip {spec.key[:12]}", base_s=0.5, cap_s=4.0)
        while True:
            try:
                if self.clips.ensure(spec, self.api.download):
                    log.info("urgent %s: downloaded clip %s", urgent_id, spec.key[:12])
                retry.succeeded()
                return True
            except (ApiError, ClipError, OSError) as exc:
                delay = retry.failed(exc)
            if time.monotonic() + delay > deadline or not self.runner.wants_clips(urgent_id):
                log.info(
                    "urgent %s: clip %s: stopped trying after %d tries",
                    urgent_id,
                    spec.key[:12],
                    retry.failures,
                )
                return False
            time.sleep(delay)

    def run(self, stopping: threading.Event) -> None:
        retry = Retry("events")
        while not stopping.is_set():
            try:
                self.poll_once()
                retry.succeeded()
                continue
            except Exception as exc:  # the loop's boundary: log, back off, keep polling
                delay = retry.failed(exc)
            stopping.wait(delay)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
