"""Schedules: a program on speakers or areas in daily windows; conflicts shown before saving."""

from __future__ import annotations

import secrets
from datetime import date, time, timedelta

from flask import Blueprint, flash, redirect, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from broadcaster import planning
from broadcaster.editing import Scope
from broadcaster.errors import NotFound, ValidationError
from broadcaster.models import Role, Schedule
from web.panel.common import Form, audit, now, page, require
from web.panel.i18n import _
from web.runtime import runtime

bp = Blueprint("schedules", __name__)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
HORIZON = timedelta(days=14)


def visible(me: Scope, schedule_id: str) -> Schedule:
    for schedule in me.schedules():
        if schedule.id == schedule_id:
            return schedule
    raise NotFound(f"no schedule {schedule_id!r}")


def _render(me: Scope, form: Form, schedule: Schedule | None, status: int = 200, **extra: object):  # type: ignore[no-untyped-def]
    body = page(
        "panel/schedule_edit.html",
        form=form,
        schedule=schedule,
        weekdays=WEEKDAYS,
        programs=me.programs(),
        speakers=list(me.speakers.values()),
        areas=me.own_areas(),
        **extra,
    )
    return body, status


def _data(s: Schedule) -> MultiDict[str, str]:
    data = MultiDict(
        [
            ("program", s.program_id),
            ("start", s.start.strftime("%H:%M")),
            ("end", s.end.strftime("%H:%M")),
            ("priority", str(s.priority)),
            ("first_date", s.first_date.isoformat() if s.first_date else ""),
            ("last_date", s.last_date.isoformat() if s.last_date else ""),
            ("exceptions", " ".join(d.isoformat() for d in sorted(s.exceptions))),
        ]
    )
    for d in sorted(s.weekdays):
        data.add("weekdays", str(d))
    for x in s.speaker_ids:
        data.add("speakers", x)
    for x in s.area_ids:
        data.add("areas", x)
    if s.enabled:
        data.add("enabled", "1")
    return data


@bp.get("/schedules")
def index() -> str:
    me = require(Role.ADMIN, Role.CHIEF)
    names = {p.id: p.name for p in me.deployment.programs}
    return page("panel/schedules.html", schedules=me.schedules(), names=names, weekdays=WEEKDAYS)


@bp.get("/schedules/new")
def new():  # type: ignore[no-untyped-def]
    me = require(Role.ADMIN, Role.CHIEF)
    moment = now().astimezone(runtime().settings.zone)
    data = MultiDict(
        [("start", moment.strftime("%H:%M")), ("end", "19:00"), ("priority", "0"), ("enabled", "1")]
    )
    for d in range(7):
        data.add("weekdays", str(d))
    for key in ("program", "speakers", "areas"):
        for value in request.args.getlist(key):
            data.add(key, value)
    return _render(me, Form(data), None)


@bp.get("/schedules/<schedule_id>")
def edit(schedule_id: str):  # type: ignore[no-untyped-def]
    me = require(Role.ADMIN, Role.CHIEF)
    schedule = visible(me, schedule_id)
    return _render(me, Form(_data(schedule)), schedule)


def _time(form: Form, name: str) -> time:
    try:
        return time.fromisoformat(form.raw(name))
    except ValueError:
        form.error(name, _("Enter a time like 07:30."))
        return time(0)


def _date(form: Form, name: str) -> date | None:
    if not form.raw(name):
        return None
    try:
        return date.fromisoformat(form.raw(name))
    except ValueError:
        form.error(name, _("Enter a date like 2025-05-01."))
        return None


