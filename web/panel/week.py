"""The chief's week: every schedule that drives their loudspeakers (theirs and the district's)
and the urgent announcements on them, day by day, as blocks on an hour axis."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta

from broadcaster import access, planning
from broadcaster.editing import Scope
from broadcaster.models import Schedule, Urgent
from broadcaster.store import Store
from web.panel.i18n import _
from web.runtime import runtime

VIEW_FROM = 5  # the axis shows 05:00-22:00 unless something plays earlier or later
VIEW_TO = 22


@dataclass(frozen=True, slots=True)
class Driving:
    """A schedule that plays on some of the user's loudspeakers, as the user may see it."""

    schedule: Schedule
    program: str  # the program's name, or "a program of another area"
    speakers: tuple[str, ...]  # names of the user's loudspeakers it plays on
    editable: bool  # the user's own (they may open and change it)


@dataclass(frozen=True, slots=True)
class Block:
    top: float  # percent of the day column
    height: float
    kind: str  # "loop" or "urgent"
    label: str
    start: datetime
    end: datetime
    late: bool  # outside the district's playing hours
    left: float = 0.0  # percent of the column: overlapping blocks stand side by side
    width: float = 100.0


@dataclass
class Day:
    day: date
    today: bool
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Week:
    monday: date
    days: list[Day]
    hours: list[int]
    first_hour: int
    last_hour: int

    @property
    def previous(self) -> date:
        return self.monday - timedelta(days=7)

    @property
    def next(self) -> date:
        return self.monday + timedelta(days=7)


def _targets(me: Scope, speaker_ids: tuple[str, ...], area_ids: tuple[str, ...]) -> set[str]:
    """The user's loudspeakers among a schedule's or urgent's targets."""
    found = set(speaker_ids) | {
        s.id for s in access.speakers_in(area_ids, me.deployment.speakers, me.areas)
    }
    return found & set(me.speakers)


def driving(me: Scope) -> list[Driving]:
    """Every schedule that plays on at least one of the user's loudspeakers."""
    own = {s.id for s in me.schedules()}
    programs = {p.id: p.name for p in me.deployment.programs}
    found = []
    for schedule in me.deployment.schedules:
        mine = _targets(me, schedule.speaker_ids, schedule.area_ids)
        if not mine:
            continue
        pid = schedule.program_id
        shown = me.owner("program", pid) is None or me.sees_owned("program", pid)
        program = programs.get(pid, pid) if shown else _("a program of another area")
        names = tuple(sorted(me.speakers[s].name for s in mine))
        found.append(Driving(schedule, program, names, schedule.id in own))
    return sorted(found, key=lambda d: (not d.editable, d.schedule.start, d.program))


def outside_hours(start: time, end: time, hours: tuple[time, time]) -> bool:
    """Whether a daily window plays outside the district's hours (at night, past the stop)."""
    first, stop = hours
    return start < first or end > stop or end <= start


def week(me: Scope, store: Store, monday: date, today: date, hours: tuple[time, time]) -> Week:
    zone = runtime().settings.zone
    start = datetime.combine(monday, time(0), zone)
    end = start + timedelta(days=7)
    days = [Day(monday + timedelta(days=i), monday + timedelta(days=i) == today) for i in range(7)]
    spans: list[tuple[datetime, datetime, str, str, bool]] = []
    for drive in driving(me):
        if not drive.schedule.enabled:
            continue
        late = outside_hours(drive.schedule.start, drive.schedule.end, hours)
        label = f"{drive.program}（{'、'.join(drive.speakers)}）"
        for window in planning.windows(drive.schedule, zone, start, end):
            spans.append((window.start, window.end, "loop", label, late))
    for urgent in _urgents(me, store, start, end):
        what = urgent.text or _message_title(me, urgent.message_id)
        what = what if len(what) <= 24 else what[:23] + "…"
        stop = urgent.cancelled_at or urgent.expires_at
        spans.append((urgent.starts_at, stop, "urgent", _("Urgent: %(what)s", what=what), False))
    first_hour, last_hour = VIEW_FROM, VIEW_TO
    for s, e, *_rest in spans:
        local_s, local_e = s.astimezone(zone), e.astimezone(zone)
        if local_s.date() != local_e.date():  # over midnight: the whole day
            first_hour, last_hour = 0, 24
            continue
        first_hour = min(first_hour, local_s.hour)
        last_hour = max(last_hour, local_e.hour + (1 if local_e.minute or local_e.second else 0))
    span_h = max(1, last_hour - first_hour)
    for s, e, kind, label, late in spans:
        for d in days:
            day_start = datetime.combine(d.day, time(first_hour), zone)
            day_end = day_start + timedelta(hours=span_h)
            lo, hi = max(s, day_start), min(e, day_end)
            if hi <= lo:
                continue
            top = (lo - day_start).total_seconds() / 36 / span_h
            height = max(1.2, (hi - lo).total_seconds() / 36 / span_h)
            d.blocks.append(Block(round(top, 2), round(height, 2), kind, label, s, e, late))
    for d in days:
        d.blocks = _side_by_side(sorted(d.blocks, key=lambda b: (b.top, b.kind)))
    return Week(monday, days, list(range(first_hour, first_hour + span_h)), first_hour, last_hour)


def _urgents(me: Scope, store: Store, start: datetime, end: datetime) -> list[Urgent]:
    found = []
    for urgent in store.urgents.list_urgents(limit=500):
        stop = urgent.cancelled_at or urgent.expires_at
        if (
            urgent.starts_at < end
            and stop > start
            and _targets(me, urgent.speaker_ids, urgent.area_ids)
        ):
            found.append(urgent)
    return found


def _message_title(me: Scope, message_id: str | None) -> str:
    for message in me.deployment.messages:
        if message.id == message_id:
            return message.title
    return ""


def _side_by_side(blocks: list[Block]) -> list[Block]:
    """Blocks that overlap in time get lanes of their own (as many as the busiest moment of
    their cluster needs), so that none hides another."""
    placed: list[Block] = []
    cluster: list[tuple[Block, int]] = []
    lane_ends: list[float] = []
    cluster_end = -1.0

    def flush() -> None:
        lanes = max((lane for _b, lane in cluster), default=0) + 1
        for block, lane in cluster:
            placed.append(replace(block, left=round(100 * lane / lanes, 2),
                                  width=round(100 / lanes, 2)))  # fmt: skip

    for block in blocks:
        if block.top >= cluster_end and cluster:
            flush()
            cluster, lane_ends = [], []
        lane = next((i for i, end in enumerate(lane_ends) if end <= block.top), len(lane_ends))
        bottom = block.top + block.height
        if lane == len(lane_ends):
            lane_ends.append(bottom)
        else:
            lane_ends[lane] = bottom
        cluster.append((block, lane))
        cluster_end = max(cluster_end if cluster[:-1] else -1.0, bottom)
    if cluster:
        flush()
    return placed
