"""What to play now: a pure function of the cached plan, the time and the playback state.

Nothing here reads a clock, a file or the network; the runner passes ``now`` in.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from broadcaster.client.plan import Item, Plan, UrgentEvent

LATE_JOIN = timedelta(seconds=2)  # an item that started longer ago than this is skipped


@dataclass(frozen=True, slots=True)
class UrgentRun:
    """An urgent announcement received as an event, and how far it got."""

    event: UrgentEvent
    plays_done: int = 0
    last_end: datetime | None = None
    finished: bool = False  # all repeats played, expired, cancelled or stopped

    def next_due(self) -> datetime:
        if self.plays_done == 0 or self.last_end is None:
            return self.event.starts_at
        return self.last_end + timedelta(seconds=self.event.interval_s)

    def can_start(self, t: datetime) -> bool:
        """Whether a (next) repeat may start at ``t``."""
        ev = self.event
        if self.finished or self.plays_done >= ev.repeats:
            return False
        return ev.expires_at is None or t < ev.expires_at

    def after_play(self, ended: datetime, completed_or_counted: bool) -> UrgentRun:
        """The run after one repeat ended (``completed_or_counted``: it counts as a repeat)."""
        if not completed_or_counted:
            return replace(self, finished=True, last_end=ended)
        run = replace(self, plays_done=self.plays_done + 1, last_end=ended)
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
    """Play the next repeat of an urgent; ``stop_at`` None means no window limits it."""

    run: UrgentRun
    stop_at: datetime | None


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
            return run, None, True
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
        stop_at = None if urgent.event.override_window or window is None else window.end
        return PlayUrgent(urgent, stop_at)
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
            return "cut:stop"
    run = state.run(playing.urgent_id) if playing.urgent_id else None
    if is_stopped(plan, now, state.stop):
        assert state.stop is not None
        if run is None or run.event.seq < state.stop.seq:
            return "cut:stop"
    if playing.needs_window and (plan is None or plan.window_at(now) is None):
        return "cut:window-end"
    if playing.urgent_id is None:
        due, _, _ = _due_urgent(plan, now, state, is_stopped(plan, now, state.stop))
        if due is not None:
            return "cut:urgent"
    return None
