"""`broadcaster check`: every problem of a deployment, each with where it is.

Pure: the deployment, clip durations and `now` come in; a list of problems goes out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from broadcaster import planning
from broadcaster.models import User
from broadcaster.store.records import Deployment

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    """One problem: `where` is a path such as `schedules.villages-morning.program`."""

    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


def check_deployment(
    deployment: Deployment,
    *,
    zone: ZoneInfo,
    now: datetime,
    durations_ms: Mapping[str, int] | None = None,
    clip_failures: Mapping[str, str] | None = None,
    users: Sequence[User] = (),
    horizon_days: int = 14,
) -> list[Problem]:
    """Unknown references, duplicates, empty programs, equal-priority conflicts, windows shorter
    than the shortest clip, speakers with no schedule, clips that fail to render."""
    problems: list[Problem] = []
    problems += _duplicates(deployment, users)
    problems += _references(deployment, users)
    problems += _programs(deployment, durations_ms, clip_failures)
    problems += _schedules(deployment, zone, now, durations_ms, horizon_days)
    return sorted(set(problems))


def _duplicates(d: Deployment, users: Sequence[User]) -> Iterable[Problem]:
    groups: dict[str, list[str]] = {
        "areas": [a.id for a in d.areas],
        "speakers": [s.id for s in d.speakers],
        "messages": [m.id for m in d.messages],
        "programs": [p.id for p in d.programs],
        "schedules": [s.id for s in d.schedules],
        "users": [u.name for u in users],
        "quiet_zones": [z.id for z in d.quiet_zones],
    }
    for group, ids in groups.items():
        for item, count in Counter(ids).items():
            if count > 1:
                yield Problem(f"{group}.{item}", f"the id is used {count} times")


def _references(d: Deployment, users: Sequence[User]) -> Iterable[Problem]:
    areas = {a.id for a in d.areas}
    speakers = {s.id for s in d.speakers}
    messages = {m.id for m in d.messages}
    programs = {p.id for p in d.programs}
    for a in d.areas:
        if a.parent_id is not None and a.parent_id not in areas:
            yield Problem(f"areas.{a.id}.parent", f"unknown area {a.parent_id!r}")
    for s in d.speakers:
        if s.area_id not in areas:
            yield Problem(f"speakers.{s.id}.area", f"unknown area {s.area_id!r}")
    for message in d.messages:
        for area_id in message.area_ids:
            if area_id not in areas:
                yield Problem(f"messages.{message.id}.areas", f"unknown area {area_id!r}")
    for p in d.programs:
        for m in p.message_ids:
            if m not in messages:
                yield Problem(f"programs.{p.id}.messages", f"unknown message {m!r}")
    for sch in d.schedules:
        if sch.program_id not in programs:
            yield Problem(f"schedules.{sch.id}.program", f"unknown program {sch.program_id!r}")
        for sp in sch.speaker_ids:
            if sp not in speakers:
                yield Problem(f"schedules.{sch.id}.speakers", f"unknown speaker {sp!r}")
        for area_id in sch.area_ids:
            if area_id not in areas:
                yield Problem(f"schedules.{sch.id}.areas", f"unknown area {area_id!r}")
    for u in users:
        for area_id in u.area_ids:
            if area_id not in areas:
                yield Problem(f"users.{u.name}.areas", f"unknown area {area_id!r}")
        if u.vehicle_id is not None and u.vehicle_id not in speakers:
            yield Problem(f"users.{u.name}.vehicle", f"unknown speaker {u.vehicle_id!r}")


def _programs(
    d: Deployment, durations_ms: Mapping[str, int] | None, failures: Mapping[str, str] | None
) -> Iterable[Problem]:
    for p in d.programs:
        if not p.message_ids:
            yield Problem(f"programs.{p.id}.messages", "the program has no messages")
        elif durations_ms is not None and not any(m in durations_ms for m in p.message_ids):
            yield Problem(f"programs.{p.id}", "none of its messages has a playable clip")
    for message_id, reason in sorted((failures or {}).items()):
        yield Problem(f"messages.{message_id}", f"cannot be rendered: {reason}")


def _schedules(
    d: Deployment,
    zone: ZoneInfo,
    now: datetime,
    durations_ms: Mapping[str, int] | None,
    horizon_days: int,
) -> Iterable[Problem]:
    areas = {a.id: a for a in d.areas}
    programs = {p.id: p for p in d.programs}
    start, end = now, now + timedelta(days=horizon_days)
    for speaker in d.speakers:
        mine = planning.schedules_for(speaker, d.schedules, areas)
        if not mine:
            yield Problem(f"speakers.{speaker.id}", "no schedule plays on this speaker")
        for c in planning.conflicts(speaker, d.schedules, areas, zone, start, end):
            a, b = c.schedule_ids
            yield Problem(
                f"schedules.{a}",
                f"overlaps schedule {b!r} at the same priority {c.priority} on speaker "
                f"{speaker.id} (first {c.start:%Y-%m-%d %H:%M}-{c.end:%H:%M}, "
                f"{c.occurrences} times in {horizon_days} days)",
            )
    if durations_ms is None:
        return
    for s in d.schedules:
        program = programs.get(s.program_id)
        lengths = (
            [durations_ms[m] for m in program.message_ids if m in durations_ms] if program else []
        )
        if not lengths:
            continue
        window_ms = _window_ms(s.start, s.end)
        if window_ms < min(lengths):
            yield Problem(
                f"schedules.{s.id}",
                f"the window {s.start:%H:%M}-{s.end:%H:%M} is shorter than its shortest clip "
                f"({min(lengths) / 1000:.1f} s): nothing would play",
            )


def _window_ms(start: object, end: object) -> int:
    def seconds(t: object) -> int:
        return t.hour * 3600 + t.minute * 60 + t.second  # type: ignore[attr-defined]

    length = seconds(end) - seconds(start)
    return (length if length > 0 else length + 86_400) * 1000
