"""The planner: schedules, programs, clips, urgent announcements and ``now`` in; a timeline out.

Pure: it never reads the clock, files, the environment or the database. Same inputs, same plan.

Rules (docs/design.md "Planning rules"), with the choices made where the design is silent:

1. Windows. A window is ``[start, end)`` in the deployment's zone, on the schedule's weekdays,
   within its date range (inclusive) and not on an exception date -- all judged by the window's
   START date. ``end <= start`` crosses midnight (``end == start`` is 24 hours). Wall times are
   resolved with PEP 495 ``fold=0``: a wall time that does not exist (spring-forward gap) takes
   the offset before the change, i.e. moves forward by the gap (02:30 -> 03:30 in Berlin); an
   ambiguous one (fall-back) is its first occurrence. A window's real length on a DST day
   differs from other days; that is correct. All arithmetic is done in integer UTC milliseconds.
2. Loop. A window plays its program from the first message, clips separated by ``gap_s``,
   looping. A clip starts only if it ends by the hard stop; when the next clip does not fit the
   loop stops there (no skipping ahead to a shorter clip: the order stays predictable and the
   slack is always smaller than the next clip plus the gap). Messages without a clip in
   ``clips`` are left out of the loop (not rendered yet); ``broadcaster check`` reports them.
3. Priority. Windows are ranked by (priority descending, schedule id ascending): a window loses
   the time any higher-ranked window covers and plays in the remaining parts, each with its own
   hard stop. Equal priorities overlapping are reported by :func:`conflicts`; the smaller
   schedule id wins. When a window resumes after a higher one, its loop continues with the
   next message rather than restarting, so every message gets heard.
4. Urgent. Urgent announcements outrank every schedule. ``now`` is the knowledge horizon: an
   urgent created after ``now`` is unknown, a cancellation after ``now`` not yet happened. A
   repeat starts at ``starts_at`` (not ``max(starts_at, now)``: replanning must not move an
   announcement that is already playing), the next ``duration + interval_s`` later. Urgent
   items never overlap: a repeat that would collide with an earlier-placed urgent item waits
   for its end. A repeat plays only if it starts before ``expires_at`` and before a known
   ``cancelled_at``; without ``override_window`` only if it lies entirely within the covered
   windows: otherwise it waits for the next window it fits in (as a client that received it
   does), and is dropped if that is not before the expiry. A loop clip that was already
   playing when the urgent was created is cut at the urgent's start (``cut=True``, end = urgent
   start); a loop clip starting after the urgent is known treats its start as a hard stop.
   After an urgent item the loop resumes with the next clip after ``gap_s``, in the same window,
   still honouring the hard stop; between repeats the loop fills the interval when a clip fits.
   A repeat still playing at a known ``cancelled_at`` or at ``expires_at`` is cut there
   (``cut=True``) and the loop goes on without the gap: at the expiry, or ``CANCEL_RESUME_MS``
   after the cancel (the time the speakers need to fetch the new plan), so no silent hole.
5. Self-test. The first part of each local day (the earliest audible start on that date) opens
   with the self-test clip, if one is given; the loop follows after the gap. It obeys the same
   fit and cut rules as a loop clip.
6. Output: items sorted by start, never overlapping, each within the requested ``[start, end)``
   (an item straddling either edge is left out).

Speed: :func:`plan_many` resolves targets through an area index and shares one computed
timeline between speakers with identical effective inputs; the plain loop of a window part is
materialized once per (schedule, part, first message) and its immutable items are shared by
every timeline that contains it. Times are compared in UTC ms, never as zone-local datetimes
(Python compares datetimes sharing a tzinfo by wall time, which is wrong across a fold).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import chain
from zoneinfo import ZoneInfo

from broadcaster import schema
from broadcaster.errors import NotFound, ValidationError
from broadcaster.models import Area, ClipRef, PlayKind, Program, Schedule, Speaker, Urgent

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_NEVER = 2**62


@dataclass(frozen=True, slots=True)
class PlanItem:
    """One clip on a speaker's timeline; times are aware, in the deployment's zone."""

    start: datetime
    end: datetime
    kind: PlayKind
    message_id: str | None
    clip: str
    schedule_id: str | None
    urgent_id: str | None
    window_end: datetime | None  # the hard stop the client enforces (None: urgent override)
    cut: bool = False  # shortened by an urgent preemption: fade out at ``end``


@dataclass(frozen=True, slots=True)
class Window:
    """One concrete playback window of a schedule."""

    schedule_id: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class ScheduleConflict:
    """Two schedules of equal priority overlapping on one speaker (first overlap, and how often)."""

    speaker_id: str
    schedule_ids: tuple[str, str]
    priority: int
    start: datetime
    end: datetime
    occurrences: int


def to_ms(moment: datetime) -> int:
    """Milliseconds since the epoch (UTC) of an aware datetime."""
    return (moment - _EPOCH) // _MS


def from_ms(ms: int, zone: ZoneInfo) -> datetime:
    """The aware datetime in ``zone`` for epoch milliseconds (exact: float error < 1 us)."""
    return datetime.fromtimestamp(ms / 1000, zone)


def wall_time(day: date, at: time, zone: ZoneInfo) -> datetime:
    """``day`` at wall time ``at`` in ``zone``, with ``fold=0`` (see rule 1 for DST gaps/folds)."""
    return datetime.combine(day, at.replace(fold=0), tzinfo=zone)


def _aware(moment: datetime, what: str) -> None:
    if moment.utcoffset() is None:
        raise ValidationError(f"{what} must be timezone-aware, got {moment!r}")


def _windows_ms(
    schedule: Schedule, zone: ZoneInfo, first: date, last: date
) -> list[tuple[int, int]]:
    """Windows of ``schedule`` starting on local dates ``first..last``, as UTC ms pairs."""
    out: list[tuple[int, int]] = []
    if not schedule.enabled:
        return out
    day = first
    while day <= last:
        if (
            day.weekday() in schedule.weekdays
            and (schedule.first_date is None or schedule.first_date <= day)
            and (schedule.last_date is None or day <= schedule.last_date)
            and day not in schedule.exceptions
        ):
            end_day = day + timedelta(days=1) if schedule.end <= schedule.start else day
            start_ms = to_ms(wall_time(day, schedule.start, zone))
            end_ms = to_ms(wall_time(end_day, schedule.end, zone))
            if end_ms > start_ms:  # a DST gap can swallow a very short window
                out.append((start_ms, end_ms))
        day += timedelta(days=1)
    return out


def _local_dates(zone: ZoneInfo, start: datetime, end: datetime) -> tuple[date, date]:
    """Start dates of every window that can reach into ``[start, end)`` (windows are <= 1 day)."""
    return start.astimezone(zone).date() - timedelta(days=1), end.astimezone(zone).date()


def windows(
    schedule: Schedule, zone: ZoneInfo, start: datetime, end: datetime
) -> tuple[Window, ...]:
    """The schedule's whole windows that overlap ``[start, end)``, in order (not clipped)."""
    _aware(start, "start")
    _aware(end, "end")
    lo, hi = to_ms(start), to_ms(end)
    first, last = _local_dates(zone, start, end)
    return tuple(
        Window(schedule.id, from_ms(s, zone), from_ms(e, zone))
        for s, e in _windows_ms(schedule, zone, first, last)
        if e > lo and s < hi
    )


