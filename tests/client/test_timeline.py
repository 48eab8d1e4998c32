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
    settle,
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
    """A run whose speech clip is in the cache (as every urgent's was before chime-first)."""
    return UrgentRun(event, plays, None if last_end is None else t(last_end), speech=event.clip)


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
        State(urgents=(run(urgent(expires=900)),)),
        ("urgent", "u-1", 600),
    ),
    (
        "urgent: plays at once, up to its expiry when that comes first",
        PLAN,
        5,
        State(urgents=(run(urgent(expires=300)),)),
        ("urgent", "u-1", 300),
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
        ("urgent", "u-1", 300),
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
        ("urgent", "u-1", 300),
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
        "cut:cancelled",
    ),
    (
        "cancel cuts a plan urgent",
        PLAN,
        5,
        State(cancelled=frozenset({"u-1"})),
        Playing(plan_urgent="u-1"),
        "cut:cancelled",
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
        State(urgents=(run(urgent(at=650, expires=900, override=True)),)),
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


# -- the emergency path: chime first, cancel and expiry -----------------------------------

CHIME = replace(CLIP, key="chime", duration_ms=1000)
SPEECH = replace(CLIP, key="speech-u-1", duration_ms=8000)


def chime_first(
    expires: float | None = 300, repeats: int = 2, offset_ms: int = 1050, at: float = 5
) -> UrgentEvent:
    """An urgent sent before its speech was rendered: ``clip`` None, a chime to play."""
    return replace(
        urgent(at=at, repeats=repeats, expires=expires),
        clip=None,
        chime=CHIME,
        speech_offset_ms=offset_ms,
    )


def part(d: Decision) -> tuple[object, ...]:
    """A PlayUrgent as (clip key, offset, is the chime, stop, stop reason)."""
    assert isinstance(d, PlayUrgent), d
    return (d.clip.key, round(d.offset_s, 3), d.chime, secs(d.stop_at), d.stop_reason)


def test_the_chime_plays_at_once_while_the_speech_is_not_there() -> None:
    r = UrgentRun(chime_first(), chime=CHIME)
    d = decide(PLAN, t(5), State(done_through=t(0), urgents=(r,)))
    assert part(d) == ("chime", 0.0, True, 300, "cut:expired")
    # and it cuts the loop clip that plays
    assert should_cut(PLAN, t(5), State(urgents=(r,)), LOOP) == "cut:urgent"


def test_after_the_chime_the_air_is_held_for_the_speech_then_it_enters_at_the_offset() -> None:
    r = UrgentRun(chime_first(), chime=CHIME).after_chime(t(6), True)
    assert (r.plays_done, r.chime_done, r.started, r.finished) == (0, True, True, False)
    # no speech yet: the loop item at 20 does not start; wake at the hold's end
    waiting = State(done_through=t(0), urgents=(r,))
    assert summary(decide(PLAN, t(20), waiting)) == ("wait", 36, "idle")
    assert should_cut(PLAN, t(7), waiting, Playing(urgent_id="u-1")) is None
    # the speech arrives: the first repeat enters after the chime it begins with
    ready = State(done_through=t(0), urgents=(replace(r, speech=SPEECH),))
    assert part(decide(PLAN, t(21), ready)) == ("speech-u-1", 1.05, False, 300, "cut:expired")
    # the later repeats play the whole clip
    r2 = replace(r, speech=SPEECH).after_play(t(28), True)
    assert (r2.plays_done, r2.finished) == (1, False)
    assert part(decide(PLAN, t(33), State(urgents=(r2,)))) == (
        "speech-u-1",
        0.0,
        False,
        300,
        "cut:expired",
    )
    assert r2.after_play(t(41), True).finished


def test_a_speech_that_comes_too_late_after_the_chime_lets_the_loop_go_on_and_plays_whole() -> None:
    r = UrgentRun(chime_first(), chime=CHIME).after_chime(t(6), True)
    later = State(done_through=t(20), urgents=(r,))
    assert summary(decide(PLAN, t(40), later)) == ("play", 40, 0, 50)
    ready = State(done_through=t(40), urgents=(replace(r, speech=SPEECH),))
    assert part(decide(PLAN, t(45), ready))[:3] == ("speech-u-1", 0.0, False)


def test_a_speech_already_in_the_cache_plays_whole_without_the_chime() -> None:
    r = UrgentRun(replace(urgent(), chime=CHIME, speech_offset_ms=1050), chime=CHIME, speech=SPEECH)
    assert part(decide(PLAN, t(5), State(urgents=(r,))))[:3] == ("speech-u-1", 0.0, False)


def test_an_urgent_with_nothing_in_the_cache_yet_does_not_cut_or_hold_the_loop() -> None:
    r = UrgentRun(chime_first())  # neither the chime nor the speech downloaded yet
    state = State(urgents=(r,))
    assert should_cut(PLAN, t(5), state, LOOP) is None
    assert summary(decide(PLAN, t(0), state)) == ("play", 0, 0, 10)
    # once the speech is there it cuts in, whole (no chime was heard)
    ready = State(urgents=(replace(r, speech=SPEECH),))
    assert should_cut(PLAN, t(6), ready, LOOP) == "cut:urgent"
    assert part(decide(PLAN, t(6), ready))[:3] == ("speech-u-1", 0.0, False)


def test_an_offset_past_the_clip_end_plays_the_whole_clip() -> None:
    r = UrgentRun(chime_first(offset_ms=9000), chime=CHIME).after_chime(t(6), True)
    assert part(decide(PLAN, t(7), State(urgents=(replace(r, speech=SPEECH),))))[1] == 0.0


def test_a_cancelled_or_expired_run_does_not_hold_the_air_and_the_new_loop_joins_in_step() -> None:
    # cancelled at 7 between the chime and the speech; the new plan resumes at 7.5
    chimed = UrgentRun(chime_first(), chime=CHIME).after_chime(t(6), True)
    resumed = make_plan(None, [item(0), item(7.5), item(27.5)])
    cancelled = State(done_through=t(0), urgents=(chimed,), cancelled=frozenset({"u-1"}))
    assert summary(decide(resumed, t(7.2), cancelled)) == ("wait", 7.5, "idle")
    assert summary(decide(resumed, t(9), cancelled)) == ("play", 7.5, 1.5, 17.5)
    # expired at 100 between two repeats (interval 60): the loop item at 100 plays
    between = run(urgent(repeats=3, interval_s=60, expires=100), 1, 50)
    assert summary(decide(PLAN, t(90), State(done_through=t(80), urgents=(between,)))) == (
        "wait",
        100,
        "idle",
    )
    assert summary(decide(PLAN, t(100), State(done_through=t(80), urgents=(between,)))) == (
        "play",
        100,
        0,
        110,
    )
    # the same after the chime: the hold ends at the expiry
    short = UrgentRun(chime_first(expires=10), chime=CHIME).after_chime(t(6), True)
    resumed_at_10 = make_plan(None, [item(0), item(10)])
    assert summary(decide(resumed_at_10, t(8), State(done_through=t(0), urgents=(short,)))) == (
        "wait",
        10,
        "idle",
    )
    assert summary(decide(resumed_at_10, t(10), State(done_through=t(0), urgents=(short,)))) == (
        "play",
        10,
        0,
        20,
    )


EXPIRY_CASES = [
    ("before the expiry: keep playing", 299.9, EVENT_URGENT, None),
    ("at the expiry: cut", 300, EVENT_URGENT, "cut:expired"),
    ("after the expiry: cut", 301, EVENT_URGENT, "cut:expired"),
    ("its chime too", 300, Playing(urgent_id="u-1"), "cut:expired"),
    ("a loop clip is not cut by an urgent's expiry", 300, LOOP, None),
]


@pytest.mark.parametrize(
    ("now", "playing", "expected"), [c[1:] for c in EXPIRY_CASES], ids=[c[0] for c in EXPIRY_CASES]
)
def test_a_repeat_still_playing_at_the_expiry_is_cut_there(
    now: float, playing: Playing, expected: str | None
) -> None:
    state = State(done_through=t(300), urgents=(run(urgent(repeats=3, expires=300), 1, 250),))
    assert should_cut(PLAN, t(now), state, playing) == expected


def test_a_cancel_wins_over_the_expiry_and_a_stop() -> None:
    state = State(
        urgents=(run(urgent(seq=2, expires=10)),),
        cancelled=frozenset({"u-1"}),
        stop=Stop(3, t(5), None),
    )
    assert should_cut(PLAN, t(20), state, EVENT_URGENT) == "cut:cancelled"
    assert should_cut(PLAN, t(20), replace(state, cancelled=frozenset()), EVENT_URGENT) == (
        "cut:stop"
    )


def test_the_window_end_stops_an_urgent_when_it_comes_before_the_expiry() -> None:
    d = decide(SHORT_WINDOW, t(5), State(urgents=(run(urgent(expires=300)),)))
    assert part(d) == ("clip-u-1", 0.0, False, 25, "cut:window-end")
    d = decide(PLAN, t(700), State(urgents=(run(urgent(at=700, expires=None, override=True)),)))
    assert part(d) == ("clip-u-1", 0.0, False, None, "cut:window-end")


def test_a_cut_chime_or_repeat_ends_the_run_as_cut() -> None:
    r = UrgentRun(chime_first(), chime=CHIME)
    assert r.after_chime(t(6), False).finished and r.after_chime(t(6), False).cut
    done = run(urgent(repeats=1)).after_play(t(15), True)
    assert done.finished and not done.cut  # every repeat played: acked played
    cut = run(urgent(repeats=3)).after_play(t(15), False)
    assert cut.finished and cut.cut


def test_settle_ends_cancelled_and_expired_runs_and_names_those_heard_in_part() -> None:
    started = UrgentRun(chime_first(), chime=CHIME).after_chime(t(6), True)
    between = run(replace(urgent("u-2", seq=6, repeats=3), id="u-2"), 1, 10)
    never = run(urgent("u-3", seq=7, at=50, expires=60))
    waiting = run(urgent("u-4", seq=8, at=50, expires=None))
    state = State(urgents=(started, between, never, waiting), cancelled=frozenset({"u-1"}))
    # before the expiries: only the cancelled one ends (it was heard: acked cut)
    after, cut = settle(state, t(20))
    assert cut == ("u-1",)
    assert [(r.event.id, r.finished, r.cut) for r in after.urgents] == [
        ("u-1", True, True),
        ("u-2", False, False),
        ("u-3", False, False),
        ("u-4", False, False),
    ]
    # at 300 u-2 expires between repeats (cut); u-3 expired never heard: ends silently
    later, cut = settle(after, t(300))
    assert cut == ("u-2",)
    assert [(r.event.id, r.finished, r.cut) for r in later.urgents] == [
        ("u-1", True, True),
        ("u-2", True, True),
        ("u-3", True, False),
        ("u-4", False, False),
    ]
    assert settle(later, t(400)) == (later, ())
