"""Composition of one playback client: components, threads, start and orderly stop."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audio.player import Sink
from broadcaster.client import track
from broadcaster.client.api import ApiError, DeviceApi
from broadcaster.client.cache import ClipStore, PlanStore
from broadcaster.client.clock import Clock
from broadcaster.client.events import EventListener
from broadcaster.client.geo import Point
from broadcaster.client.gps import GpsReader, parse_address
from broadcaster.client.journal import Journal
from broadcaster.client.pacing import Pacer
from broadcaster.client.plan import Plan
from broadcaster.client.reporting import Heartbeater, Uploader
from broadcaster.client.runner import Runner
from broadcaster.client.sync import Syncer, load_saved_plan
from broadcaster.client.watchdog import Watchdog

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Options:
    server: str
    speaker: str
    token: str
    cache: Path
    version: str = "0.1.0"
    events_wait_s: int = 25
    upload_idle_s: float = 30.0
    gpsd: str | None = None  # HOST:PORT of gpsd (issue 13); None: no GPS
    fix_max_age_s: float = 10.0  # an older fix is no fix
    track_every_s: float = track.EVERY_S
    track_every_m: float = track.EVERY_M
    track_max_points: int = track.MAX_POINTS
    track_upload_s: float = track.UPLOAD_S


class Client:
    """One speaker's client. ``start()`` runs its threads; ``stop()`` ends them in order."""

    def __init__(
        self,
        options: Options,
        sink: Sink,
        clock: Clock | None = None,
        watchdog: Watchdog | None = None,
    ) -> None:
        self.options = options
        self.sink = sink
        self.clock = clock or Clock()
        options.cache.mkdir(parents=True, exist_ok=True)
        self.journal = Journal(options.cache / "journal.sqlite3")
        if self.journal.recovered:
            log.warning("recovered %d play-log entries cut by a crash", self.journal.recovered)
        self.clips = ClipStore(options.cache)
        self.plans = PlanStore(options.cache)
        self.api = DeviceApi(options.server, options.speaker, options.token, self.clock)
        self.uploader = Uploader(self.api, self.journal, options.upload_idle_s)
        # GPS (issue 13): fixes from gpsd, the track journaled and uploaded. Off by default.
        self.gps: GpsReader | None = None
        self.track: track.TrackJournal | None = None
        self.track_uploader: track.TrackUploader | None = None
        if options.gpsd:
            host, port = parse_address(options.gpsd)
            self.track = track.TrackJournal(
                options.cache / "track.sqlite3", options.track_max_points
            )
            recorder = track.TrackRecorder(
                self.track, self.clock, options.track_every_s, options.track_every_m
            )
            self.gps = GpsReader(
                host,
                port,
                max_age_s=options.fix_max_age_s,
                mono=self.clock.mono,
                on_fix=recorder.offer,
            )
            self.track_uploader = track.TrackUploader(self.api, self.track, options.track_upload_s)
        self.runner = Runner(
            Pacer(sink, mono=self.clock.mono),
            self.clock,
            self.clips,
            self.journal,
            watchdog=watchdog,
            on_journal=self.uploader.wake,
            on_bad_clip=self._bad_clip,
            on_status=self._status_changed,
            position=self._position,
        )
        self.syncer = Syncer(
            self.api,
            self.clips,
            self.plans,
            lambda: self.runner.plan,
            self._switch_plan,
            self.clock.now,
        )
        self.events = EventListener(
            self.api,
            self.runner,
            self.clips,
            self.journal,
            self.syncer.request,
            self.uploader.wake,
            options.events_wait_s,
        )
        self.heartbeater = Heartbeater(
            self.api,
            self.runner,
            self.syncer,
            options.version,
            self.uploader.server_reachable,
            self._position_json,
        )
        self.stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._player: threading.Thread | None = None

    def _position(self) -> Point | None:
        fix = self.gps.latest() if self.gps is not None else None
        return None if fix is None else (fix.lat, fix.lon)

    def _position_json(self) -> dict[str, Any] | None:
        fix = self.gps.latest() if self.gps is not None else None
        return None if fix is None else track.position_json(fix, self.clock)

    def _bad_clip(self) -> None:
        self.syncer.request()

    def _status_changed(self) -> None:
        self.heartbeater.prompt()  # "now playing" reaches the panel within a second or two

    def _switch_plan(self, plan: Plan) -> None:
        self.runner.set_plan(plan)
        self.heartbeater.prompt()  # tells the server at once which plan plays now

    def start(self) -> None:
        saved = load_saved_plan(self.plans)
        if saved is not None:
            self.runner.set_plan(saved)
            self.syncer.heartbeat_s = saved.heartbeat_s
            log.info("playing the saved plan %s until the server answers", saved.etag)
        else:
            log.info("no saved plan: silent until the first sync")
        self._player = threading.Thread(target=self.runner.run, name="playback", daemon=True)
        self._player.start()
        loops = [
            ("sync", self.syncer.run),
            ("events", self.events.run),
            ("heartbeat", self.heartbeater.run),
            ("upload", self.uploader.run),
        ]
        if self.gps is not None and self.track_uploader is not None:
            log.info("GPS from gpsd at %s:%s", self.gps.host, self.gps.port)
            self.gps.start()
            loops.append(("track", self.track_uploader.run))
        for name, target in loops:
            t = threading.Thread(target=target, args=(self.stopping,), name=name, daemon=True)
            t.start()
            self._threads.append(t)

    def wait(self, timeout_s: float | None = None) -> bool:
        """Wait for the playback loop to end; True if it has."""
        if self._player is None:
            return True
        self._player.join(timeout_s)
        return not self._player.is_alive()

    def stop(self, upload_timeout_s: float = 2.0) -> None:
        """Fade out and journal the cut clip, stop the threads, try one last upload."""
        self.runner.shutdown()
        self.wait(5.0)
        self.stopping.set()
        if self.gps is not None:
            self.gps.stop()
        self.syncer.request()
        self.uploader.wake()
        if self.track_uploader is not None:
            self.track_uploader.wake()
        for t in self._threads:
            if t.name != "events":  # it may sit in a long poll; it is a daemon
                t.join(timeout=upload_timeout_s + 1.0)
        self.api.timeout_s = upload_timeout_s
        try:
            sent = self.uploader.flush_once()
            if sent:
                log.info("uploaded %d play-log entries before exiting", sent)
        except (ApiError, OSError) as exc:
            log.info("left %d play-log entries for the next start (%s)", self.journal.count(), exc)
        if self.track_uploader is not None and self.track is not None:
            try:
                self.track_uploader.flush_once()
            except (ApiError, OSError) as exc:
                log.info("left %d track points for the next start (%s)", self.track.count(), exc)
        self.sink.close()