def area_chain(area_id: str, areas: Mapping[str, Area]) -> tuple[str, ...]:
    """``area_id`` and its ancestors, nearest first (stops on unknown parents and cycles)."""
    chain: list[str] = []
    current: str | None = area_id
    while current is not None and current not in chain:
        chain.append(current)
        area = areas.get(current)
        current = area.parent_id if area is not None else None
    return tuple(chain)


def _targets(
    speaker: Speaker, speaker_ids: Iterable[str], area_ids: Iterable[str], chain: set[str]
) -> bool:
    return speaker.id in speaker_ids or any(a in chain for a in area_ids)


def schedules_for(
    speaker: Speaker, schedules: Iterable[Schedule], areas: Mapping[str, Area]
) -> tuple[Schedule, ...]:
    """Enabled schedules that target the speaker directly or through its area or any ancestor."""
    chain = set(area_chain(speaker.area_id, areas))
    found = [
        s for s in schedules if s.enabled and _targets(speaker, s.speaker_ids, s.area_ids, chain)
    ]
    return tuple(sorted(found, key=lambda s: s.id))


def urgents_for(
    speaker: Speaker, urgents: Iterable[tuple[Urgent, ClipRef]], areas: Mapping[str, Area]
) -> tuple[tuple[Urgent, ClipRef], ...]:
    """Urgent announcements that target the speaker directly or through its areas."""
    chain = set(area_chain(speaker.area_id, areas))
    found = [p for p in urgents if _targets(speaker, p[0].speaker_ids, p[0].area_ids, chain)]
    return tuple(sorted(found, key=lambda p: (p[0].starts_at, p[0].id)))