def _validate(form: Form, me: Scope, current: Schedule | None) -> Schedule | None:
    schedule_id = current.id if current else (form.raw("id") or f"s-{secrets.token_hex(4)}")
    if current is None and form.raw("id"):
        form.ident("id")
        if any(s.id == schedule_id for s in me.deployment.schedules):
            form.error("id", _("This id is taken."))
    program = form.raw("program")
    if program not in {p.id for p in me.programs()}:
        form.error("program", _("Choose a program."))
    speakers = form.list("speakers")
    areas = form.list("areas")
    if any(s not in me.speakers for s in speakers):
        form.error("speakers", _("Choose loudspeakers from the list."))
    if any(a not in me.reach for a in areas):
        form.error("areas", _("Choose areas from the list."))
    if not speakers and not areas:
        form.error("speakers", _("Choose at least one loudspeaker or area."))
    try:
        weekdays = frozenset(int(d) for d in form.list("weekdays"))
    except ValueError:
        weekdays = frozenset({-1})
    if not weekdays or not all(0 <= d <= 6 for d in weekdays):
        form.error("weekdays", _("Choose at least one weekday."))
    start, end = _time(form, "start"), _time(form, "end")
    first, last = _date(form, "first_date"), _date(form, "last_date")
    if first and last and last < first:
        form.error("last_date", _("The last day is before the first day."))
    exceptions: set[date] = set()
    for word in form.raw("exceptions").replace(",", " ").split():
        try:
            exceptions.add(date.fromisoformat(word))
        except ValueError:
            form.error("exceptions", _("Enter dates like 2025-05-01, separated by spaces."))
    priority = form.integer("priority", -100, 100)
    if not form.ok:
        return None
    try:
        return Schedule(
            schedule_id,
            program,
            tuple(speakers),
            tuple(areas),
            weekdays,
            start,
            end,
            first,
            last,
            frozenset(exceptions),
            priority,
            form.flag("enabled"),
        )
    except ValidationError as exc:
        form.error("start", str(exc))
        return None


def conflicts_of(me: Scope, candidate: Schedule) -> list[str]:
    """Equal-priority overlaps the candidate would have, in the next 14 days."""
    rt = runtime()
    d = me.deployment
    schedules = [s for s in d.schedules if s.id != candidate.id] + [candidate]
    areas = {a.id: a for a in d.areas}
    moment = now()
    found = []
    for speaker in d.speakers:
        for c in planning.conflicts(
            speaker, schedules, areas, rt.settings.zone, moment, moment + HORIZON
        ):
            if candidate.id not in c.schedule_ids:
                continue
            other = next(x for x in c.schedule_ids if x != candidate.id)
            zone = rt.settings.zone
            found.append(
                _(
                    "Overlaps schedule %(other)s at the same priority on %(speaker)s "
                    "(first %(start)s-%(end)s).",
                    other=other,
                    speaker=speaker.name,
                    start=c.start.astimezone(zone).strftime("%m-%d %H:%M"),
                    end=c.end.astimezone(zone).strftime("%H:%M"),
                )
            )
    return found


def _save(me: Scope, current: Schedule | None):  # type: ignore[no-untyped-def]
    form = Form(request.form.copy())
    schedule = _validate(form, me, current)
    if schedule is None:
        return _render(me, form, current, 422)
    clashes = conflicts_of(me, schedule)
    if request.form.get("action") == "check" or (clashes and not form.flag("accept_conflicts")):
        return _render(
            me, form, current, 200 if not clashes else 409, conflicts=clashes, checked=True
        )
    store = runtime().service.store
    if current is None:
        store.create_schedule(schedule, now())
    else:
        store.update_schedule(schedule, now())
    audit(
        "schedule.create" if current is None else "schedule.update",
        schedule.id,
        {
            "program": schedule.program_id,
            "speakers": list(schedule.speaker_ids),
            "areas": list(schedule.area_ids),
            "start": schedule.start.isoformat(),
            "end": schedule.end.isoformat(),
            "conflicts": len(clashes),
        },
    )
    flash(_("Saved."))
    return redirect(url_for("schedules.edit", schedule_id=schedule.id))


@bp.post("/schedules/new")
def create():  # type: ignore[no-untyped-def]
    return _save(require(Role.ADMIN, Role.CHIEF), None)


@bp.post("/schedules/<schedule_id>")
def update(schedule_id: str):  # type: ignore[no-untyped-def]
    me = require(Role.ADMIN, Role.CHIEF)
    return _save(me, visible(me, schedule_id))


@bp.post("/schedules/<schedule_id>/delete")
def delete(schedule_id: str) -> Response:
    me = require(Role.ADMIN, Role.CHIEF)
    visible(me, schedule_id)
    runtime().service.store.delete_schedule(schedule_id)
    audit("schedule.delete", schedule_id, {})
    flash(_("Deleted."))
    return redirect(url_for("schedules.index"))
