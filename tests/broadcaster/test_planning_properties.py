"""Properties of the planner over random windows, programs, clip lengths and urgent announcements.

Every check is made in UTC milliseconds: wall clocks lie on daylight-saving days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

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
from broadcaster.planning import PlanItem, plan, to_ms, windows

SPEAKER = Speaker("spk", "Speaker", SpeakerKind.FIXED, "village")
AREAS = {"village": Area("village", "Village", AreaKind.VILLAGE)}
ZONES = [ZoneInfo("Asia/Shanghai"), ZoneInfo("Europe/Berlin")]
# ordinary days and both 2026 daylight-saving changes in Berlin (and the nights before them)
DAYS = [
    date(2026, 6, 1),
    date(2026, 3, 28),
    date(2026, 3, 29),
    date(2026, 10, 24),
    date(2026, 10, 25),
]
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)


@dataclass(frozen=True)
class Case:
    zone: ZoneInfo
    day: date
    durations: tuple[int, ...]
    gap_ms: int
    schedule: Schedule

    @property
    def span(self) -> tuple[datetime, datetime]:
        start = datetime.combine(self.day, time(0), tzinfo=self.zone)
        return start, datetime.combine(self.day + timedelta(days=1), time(0), tzinfo=self.zone)

    @property
    def clips(self) -> dict[str, ClipRef]:
        return {f"m{i}": ClipRef(f"h{i}", d) for i, d in enumerate(self.durations)}

    def windows_ms(self) -> list[tuple[int, int]]:
        return [
            (to_ms(w.start), to_ms(w.end)) for w in windows(self.schedule, self.zone, *self.span)
        ]

    def plan(self, urgents: tuple[tuple[Urgent, ClipRef], ...] = ()) -> tuple[PlanItem, ...]:
        start, end = self.span
        ids = tuple(self.clips)
        return plan(
            SPEAKER,
            schedules=[self.schedule],
            programs={"p": Program("p", "P", ids, gap_s=self.gap_ms / 1000)},
            clips=self.clips,
            urgents=urgents,
            areas=AREAS,
            zone=self.zone,
            start=start,
            end=end,
            now=end,
        )


@st.composite
def cases(draw: st.DrawFn) -> Case:
    start_s = draw(st.integers(0, 24 * 3600 - 1))
    length_s = draw(st.one_of(st.integers(1, 900), st.integers(1, 24 * 3600)))
    end_s = (start_s + length_s) % (24 * 3600)

    def clock(seconds: int) -> time:
        return time(seconds // 3600, seconds // 60 % 60, seconds % 60)

    schedule = Schedule(
        "s",
        "p",
        speaker_ids=("spk",),
        start=clock(start_s),
        end=clock(end_s),
        weekdays=frozenset(draw(st.sets(st.integers(0, 6), min_size=1))),
    )
    return Case(
        zone=draw(st.sampled_from(ZONES)),
        day=draw(st.sampled_from(DAYS)),
        durations=tuple(draw(st.lists(st.integers(1_000, 90_000), min_size=1, max_size=6))),
        gap_ms=draw(st.sampled_from([0, 500, 1_000, 5_000, 12_250])),
        schedule=schedule,
    )


def ms(item: PlanItem) -> tuple[int, int]:
    return to_ms(item.start), to_ms(item.end)


def index(item: PlanItem) -> int:
    return int((item.message_id or "m-1")[1:])


def assert_timeline(items: tuple[PlanItem, ...], case: Case) -> None:
    """Sorted, no overlaps, inside the span, aware in the deployment's zone."""
    lo, hi = (to_ms(t) for t in case.span)
    for item in items:
        start, end = ms(item)
        assert lo <= start < end <= hi
        assert item.start.tzinfo is case.zone
    for a, b in pairwise(items):
        assert ms(a)[1] <= ms(b)[0]


def in_window(item: PlanItem, wins: list[tuple[int, int]]) -> tuple[int, int]:
    start, end = ms(item)
    (window,) = [(ws, we) for ws, we in wins if ws <= start and end <= we]
    return window


@PROPERTY_SETTINGS
@given(cases())
def test_loop_fills_each_window_with_exact_gaps_up_to_the_hard_stop(case: Case) -> None:
    items = case.plan()
    assert_timeline(items, case)
    wins = case.windows_ms()
    lo, hi = (to_ms(t) for t in case.span)
    by_window: dict[tuple[int, int], list[PlanItem]] = {w: [] for w in wins}
    for item in items:
        assert item.kind is PlayKind.LOOP and not item.cut
        window = in_window(item, wins)  # no clip starts before its window or ends after it
        assert item.window_end is not None and to_ms(item.window_end) == window[1]
        assert ms(item)[1] - ms(item)[0] == case.durations[index(item)]
        by_window[window].append(item)
    n = len(case.durations)
    for (ws, we), mine in by_window.items():
        if ws < lo or we > hi:
            continue  # the span cuts this window: its edges are not all visible
        if not mine:
            assert we - ws < case.durations[0]
            continue
        assert ms(mine[0])[0] == ws and index(mine[0]) == 0  # each window restarts the program
        for a, b in pairwise(mine):
            assert ms(b)[0] - ms(a)[1] == case.gap_ms
            assert index(b) == (index(a) + 1) % n
        # slack before the hard stop is smaller than the next clip plus the gap
        assert we - ms(mine[-1])[1] < case.gap_ms + case.durations[(index(mine[-1]) + 1) % n]