def conflicts(
    speaker: Speaker,
    schedules: Iterable[Schedule],
    areas: Mapping[str, Area],
    zone: ZoneInfo,
    start: datetime,
    end: datetime,
) -> tuple[ScheduleConflict, ...]:
    """Pairs of equal-priority schedules whose windows overlap on ``speaker`` within the span.

    A week from today covers weekly patterns; pass a longer span to cover date ranges.
    """
    mine = schedules_for(speaker, schedules, areas)
    lo, hi = to_ms(start), to_ms(end)
    first, last = _local_dates(zone, start, end)
    # compare in UTC ms: datetimes sharing a tzinfo compare by wall time, wrong across a fold
    wins = {
        s.id: [w for w in _windows_ms(s, zone, first, last) if w[1] > lo and w[0] < hi]
        for s in mine
    }
    found: list[ScheduleConflict] = []
    for i, a in enumerate(mine):
        for b in mine[i + 1 :]:
            if a.priority != b.priority:
                continue
            overlaps = [
                (max(sa, sb), min(ea, eb))
                for sa, ea in wins[a.id]
                for sb, eb in wins[b.id]
                if sa < eb and sb < ea
            ]
            if overlaps:
                s, e = min(overlaps)
                found.append(
                    ScheduleConflict(
                        speaker.id,
                        (a.id, b.id),
                        a.priority,
                        from_ms(s, zone),
                        from_ms(e, zone),
                        len(overlaps),
                    )
                )
    return tuple(found)


# -- the timeline ---------------------------------------------------------------------------------

# A raw item: (start_ms, end_ms, kind, message_id, clip, schedule_id, urgent_id, hard_stop_ms, cut)
_Raw = tuple[int, int, PlayKind, str | None, str, str | None, str | None, int | None, bool]
# A placed urgent repeat: (start_ms, end_ms, created_ms, urgent, clip, hard_stop_ms,
# resume_ms: when the loop may go on after it, cut: ended early by a cancel or the expiry)
_UrgentSlot = tuple[int, int, int, Urgent, ClipRef, int | None, int, bool]

# After a cancel the loop goes on this long after the cancel time: the speakers need the new
# plan (pushed with a resync) before it starts, and then play it from its first sample.
CANCEL_RESUME_MS = 500
# A program ready to loop: (message ids, clip hashes, durations in ms, gap in ms)
_Loop = tuple[tuple[str, ...], tuple[str, ...], tuple[int, ...], int]
# Something with targets: a schedule, or an urgent announcement with its clip
_Target = Schedule | tuple[Urgent, ClipRef]


