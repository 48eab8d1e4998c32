"""What to play when: the pure timeline, as tables of (plan, now, state) -> decision.

Times are seconds after 07:00 (+08:00). The standard plan has one window [0, 600) with a
10 s loop clip every 20 s; decisions are summarised as tuples so the tables stay readable:
("play", item start, offset, stop), ("urgent", id, stop or None), ("wait", until, state).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from broadcaster.client.plan import ClipSpec, Item, Plan, UrgentEvent, Window
from broadcaster.client.timeline import (
    Decision,
    Playing,
    PlayItem,
    PlayUrgent,
    State,
    Stop,
    UrgentRun,
    decide,
    should_cut,
)

T0 = datetime(2026, 11, 29, 7, 0, tzinfo=timezone(timedelta(hours=8)))
CLIP = ClipSpec("loop", "/api/v1/clips/loop", "0" * 64, 100, 10_000)


def t(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def secs(x: datetime | None) -> float | None:
    return None if x is None else (x - T0).total_seconds()


def item(
    start: float, kind: str = "loop", urgent: str | None = None, dur: float = 10, bound: bool = True
) -> Item:
    """A plan item; ``bound=False`` is an override urgent (no ``window_end``)."""
    return Item(
        t(start), t(start + dur), kind, CLIP.key, "masks", urgent, t(600) if bound else None
    )


def make_plan(
    windows: list[tuple[float, float]] | None = None, items: list[Item] | None = None
) -> Plan:
    wins = [(0.0, 600.0)] if windows is None else windows
    its = [item(s) for s in range(0, 600, 20)] if items is None else items

    def window_end(i: Item) -> datetime | None:
        return next((t(b) for a, b in wins if t(a) <= i.start < t(b)), i.window_end)

    return Plan(
        "vehicle-01",
        tuple(Window(t(a), t(b)) for a, b in wins),
        tuple(i if i.window_end is None else replace(i, window_end=window_end(i)) for i in its),
        {CLIP.key: CLIP},
    )


def urgent(
    uid: str = "u-1",
    seq: int = 5,
    at: float = 5,
    repeats: int = 1,
    interval_s: float = 5,
    expires: float | None = 300,
    override: bool = False,
) -> UrgentEvent:
    spec = replace(CLIP, key=f"clip-{uid}")
    return UrgentEvent(
        uid,
        seq,
        spec,
        "fire",
        repeats,
        interval_s,
        t(at),
        None if expires is None else t(expires),
        override,
    )


def run(event: UrgentEvent, plays: int = 0, last_end: float | None = None) -> UrgentRun:
    return UrgentRun(event, plays, None if last_end is None else t(last_end))


def summary(d: Decision) -> tuple[object, ...]:
    if isinstance(d, PlayItem):
        return ("play", secs(d.item.start), round(d.offset_s, 3), secs(d.stop_at))
    if isinstance(d, PlayUrgent):
        return ("urgent", d.run.event.id, secs(d.stop_at))
    return ("wait", secs(d.until), d.state)


PLAN = make_plan()
TWO_WINDOWS = make_plan([(0, 100), (200, 300)], [item(0), item(50), item(200), item(250)])
SHORT_WINDOW = make_plan([(0, 25)], [item(0), item(20)])  # the item at 20 would end at 30
WITH_PLAN_URGENT = make_plan(None, [item(0), item(20, "urgent", "u-1"), item(40)])
STRAY_ITEM = make_plan([(0, 100)], [item(0), item(150)])  # an item outside every window
OVERRIDE_ITEMS = make_plan(
    [(0, 100)],
    [
        item(95, "urgent", "u-7", bound=False),
        item(150, "urgent", "u-8", bound=False),
        item(170, "urgent", "u-9"),
    ],
)

CASES = [
    # id, plan, now, state, expected
    ("on time: plays the item", PLAN, 0, State(), ("play", 0, 0, 10)),
    ("1.5 s late: joins the item in step", PLAN, 1.5, State(), ("play", 0, 1.5, 10)),
    ("3 s late: waits for the next item", PLAN, 3, State(), ("wait", 20, "idle")),
    ("a played item is not played again", PLAN, 1, State(done_through=t(0)), ("wait", 20, "idle")),
    (
        "before the window: silent until it opens",
        PLAN,
        -100,
        State(),
        ("wait", 0, "silent-outside-window"),
    ),
    ("after the last window: silent", PLAN, 700, State(), ("wait", None, "silent-outside-window")),
    (
        "between windows: silent until the next",
        TWO_WINDOWS,
        150,
        State(),
        ("wait", 200, "silent-outside-window"),
    ),
    ("stops at the window end, not the item end", SHORT_WINDOW, 20, State(), ("play", 20, 0, 25)),
    (
        "an item outside every window never plays",
        STRAY_ITEM,
        150,
        State(),
        ("wait", None, "silent-outside-window"),
    ),
    ("no plan: silent", None, 0, State(), ("wait", None, "silent-outside-window")),
    (
        "an override urgent item plays past the window end",
        OVERRIDE_ITEMS,
        95,
        State(),
        ("play", 95, 0, 105),
    ),
    (
        "an override urgent item plays outside the windows",
        OVERRIDE_ITEMS,
        150,
        State(),
        ("play", 150, 0, 160),
    ),
    (
        "a bound urgent item outside the windows does not play",
        OVERRIDE_ITEMS,
        170,
        State(done_through=t(150)),
        ("wait", None, "silent-outside-window"),
    ),
    (
        "urgent: plays at once, up to the window end",
        PLAN,
        5,
        State(urgents=(run(urgent()),)),
        ("urgent", "u-1", 600),
    ),
    (
        "urgent outside the windows: waits for one",
        PLAN,
        700,
        State(urgents=(run(urgent(at=700, expires=None)),)),
        ("wait", None, "silent-outside-window"),
    ),
    (
        "urgent with override: plays outside the windows",
        PLAN,
        700,
        State(urgents=(run(urgent(at=700, expires=None, override=True)),)),
        ("urgent", "u-1", None),
    ),
    (
        "between repeats the loop stays quiet",
        PLAN,
        12,
        State(urgents=(run(urgent(repeats=3), 1, 10),)),
        ("wait", 15, "idle"),
    ),
    (
        "the repeat is due after the interval",
        PLAN,
        15,
        State(urgents=(run(urgent(repeats=3), 1, 10),)),
        ("urgent", "u-1", 600),
    ),
    (
        "no repeat at the expiry: the plan resumes",
        PLAN,
        15,
        State(done_through=t(0), urgents=(run(urgent(repeats=3, expires=15), 1, 10),)),
        ("wait", 20, "idle"),
    ),
    (
        "an expired urgent never plays",
        PLAN,
        1,
        State(urgents=(run(urgent(at=0, expires=0.5)),)),
        ("play", 0, 1, 10),
    ),
    (
        "after the urgent the plan goes on with the next item",
        PLAN,
        12,
        State(done_through=t(0), urgents=(run(urgent(), 1, 12),)),
        ("wait", 20, "idle"),
    ),
    (
        "a plan urgent already heard as an event is skipped",
        WITH_PLAN_URGENT,
        20,
        State(done_through=t(0), urgents=(run(urgent(), 1, 12),)),
        ("wait", 40, "idle"),
    ),
    (
        "a plan urgent handled before a restart is skipped",
        WITH_PLAN_URGENT,
        20,
        State(done_through=t(0), handled=frozenset({"u-1"})),
        ("wait", 40, "idle"),
    ),
    (
        "a plan urgent not heard as an event plays",
        WITH_PLAN_URGENT,
        20,
        State(done_through=t(0)),
        ("play", 20, 0, 30),
    ),
    (
        "a cancelled urgent does not play",
        PLAN,
        5,
        State(done_through=t(0), urgents=(run(urgent()),), cancelled=frozenset({"u-1"})),
        ("wait", 20, "idle"),
    ),
    (
        "a cancelled plan urgent does not play",
        WITH_PLAN_URGENT,
        20,
        State(done_through=t(0), cancelled=frozenset({"u-1"})),
        ("wait", 40, "idle"),
    ),
    (
        "stop until a time: silent until then",
        PLAN,
        20,
        State(stop=Stop(1, t(10), t(30))),
        ("wait", 30, "stopped"),
    ),
    (
        "after the stop ends the plan plays",
        PLAN,
        40,
        State(stop=Stop(1, t(10), t(30))),
        ("play", 40, 0, 50),
    ),
    (
        "stop without a time: until the next window start",
        TWO_WINDOWS,
        50,
        State(stop=Stop(1, t(10), None)),
        ("wait", 200, "stopped"),
    ),
    (
        "stop without a time ends when the next window opens",
        TWO_WINDOWS,
        200,
        State(stop=Stop(1, t(10), None)),
        ("play", 200, 0, 210),
    ),
    (
        "an urgent sent after a stop plays",
        PLAN,
        20,
        State(stop=Stop(1, t(10), t(100)), urgents=(run(urgent(seq=2, at=20)),)),
        ("urgent", "u-1", 600),
    ),
    (
        "an urgent sent before a stop stays silent",
        PLAN,
        20,
        State(stop=Stop(9, t(10), t(100)), urgents=(run(urgent(seq=2, at=20)),)),
        ("wait", 100, "stopped"),
    ),
]


@pytest.mark.parametrize(
    ("plan", "now", "state", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_decide(plan: Plan | None, now: float, state: State, expected: tuple[object, ...]) -> None:
    assert summary(decide(plan, t(now), state)) == expected


LOOP = Playing()
EVENT_URGENT = Playing(urgent_id="u-1")
CUT_CASES = [
    ("nothing new: keep playing", PLAN, 5, State(), LOOP, None),
    ("an urgent cuts a loop clip", PLAN, 5, State(urgents=(run(urgent()),)), LOOP, "cut:urgent"),
    (
        "an urgent waiting for a window cuts nothing",
        PLAN,
        700,
        State(urgents=(run(urgent(at=700, expires=None)),)),
        Playing(needs_window=False),
        None,
    ),
    (
        "an urgent does not cut another urgent",
        PLAN,
        5,
        State(urgents=(run(urgent()), run(urgent("u-2", seq=6)))),
        EVENT_URGENT,
        None,
    ),
    (
        "cancel cuts its urgent",
        PLAN,
        5,
        State(urgents=(run(urgent()),), cancelled=frozenset({"u-1"})),
        EVENT_URGENT,
        "cut:stop",
    ),
    (
        "cancel cuts a plan urgent",
        PLAN,
        5,
        State(cancelled=frozenset({"u-1"})),
        Playing(plan_urgent="u-1"),
        "cut:stop",
    ),
    ("stop cuts a loop clip", PLAN, 20, State(stop=Stop(1, t(20), None)), LOOP, "cut:stop"),
    (
        "stop does not cut an urgent sent after it",
        PLAN,
        20,
        State(stop=Stop(1, t(20), None), urgents=(run(urgent(seq=3)),)),
        EVENT_URGENT,
        None,
    ),
    (
        "leaving the windows cuts (plan changed under the clip)",
        PLAN,
        650,
        State(),
        LOOP,
        "cut:window-end",
    ),
    (
        "an override urgent plays on outside the windows",
        PLAN,
        650,
        State(urgents=(run(urgent(at=650, override=True)),)),
        Playing(urgent_id="u-1", needs_window=False),
        None,
    ),
]


@pytest.mark.parametrize(
    ("plan", "now", "state", "playing", "expected"),
    [c[1:] for c in CUT_CASES],
    ids=[c[0] for c in CUT_CASES],
)
def test_should_cut(
    plan: Plan, now: float, state: State, playing: Playing, expected: str | None
) -> None:
    assert should_cut(plan, t(now), state, playing) == expected


def test_an_urgent_run_finishes_after_its_repeats() -> None:
    r = run(urgent(repeats=2, interval_s=5))
    r = r.after_play(t(10), True)
    assert (r.plays_done, r.finished, secs(r.next_due())) == (1, False, 15)
    r = r.after_play(t(25), True)
    assert (r.plays_done, r.finished) == (2, True)


def test_an_urgent_run_finishes_when_the_next_repeat_would_start_after_expiry() -> None:
    r = run(urgent(repeats=3, interval_s=5, expires=14)).after_play(t(10), True)
    assert r.finished


def test_a_cut_that_does_not_count_finishes_the_run() -> None:
    assert run(urgent(repeats=3)).after_play(t(10), False).finished
