"""The playback loop: the only thread that touches the sink.

It decides from the cached plan and the anchored clock alone (``timeline.decide``), so it
stops at the window end however long the server has been unreachable. Other threads hand
it plans and commands through the thread-safe methods and wake it.
"""

from __future__ import annotations

import logging
import math
import threading
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from audio.errors import AudioError
from audio.player import ClipInfo
from broadcaster.client.cache import ClipError, ClipStore
from broadcaster.client.clock import Clock
from broadcaster.client.geo import MUTED, Decision, Point
from broadcaster.client.journal import Journal
from broadcaster.client.live import LivePlayback
from broadcaster.client.livemode import (
    COMPLETED,
    MAX_LENGTH,
    SHUTDOWN,
    STOPPED,
    TAKEN,
    cut_by_stop,
)
from broadcaster.client.pacing import Pacer, PlayResult
from broadcaster.client.pcm import ClipReader
from broadcaster.client.plan import ClipSpec, Item, Plan, UrgentEvent
from broadcaster.client.timeline import (
    ENDING_CUTS,
    Playing,
    PlayItem,
    PlayUrgent,
    State,
    Stop,
    UrgentRun,
    Wait,
    decide,
    is_stopped,
    settle,
    should_cut,
)
from broadcaster.client.watchdog import Watchdog

log = logging.getLogger(__name__)

IDLE_TICK_S = 1.0  # the loop re-decides at least this often (and feeds the watchdog)
CHECK_EVERY_S = 0.1  # while playing, re-check for cuts this often (at once when woken)
GAIN_EVERY_S = 0.2  # while playing, re-judge the quiet zones this often (issue 13)