@dataclass(slots=True)
class _Context:
    """Everything that is the same for every speaker of one planning run, plus memo tables."""

    programs: Mapping[str, Program]
    clips: Mapping[str, ClipRef]
    zone: ZoneInfo
    lo: int
    hi: int
    now: int
    first_day: date
    last_day: date
    selftest: ClipRef | None
    windows: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    loops: dict[str, _Loop] = field(default_factory=dict)
    segments: dict[tuple[str, int, int, int], tuple[tuple[PlanItem, ...], int]] = field(
        default_factory=dict
    )
    timelines: dict[tuple[tuple[str, ...], tuple[str, ...]], tuple[PlanItem, ...]] = field(
        default_factory=dict
    )

    def windows_of(self, schedule: Schedule) -> list[tuple[int, int]]:
        found = self.windows.get(schedule.id)
        if found is None:
            found = _windows_ms(schedule, self.zone, self.first_day, self.last_day)
            self.windows[schedule.id] = found
        return found

    def loop_of(self, program_id: str) -> _Loop:
        found = self.loops.get(program_id)
        if found is None:
            program = self.programs.get(program_id)
            if program is None:
                raise NotFound(f"program {program_id!r} does not exist")
            ids = tuple(m for m in program.message_ids if m in self.clips)
            found = (
                ids,
                tuple(self.clips[m].hash for m in ids),
                tuple(self.clips[m].duration_ms for m in ids),
                round(program.gap_s * 1000),
            )
            self.loops[program_id] = found
        return found

    def segment(
        self, schedule: Schedule, start: int, stop: int, idx: int
    ) -> tuple[tuple[PlanItem, ...], int]:
        """The plain loop of ``schedule`` from message ``idx`` over ``[start, stop)``.

        Returns the items inside the span and the next message index. Memoized: speakers and
        parts that share a window share the (immutable) items.
        """
        key = (schedule.id, start, stop, idx)
        found = self.segments.get(key)
        if found is None:
            ids, hashes, durs, gap = self.loop_of(schedule.program_id)
            zone, lo, hi, sid = self.zone, self.lo, self.hi, schedule.id
            hard_stop = from_ms(stop, zone)
            n, t, out = len(durs), start, []
            while t + durs[idx] <= stop:
                end = t + durs[idx]
                if t >= lo and end <= hi:
                    out.append(
                        PlanItem(
                            from_ms(t, zone),
                            from_ms(end, zone),
                            PlayKind.LOOP,
                            ids[idx],
                            hashes[idx],
                            sid,
                            None,
                            hard_stop,
                        )
                    )
                t = end + gap
                idx = (idx + 1) % n
            found = (tuple(out), idx)
            self.segments[key] = found
        return found


