"""What to play now: a pure function of the cached plan, the time and the playback state.

Nothing here reads a clock, a file or the network; the runner passes ``now`` in.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from broadcaster.client.plan import ClipSpec, Item, Plan, UrgentEvent

LATE_JOIN = timedelta(seconds=2)  # an item that started longer ago than this is skipped


SPEECH_HOLD = timedelta(
    seconds=30
)  # after the chime, the air is kept quiet this long for the speech

# Cuts that end an urgent (no more repeats; acked ``cut``), as opposed to a window end.
ENDING_CUTS = frozenset({"cut:cancelled", "cut:expired", "cut:stop"})


@dataclass(frozen=True, slots=True)
class UrgentRun:
    """An urgent announcement received as an event, and how far it got.

    The first repeat may begin with the chime (``chime``, played while the speech is still
    being rendered or downloaded); the speech then enters at the event's
    ``speech_offset_ms``, since every urgent clip begins with the chime just heard.
    ``chime`` and ``speech`` are set once the clip is present and verified in the cache.
    """

    event: UrgentEvent
    plays_done: int = 0  # repeats of the speech played (a chime alone is not one)
    last_end: datetime | None = None
    finished: bool = False  # all repeats played, expired, cancelled or stopped
    speech: ClipSpec | None = None
    chime: ClipSpec | None = None
    chime_done: bool = False  # the first repeat's chime was played, or passed over
    chimed_at: datetime | None = None  # when the chime ended, if it was heard
    started: bool = False  # some of it was heard: the ``playing`` ack went out
    cut: bool = False  # a cancel, the expiry or a stop ended it before its repeats were done

    def next_due(self) -> datetime:
        if self.plays_done == 0 or self.last_end is None:
            return self.event.starts_at
        return self.last_end + timedelta(seconds=self.event.interval_s)

    def can_start(self, t: datetime) -> bool:
        """Whether a (next) repeat, or its chime, may start at ``t``."""
        ev = self.event
        if self.finished or self.plays_done >= ev.repeats:
            return False
        return ev.expires_at is None or t < ev.expires_at

    def next_part(self, now: datetime) -> tuple[ClipSpec, float, bool] | None:
        """What the next repeat plays at ``now``: (clip, offset in s, is the chime), or
        None while there is nothing to play yet (the speech is not in the cache)."""
        first = self.plays_done == 0
        if first and not self.chime_done and self.speech is None and self.chime is not None:
            return self.chime, 0.0, True
        if self.speech is None:
            return None
        offset = 0.0
        if first and self.chimed_at is not None and now - self.chimed_at <= SPEECH_HOLD:
            offset = self.event.speech_offset_ms / 1000
            if self.speech.duration_ms and offset * 1000 >= self.speech.duration_ms:
                offset = 0.0  # a bad offset: better the chime twice than no speech
        return self.speech, offset, False

    def holds_air(self, now: datetime) -> bool:
        """Between the chime and its speech the plan stays quiet (for ``SPEECH_HOLD``)."""
        return (
            self.plays_done == 0
            and self.chimed_at is not None
            and self.speech is None
            and now < self.chimed_at + SPEECH_HOLD
        )

    def after_chime(self, ended: datetime, counted: bool) -> UrgentRun:
        """The run after its chime ended (``counted``: not ended by a cancel, expiry or stop)."""
        if not counted:
            return replace(self, chime_done=True, finished=True, cut=True, last_end=ended)
        return replace(self, chime_done=True, chimed_at=ended, started=True)

    def after_play(self, ended: datetime, completed_or_counted: bool) -> UrgentRun:
        """The run after one repeat ended (``completed_or_counted``: it counts as a repeat;
        otherwise a cancel, the expiry or a stop ended the urgent)."""
        if not completed_or_counted:
            return replace(self, finished=True, cut=True, last_end=ended)
        run = replace(self, plays_done=self.plays_done + 1, last_end=ended, started=True)
        if not run.can_start(max(run.next_due(), ended)):
            run = replace(run, finished=True)
        return run


@dataclass(frozen=True, slots=True)
class Stop:
    """A ``stop`` command: silent from ``since`` until ``until`` (None: the next window start)."""

    seq: int
    since: datetime
    until: datetime | None


@dataclass(frozen=True, slots=True)
class State:
    """Playback state the timeline needs besides the plan."""

    done_through: datetime | None = None  # plan items starting at or before this are done
    urgents: tuple[UrgentRun, ...] = ()
    cancelled: frozenset[str] = frozenset()
    stop: Stop | None = None
    handled: frozenset[str] = frozenset()  # urgent ids taken from events (also before a restart)

    def known_urgents(self) -> frozenset[str]:
        return frozenset(r.event.id for r in self.urgents) | self.cancelled | self.handled

    def run(self, urgent_id: str) -> UrgentRun | None:
        return next((r for r in self.urgents if r.event.id == urgent_id), None)

    def with_run(self, run: UrgentRun) -> State:
        others = tuple(r for r in self.urgents if r.event.id != run.event.id)
        return replace(self, urgents=(*others, run))


@dataclass(frozen=True, slots=True)
class PlayItem:
    """Play a plan item from ``offset_s`` into its clip; stop at ``stop_at`` at the latest."""

    item: Item
    offset_s: float
    stop_at: datetime
    needs_window: bool = True


@dataclass(frozen=True, slots=True)
class PlayUrgent:
    """Play the next part of an urgent (its chime, or a repeat of the speech from
    ``offset_s``); stop at ``stop_at`` (the window end or the expiry, whichever comes
    first; None: neither limits it) for ``stop_reason``."""

    run: UrgentRun
    stop_at: datetime | None
    clip: ClipSpec
    offset_s: float = 0.0
    chime: bool = False
    stop_reason: str = "cut:window-end"


@dataclass(frozen=True, slots=True)
class Wait:
    """Nothing to play before ``until`` (None: not before something changes)."""

    until: datetime | None
    state: str  # idle | silent-outside-window | stopped


Decision = PlayItem | PlayUrgent | Wait


def is_stopped(plan: Plan | None, now: datetime, stop: Stop | None) -> bool:
    """Whether a ``stop`` command holds at ``now``."""
    if stop is None or now < stop.since:
        return False
    if stop.until is not None:
        return now < stop.until
    nxt = plan.next_window_start(stop.since) if plan else None
    return nxt is None or now < nxt


def stop_ends(plan: Plan | None, stop: Stop) -> datetime | None:
    if stop.until is not None:
        return stop.until
    return plan.next_window_start(stop.since) if plan else None


def _earliest(*times: datetime | None) -> datetime | None:
    present = [t for t in times if t is not None]
    return min(present) if present else None


def _due_urgent(
    plan: Plan | None, now: datetime, state: State, stopped: bool
) -> tuple[UrgentRun | None, datetime | None, bool]:
    """(the urgent to play now, the next time one becomes due, whether one holds the air)."""
    window = plan.window_at(now) if plan else None
    wake: datetime | None = None
    holding = False
    for run in sorted(state.urgents, key=lambda r: r.event.seq):
        ev = run.event
        if ev.id in state.cancelled or not run.can_start(now):
            continue
        if stopped and state.stop is not None and ev.seq < state.stop.seq:
            continue
        if not ev.override_window and window is None:
            continue  # waits for a window, unless it expires first
        due = run.next_due()
        if due <= now:
            if run.next_part(now) is not None:
                return run, None, True
            if run.holds_air(now):  # the chime was heard, the speech is on its way
                assert run.chimed_at is not None
                holding = True
                wake = _earliest(wake, run.chimed_at + SPEECH_HOLD, ev.expires_at)
            continue  # nothing to play yet: the runner is woken when a clip is ready
        if ev.expires_at is None or due < ev.expires_at:
            wake = _earliest(wake, due)
            holding = holding or run.plays_done > 0  # between repeats the loop stays quiet
    return None, wake, holding


def decide(plan: Plan | None, now: datetime, state: State) -> Decision:
    """The next thing to do at ``now``."""
    window = plan.window_at(now) if plan else None
    stopped = is_stopped(plan, now, state.stop)
    urgent, urgent_wake, holding = _due_urgent(plan, now, state, stopped)
    if urgent is not None:
        part = urgent.next_part(now)
        assert part is not None
        clip, offset_s, chime = part
        ev = urgent.event
        stop_at = None if ev.override_window or window is None else window.end
        reason = "cut:window-end"
        if ev.expires_at is not None and (stop_at is None or ev.expires_at < stop_at):
            stop_at, reason = ev.expires_at, "cut:expired"  # a repeat is cut at the expiry
        return PlayUrgent(urgent, stop_at, clip, offset_s, chime, reason)
    next_window = plan.next_window_start(now) if plan else None
    if stopped:
        assert state.stop is not None
        return Wait(_earliest(stop_ends(plan, state.stop), urgent_wake), "stopped")
    quiet = "idle" if window is not None else "silent-outside-window"
    if holding or plan is None:
        return Wait(_earliest(urgent_wake, next_window, window.end if window else None), quiet)
    known = state.known_urgents()
    for item in plan.items_from(now - LATE_JOIN):
        if state.done_through is not None and item.start <= state.done_through:
            continue
        if item.kind == "urgent" and item.urgent in known:
            continue  # already played (or cancelled) through the event stream
        item_window = plan.window_at(item.start)
        override = item.kind == "urgent" and item.window_end is None
        if override:
            hard_end = item.end  # an override_window urgent: no window limits it
        elif item_window is not None:
            hard_end = min(item_window.end, item.window_end or item_window.end)
        else:
            continue  # never outside the windows
        if item.start > now:
            window_end = window.end if window else None
            return Wait(_earliest(item.start, urgent_wake, next_window, window_end), quiet)
        stop_at = min(item.end, hard_end)
        if now >= stop_at:
            continue
        offset = (now - item.start).total_seconds()
        return PlayItem(item, offset, stop_at, needs_window=not override)
    return Wait(_earliest(urgent_wake, next_window, window.end if window else None), quiet)


@dataclass(frozen=True, slots=True)
class Playing:
    """What the runner is playing, as ``should_cut`` needs it."""

    urgent_id: str | None = None  # an urgent from the event stream
    plan_urgent: str | None = None  # a plan item of kind urgent
    needs_window: bool = True


def should_cut(plan: Plan | None, now: datetime, state: State, playing: Playing) -> str | None:
    """Why the clip being played must be cut now (fade out), or None to keep playing."""
    for uid in (playing.urgent_id, playing.plan_urgent):
        if uid is not None and uid in state.cancelled:
            return "cut:cancelled"
    run = state.run(playing.urgent_id) if playing.urgent_id else None
    if is_stopped(plan, now, state.stop):
        assert state.stop is not None
        if run is None or run.event.seq < state.stop.seq:
            return "cut:stop"
    if run is not None and run.event.expires_at is not None and now >= run.event.expires_at:
        return "cut:expired"
    if playing.needs_window and (plan is None or plan.window_at(now) is None):
        return "cut:window-end"
    if playing.urgent_id is None:
        due, _, _ = _due_urgent(plan, now, state, is_stopped(plan, now, state.stop))
        if due is not None:
            return "cut:urgent"
    return None


def settle(state: State, now: datetime) -> tuple[State, tuple[str, ...]]:
    """Finish the urgents a cancel or the expiry ended while none of them was playing
    (between repeats, or between the chime and the speech). Returns the new state and the
    ids of those that had been heard in part (they are acked ``cut``); one never started
    ends silently (the server shows an expired one as missed)."""
    cut: list[str] = []
    runs: list[UrgentRun] = []
    for run in state.urgents:
        ev = run.event
        expired = ev.expires_at is not None and now >= ev.expires_at
        if not run.finished and (ev.id in state.cancelled or expired):
            heard = run.started or run.plays_done > 0
            run = replace(run, finished=True, cut=heard)
            if heard:
                cut.append(ev.id)
        runs.append(run)
    if len(cut) == 0 and all(a is b for a, b in zip(runs, state.urgents, strict=True)):
        return state, ()
    return replace(state, urgents=tuple(runs)), tuple(cut)
