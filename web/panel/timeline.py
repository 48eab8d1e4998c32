"""Today's plan of a speaker as bars on a day axis (percent positions for CSS)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import g

from broadcaster.errors import BroadcasterError
from broadcaster.models import Message, PlayKind
from broadcaster.planning import PlanItem
from broadcaster.service import Service
from web.panel.common import scope
from web.panel.wording import run_label

log = logging.getLogger(__name__)

VIEW_FROM = time(5, 0)
VIEW_TO = time(21, 0)
MERGE_GAP = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Bar:
    left: float
    width: float
    kind: str
    label: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Mark:
    left: float
    label: str


@dataclass
class DayTimeline:
    """One speaker's day: bars (merged loop runs, urgents, self-test), window ends, now."""

    view_start: datetime
    view_end: datetime
    now: Mark | None
    bars: list[Bar] = field(default_factory=list)
    ends: list[Mark] = field(default_factory=list)
    hours: list[Mark] = field(default_factory=list)
    error: str | None = None
    clips: int = 0


def _pct(moment: datetime, start: datetime, end: datetime) -> float:
    span = (end - start).total_seconds()
    return round(100 * (moment - start).total_seconds() / span, 3)


def _runs(items: list[PlanItem]) -> list[list[PlanItem]]:
    """Consecutive loop clips of one schedule merged into runs."""
    runs: list[list[PlanItem]] = []
    for item in items:
        if runs and item.kind is PlayKind.LOOP:
            run = runs[-1]
            first = run[0]
            if (
                first.kind is PlayKind.LOOP
                and first.schedule_id == item.schedule_id
                and item.start - run[-1].end <= MERGE_GAP
            ):
                run.append(item)
                continue
        runs.append([item])
    return runs


def day_timeline(
    service: Service, speaker_id: str, now: datetime, messages: dict[str, Message]
) -> DayTimeline:
    """The timeline of `speaker_id` for the local day of `now`."""
    zone: ZoneInfo = service.settings.zone
    local = now.astimezone(zone)
    midnight = datetime.combine(local.date(), time(0), zone)
    tomorrow = datetime.combine(local.date() + timedelta(days=1), time(0), zone)
    service.cooperate()  # a dashboard draws one per speaker: others are served meanwhile
    try:
        document = service.plan(speaker_id, now, scope().deployment)
        # Speakers with the same schedules share one plan document: within a request (one
        # `now`, one user) they share its timeline too.
        drawn: dict[tuple[int, datetime], tuple[object, DayTimeline]]
        drawn = g.setdefault("day_timelines", {})
        hit = drawn.get((id(document), now))
        if hit is not None and hit[0] is document:
            return hit[1]
        items = [i for i in document.items if i.end > midnight and i.start < tomorrow]
        error = None
    except BroadcasterError as exc:
        log.warning("no plan for %s: %s", speaker_id, exc)
        items, error = [], str(exc)
    start = datetime.combine(local.date(), VIEW_FROM, zone)
    end = datetime.combine(local.date(), VIEW_TO, zone)
    if items:
        start = min(start, max(midnight, items[0].start.replace(minute=0, second=0, microsecond=0)))
        end = max(end, min(tomorrow, items[-1].end))
    timeline = DayTimeline(start, end, None, error=error, clips=len(items))
    if start <= now <= end:
        timeline.now = Mark(_pct(now, start, end), local.strftime("%H:%M"))
    hour = start.replace(minute=0, second=0, microsecond=0)
    while hour <= end:
        if hour >= start:
            timeline.hours.append(Mark(_pct(hour, start, end), hour.strftime("%H")))
        hour += timedelta(hours=1)
    ends = set()
    me = scope()
    titles = {m.id: m.title for m in messages.values()}
    for run in _runs(items):
        first, run_end = run[0], run[-1].end
        left = _pct(max(first.start, start), start, end)
        right = _pct(min(run_end, end), start, end)
        label = (
            f"{first.start.astimezone(zone):%H:%M}-{run_end.astimezone(zone):%H:%M} "
            f"{run_label(me, run, titles)}"
        )
        timeline.bars.append(
            Bar(left, max(0.4, right - left), first.kind.value, label, first.start, run_end)
        )
        if first.window_end is not None and start <= first.window_end <= end:
            ends.add(first.window_end)
    timeline.ends = [
        Mark(_pct(moment, start, end), moment.astimezone(zone).strftime("%H:%M"))
        for moment in sorted(ends)
    ]
    if error is None:
        drawn[(id(document), now)] = (document, timeline)
    return timeline