def _subtract(start: int, end: int, covered: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    pieces = [(start, end)]
    for cs, ce in covered:
        rest: list[tuple[int, int]] = []
        for a, b in pieces:
            if ce <= a or cs >= b:
                rest.append((a, b))
                continue
            if a < cs:
                rest.append((a, cs))
            if ce < b:
                rest.append((ce, b))
        pieces = rest
    return pieces


def _merge(intervals: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for s, e in sorted(intervals):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def _place_urgents(
    ctx: _Context, urgents: Sequence[tuple[Urgent, ClipRef]], coverage: list[tuple[int, int]]
) -> list[_UrgentSlot]:
    """Rule 4: the urgent repeats that play, in order, never overlapping each other."""
    slots: list[_UrgentSlot] = []
    for urgent, clip in sorted(urgents, key=lambda p: (p[0].starts_at, p[0].id)):
        created = to_ms(urgent.created_at)
        if created > ctx.now:
            continue
        stop = expiry = to_ms(urgent.expires_at)
        if urgent.cancelled_at is not None and to_ms(urgent.cancelled_at) <= ctx.now:
            stop = min(stop, to_ms(urgent.cancelled_at))
        margin = 0 if stop == expiry else CANCEL_RESUME_MS
        length, interval = clip.duration_ms, round(urgent.interval_s * 1000)
        t = to_ms(urgent.starts_at)
        for _ in range(urgent.repeats):
            hard_stop: int | None = None
            moved = True
            while moved and t < stop:
                moved = False
                for s, e, *_ in slots:  # wait for any earlier-placed urgent item it overlaps
                    if s < t + length and t < e:
                        t, moved = e, True
                if not urgent.override_window:
                    hard_stop = next((e for s, e in coverage if s <= t and t + length <= e), None)
                    if hard_stop is None:  # wait for the next window it fits in
                        later = [s for s, e in coverage if s > t and s + length <= e]
                        t, moved = (min(later), True) if later else (stop, False)
            if t >= stop:
                break
            if t + length > stop:  # cut by the cancel or the expiry: the loop goes on at once
                slots.append((t, stop, created, urgent, clip, hard_stop, stop + margin, True))
                break
            slots.append((t, t + length, created, urgent, clip, hard_stop, t + length, False))
            t += length + interval
    slots.sort(key=lambda slot: slot[0])
    return slots


def _timeline(
    ctx: _Context, schedules: Sequence[Schedule], urgents: Sequence[tuple[Urgent, ClipRef]]
) -> tuple[PlanItem, ...]:
    # Rule 3: rank windows, each loses what higher-ranked windows cover.
    parts: list[tuple[int, int, int, Schedule]] = []
    covered: list[tuple[int, int]] = []
    window_no = 0
    for schedule in sorted(schedules, key=lambda s: (-s.priority, s.id)):
        own = ctx.windows_of(schedule)
        for ws, we in own:
            parts.extend((ps, pe, window_no, schedule) for ps, pe in _subtract(ws, we, covered))
            window_no += 1
        covered.extend(own)
    parts.sort(key=lambda p: (p[0], p[1]))
    slots = _place_urgents(ctx, urgents, _merge((p[0], p[1]) for p in parts))

    raw: list[_Raw] = [
        (s, e, PlayKind.URGENT, u.message_id, c.hash, None, u.id, stop, cut)
        for s, e, _, u, c, stop, _, cut in slots
    ]
    chunks: list[tuple[PlanItem, ...]] = []
    # Only windows reaching into the span are expanded (earlier parts set the resume point).
    live = {p[2] for p in parts if p[1] > ctx.lo and p[0] < ctx.hi}
    resume: dict[int, int] = {}
    days: set[date] = set()
    for ps, pe, window_no, schedule in parts:
        day = from_ms(ps, ctx.zone).date()
        first_of_day = day not in days
        days.add(day)
        if window_no in live:
            pending = ctx.selftest if first_of_day else None
            resume[window_no] = _fill(
                ctx, raw, chunks, slots, ps, pe, schedule, resume.get(window_no, 0), pending
            )
    zone, lo, hi = ctx.zone, ctx.lo, ctx.hi
    stops: dict[int, datetime] = {}
    for s, e, kind, message, clip, sid, uid, stop, cut in raw:
        if s < lo or e > hi:
            continue
        if stop is None:
            stop_dt = None
        else:
            stop_dt = stops.get(stop)
            if stop_dt is None:
                stop_dt = stops[stop] = from_ms(stop, zone)
        item = PlanItem(
            from_ms(s, zone), from_ms(e, zone), kind, message, clip, sid, uid, stop_dt, cut
        )
        chunks.append((item,))
    # Chunks cover disjoint stretches of time, so ordering them by their first item is enough.
    chunks.sort(key=lambda chunk: to_ms(chunk[0].start))
    return tuple(chain.from_iterable(chunks))


def _fill(
    ctx: _Context,
    raw: list[_Raw],
    chunks: list[tuple[PlanItem, ...]],
    slots: list[_UrgentSlot],
    ps: int,
    pe: int,
    schedule: Schedule,
    idx: int,
    pending: ClipRef | None,
) -> int:
    """Rules 2, 4, 5 for one part ``[ps, pe)``: append its items, return the next message index."""
    ids, hashes, durs, gap = ctx.loop_of(schedule.program_id)
    n, sid = len(durs), schedule.id
    j = 0
    while j < len(slots) and slots[j][1] <= ps:
        j += 1
    t = ps
    while True:
        chained = False
        while j < len(slots) and slots[j][0] <= t:  # the loop resumes after urgent items
            resume = slots[j][6] if slots[j][7] else slots[j][1] + gap
            t = resume if chained else max(t, resume)  # the last of back-to-back items decides
            chained = True
            j += 1
        nxt = slots[j] if j < len(slots) and slots[j][0] < pe else None
        if pending is None:
            if n == 0:
                return idx
            if nxt is None:
                items, after = ctx.segment(schedule, t, pe, idx)
                if items:
                    chunks.append(items)
                return after
            length = durs[idx]
        else:
            length = pending.duration_ms
        if t + length > pe:  # hard stop: the next clip does not fit, stop here
            return idx
        end, cut = t + length, False
        if nxt is not None and end > nxt[0]:
            if t >= nxt[2]:  # the urgent is known: do not start a clip it would cut
                t = nxt[0]
                continue
            end, cut = nxt[0], True  # already playing when the urgent was sent: cut it
        if pending is None:
            raw.append((t, end, PlayKind.LOOP, ids[idx], hashes[idx], sid, None, pe, cut))
            idx = (idx + 1) % n
        else:
            raw.append((t, end, PlayKind.SELFTEST, None, pending.hash, sid, None, pe, cut))
            pending = None
        t = end if cut else end + gap


def _context(
    programs: Mapping[str, Program],
    clips: Mapping[str, ClipRef],
    zone: ZoneInfo,
    start: datetime,
    end: datetime,
    now: datetime,
    selftest: ClipRef | None,
) -> _Context:
    for moment, what in ((start, "start"), (end, "end"), (now, "now")):
        _aware(moment, what)
    if end <= start:
        raise ValidationError(f"plan span is empty: end {end} is not after start {start}")
    first, last = _local_dates(zone, start, end)
    return _Context(
        programs, clips, zone, to_ms(start), to_ms(end), to_ms(now), first, last, selftest
    )


def plan(
    speaker: Speaker,
    *,
    schedules: Iterable[Schedule],
    programs: Mapping[str, Program],
    clips: Mapping[str, ClipRef],
    urgents: Iterable[tuple[Urgent, ClipRef]] = (),
    areas: Mapping[str, Area],
    zone: ZoneInfo,
    start: datetime,
    end: datetime,
    now: datetime,
    selftest: ClipRef | None = None,
) -> tuple[PlanItem, ...]:
    """The timeline of ``speaker`` within ``[start, end)``: what plays, when (module rules 1-6).

    ``schedules`` and ``urgents`` may be all of them: targets are resolved here. ``clips`` maps
    message ids to their rendered clips; ``urgents`` pairs each announcement with its clip.
    """
    ctx = _context(programs, clips, zone, start, end, now, selftest)
    return _timeline(
        ctx, schedules_for(speaker, schedules, areas), urgents_for(speaker, urgents, areas)
    )


def plan_many(
    speakers: Iterable[Speaker],
    *,
    schedules: Iterable[Schedule],
    programs: Mapping[str, Program],
    clips: Mapping[str, ClipRef],
    urgents: Iterable[tuple[Urgent, ClipRef]] = (),
    areas: Mapping[str, Area],
    zone: ZoneInfo,
    start: datetime,
    end: datetime,
    now: datetime,
    selftest: ClipRef | None = None,
) -> dict[str, tuple[PlanItem, ...]]:
    """:func:`plan` for many speakers at once; equal effective inputs share one timeline.

    Same result as calling :func:`plan` per speaker. Targets are resolved through an index
    (per area, with its ancestors), and speakers that end up with the same schedules and urgent
    announcements get the same (immutable) tuple.
    """
    ctx = _context(programs, clips, zone, start, end, now, selftest)
    by_speaker: dict[str, list[_Target]] = {}
    by_area: dict[str, list[_Target]] = {}
    targets: list[_Target] = [*(s for s in schedules if s.enabled), *urgents]
    for target in targets:
        aimed = target[0] if isinstance(target, tuple) else target
        for sid in aimed.speaker_ids:
            by_speaker.setdefault(sid, []).append(target)
        for aid in aimed.area_ids:
            by_area.setdefault(aid, []).append(target)
    per_area: dict[str, list[_Target]] = {}
    result: dict[str, tuple[PlanItem, ...]] = {}
    for speaker in speakers:
        inherited = per_area.get(speaker.area_id)
        if inherited is None:
            inherited = [t for a in area_chain(speaker.area_id, areas) for t in by_area.get(a, ())]
            per_area[speaker.area_id] = inherited
        direct = by_speaker.get(speaker.id)
        # dedupe by identity: a schedule may name a speaker and its village at once
        mine = list({id(t): t for t in [*inherited, *direct]}.values()) if direct else inherited
        own_schedules = sorted((t for t in mine if isinstance(t, Schedule)), key=lambda s: s.id)
        own_urgents = sorted(
            (t for t in mine if isinstance(t, tuple)), key=lambda p: (p[0].starts_at, p[0].id)
        )
        key = (tuple(s.id for s in own_schedules), tuple(p[0].id for p in own_urgents))
        timeline = ctx.timelines.get(key)
        if timeline is None:
            timeline = ctx.timelines[key] = _timeline(ctx, own_schedules, own_urgents)
        result[speaker.id] = timeline
    return result


def item_wire(item: PlanItem) -> schema.PlanItem:
    """The item as the device API sends it (`broadcaster.schema.PlanItem`)."""
    return schema.PlanItem(
        start=item.start,
        end=item.end,
        kind=item.kind.value,  # type: ignore[arg-type]  # a plan item is never `live`
        message=item.message_id,
        clip=item.clip,
        urgent=item.urgent_id,
        window_end=item.window_end,
    )


def item_to_json(item: PlanItem) -> dict[str, object]:
    """The ``--json`` / device-API form: ISO 8601 times with their UTC offset, to the ms."""
    return schema.dump(item_wire(item))