@st.composite
def urgent_cases(draw: st.DrawFn) -> tuple[Case, tuple[Urgent, ClipRef]]:
    case = draw(cases())
    lo, hi = (to_ms(t) for t in case.span)
    start = case.span[0] + timedelta(milliseconds=draw(st.integers(0, hi - lo - 1)))
    created = start - timedelta(seconds=draw(st.integers(0, 600)))
    urgent = Urgent(
        "u",
        created_at=created,
        starts_at=start,
        expires_at=start + timedelta(seconds=draw(st.integers(1, 3600))),
        text="Warning",
        speaker_ids=("spk",),
        repeats=draw(st.integers(1, 4)),
        interval_s=draw(st.integers(0, 120)),
        override_window=draw(st.booleans()),
    )
    return case, (urgent, ClipRef("alarm", draw(st.integers(1_000, 60_000))))


def expected_repeats(case: Case, urgent: Urgent, clip: ClipRef) -> list[int]:
    """The urgent repeats that must play: rule 4, computed independently of the planner
    (without override, a repeat outside the windows waits for the next one it fits in)."""
    covered: list[tuple[int, int]] = []
    for s, e in sorted(case.windows_ms()):
        if covered and s <= covered[-1][1]:
            covered[-1] = (covered[-1][0], max(covered[-1][1], e))
        else:
            covered.append((s, e))
    lo, hi = (to_ms(t) for t in case.span)
    found, t, d = [], to_ms(urgent.starts_at), clip.duration_ms
    for _ in range(urgent.repeats):
        if not urgent.override_window and not any(s <= t and t + d <= e for s, e in covered):
            later = [s for s, e in covered if s > t and s + d <= e]  # waits for a window
            if not later:
                break
            t = min(later)
        if t >= to_ms(urgent.expires_at):
            break
        found.append(t)
        t += d + round(urgent.interval_s * 1000)
    expiry = to_ms(urgent.expires_at)
    return [t for t in found if lo <= t and min(t + d, expiry) <= hi]


@PROPERTY_SETTINGS
@given(urgent_cases())
def test_urgent_plays_as_scheduled_and_the_loop_resumes_after_it(
    drawn: tuple[Case, tuple[Urgent, ClipRef]],
) -> None:
    case, (urgent, clip) = drawn
    items = case.plan(((urgent, clip),))
    assert_timeline(items, case)
    urgent_items = [i for i in items if i.kind is PlayKind.URGENT]
    assert [ms(i)[0] for i in urgent_items] == expected_repeats(case, urgent, clip)
    expiry = to_ms(urgent.expires_at)
    for i in urgent_items:  # whole, or cut at the expiry (and then marked cut)
        start, end = ms(i)
        assert end == min(start + clip.duration_ms, expiry)
        assert i.cut == (end < start + clip.duration_ms)

    wins, n, gap = case.windows_ms(), len(case.durations), case.gap_ms
    lo, hi = (to_ms(t) for t in case.span)
    created = to_ms(urgent.created_at)
    for k, item in enumerate(items):
        start, end = ms(item)
        if item.kind is PlayKind.LOOP:
            in_window(item, wins)
            if item.cut:  # cut only at an urgent start, and only if it was already playing
                assert items[k + 1].kind is PlayKind.URGENT and ms(items[k + 1])[0] == end
                assert start < created
            else:
                assert end - start == case.durations[index(item)]
            continue
        # after an urgent item inside a window, the loop resumes with the next clip after the
        # gap; after one cut at the expiry, at once
        inside = [(ws, we) for ws, we in wins if ws <= start and end <= we and lo <= ws]
        if not inside:
            continue
        ws, we = inside[0]
        earlier = [i for i in items[:k] if i.kind is PlayKind.LOOP and ms(i)[0] >= ws]
        following = (index(earlier[-1]) + 1) % n if earlier else 0
        resume = end + gap
        if item.cut:  # at once, or where the loop would have gone on anyway
            prev = items[k - 1] if k > 0 else None
            natural = end
            if prev is not None and prev.kind is PlayKind.LOOP and ms(prev)[0] >= ws:
                natural = ms(prev)[1] + (0 if prev.cut else gap)
            resume = max(end, natural)
        fits = resume + case.durations[following] <= min(we, hi)
        blocked = any(
            resume + case.durations[following] > ms(u)[0] for u in urgent_items if ms(u)[0] > start
        )
        resumed = [i for i in items[k + 1 :] if i.kind is PlayKind.LOOP and ms(i)[0] == resume]
        if fits and not blocked:
            assert resumed and index(resumed[0]) == following
        if resumed:
            assert index(resumed[0]) == following


@PROPERTY_SETTINGS
@given(urgent_cases(), urgent_cases())
def test_several_urgents_never_overlap(
    first: tuple[Case, tuple[Urgent, ClipRef]], second: tuple[Case, tuple[Urgent, ClipRef]]
) -> None:
    case, one = first
    other_case, (urgent, clip) = second
    # move the second announcement onto the first case's day, with its own id
    shift = case.span[0] - other_case.span[0]
    two = (
        Urgent(
            "v",
            created_at=urgent.created_at + shift,
            starts_at=urgent.starts_at + shift,
            expires_at=urgent.expires_at + shift,
            text="Second",
            speaker_ids=("spk",),
            repeats=urgent.repeats,
            interval_s=urgent.interval_s,
            override_window=urgent.override_window,
        ),
        ClipRef("second", clip.duration_ms),
    )
    items = case.plan((one, two))
    assert_timeline(items, case)
    for item in items:
        if item.kind is PlayKind.URGENT:
            owner = one if item.urgent_id == "u" else two
            assert ms(item)[0] < to_ms(owner[0].expires_at)
            assert ms(item)[0] >= to_ms(owner[0].starts_at)
