"""Schedules: a program on speakers or areas in daily windows; conflicts shown before saving."""

from __future__ import annotations

from datetime import date, time

from flask import Blueprint, flash, redirect, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from broadcaster import catalog
from broadcaster.editing import Scope
from broadcaster.errors import NotFound
from broadcaster.models import Role, Schedule
from web.panel.common import Form, now, page, require
from web.panel.i18n import _
from web.runtime import runtime

bp = Blueprint("schedules", __name__)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


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


def _time(form: Form, name: str) -> time | None:
    try:
        return time.fromisoformat(form.raw(name))
    except ValueError:
        form.error(name, _("Enter a time like 07:30."))
        return None


def _date(form: Form, name: str) -> date | None:
    if not form.raw(name):
        return None
    try:
        return date.fromisoformat(form.raw(name))
    except ValueError:
        form.error(name, _("Enter a date like 2025-05-01."))
        return None


def _request(form: Form) -> catalog.ScheduleRequest:
    """The form as a use-case request; values that do not parse are left out (form errors)."""
    try:
        weekdays = frozenset(int(d) for d in form.list("weekdays"))
    except ValueError:
        weekdays = frozenset({-1})  # refused by the use case as "no weekday"
    exceptions: set[date] = set()
    for word in form.raw("exceptions").replace(",", " ").split():
        try:
            exceptions.add(date.fromisoformat(word))
        except ValueError:
            form.error("exceptions", _("Enter dates like 2025-05-01, separated by spaces."))
    return catalog.ScheduleRequest(
        id=form.raw("id") or None,
        program_id=form.raw("program"),
        speaker_ids=tuple(form.list("speakers")),
        area_ids=tuple(form.list("areas")),
        weekdays=weekdays,
        start=_time(form, "start"),
        end=_time(form, "end"),
        first_date=_date(form, "first_date"),
        last_date=_date(form, "last_date"),
        exceptions=frozenset(exceptions),
        priority=form.whole("priority"),
        enabled=form.flag("enabled"),
        accept_conflicts=form.flag("accept_conflicts"),
    )


def clash_text(clash: catalog.Clash) -> str:
    return _(
        "Overlaps schedule %(other)s at the same priority on %(speaker)s "
        "(first %(start)s-%(end)s).",
        other=clash.other,
        speaker=clash.speaker,
        start=clash.start.strftime("%m-%d %H:%M"),
        end=clash.end.strftime("%H:%M"),
    )


def _save(me: Scope, current: Schedule | None):  # type: ignore[no-untyped-def]
    form = Form(request.form.copy())
    wanted = _request(form)
    service = runtime().service
    schedule_id = current.id if current else None
    try:
        if not form.ok:  # the other fields still get their errors; nothing is saved
            catalog.check_schedule(service, me.user, wanted, now(), schedule_id)
            return _render(me, form, current, 422)
        if request.form.get("action") == "check":
            plan = catalog.check_schedule(service, me.user, wanted, now(), schedule_id)
            clashes = [clash_text(c) for c in plan.clashes]
            return _render(
                me, form, current, 409 if clashes else 200, conflicts=clashes, checked=True
            )
        saved = catalog.save_schedule(
            service, me.user, wanted, now(), schedule_id, remote_addr=request.remote_addr
        )
    except catalog.Invalid as exc:
        form.refused(exc)
        return _render(me, form, current, 422)
    except catalog.Overlaps as exc:
        clashes = [clash_text(c) for c in exc.clashes]
        return _render(me, form, current, 409, conflicts=clashes, checked=True)
    flash(_("Saved."))
    return redirect(url_for("schedules.edit", schedule_id=saved.id))


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
    catalog.delete_schedule(
        runtime().service, me.user, schedule_id, now(), remote_addr=request.remote_addr
    )
    flash(_("Deleted."))
    return redirect(url_for("schedules.index"))
