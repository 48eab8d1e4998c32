"""Use cases of the server: plans for speakers, what devices report, and commands to them.

The shell (web handlers, scheduler jobs) calls these with `now` read once from its clock.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from broadcaster import planning
from broadcaster.clips import ClipLibrary
from broadcaster.config import Settings
from broadcaster.coverage import passed_stops, with_fix
from broadcaster.errors import NotFound
from broadcaster.eventfeed import EventFeed
from broadcaster.models import PlayLogEntry, Speaker, Urgent
from broadcaster.notify import Notifier
from broadcaster.plans import PlanDocument, build_plan, plan_span
from broadcaster.store import (
    AckState,
    Deployment,
    Event,
    EventKind,
    PlayUpload,
    SpeakerStatus,
    Store,
)
from broadcaster.store.devices import day_bounds
from broadcaster.store.records import Fix
from broadcaster.store.tracks import TrackPoint
from broadcaster.store.urgents import RECENT
from broadcaster.trackview import TodayTracks

log = logging.getLogger(__name__)


# Status reads of this many speakers or more share one read of all for a second.
STATUSES_SHARED_FROM = 200
STATUSES_FRESH_S = 1.0
STATUSES_CHUNK = 100  # read in pieces, other requests served between them


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """What a client reported in one heartbeat (validated by the web layer)."""

    state: str
    now_playing: Mapping[str, Any] | None
    position_ms: int | None
    volume: int | None
    last_sync: datetime | None
    plan_etag: str | None
    clock_offset_ms: int | None
    cache: Mapping[str, Any] | None
    selftest: Mapping[str, Any] | None
    version: str
    # The vehicle's GPS fix (issue 13); None: none in this heartbeat.
    position: Fix | None = None


def _latest_fix(new: Fix | None, old: Fix | None) -> Fix | None:
    if new is None:
        return old
    if old is not None and old.at > new.at:
        return old
    return new


class Service:
    """The server's use cases over one store, one clip library and one notifier."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        library: ClipLibrary,
        notifier: Notifier,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.library = library
        self.notifier = notifier
        self.clock = clock or (lambda: datetime.now(UTC))
        self._plans: dict[tuple[object, ...], PlanDocument] = {}
        self._plans_guard = threading.Lock()
        # Held while the deployment is read or a plan built (`deployment`, `plan`).
        self._building = threading.RLock()
        # speaker -> (the deployment object, local day, its document): a plan check, a
        # heartbeat's ETag or a dashboard row answered without scanning the deployment.
        self._by_speaker: dict[str, tuple[Deployment, str, PlanDocument]] = {}
        self._deployment: tuple[int, Deployment] | None = None
        # (when read, the speakers read, their statuses): see `statuses`
        self._statuses: tuple[float, set[str], dict[str, SpeakerStatus]] | None = None
        self._pushed: dict[str, str] | None = None  # speaker -> plan ETag last announced
        self._push_guard = threading.Lock()
        self._push_wanted = threading.Event()
        self._push_mark: tuple[object, ...] | None = None
        self.today_tracks = TodayTracks(store, settings.zone)  # the map, route progress
        # One read per new event number for all of a process's long polls.
        self.feed = EventFeed(
            store.devices.last_event_seq(),
            lambda: self.notifier.seq,
            store.devices.events_since,
            lambda speaker, after, limit: store.devices.events_after(speaker, after, limit),
        )

    # -- reading the deployment ---------------------------------------------------------------
    def deployment(self, now: datetime) -> Deployment:
        """The current deployment; re-read only when the catalog revision moved.

        Its urgents are the live ones and those that ended recently (the planner needs both:
        the loop goes on from where an urgent left it); an urgent older than that drops out
        on the next read.
        """
        revision = self.store.catalog_revision()
        found = self._current_deployment(revision, now)
        if found is not None:
            return found
        # One reader: after an edit (an urgent to 5,000 speakers), every request that saw
        # the new revision read the whole deployment at once, for seconds.
        with self._building:
            found = self._current_deployment(revision, now)
            if found is not None:
                return found
            deployment = self.store.deployment(now)
            self._deployment = (revision, deployment)
            return deployment

    def _current_deployment(self, revision: int, now: datetime) -> Deployment | None:
        cached = self._deployment
        if cached is not None and cached[0] >= revision:
            deployment = cached[1]
            horizon = now - RECENT
            if all(u.is_live(horizon) for u in deployment.urgents):
                return deployment
        return None

    def live_urgents(self, now: datetime) -> tuple[Urgent, ...]:
        """The urgents not cancelled and not expired at `now`."""
        return tuple(u for u in self.deployment(now).urgents if u.is_live(now))

    # -- plans -------------------------------------------------------------------------------
    def plan(
        self, speaker_id: str, now: datetime, deployment: Deployment | None = None
    ) -> PlanDocument:
        """The speaker's served plan, recomputed when the catalog or the local day changes.

        Speakers with the same schedules and urgents share one computed document. Callers
        that look at many speakers pass the `deployment` they read once.
        """
        deployment = deployment or self.deployment(now)
        day = now.astimezone(self.settings.zone).date().isoformat()
        hit = self._by_speaker.get(speaker_id)
        if hit is not None and hit[0] is deployment and hit[1] == day:
            return hit[2]  # same inputs (the deployment is re-read when its revision moves)
        speaker = next((s for s in deployment.speakers if s.id == speaker_id), None)
        if speaker is None:
            raise NotFound(f"no speaker {speaker_id!r}")
        areas = {a.id: a for a in deployment.areas}
        chain = set(planning.area_chain(speaker.area_id, areas))
        schedules = tuple(
            s.id for s in planning.schedules_for(speaker, deployment.schedules, areas)
        )
        urgents = tuple(
            sorted(
                u.id
                for u in deployment.urgents
                if speaker_id in u.speaker_ids or chain & set(u.area_ids)
            )
        )
        key = (deployment.revision, day, schedules, urgents)
        with self._plans_guard:
            cached = self._plans.get(key)
        if cached is not None:
            self._by_speaker[speaker_id] = (deployment, day, cached)
            return cached
        with self._building:  # one builder: the others asking for it wait and share it
            with self._plans_guard:
                cached = self._plans.get(key)
            if cached is not None:
                self._by_speaker[speaker_id] = (deployment, day, cached)
                return cached
            return self._build_plan(deployment, speaker_id, now, key, day)

    def _build_plan(
        self,
        deployment: Deployment,
        speaker_id: str,
        now: datetime,
        key: tuple[object, ...],
        day: str,
    ) -> PlanDocument:
        document = build_plan(
            deployment,
            speaker_id,
            self.library,
            zone=self.settings.zone,
            default_voice=self.settings.default_voice,
            now=now,
            heartbeat_s=self.settings.server.heartbeat_s,
            span=plan_span(now, self.settings.zone),
        )
        with self._plans_guard:
            if any(k[:2] != key[:2] for k in self._plans):
                self._plans = {k: v for k, v in self._plans.items() if k[:2] == key[:2]}
            self._plans[key] = document
        self._by_speaker[speaker_id] = (deployment, day, document)
        return document

    def cooperate(self) -> None:
        """Let other requests run between the steps of long work done on the request loop
        (a dashboard of 1,000 cards is a second of CPU): under gevent, a switch to the
        other greenlets that are ready. Never inside a transaction: a paused greenlet
        holding SQLite's write lock would make the next writer wait in C, loop and all."""
        if self.store._current.get() is not None:
            return
        import sys

        gevent = sys.modules.get("gevent")
        if gevent is not None and _gevent_patched():
            gevent.sleep(0)

    def forget_plans(self) -> None:
        """Drop computed plans (for changes that do not move the catalog revision)."""
        with self._plans_guard:
            self._plans.clear()
            self._by_speaker.clear()

    # -- pushing changes --------------------------------------------------------------------
    def push_plan_changes(self, now: datetime) -> list[str]:
        """Send `resync` to exactly the speakers whose plan ETag changed since the last push.

        The first call only learns the current ETags. Returns the speakers told.
        """
        with self._push_guard:
            deployment = self.deployment(now)
            current: dict[str, str] = {}
            for speaker in deployment.speakers:
                try:
                    current[speaker.id] = self.plan(speaker.id, now, deployment).etag
                except Exception:  # one broken plan must not keep the others unannounced
                    log.exception("cannot compute the plan of %s", speaker.id)
            before, self._pushed = self._pushed, current
            if before is None:
                return []
            changed = [sid for sid, etag in current.items() if before.get(sid, etag) != etag]
            if changed:
                last = self.store.devices.append_events(
                    [(sid, EventKind.RESYNC, {}) for sid in changed], now
                )
                self.notifier.publish(last)
                log.info("plan changed for %d speaker(s): resync sent", len(changed))
            return changed

    def request_push(self) -> None:
        """Ask the pusher (`run_pusher`) to compare plan ETags now (after an edit)."""
        self._push_wanted.set()

    def _push_marker(self, now: datetime) -> tuple[object, ...]:
        """What plans depend on besides explicit edits: catalog, day, live urgents."""
        deployment = self.deployment(now)
        day = now.astimezone(self.settings.zone).date()
        return (deployment.revision, day, tuple(sorted(u.id for u in deployment.urgents)))

    def run_pusher(self, stop: threading.Event, every_s: float = 1.0) -> None:
        """Push plan changes when asked, and when the catalog (also written by another
        process), the local day or the set of live urgents moved; until `stop` is set."""
        while not stop.is_set():
            asked = self._push_wanted.wait(every_s)
            self._push_wanted.clear()
            if stop.is_set():
                return
            try:
                now = self.clock()
                mark = self._push_marker(now)
                if asked or mark != self._push_mark or self._pushed is None:
                    self.push_plan_changes(now)
                    self._push_mark = mark
            except Exception:  # a database hiccup must not end the pusher
                log.exception("cannot push plan changes; trying again")

    def clip_file(self, key: str) -> Path:
        """The file of a clip a plan or an urgent named."""
        path = self.library.file(key)
        if path is None:
            raise NotFound(f"no clip {key!r}")
        return path

    # -- device reports ----------------------------------------------------------------------
    def heartbeat(self, speaker_id: str, beat: Heartbeat, now: datetime) -> dict[str, Any]:
        """Record a heartbeat; answer with the current plan's ETag (a change means resync)."""
        previous = self.store.devices.speaker_status(speaker_id)
        selftest = beat.selftest or {}
        status = SpeakerStatus(
            speaker_id=speaker_id,
            last_heartbeat=now,
            state=beat.state,
            now_playing=beat.now_playing,
            position_ms=beat.position_ms,
            volume=beat.volume,
            clock_offset_ms=beat.clock_offset_ms,
            selftest_ok=selftest.get("ok", previous.selftest_ok if previous else None),
            selftest_at=selftest.get("at", previous.selftest_at if previous else None),
            selftest_detail=str(
                selftest.get("detail", previous.selftest_detail if previous else "")
            ),
            cache_health=beat.cache,
            last_sync=beat.last_sync,
            plan_etag=beat.plan_etag,
            client_version=beat.version,
            # A heartbeat without a fix keeps the last one (with its time: the map shows how
            # old it is); a newer fix replaces it, an older one (sent late) does not.
            fix=_latest_fix(beat.position, previous.fix if previous else None),
        )
        self.store.devices.put_speaker_status(status)
        if self._statuses is not None and speaker_id in self._statuses[1]:
            self._statuses[2][speaker_id] = status
        etag = self.plan(speaker_id, now).etag
        return {"plan_etag": etag, "heartbeat_s": self.settings.server.heartbeat_s}

    def record_plays(
        self, speaker_id: str, entries: Iterable[PlayLogEntry], now: datetime
    ) -> PlayUpload:
        """Store play-log entries (idempotent by id); urgent plays also acknowledge 'played'."""
        entries = [replace(e, speaker_id=speaker_id) for e in entries]
        upload = self.store.devices.add_plays(entries, now)
        return upload

    def record_track(
        self, speaker_id: str, points: Iterable[TrackPoint], now: datetime
    ) -> PlayUpload:
        """Store a vehicle's track points (idempotent by (speaker, id), as plays are)."""
        return self.store.tracks.add(
            speaker_id, [replace(p, speaker_id=speaker_id) for p in points], now
        )

    def route_progress(
        self, vehicles: Iterable[Speaker], now: datetime
    ) -> dict[str, list[datetime | None]]:
        """Per vehicle with a route: when each stop was passed today (None: not yet), from
        today's track and the latest heartbeat fix (broadcaster/coverage.py, 60 m, in route
        order)."""
        routed = [v for v in vehicles if v.route is not None and v.route.stops]
        if not routed:
            return {}
        ids = [v.id for v in routed]
        tracks = self.today_tracks.get(ids, now)
        statuses = self.store.devices.speaker_statuses(ids)
        start, end = day_bounds(now.astimezone(self.settings.zone).date(), self.settings.zone)
        found: dict[str, list[datetime | None]] = {}
        for vehicle in routed:
            track = tracks.get(vehicle.id)
            status = statuses.get(vehicle.id)
            fix = status.fix if status is not None else None
            if fix is not None and start <= fix.at < end:
                track = with_fix(track, fix)
            stops = [
                (s.lat, s.lon) if s.lat is not None and s.lon is not None else None
                for s in vehicle.route.stops  # type: ignore[union-attr]
            ]
            found[vehicle.id] = (
                passed_stops(stops, track) if track is not None else [None] * len(stops)
            )
        return found

    def ack(self, speaker_id: str, urgent_id: str, state: AckState, at: datetime) -> None:
        """A speaker received, started or finished an urgent announcement."""
        self.store.urgents.ack_urgent(urgent_id, speaker_id, state, at)

    def events(
        self, speaker_id: str, after: int | None, wait_s: float
    ) -> tuple[tuple[Event, ...], int]:
        """Events after `after` for the speaker, waiting up to `wait_s` for one to appear.

        Without `after`: none, and the current sequence number to start from.
        """
        if after is None:
            return (), self.store.devices.last_event_seq()
        deadline = _monotonic() + wait_s
        while True:
            found = self.feed.after(speaker_id, after)
            if found:
                return found, found[-1].seq
            # Events for other speakers also wake us: move `after` past what we have seen.
            seen = max(after, self.notifier.seq)
            remaining = deadline - _monotonic()
            if remaining <= 0 or not self.notifier.wait_beyond(seen, remaining):
                return (), max(after, self.feed.loaded)

    def statuses(self, speaker_ids: Iterable[str]) -> dict[str, SpeakerStatus]:
        """The last known status of each speaker.

        Many at once (a dashboard of a county: each open page asks every 2 s) share what
        was read for `STATUSES_FRESH_S`, read in pieces of `STATUSES_CHUNK` with other
        requests served between them; this process's own heartbeats update it as they
        come, another process's show within that second.
        """
        ids = list(speaker_ids)
        if len(ids) < STATUSES_SHARED_FROM:
            return self.store.devices.speaker_statuses(ids)
        shared = self._statuses
        if shared is None or _monotonic() - shared[0] > STATUSES_FRESH_S:
            shared = (_monotonic(), set(), {})
            self._statuses = shared
        _at, covered, found = shared
        missing = [i for i in ids if i not in covered]
        for start in range(0, len(missing), STATUSES_CHUNK):
            if start:
                self.cooperate()  # 1,000 rows read and decoded at once stalled the loop
            chunk = missing[start : start + STATUSES_CHUNK]
            found.update(self.store.devices.speaker_statuses(chunk))
            covered.update(chunk)
        return {i: found[i] for i in ids if i in found}

    def offline_after(self) -> timedelta:
        """Silence after which a speaker counts as offline: three missed heartbeats."""
        server = self.settings.server
        return timedelta(seconds=server.heartbeat_s * server.offline_after_missed)


def _gevent_patched() -> bool:
    from gevent import monkey

    return bool(monkey.is_module_patched("threading"))


def _monotonic() -> float:
    import time

    return time.monotonic()
