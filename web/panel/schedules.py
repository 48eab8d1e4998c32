"""Schedules: a program on speakers or areas in daily windows; conflicts shown before saving."""

from __future__ import annotations

from datetime import date, time, timedelta

from flask import Blueprint, flash, redirect, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from broadcaster import catalog
from broadcaster.editing import Scope
from broadcaster.models import Role, Schedule
from web.panel import week
from web.panel.common import Form, local, now, page, require
from web.panel.i18n import _
from web.runtime import runtime

bp = Blueprint("schedules", __name__)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _hours() -> tuple[time, time]:
    """The district's playing hours (`deployment.default_window`): from, and the hard stop."""
    first, stop = runtime().settings.default_window
    return first, stop


def _render(me: Scope, form: Form, schedule: Schedule | None, status: int = 200, **extra: object):  # type: ignore[no-untyped-def]
    first, stop = _hours()
    body = page(
        "panel/schedule_edit.html",
        form=form,
        schedule=schedule,
        weekdays=WEEKDAYS,
        programs=me.programs(),
        speakers=list(me.speakers.values()),
        areas=me.own_areas(),
        hours_from=first.strftime("%H:%M"),
        hours_to=stop.strftime("%H:%M"),
        late_warning=_late_warning(form),
        program_name=next(
            (p.name for p in me.deployment.programs if schedule and p.id == schedule.program_id),
            "",
        ),
        **extra,
    )
    return body, status


def _late_warning(form: Form) -> str | None:
    """Said next to the times (and asked again before saving) when the window plays outside
    the district's hours: at night or past the hard stop."""
    try:
        start, end = time.fromisoformat(form.raw("start")), time.fromisoformat(form.raw("end"))
    except ValueError:
        return None
    first, stop = _hours()
    if not week.outside_hours(start, end, (first, stop)):
        return None
    return _(
        "This window plays outside the district's hours (%(first)s to %(stop)s): at night or "
        "after the hard stop. Is that what you want?",
        first=first.strftime("%H:%M"),
        stop=stop.strftime("%H:%M"),
    )


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
    if s.first_date is not None and s.first_date == s.last_date:
        data["how_often"] = "once"
        data["on_date"] = s.first_date.isoformat()
    elif s.first_date is not None or s.last_date is not None:
        data["how_often"] = "range"
    else:
        data["how_often"] = "weekly"
    return data


@bp.get("/schedules")
def index() -> tuple[str, int]:
    """The user's schedules, those of the district that play on their loudspeakers too (read
    only, not named by id), and the week of their loudspeakers as a calendar."""
    me = require(Role.ADMIN, Role.CHIEF)
    names = {p.id: p.name for p in me.deployment.programs}
    zone = runtime().settings.zone
    today = now().astimezone(zone).date()
    status, error = 200, None
    try:
        wanted = date.fromisoformat(request.args.get("week") or today.isoformat())
        if not date(2000, 1, 3) <= wanted <= date(9998, 12, 24):
            raise ValueError(wanted)
    except ValueError:
        wanted, status = today, 400
        error = _("Enter a date like 2025-05-01.")
    monday = wanted - timedelta(days=wanted.weekday())
    own = {s.id for s in me.schedules()}
    others = [d for d in week.driving(me) if d.schedule.id not in own]
    body = page(
        "panel/schedules.html",
        schedules=me.schedules(),
        names=names,
        weekdays=WEEKDAYS,
        district=others,
        week=week.week(me, runtime().service.store, monday, today, _hours()),
        when=when,
        error=error,
        local=local,
    )
    return body, status


def when(s: Schedule) -> str:
    """On which days a schedule plays, in words: one day, a range of days, or weekdays."""
    if s.first_date is not None and s.first_date == s.last_date:
        return _("only on %(day)s", day=s.first_date.isoformat())
    days = "、".join(_(WEEKDAYS[d]) for d in sorted(s.weekdays)) if len(s.weekdays) < 7 else ""
    days = _("every day") if not days else _("every week on %(days)s", days=days)
    if s.first_date is None and s.last_date is None:
        return days
    first = s.first_date.isoformat() if s.first_date else "…"
    last = s.last_date.isoformat() if s.last_date else "…"
    return _("%(days)s, from %(first)s to %(last)s", days=days, first=first, last=last)


@bp.get("/schedules/new")
def new():  # type: ignore[no-untyped-def]
    me = require(Role.ADMIN, Role.CHIEF)
    moment = now().astimezone(runtime().settings.zone)
    first, stop = _hours()
    start = max(moment.time().replace(second=0, microsecond=0), first)
    data = MultiDict(
        [
            ("start", start.strftime("%H:%M")),
            ("end", stop.strftime("%H:%M")),
            ("priority", "0"),
            ("enabled", "1"),
            # New schedules play today only unless the user chooses days or weeks.
            ("how_often", "once"),
            ("on_date", moment.date().isoformat()),
        ]
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
    schedule = me.schedule(schedule_id)
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
    """The form as a use-case request; values that do not parse are left out (form errors).

    `how_often`: "once" plays on `on_date` (any weekday), "range" from `first_date` to
    `last_date` on the ticked weekdays, "weekly" on the ticked weekdays with no end; without
    it (older forms, scripts) the dates are taken as given."""
    try:
        weekdays = frozenset(int(d) for d in form.list("weekdays"))
    except ValueError:
        weekdays = frozenset({-1})  # refused by the use case as "no weekday"
    often = form.raw("how_often")
    first_date, last_date = _date(form, "first_date"), _date(form, "last_date")
    if often == "once":
        first_date = last_date = _date(form, "on_date")
        if first_date is None and "on_date" not in form.errors:
            form.error("on_date", _("Enter a date like 2025-05-01."))
        weekdays = frozenset(range(7))
    elif often == "range":
        if first_date is None and "first_date" not in form.errors:
            form.error("first_date", _("Enter a date like 2025-05-01."))
        if last_date is None and "last_date" not in form.errors:
            form.error("last_date", _("Enter a date like 2025-05-01."))
    elif often == "weekly":
        first_date = last_date = None
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
        first_date=first_date,
        last_date=last_date,
        exceptions=frozenset(exceptions),
        priority=form.whole("priority"),
        enabled=form.flag("enabled"),
        accept_conflicts=form.flag("accept_conflicts"),
    )


def clash_text(clash: catalog.Clash) -> str:
    if clash.other is None:  # a schedule the user may not see: told, not named
        return _(
            "Overlaps a schedule set outside your areas (by the district office or another "
            "chief) at the same priority on %(speaker)s (first %(start)s-%(end)s).",
            speaker=clash.speaker,
            start=clash.start.strftime("%m-%d %H:%M"),
            end=clash.end.strftime("%H:%M"),
        )
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
    if _late_warning(form):
        flash(_("Note: it plays outside the district's hours."))
    return redirect(url_for("schedules.edit", schedule_id=saved.id))


@bp.post("/schedules/new")
def create():  # type: ignore[no-untyped-def]
    return _save(require(Role.ADMIN, Role.CHIEF), None)


@bp.post("/schedules/<schedule_id>")
def update(schedule_id: str):  # type: ignore[no-untyped-def]
    me = require(Role.ADMIN, Role.CHIEF)
    return _save(me, me.schedule(schedule_id))


@bp.post("/schedules/<schedule_id>/delete")
def delete(schedule_id: str) -> Response:
    me = require(Role.ADMIN, Role.CHIEF)
    catalog.delete_schedule(
        runtime().service, me.user, schedule_id, now(), remote_addr=request.remote_addr
    )
    flash(_("Deleted."))
    return redirect(url_for("schedules.index"))
