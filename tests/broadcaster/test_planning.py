"""The planning rules of docs/design.md, one table per rule (see broadcaster/planning.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from broadcaster.errors import NotFound, ValidationError
from broadcaster.models import (
    Area,
    AreaKind,
    ClipRef,
    PlayKind,
    Program,
    Schedule,
    Speaker,
    SpeakerKind,
    Urgent,
)
from broadcaster.planning import (
    PlanItem,
    conflicts,
    item_to_json,
    plan,
    plan_many,
    schedules_for,
    to_ms,
    windows,
)

ZONE = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = date(2026, 6, 1)
TUESDAY = MONDAY + timedelta(days=1)

AREAS = {
    a.id: a
    for a in [
        Area("district", "District", AreaKind.DISTRICT),
        Area("town", "Town", AreaKind.TOWNSHIP, "district"),
        Area("village", "Village", AreaKind.VILLAGE, "town"),
        Area("other", "Other village", AreaKind.VILLAGE, "town"),
        Area("elsewhere", "Elsewhere", AreaKind.TOWNSHIP, "district"),
    ]
}
SPEAKER = Speaker("spk", "Village speaker", SpeakerKind.FIXED, "village")
# a 20 s, b 30 s, c 40 s, gap 5 s: one cycle is 105 s
CLIPS = {
    "a": ClipRef("ha", 20_000),
    "b": ClipRef("hb", 30_000),
    "c": ClipRef("hc", 40_000),
    "x": ClipRef("hx", 10_000),
}
PROGRAMS = {
    "abc": Program("abc", "Prevention", ("a", "b", "c"), gap_s=5),
    "x": Program("x", "Campaign", ("x",), gap_s=2),
}
SELFTEST = ClipRef("selftest", 3_000)
ALARM = ClipRef("alarm", 15_000)


def at(day: date, hh: int, mm: int = 0, ss: int = 0, zone: ZoneInfo = ZONE) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=zone)


def sched(sid: str = "s", **kw: Any) -> Schedule:
    kw.setdefault("program_id", "abc")
    kw.setdefault("speaker_ids", ("spk",))
    return Schedule(sid, **kw)


def urgent(uid: str = "u", *, start: datetime, **kw: Any) -> tuple[Urgent, ClipRef]:
    kw.setdefault("created_at", start)
    kw.setdefault("expires_at", start + timedelta(hours=2))
    kw.setdefault("text", "Flood warning")
    kw.setdefault("speaker_ids", ("spk",))
    clip = kw.pop("clip", ALARM)
    return Urgent(uid, starts_at=start, **kw), clip


def run(
    *schedules: Schedule,
    urgents: tuple[tuple[Urgent, ClipRef], ...] = (),
    day: date = MONDAY,
    days: int = 1,
    now: datetime | None = None,
    selftest: ClipRef | None = None,
    speaker: Speaker = SPEAKER,
    zone: ZoneInfo = ZONE,
) -> tuple[PlanItem, ...]:
    start, end = at(day, 0, zone=zone), at(day + timedelta(days=days), 0, zone=zone)
    return plan(
        speaker,
        schedules=schedules,
        programs=PROGRAMS,
        clips=CLIPS,
        urgents=urgents,
        areas=AREAS,
        zone=zone,
        start=start,
        end=end,
        now=now or end,  # by default every urgent and cancellation is known
        selftest=selftest,
    )


def hms(moment: datetime) -> str:
    return moment.astimezone(ZONE).strftime("%H:%M:%S")


def brief(items: tuple[PlanItem, ...]) -> list[tuple[str, str, str]]:
    return [(hms(i.start), hms(i.end), i.message_id or i.kind.value) for i in items]


# -- rule 1: windows -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "day", "expected"),
    [
        pytest.param(sched(), MONDAY, [("06-01 07:00", "06-01 19:00")], id="default-daily-window"),
        pytest.param(
            sched(weekdays=frozenset({0})), MONDAY, [("06-01 07:00", "06-01 19:00")], id="weekday"
        ),
        pytest.param(sched(weekdays=frozenset({1, 2, 3, 4, 5, 6})), MONDAY, [], id="not-weekday"),
        pytest.param(sched(first_date=TUESDAY), MONDAY, [], id="before-date-range"),
        pytest.param(
            sched(last_date=MONDAY), MONDAY, [("06-01 07:00", "06-01 19:00")], id="range-inclusive"
        ),
        pytest.param(sched(last_date=date(2026, 5, 31)), MONDAY, [], id="after-date-range"),
        pytest.param(sched(exceptions=frozenset({MONDAY})), MONDAY, [], id="exception-date"),
        pytest.param(
            sched(start=time(22), end=time(2)),
            MONDAY,
            [("05-31 22:00", "06-01 02:00"), ("06-01 22:00", "06-02 02:00")],
            id="window-crossing-midnight",
        ),
        pytest.param(
            sched(start=time(22), end=time(2), weekdays=frozenset({0})),
            TUESDAY,
            [("06-01 22:00", "06-02 02:00")],
            id="crossing-midnight-judged-by-start-date",
        ),
        pytest.param(
            sched(start=time(22), end=time(2), exceptions=frozenset({MONDAY})),
            TUESDAY,
            [("06-02 22:00", "06-03 02:00")],
            id="exception-judged-by-start-date",
        ),
        pytest.param(
            sched(start=time(6), end=time(6), weekdays=frozenset({0})),
            MONDAY,
            [("06-01 06:00", "06-02 06:00")],
            id="end-equal-start-is-24-hours",
        ),
    ],
)
def test_windows(schedule: Schedule, day: date, expected: list[tuple[str, str]]) -> None:
    found = windows(schedule, ZONE, at(day, 0), at(day + timedelta(days=1), 0))
    fmt = "%m-%d %H:%M"
    assert [(w.start.strftime(fmt), w.end.strftime(fmt)) for w in found] == expected


def test_disabled_schedule_never_plays() -> None:
    assert run(sched(enabled=False)) == ()


# -- rule 2: loop, gaps, hard stop -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        pytest.param(
            sched(start=time(7), end=time(7, 5)),
            [
                ("07:00:00", "07:00:20", "a"),
                ("07:00:25", "07:00:55", "b"),
                ("07:01:00", "07:01:40", "c"),
                ("07:01:45", "07:02:05", "a"),
                ("07:02:10", "07:02:40", "b"),
                ("07:02:45", "07:03:25", "c"),
                ("07:03:30", "07:03:50", "a"),
                ("07:03:55", "07:04:25", "b"),
                # c (40 s) would end at 07:05:10: the loop stops, 35 s slack < 40 s + 5 s gap
            ],
            id="looping-with-gaps-until-hard-stop",
        ),
        pytest.param(
            sched(start=time(7), end=time(7, 1, 30)),
            [("07:00:00", "07:00:20", "a"), ("07:00:25", "07:00:55", "b")],
            id="hard-stop-does-not-skip-ahead-to-a-shorter-clip",
        ),
        pytest.param(
            sched(start=time(7), end=time(7, 1, 40)),
            [
                ("07:00:00", "07:00:20", "a"),
                ("07:00:25", "07:00:55", "b"),
                ("07:01:00", "07:01:40", "c"),
            ],
            id="clip-ending-exactly-at-the-hard-stop-plays",
        ),
        pytest.param(sched(start=time(7), end=time(7, 0, 19)), [], id="window-shorter-than-clip"),
    ],
)
def test_loop(schedule: Schedule, expected: list[tuple[str, str, str]]) -> None:
    items = run(schedule)
    assert brief(items) == expected
    assert all(
        i.kind is PlayKind.LOOP and i.window_end == at(MONDAY, *_hm(schedule.end)) for i in items
    )


def _hm(t: time) -> tuple[int, int, int]:
    return t.hour, t.minute, t.second


def test_each_window_restarts_the_program() -> None:
    items = run(sched(start=time(7), end=time(7, 1)), days=2)
    assert [(i.start.day, i.message_id) for i in items] == [(1, "a"), (1, "b"), (2, "a"), (2, "b")]


def test_messages_without_a_clip_are_left_out() -> None:
    program = Program("gappy", "Gappy", ("a", "unrendered", "b"), gap_s=5)
    items = plan(
        SPEAKER,
        schedules=[sched(program_id="gappy", start=time(7), end=time(7, 1, 30))],
        programs={"gappy": program},
        clips=CLIPS,
        areas=AREAS,
        zone=ZONE,
        start=at(MONDAY, 0),
        end=at(TUESDAY, 0),
        now=at(MONDAY, 0),
    )
    assert [i.message_id for i in items] == ["a", "b", "a"]


def test_unknown_program_is_an_error() -> None:
    with pytest.raises(NotFound, match="nope"):
        run(sched(program_id="nope"))


def test_naive_span_is_rejected() -> None:
    with pytest.raises(ValidationError, match="timezone-aware"):
        plan(
            SPEAKER,
            schedules=[sched()],
            programs=PROGRAMS,
            clips=CLIPS,
            areas=AREAS,
            zone=ZONE,
            start=datetime(2026, 6, 1),
            end=at(TUESDAY, 0),
            now=at(MONDAY, 0),
        )


def test_items_straddling_the_span_are_left_out() -> None:
    items = plan(
        SPEAKER,
        schedules=[sched(start=time(7), end=time(7, 5))],
        programs=PROGRAMS,
        clips=CLIPS,
        areas=AREAS,
        zone=ZONE,
        start=at(MONDAY, 7, 0, 10),
        end=at(MONDAY, 7, 2),
        now=at(MONDAY, 0),
    )
    # a (07:00:00-20) straddles the start and a (07:01:45-07:02:05) the end; c keeps its place
    assert brief(items) == [("07:00:25", "07:00:55", "b"), ("07:01:00", "07:01:40", "c")]


# -- rule 3: priority ------------------------------------------------------------------------------


def test_higher_priority_takes_its_window_and_lower_resumes_with_next_message() -> None:
    low = sched("low", start=time(7), end=time(7, 3))
    high = sched("high", program_id="x", start=time(7, 1, 30), end=time(7, 2), priority=1)
    items = run(low, high)
    assert [
        (*b, i.schedule_id, hms(i.window_end or at(MONDAY, 0)))
        for b, i in zip(brief(items), items, strict=True)
    ] == [
        ("07:00:00", "07:00:20", "a", "low", "07:01:30"),
        ("07:00:25", "07:00:55", "b", "low", "07:01:30"),
        # c (40 s) would pass 07:01:30: the lower window's part has its own hard stop
        ("07:01:30", "07:01:40", "x", "high", "07:02:00"),
        ("07:01:42", "07:01:52", "x", "high", "07:02:00"),
        ("07:02:00", "07:02:40", "c", "low", "07:03:00"),
    ]


def test_equal_priority_overlap_is_a_conflict_and_smaller_id_wins() -> None:
    one = sched("one", start=time(7), end=time(7, 1))
    two = sched("two", program_id="x", start=time(7, 0, 30), end=time(7, 2))
    found = conflicts(
        SPEAKER, [two, one], AREAS, ZONE, at(MONDAY, 0), at(MONDAY, 0) + timedelta(days=7)
    )
    assert len(found) == 1
    assert found[0].schedule_ids == ("one", "two")
    assert (hms(found[0].start), hms(found[0].end), found[0].occurrences) == (
        "07:00:30",
        "07:01:00",
        7,
    )
    assert [(i.schedule_id, hms(i.start)) for i in run(two, one)] == [
        ("one", "07:00:00"),
        ("one", "07:00:25"),
        ("two", "07:01:00"),
        ("two", "07:01:12"),
        ("two", "07:01:24"),
        ("two", "07:01:36"),
        ("two", "07:01:48"),
    ]


@pytest.mark.parametrize(
    "other",
    [
        pytest.param(sched("two", start=time(7), end=time(8), priority=1), id="different-priority"),
        pytest.param(sched("two", start=time(19), end=time(20)), id="touching-windows"),
        pytest.param(sched("two", speaker_ids=("someone-else",)), id="other-speaker"),
        pytest.param(sched("two", weekdays=frozenset({6})), id="other-weekday"),
    ],
)
def test_no_conflict(other: Schedule) -> None:
    one = sched("one")
    assert conflicts(SPEAKER, [one, other], AREAS, ZONE, at(MONDAY, 0), at(TUESDAY, 0)) == ()


# -- rule 4: urgent --------------------------------------------------------------------------------

WINDOW = sched(start=time(7), end=time(8))


def test_urgent_cuts_the_current_clip_and_the_loop_resumes_with_the_next() -> None:
    items = run(WINDOW, urgents=(urgent(start=at(MONDAY, 7, 0, 10)),))
    assert brief(items)[:4] == [
        ("07:00:00", "07:00:10", "a"),
        ("07:00:10", "07:00:25", "urgent"),
        ("07:00:30", "07:01:00", "b"),
        ("07:01:05", "07:01:45", "c"),
    ]
    assert [i.cut for i in items[:3]] == [True, False, False]
    assert items[1].urgent_id == "u" and items[1].clip == "alarm"


def test_urgent_repeats_with_interval_and_loop_fills_the_interval() -> None:
    items = run(WINDOW, urgents=(urgent(start=at(MONDAY, 7, 0, 22), repeats=3, interval_s=35),))
    assert brief(items)[:7] == [
        ("07:00:00", "07:00:20", "a"),
        ("07:00:22", "07:00:37", "urgent"),  # in the gap after a: nothing to cut
        ("07:00:42", "07:01:12", "b"),  # ends exactly when the next repeat starts
        ("07:01:12", "07:01:27", "urgent"),  # 07:00:37 + 35 s
        ("07:02:02", "07:02:17", "urgent"),  # c (40 s) would not end before it: silence
        ("07:02:22", "07:03:02", "c"),
        ("07:03:07", "07:03:27", "a"),
    ]
    assert not any(i.cut for i in items)


def test_loop_does_not_start_a_clip_a_known_urgent_would_cut() -> None:
    scheduled = urgent(start=at(MONDAY, 7, 1), created_at=at(MONDAY, 6))
    assert brief(run(WINDOW, urgents=(scheduled,)))[:4] == [
        ("07:00:00", "07:00:20", "a"),
        ("07:00:25", "07:00:55", "b"),
        ("07:01:00", "07:01:15", "urgent"),  # c did not start at 07:01:00 - 40 s ago
        ("07:01:20", "07:02:00", "c"),
    ]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        pytest.param({"override_window": True}, ["20:00:00"], id="override-plays-outside-window"),
        pytest.param({}, [], id="no-override-no-play-outside-window"),
    ],
)
def test_urgent_outside_the_window(kwargs: dict[str, Any], expected: list[str]) -> None:
    items = run(WINDOW, urgents=(urgent(start=at(MONDAY, 20), **kwargs),))
    urgent_items = [i for i in items if i.kind is PlayKind.URGENT]
    assert [hms(i.start) for i in urgent_items] == expected
    assert all(i.window_end is None for i in urgent_items)


def test_urgent_sent_before_the_window_plays_at_its_start_without_override() -> None:
    night = urgent(start=at(MONDAY, 6, 30), repeats=2, expires_at=at(MONDAY, 9))
    items = run(WINDOW, urgents=(night,), now=at(MONDAY, 6, 30))
    assert brief(items)[:3] == [
        ("07:00:00", "07:00:15", "urgent"),  # waited for the window, as the clients do
        ("07:00:15", "07:00:30", "urgent"),
        ("07:00:35", "07:00:55", "a"),
    ]


def test_repeat_running_past_the_window_end_does_not_play_without_override() -> None:
    items = run(WINDOW, urgents=(urgent(start=at(MONDAY, 7, 59, 40), repeats=3),))
    urgent_items = [i for i in items if i.kind is PlayKind.URGENT]
    assert [hms(i.start) for i in urgent_items] == ["07:59:40"]  # 07:59:55 would end 08:00:10
    assert urgent_items[0].window_end == at(MONDAY, 8)


def test_override_repeats_run_past_the_window_end() -> None:
    items = run(
        WINDOW, urgents=(urgent(start=at(MONDAY, 7, 59, 40), repeats=2, override_window=True),)
    )
    assert [hms(i.start) for i in items if i.kind is PlayKind.URGENT] == ["07:59:40", "07:59:55"]


@pytest.mark.parametrize(
    ("pair", "now", "expected"),
    [
        pytest.param(
            urgent(start=at(MONDAY, 7, 10), repeats=3, expires_at=at(MONDAY, 7, 10, 15)),
            at(MONDAY, 7, 10),
            ["07:10:00"],
            id="repeats-after-expiry-never-play",
        ),
        pytest.param(
            urgent(
                start=at(MONDAY, 7, 10), created_at=at(MONDAY, 7), cancelled_at=at(MONDAY, 7, 5)
            ),
            at(MONDAY, 7, 6),
            [],
            id="cancelled-urgent-never-plays",
        ),
        pytest.param(
            urgent(start=at(MONDAY, 7, 10), repeats=3, cancelled_at=at(MONDAY, 7, 10, 15)),
            at(MONDAY, 7, 11),
            ["07:10:00"],
            id="repeats-after-cancel-never-play",
        ),
        pytest.param(
            urgent(
                start=at(MONDAY, 7, 10), created_at=at(MONDAY, 7), cancelled_at=at(MONDAY, 7, 5)
            ),
            at(MONDAY, 7, 4),
            ["07:10:00"],
            id="cancel-after-now-not-yet-known",
        ),
        pytest.param(
            urgent(start=at(MONDAY, 7, 10)), at(MONDAY, 7, 9), [], id="urgent-created-after-now"
        ),
    ],
)
def test_expiry_cancel_and_knowledge(
    pair: tuple[Urgent, ClipRef], now: datetime, expected: list[str]
) -> None:
    items = run(WINDOW, urgents=(pair,), now=now)
    assert [hms(i.start) for i in items if i.kind is PlayKind.URGENT] == expected


def test_cancel_cuts_the_playing_repeat_and_the_loop_goes_on_half_a_second_later() -> None:
    cancelled = urgent(start=at(MONDAY, 7, 0, 10), repeats=3, cancelled_at=at(MONDAY, 7, 0, 14))
    items = run(WINDOW, urgents=(cancelled,), now=at(MONDAY, 7, 0, 15))
    assert brief(items)[:4] == [
        ("07:00:00", "07:00:10", "a"),
        ("07:00:10", "07:00:14", "urgent"),  # cut at the cancel, not held for its 15 s
        ("07:00:14", "07:00:44", "b"),  # 07:00:14.5: no gap, no silent hole
        ("07:00:49", "07:01:29", "c"),
    ]
    assert items[2].start == at(MONDAY, 7, 0, 14) + timedelta(milliseconds=500)
    assert [i.cut for i in items[:3]] == [True, True, False]


def test_expiry_cuts_the_playing_repeat_and_the_loop_goes_on_at_the_expiry() -> None:
    expiring = urgent(start=at(MONDAY, 7, 0, 10), expires_at=at(MONDAY, 7, 0, 20))
    items = run(WINDOW, urgents=(expiring,), now=at(MONDAY, 7, 0, 10))
    assert brief(items)[:3] == [
        ("07:00:00", "07:00:10", "a"),
        ("07:00:10", "07:00:20", "urgent"),
        ("07:00:20", "07:00:50", "b"),
    ]
    assert items[1].cut


def test_expired_urgent_never_plays_when_it_could_only_start_late() -> None:
    first = urgent("first", start=at(MONDAY, 7, 10), repeats=2)
    late = urgent("late", start=at(MONDAY, 7, 10, 5), expires_at=at(MONDAY, 7, 10, 20))
    items = run(WINDOW, urgents=(late, first), now=at(MONDAY, 7, 11))
    assert [(i.urgent_id, hms(i.start)) for i in items if i.kind is PlayKind.URGENT] == [
        ("first", "07:10:00"),
        ("first", "07:10:15"),
    ]


def test_urgents_never_overlap_each_other() -> None:
    first = urgent("first", start=at(MONDAY, 7, 10))
    second = urgent("second", start=at(MONDAY, 7, 10, 5), clip=ClipRef("second", 5_000))
    items = run(WINDOW, urgents=(second, first), now=at(MONDAY, 7, 11))
    assert [
        (i.urgent_id, hms(i.start), hms(i.end)) for i in items if i.kind is PlayKind.URGENT
    ] == [
        ("first", "07:10:00", "07:10:15"),
        ("second", "07:10:15", "07:10:20"),
    ]


# -- rule 5: self-test -----------------------------------------------------------------------------


def test_selftest_opens_the_first_window_of_each_day_only() -> None:
    morning = sched("morning", start=time(7), end=time(7, 1))
    evening = sched("evening", start=time(18), end=time(18, 1))
    items = run(morning, evening, days=2, selftest=SELFTEST)
    assert [(i.start.day, hms(i.start), i.kind.value) for i in items] == [
        (1, "07:00:00", "selftest"),
        (1, "07:00:08", "loop"),  # after the self-test and the gap; b would end 07:01:03
        (1, "18:00:00", "loop"),
        (1, "18:00:25", "loop"),
        (2, "07:00:00", "selftest"),
        (2, "07:00:08", "loop"),
        (2, "18:00:00", "loop"),
        (2, "18:00:25", "loop"),
    ]
    assert items[0].schedule_id == "morning" and items[0].clip == "selftest"


def test_no_selftest_without_a_selftest_clip() -> None:
    assert all(i.kind is PlayKind.LOOP for i in run(WINDOW))


# -- targeting -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("targets", "covered"),
    [
        pytest.param({"speaker_ids": ("spk",)}, True, id="by-speaker-id"),
        pytest.param({"speaker_ids": (), "area_ids": ("village",)}, True, id="by-own-village"),
        pytest.param({"speaker_ids": (), "area_ids": ("town",)}, True, id="by-township-nested"),
        pytest.param({"speaker_ids": (), "area_ids": ("district",)}, True, id="by-district-nested"),
        pytest.param({"speaker_ids": (), "area_ids": ("other",)}, False, id="sibling-village"),
        pytest.param({"speaker_ids": (), "area_ids": ("elsewhere",)}, False, id="other-township"),
    ],
)
def test_area_targeting(targets: dict[str, Any], covered: bool) -> None:
    schedule = sched(**targets)
    assert (schedules_for(SPEAKER, [schedule], AREAS) == (schedule,)) is covered
    assert bool(run(schedule)) is covered
    pair = urgent(start=at(MONDAY, 7, 10), **targets)
    assert any(i.kind is PlayKind.URGENT for i in run(WINDOW, urgents=(pair,))) is covered


def test_plan_many_equals_plan_and_shares_timelines() -> None:
    speakers = [
        Speaker(f"s{n}", f"S{n}", SpeakerKind.FIXED, "village" if n < 3 else "other")
        for n in range(5)
    ]
    schedules = [
        sched("district", speaker_ids=(), area_ids=("district",)),
        sched(
            "village",
            program_id="x",
            speaker_ids=(),
            area_ids=("village",),
            start=time(9),
            end=time(10),
            priority=1,
        ),
        sched(
            "direct", program_id="x", speaker_ids=("s4",), start=time(12), end=time(13), priority=1
        ),
    ]
    urgents = [urgent(start=at(MONDAY, 11), speaker_ids=("s1",))]
    kw: dict[str, Any] = {
        "schedules": schedules,
        "programs": PROGRAMS,
        "clips": CLIPS,
        "urgents": urgents,
        "areas": AREAS,
        "zone": ZONE,
        "start": at(MONDAY, 0),
        "end": at(TUESDAY, 0),
        "now": at(MONDAY, 12),
        "selftest": SELFTEST,
    }
    many = plan_many(speakers, **kw)
    assert many == {s.id: plan(s, **kw) for s in speakers}
    assert many["s0"] is many["s2"]
    assert len({id(t) for t in many.values()}) == 4


# -- contracts and daylight saving -----------------------------------------------------------------


def test_item_to_json_carries_the_utc_offset() -> None:
    item = run(WINDOW)[1]
    assert item_to_json(item) == {
        "start": "2026-06-01T07:00:25.000+08:00",
        "end": "2026-06-01T07:00:55.000+08:00",
        "kind": "loop",
        "message": "b",
        "clip": "hb",
        "urgent": None,
        "window_end": "2026-06-01T08:00:00.000+08:00",
    }


SAT_SPRING, SAT_AUTUMN = date(2026, 3, 28), date(2026, 10, 24)


@pytest.mark.parametrize(
    ("day", "start", "end", "utc_start", "real_hours"),
    [
        pytest.param(
            SAT_SPRING + timedelta(1), time(0), time(6), "03-28 23:00", 5, id="spring-forward-day"
        ),
        pytest.param(
            SAT_AUTUMN + timedelta(1), time(0), time(6), "10-24 22:00", 7, id="fall-back-day"
        ),
        pytest.param(
            SAT_SPRING, time(22), time(3), "03-28 21:00", 4, id="spring-night-across-midnight"
        ),
        pytest.param(
            SAT_AUTUMN, time(22), time(3), "10-24 20:00", 6, id="autumn-night-across-midnight"
        ),
        pytest.param(
            SAT_SPRING + timedelta(1), time(7), time(19), "03-29 05:00", 12, id="day-after-spring"
        ),
        # 02:30 does not exist on 2026-03-29: fold=0 reads it as 03:30 CEST
        pytest.param(
            SAT_SPRING + timedelta(1),
            time(2, 30),
            time(4),
            "03-29 01:30",
            0.5,
            id="nonexistent-start",
        ),
        # 02:30 happens twice on 2026-10-25: the first (CEST) one is taken
        pytest.param(
            SAT_AUTUMN + timedelta(1),
            time(2, 30),
            time(4),
            "10-25 00:30",
            2.5,
            id="ambiguous-start",
        ),
    ],
)
def test_berlin_windows_have_their_real_length(
    day: date, start: time, end: time, utc_start: str, real_hours: float
) -> None:
    schedule = sched(start=start, end=end)
    span_start = at(day, 0, zone=BERLIN)
    (window,) = [
        w
        for w in windows(schedule, BERLIN, span_start, span_start + timedelta(days=1))
        if w.start.date() == day
    ]
    assert window.start.astimezone(UTC).strftime("%m-%d %H:%M") == utc_start
    assert to_ms(window.end) - to_ms(window.start) == real_hours * 3_600_000


@pytest.mark.parametrize(
    ("night", "end", "real_hours", "last_offset_h"),
    [
        pytest.param(SAT_SPRING, time(2), 4, 1, id="spring-22-02"),
        pytest.param(SAT_AUTUMN, time(2), 4, 2, id="autumn-22-02"),
        pytest.param(SAT_SPRING, time(4), 5, 2, id="spring-22-04-across-the-change"),
        pytest.param(SAT_AUTUMN, time(4), 7, 1, id="autumn-22-04-across-the-change"),
    ],
)
def test_berlin_plan_across_midnight_on_a_dst_night(
    night: date, end: time, real_hours: int, last_offset_h: int
) -> None:
    schedule = sched(start=time(22), end=end)
    items = run(schedule, day=night, days=2, zone=BERLIN, selftest=SELFTEST)
    (window,) = windows(schedule, BERLIN, at(night, 12, zone=BERLIN), at(night, 23, zone=BERLIN))
    lo, hi = to_ms(window.start), to_ms(window.end)
    assert hi - lo == real_hours * 3_600_000
    mine = [i for i in items if lo <= to_ms(i.start) < hi]
    assert to_ms(mine[0].start) == lo and mine[0].kind is PlayKind.SELFTEST
    for item, following in pairwise(mine):
        assert to_ms(following.start) - to_ms(item.end) == 5_000  # the real gap, in UTC
    for item in mine:
        assert to_ms(item.end) <= hi and item.window_end == window.end
        clip = SELFTEST if item.kind is PlayKind.SELFTEST else CLIPS[item.message_id or ""]
        assert to_ms(item.end) - to_ms(item.start) == clip.duration_ms
    assert hi - to_ms(mine[-1].end) < 5_000 + 40_000
    assert mine[-1].end.utcoffset() == timedelta(hours=last_offset_h)