def iso(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds")


class Runner:
    """Plays the plan. ``on_journal`` is called when there is something to upload."""

    def __init__(
        self,
        pacer: Pacer,
        clock: Clock,
        clips: ClipStore,
        journal: Journal,
        *,
        watchdog: Watchdog | None = None,
        on_journal: Callable[[], None] = lambda: None,
        on_bad_clip: Callable[[], None] = lambda: None,
        on_status: Callable[[], None] = lambda: None,
        position: Callable[[], Point | None] = lambda: None,
    ) -> None:
        self.pacer = pacer
        self._position = position  # the vehicle's fresh GPS fix, or None (issue 13)
        self.clock = clock
        self.clips = clips
        self.journal = journal
        self.watchdog = watchdog or Watchdog({})
        self._on_journal = on_journal
        self._on_bad_clip = on_bad_clip
        self._on_status = on_status  # a clip started or stopped: a prompt heartbeat
        self._lock = threading.Lock()
        self._plan: Plan | None = None
        self._handled: list[str] = list(journal.get("urgents_handled") or [])
        self._state = State(handled=frozenset(self._handled))
        self._wake = threading.Event()
        self._dirty = threading.Event()
        self._stopping = threading.Event()
        self._playing: Playing | None = None
        self._next_check = 0.0
        self._status = "idle"
        self._now_playing: dict[str, Any] | None = None
        self._started_mono = 0.0
        self._offset_s = 0.0
        self._frames = 0
        self._live_next: LivePlayback | None = None  # a page waiting to take the speaker
        self._live_on: LivePlayback | None = None  # the page on the air
        self._live_seen: list[str] = []  # page ids taken (a page is taken once)
        self.selftest: dict[str, Any] | None = journal.get("selftest")
        # The quiet zones while a clip plays: the decision in force, when it is judged
        # again, the quietest one met and how long the clip played below full gain.
        self._quiet = Decision(True, 1.0, "")
        self._quiet_next = 0.0
        self._quiet_last = 0.0
        self._quietest: Decision | None = None
        self._quiet_s = 0.0
        self._quiet_said: tuple[float, str | None] = (1.0, None)  # logged when it changes

    # -- called from other threads -------------------------------------------------------

    @property
    def plan(self) -> Plan | None:
        return self._plan

    def set_plan(self, plan: Plan) -> None:
        with self._lock:
            self._plan = plan
        self._poke()

    def add_urgent(
        self, event: UrgentEvent, *, chime: ClipSpec | None = None, speech: ClipSpec | None = None
    ) -> bool:
        """Queue an urgent from the event stream; False if it was already known.

        ``chime`` and ``speech``: its clips that are already in the cache (verified);
        the others are handed in by ``urgent_ready`` when they have been downloaded.
        """
        old = self.clock.now() - timedelta(days=1)
        with self._lock:
            if event.id in self._state.known_urgents():
                return False
            runs = tuple(
                r
                for r in self._state.urgents
                if not (r.finished and r.last_end and r.last_end < old)
            )
            run = UrgentRun(event, speech=speech, chime=chime)
            self._state = replace(self._state, urgents=runs).with_run(run)
            self._handled = [*self._handled, event.id][-200:]
            handled = list(self._handled)
        self.journal.put("urgents_handled", handled)
        self._poke()
        return True

    def urgent_ready(
        self, urgent_id: str, *, chime: ClipSpec | None = None, speech: ClipSpec | None = None
    ) -> bool:
        """A clip of a queued urgent is now in the cache (verified); False if the urgent
        is unknown or over."""
        with self._lock:
            run = self._state.run(urgent_id)
            if run is None or run.finished or urgent_id in self._state.cancelled:
                return False
            if speech is not None and run.speech is None:
                run = replace(run, speech=speech)
            if chime is not None and run.chime is None:
                run = replace(run, chime=chime)
            self._state = self._state.with_run(run)
        self._poke()
        return True

    def urgent_failed(self, urgent_id: str) -> None:
        """The urgent's speech could not be had: give it up (no ``played`` ack)."""
        with self._lock:
            run = self._state.run(urgent_id)
            if run is None or run.finished:
                return
            self._state = self._state.with_run(replace(run, finished=True))
        log.error("urgent %s: its clip could not be downloaded; giving it up", urgent_id)
        self._poke()

    def wants_clips(self, urgent_id: str) -> bool:
        """Whether the urgent is queued and not over (its downloads are still worth it)."""
        with self._lock:
            run = self._state.run(urgent_id)
            return (
                run is not None
                and not run.finished
                and urgent_id not in self._state.cancelled
                and run.can_start(self.clock.now())
            )

    def cancel(self, urgent_id: str) -> None:
        with self._lock:
            self._state = replace(self._state, cancelled=self._state.cancelled | {urgent_id})
        self._poke()

    def stop(self, seq: int, until: datetime | None) -> None:
        with self._lock:
            self._state = replace(self._state, stop=Stop(seq, self.clock.now(), until))
        self._poke()

    def start_live(self, playback: LivePlayback) -> bool:
        """A live page takes the speaker: whatever plays fades out (100 ms), the chime, then
        the page's audio; urgents and the loop wait for its end. A newer page cuts an older
        one. False if this page was taken already."""
        page = playback.page.page
        with self._lock:
            if page in self._live_seen:
                return False
            self._live_seen = [*self._live_seen, page][-20:]
            waiting, self._live_next = self._live_next, playback
        if waiting is not None:
            waiting.end(TAKEN)  # never on the air: a newer page came first
        self._poke()
        return True

    def shutdown(self) -> None:
        self._stopping.set()
        self._poke()

    def _poke(self) -> None:
        self._dirty.set()
        self._wake.set()

    def snapshot(self) -> dict[str, Any]:
        """State, now_playing (with position) and self-test result, for the heartbeat."""
        with self._lock:
            now_playing = dict(self._now_playing) if self._now_playing else None
            status = self._status
        if now_playing is not None:
            rate = self.pacer.sink.rate
            now_playing["position_ms"] = round((self._offset_s + self._frames / rate) * 1000)
        gain = self._quiet.gain if now_playing is not None else 1.0
        return {
            "state": status,
            "now_playing": now_playing,
            "selftest": self.selftest,
            "gain": gain,
        }

    # -- the loop ------------------------------------------------------------------------

    def run(self) -> None:
        """Play until ``shutdown``; exceptions in one round are logged and the loop goes on."""
        self.watchdog.ready()
        while not self._stopping.is_set():
            self.watchdog.tick()
            try:
                self._round()
            except Exception:
                log.exception("playback round failed; going on")
                self._wake.wait(IDLE_TICK_S)
        self._set_status("stopped", None)

    def _round(self) -> None:
        self._wake.clear()
        with self._lock:
            live, self._live_next = self._live_next, None
        if live is not None:
            self._play_live(live)
            return
        now = self.clock.now()
        with self._lock:
            self._state, ended = settle(self._state, now)
            plan, state = self._plan, self._state
        for urgent_id in ended:
            log.info("urgent %s: cancelled or expired before its repeats were done", urgent_id)
            self._ack(urgent_id, "cut")
        decision = decide(plan, now, state)
        if isinstance(decision, Wait):
            self._set_status(decision.state, None)
            until = math.inf if decision.until is None else self.clock.to_mono(decision.until)
            tick = min(IDLE_TICK_S, self.watchdog.interval_s or IDLE_TICK_S)
            self.pacer.idle(min(until, self.clock.mono() + tick), self._wake)
        elif isinstance(decision, PlayItem):
            self._play_item(plan, decision)
        else:
            self._play_urgent(decision)

    def _set_status(self, status: str, now_playing: dict[str, Any] | None) -> None:
        with self._lock:
            changed = (status, now_playing) != (self._status, self._now_playing)
            self._status = status
            self._now_playing = now_playing
        if changed:
            self._on_status()

    def _play_item(self, plan: Plan | None, d: PlayItem) -> None:
        item = d.item
        with self._lock:
            self._state = replace(self._state, done_through=item.start)
        assert plan is not None
        spec = plan.clips[item.clip]
        places = plan.places
        if not places.empty and item.kind != "urgent":
            where = places.decide(self._position(), self.clock.now(), item.message, item.kind)
            if not where.play:
                self._skip(item, where.reason)
                return
        playing = Playing(
            plan_urgent=item.urgent if item.kind == "urgent" else None, needs_window=d.needs_window
        )
        info = ClipInfo(item.clip, item.kind, item.message, item.urgent, self.pacer.sink.rate)
        if item.urgent and item.kind == "urgent":
            self._ack(item.urgent, "playing")
        healthy_before = self.pacer.sink.health()[0]
        quiet = None if places.empty or item.kind == "urgent" else plan
        result = self._play(spec, info, playing, item.start, d.offset_s, d.stop_at, quiet=quiet)
        if item.urgent and item.kind == "urgent" and result is not None:
            cut = result.reason in ENDING_CUTS or result.reason == TAKEN  # not played again
            self._ack(item.urgent, "cut" if cut else "played")
        if item.kind == "selftest" and not (result is not None and result.reason == TAKEN):
            self._record_selftest(result, healthy_before)  # (a page's cut says nothing of it)

    def _play_urgent(self, d: PlayUrgent) -> None:
        run = d.run
        ev = run.event
        planned = run.next_due()
        with self._lock:
            current = self._state.run(ev.id) or run
            self._state = self._state.with_run(replace(current, started=True))
        if not run.started:
            log.info(
                "urgent %s: playing (%d repeats%s)",
                ev.id,
                ev.repeats,
                ", the chime first" if d.chime else "",
            )
            self._ack(ev.id, "playing")
        info = ClipInfo(d.clip.key, "urgent", ev.message, ev.id, self.pacer.sink.rate)
        playing = Playing(urgent_id=ev.id, needs_window=not ev.override_window)
        result = self._play(
            d.clip, info, playing, planned, d.offset_s, d.stop_at, stop_reason=d.stop_reason
        )
        ended = self.clock.now()
        counted = result is not None and result.reason not in ENDING_CUTS
        with self._lock:
            current = self._state.run(ev.id) or run
            if result is not None and result.reason == TAKEN:
                # A live page cut it: this part is played again, whole, after the page.
                self._state = self._state.with_run(replace(current, started=True))
                log.info("urgent %s: waits for the live page's end", ev.id)
                return
            if d.chime:  # an unplayable chime is passed over: the speech comes whole
                after = current.after_chime(ended, counted or result is None)
                if result is None:
                    after = replace(after, chimed_at=None)
            else:
                after = current.after_play(ended, counted)
                if result is None:
                    after = replace(after, finished=True)
            self._state = self._state.with_run(after)
        if result is None:
            if not d.chime:
                log.error("urgent %s: its clip cannot be played; giving it up", ev.id)
        elif after.finished:
            self._ack(ev.id, "cut" if after.cut else "played")
            log.info(
                "urgent %s: %s after %d plays",
                ev.id,
                f"ended ({result.reason})" if after.cut else "done",
                after.plays_done,
            )

    def _play(
        self,
        spec: ClipSpec,
        info: ClipInfo,
        playing: Playing,
        planned: datetime,
        offset_s: float,
        stop_at: datetime | None,
        stop_reason: str = "cut:window-end",
        quiet: Plan | None = None,
    ) -> PlayResult | None:
        """Verify, play and journal one clip; None if it could not be played. With ``quiet``
        (the plan, for a clip the quiet zones apply to) the gain follows them as it plays."""
        if self.clips.status(spec, full=True) != "ok":
            log.error(
                "clip %s is missing or corrupt: skipping it, asking for a resync", spec.key[:12]
            )
            self._on_bad_clip()
            return None
        try:
            reader = ClipReader(self.clips.path(spec), self.pacer.sink.rate)
        except AudioError as exc:
            log.error("cannot play clip %s: %s", spec.key[:12], exc)
            return None
        started = self.clock.now()
        entry: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "clip": spec.key,
            "message": info.message,
            "kind": info.kind,
            "urgent": info.urgent,
            "planned_start": iso(planned),
            "started_at": iso(started),
            "ended_at": iso(started),
            "completed": False,
            "reason": "cut:shutdown",
        }
        self.journal.open_play(entry)
        try:
            if offset_s > 0:
                reader.seek_s(offset_s)
            self._offset_s, self._frames = offset_s, 0
            self._playing = playing
            self._next_check = 0.0
            self._set_status(
                "playing",
                {
                    "clip": spec.key,
                    "message": info.message,
                    "kind": info.kind,
                    "started_at": iso(started),
                },
            )
            stop_mono = None if stop_at is None else self.clock.to_mono(stop_at)
            self._quiet_start(quiet, info.kind)
            result = self.pacer.play(
                reader,
                info,
                stop_at=stop_mono,
                stop_reason=stop_reason,
                check=self._check,
                on_tick=self._tick,
                gain=None if quiet is None else lambda: self._gain(quiet, info.kind),
            )
        finally:
            reader.close()
            self._playing = None
            self._set_status("idle", None)
            quietest, quiet_s = self._quietest, self._quiet_s
            self._quiet, self._quietest = Decision(True, 1.0, ""), None
        entry.update(
            started_at=iso(self.clock.from_mono(result.started_mono)),
            ended_at=iso(self.clock.from_mono(result.ended_mono)),
            completed=result.completed,
            reason=result.reason,
        )
        if quietest is not None:
            # A cut says why the clip ended and wins; a muted clip was not heard whole, a
            # lowered one was (more quietly). The zone and the time below full gain go along.
            if not result.reason:
                entry.update(completed=quietest.reason != MUTED, reason=quietest.reason)
            entry["quiet"] = {
                "zone": quietest.zone,
                "gain": round(quietest.gain, 2),
                "ms": round(quiet_s * 1000),
            }
        self.journal.close_play(entry)
        self._on_journal()
        log.info(
            "played %s %s (%s) %.1f s%s",
            info.kind,
            info.message or "-",
            spec.key[:12],
            result.frames / self.pacer.sink.rate,
            "" if result.completed else f", {result.reason}",
        )
        return result

    def _quiet_start(self, plan: Plan | None, kind: str) -> None:
        """Judge the quiet zones as a clip starts (it starts at that gain)."""
        self._quietest, self._quiet_s = None, 0.0
        self._quiet = Decision(True, 1.0, "")
        self._quiet_next = self._quiet_last = 0.0
        if plan is not None:
            self._gain(plan, kind)

    def _gain(self, plan: Plan, kind: str) -> float:
        """The gain the quiet zones ask for now (asked by the pacer every chunk; judged every
        ``GAIN_EVERY_S``, from the freshest fix), noting what the play log will say."""
        now_mono = self.clock.mono()
        if self._quiet.gain < 1.0 and self._quiet_last:
            self._quiet_s += max(0.0, now_mono - self._quiet_last)
        self._quiet_last = now_mono
        if now_mono >= self._quiet_next:
            self._quiet_next = now_mono + GAIN_EVERY_S
            self._quiet = plan.places.gain(self._position(), self.clock.now(), kind)
            if self._quiet.gain < 1.0 and (
                self._quietest is None or self._quiet.gain < self._quietest.gain
            ):
                self._quietest = self._quiet
            said = (self._quiet.gain, self._quiet.zone)
            if said != self._quiet_said:
                self._quiet_said = said
                log.info(
                    "quiet zone: %s",
                    f"{self._quiet.reason} in {self._quiet.zone} (gain {self._quiet.gain:.2f})"
                    if self._quiet.zone
                    else "left; full gain",
                )
        return self._quiet.gain

    def _skip(self, item: Item, reason: str) -> None:
        """A plan item not played here (outside its message's areas): its slot stays silent
        (the next item starts at its own time, and the window's hard stop is untouched); the
        play log says so."""
        now = iso(self.clock.now())
        self.journal.close_play(
            {
                "id": str(uuid.uuid4()),
                "clip": item.clip,
                "message": item.message,
                "kind": item.kind,
                "urgent": None,
                "planned_start": iso(item.start),
                "started_at": now,
                "ended_at": now,
                "completed": False,
                "reason": reason,
            }
        )
        self._on_journal()
        log.info("skipped %s %s: %s", item.kind, item.message or "-", reason)

    def _play_live(self, pb: LivePlayback) -> None:
        """One live page: the chime, then its audio until it ends; one play-log entry."""
        page = pb.page
        started = self.clock.now()
        entry: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "clip": page.page,  # the page's id: the server keeps its recording under it
            "message": None,
            "kind": "live",
            "urgent": None,
            "planned_start": iso(started),
            "started_at": iso(started),
            "ended_at": iso(started),
            "completed": False,
            "reason": SHUTDOWN,  # as it reads if the client dies during the page
        }
        self.journal.open_play(entry)
        log.info("live page %s by %s: on the air", page.page, page.by or "-")
        self._live_on = pb
        self._offset_s, self._frames = 0.0, 0
        self._set_status(
            "live",
            {"clip": page.page, "message": None, "kind": "live", "started_at": iso(started)},
        )
        rate = self.pacer.sink.rate
        cut: str | None = None
        played = 0
        first: float | None = None
        last: float | None = None
        try:
            chime = page.chime
            reader = self._chime_reader(chime, rate) if chime is not None else None
            if chime is not None and reader is not None:
                try:
                    result = self.pacer.play(
                        reader,
                        ClipInfo(chime.key, "live", None, None, rate),
                        check=lambda: self._check_live(pb),
                        on_tick=self._tick,
                    )
                finally:
                    reader.close()
                first = result.started_mono
                self._offset_s, self._frames = result.frames / rate, 0
                cut = result.reason or None
            if cut is None:
                pb.begin_audio()
                result = self.pacer.play_live(
                    pb.next_chunk,
                    ClipInfo(page.page, "live", None, None, rate),
                    check=lambda: self._check_live(pb),
                    on_tick=self._tick,
                    ended=lambda: pb.ended,
                )
                first = result.started_mono if first is None else first
                played = result.frames
                cut = result.reason or None
            last = self.pacer.written_until
        finally:
            reason = pb.end(cut or SHUTDOWN)
            self._live_on = None
            self._set_status("idle", None)
        if first is not None:
            entry["started_at"] = iso(self.clock.from_mono(first))
        if last is not None:
            entry["ended_at"] = iso(self.clock.from_mono(last))
        counts = pb.counts()
        entry.update(completed=reason == COMPLETED, reason=reason, live=counts)
        self.journal.close_play(entry)
        self._on_journal()
        log.info(
            "live page %s: %s after %.1f s of audio (frames played %d, dropped %d, late %d, "
            "underruns %d, streams %d)",
            page.page,
            "completed" if reason == COMPLETED else reason,
            played / rate,
            counts["played"],
            counts["dropped"],
            counts["late"],
            counts["underruns"],
            counts["streams"],
        )

    def _chime_reader(self, chime: ClipSpec, rate: int) -> ClipReader | None:
        """The page's chime, verified in the cache; None (the page starts without it) if it
        is not there or cannot be played: nothing holds the page back."""
        try:
            if self.clips.status(chime, full=True) == "ok":
                return ClipReader(self.clips.path(chime), rate)
            log.warning(
                "live chime %s is not in the cache: the page starts without it", chime.key[:12]
            )
        except (ClipError, OSError, AudioError) as exc:
            log.warning("live chime %s: %s; the page starts without it", chime.key[:12], exc)
        return None

    def _check_live(self, pb: LivePlayback) -> str | None:
        """Why the live page must end now, or None: a shutdown, a newer page, the page's
        maximum length on this speaker's clock, a ``stop`` sent after it began."""
        if self._stopping.is_set():
            return SHUTDOWN
        with self._lock:
            newer, plan, stop = self._live_next, self._plan, self._state.stop
        if newer is not None:
            return TAKEN
        if pb.limit() is not None:
            return MAX_LENGTH
        if stop is not None and cut_by_stop(
            pb.page, stop.seq, is_stopped(plan, self.clock.now(), stop)
        ):
            return STOPPED
        return None

    def _tick(self, frames: int) -> None:
        self._frames = frames
        self.watchdog.tick()

    def _check(self) -> str | None:
        if self._stopping.is_set():
            return "cut:shutdown"
        if self._live_next is not None:
            return TAKEN  # a live page outranks every clip, urgents included
        now_mono = self.clock.mono()
        if not self._dirty.is_set() and now_mono < self._next_check:
            return None
        self._dirty.clear()
        self._next_check = now_mono + CHECK_EVERY_S
        with self._lock:
            plan, state = self._plan, self._state
        playing = self._playing
        return None if playing is None else should_cut(plan, self.clock.now(), state, playing)

    def _ack(self, urgent_id: str, state: str) -> None:
        self.journal.add_ack(urgent_id, state, iso(self.clock.now()))
        self._on_journal()

    def _record_selftest(self, result: PlayResult | None, healthy_before: bool) -> None:
        healthy, detail = self.pacer.sink.health()
        rate = self.pacer.sink.rate
        if result is None:
            ok, text = False, "self-test clip missing or unplayable"
        elif not result.completed:
            ok, text = False, f"cut after {result.frames / rate:.1f} s ({result.reason})"
        elif not (healthy and healthy_before):
            ok, text = (
                False,
                f"played {result.frames / rate:.1f} s but the sink is unhealthy: {detail}",
            )
        else:
            ok, text = True, f"played {result.frames / rate:.1f} s"
        self.selftest = {"at": iso(self.clock.now()), "ok": ok, "detail": text}
        self.journal.put("selftest", self.selftest)
        log.info("self-test: %s (%s)", "ok" if ok else "FAILED", text)
