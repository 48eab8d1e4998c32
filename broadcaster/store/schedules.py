"""Schedules (windows, targets, exceptions). The planner's one-read snapshot is
`Store.deployment()` (broadcaster/store/store.py), which reads them with `load_schedules`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from broadcaster.errors import Conflict, NotFound, ValidationError
from broadcaster.models import Schedule
from broadcaster.store import schema as t
from broadcaster.store.base import Part, touch_catalog
from broadcaster.store.places import exists


def weekday_mask(days: Iterable[int]) -> int:
    return sum(1 << d for d in set(days))


def weekdays_of(mask: int) -> frozenset[int]:
    return frozenset(d for d in range(7) if mask & (1 << d))


def load_schedules(conn: Connection, ids: Iterable[str] | None = None) -> tuple[Schedule, ...]:
    query = select(t.schedules).order_by(t.schedules.c.id)
    speakers = select(t.schedule_speakers).order_by(t.schedule_speakers.c.position)
    areas = select(t.schedule_areas).order_by(t.schedule_areas.c.position)
    days = select(t.schedule_exceptions)
    if ids is not None:
        wanted = list(ids)
        query = query.where(t.schedules.c.id.in_(wanted))
        speakers = speakers.where(t.schedule_speakers.c.schedule_id.in_(wanted))
        areas = areas.where(t.schedule_areas.c.schedule_id.in_(wanted))
        days = days.where(t.schedule_exceptions.c.schedule_id.in_(wanted))
    speaker_ids: dict[str, list[str]] = {}
    for sid, speaker in conn.execute(
        speakers.with_only_columns(
            t.schedule_speakers.c.schedule_id, t.schedule_speakers.c.speaker_id
        )
    ):
        speaker_ids.setdefault(sid, []).append(speaker)
    area_ids: dict[str, list[str]] = {}
    for sid, area in conn.execute(
        areas.with_only_columns(t.schedule_areas.c.schedule_id, t.schedule_areas.c.area_id)
    ):
        area_ids.setdefault(sid, []).append(area)
    exceptions: dict[str, set[date]] = {}
    for sid, day in conn.execute(days):
        exceptions.setdefault(sid, set()).add(day)
    return tuple(
        Schedule(
            id=r["id"],
            program_id=r["program_id"],
            speaker_ids=tuple(speaker_ids.get(r["id"], ())),
            area_ids=tuple(area_ids.get(r["id"], ())),
            weekdays=weekdays_of(r["weekdays"]),
            start=r["start_time"],
            end=r["end_time"],
            first_date=r["first_date"],
            last_date=r["last_date"],
            exceptions=frozenset(exceptions.get(r["id"], ())),
            priority=r["priority"],
            enabled=r["enabled"],
        )
        for r in conn.execute(query).mappings()
    )


def _row(s: Schedule, now: datetime) -> dict[str, object]:
    return {
        "id": s.id,
        "program_id": s.program_id,
        "weekdays": weekday_mask(s.weekdays),
        "start_time": s.start,
        "end_time": s.end,
        "first_date": s.first_date,
        "last_date": s.last_date,
        "priority": s.priority,
        "enabled": s.enabled,
        "updated_at": now,
    }


def _check(conn: Connection, s: Schedule) -> None:
    what = f"schedule {s.id}"
    if not s.speaker_ids and not s.area_ids:
        raise ValidationError(f"{what}.targets: no speaker or area to play on")
    if not s.weekdays:
        raise ValidationError(f"{what}.weekdays: at least one weekday")
    if not exists(conn, t.programs.c.id, s.program_id):
        raise ValidationError(f"{what}.program_id: no program {s.program_id!r}")
    for name, ids, column in (
        ("speaker_ids", s.speaker_ids, t.speakers.c.id),
        ("area_ids", s.area_ids, t.areas.c.id),
    ):
        if len(set(ids)) != len(ids):
            raise ValidationError(f"{what}.{name}: an id is listed twice")
        known = set(conn.execute(select(column).where(column.in_(set(ids)))).scalars())
        missing = [i for i in ids if i not in known]
        if missing:
            raise ValidationError(f"{what}.{name}: no such id {missing[0]!r}")


def insert_schedule(conn: Connection, schedule: Schedule, now: datetime) -> None:
    if exists(conn, t.schedules.c.id, schedule.id):
        raise Conflict(f"schedule {schedule.id!r} already exists")
    _check(conn, schedule)
    conn.execute(insert(t.schedules).values(_row(schedule, now)))
    _insert_children(conn, schedule)


def _insert_children(conn: Connection, s: Schedule) -> None:
    if s.speaker_ids:
        conn.execute(
            insert(t.schedule_speakers),
            [
                {"schedule_id": s.id, "speaker_id": x, "position": i}
                for i, x in enumerate(s.speaker_ids)
            ],
        )
    if s.area_ids:
        conn.execute(
            insert(t.schedule_areas),
            [{"schedule_id": s.id, "area_id": x, "position": i} for i, x in enumerate(s.area_ids)],
        )
    if s.exceptions:
        conn.execute(
            insert(t.schedule_exceptions),
            [{"schedule_id": s.id, "day": d} for d in sorted(s.exceptions)],
        )


class Schedules(Part):
    """Schedules: when programs play, where."""

    def list_schedules(self) -> tuple[Schedule, ...]:
        """Every schedule, by id."""
        with self._db.transaction(write=False) as conn:
            return load_schedules(conn)

    def get_schedule(self, schedule_id: str) -> Schedule:
        with self._db.transaction(write=False) as conn:
            found = load_schedules(conn, [schedule_id])
        if not found:
            raise NotFound(f"no schedule {schedule_id!r}")
        return found[0]

    def create_schedule(self, schedule: Schedule, now: datetime) -> Schedule:
        """Add a schedule; its program and targets must exist."""
        with self._db.transaction() as conn:
            insert_schedule(conn, schedule, now)
            touch_catalog(conn)
        return schedule

    def update_schedule(self, schedule: Schedule, now: datetime) -> Schedule:
        """Replace a schedule with its targets and exception dates."""
        with self._db.transaction() as conn:
            if not exists(conn, t.schedules.c.id, schedule.id):
                raise NotFound(f"no schedule {schedule.id!r}")
            _check(conn, schedule)
            conn.execute(
                update(t.schedules)
                .where(t.schedules.c.id == schedule.id)
                .values(_row(schedule, now))
            )
            for child in (t.schedule_speakers, t.schedule_areas, t.schedule_exceptions):
                conn.execute(delete(child).where(child.c.schedule_id == schedule.id))
            _insert_children(conn, schedule)
            touch_catalog(conn)
        return schedule

    def delete_schedule(self, schedule_id: str) -> None:
        with self._db.transaction() as conn:
            if not exists(conn, t.schedules.c.id, schedule_id):
                raise NotFound(f"no schedule {schedule_id!r}")
            conn.execute(delete(t.schedules).where(t.schedules.c.id == schedule_id))
            touch_catalog(conn)
