"""Programs: an ordered list of messages with a gap, looped."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from broadcaster import catalog
from broadcaster.editing import Scope
from broadcaster.errors import Forbidden
from broadcaster.models import Program, Role
from web.panel.common import Form, now, page, require
from web.panel.i18n import _
from web.panel.messages import area_options
from web.runtime import runtime

bp = Blueprint("programs", __name__)


def _render(me: Scope, form: Form, program: Program | None, status: int = 200, **extra: object):  # type: ignore[no-untyped-def]
    editable = program is None or me.edits_owned("program", program.id)
    body = page(
        "panel/program_edit.html",
        form=form,
        program=program,
        editable=editable,
        areas=area_options(me),
        messages=me.messages(),
        **extra,
    )
    return body, status


@bp.get("/programs")
def index() -> str:
    me = require(Role.ADMIN, Role.CHIEF)
    titles = {m.id: m.title for m in me.deployment.messages}
    return page("panel/programs.html", programs=me.programs(), titles=titles)


@bp.get("/programs/new")
def new():  # type: ignore[no-untyped-def]
    me = require(Role.ADMIN, Role.CHIEF)
    form = Form(MultiDict({"gap_s": "5"}))
    if me.user.role is Role.CHIEF and me.own_areas():
        form.data["area"] = me.own_areas()[0].id
    return _render(me, form, None)


@bp.get("/programs/<program_id>")
def edit(program_id: str):  # type: ignore[no-untyped-def]
    me = require(Role.ADMIN, Role.CHIEF)
    program = me.program(program_id)
    data = MultiDict(
        [
            ("name", program.name),
            ("gap_s", f"{program.gap_s:g}"),
            ("area", me.owner("program", program_id) or ""),
        ]
    )
    for message_id in program.message_ids:
        data.add("messages", message_id)
    return _render(
        me, Form(data), program, used_by=[s.id for s in me.schedules_using(program_id)[0]]
    )


def _request(form: Form) -> catalog.ProgramRequest:
    """The form as a use-case request; a gap that does not parse is left out (form error)."""
    return catalog.ProgramRequest(
        id=form.raw("id") or None,
        name=form.raw("name"),
        message_ids=tuple(form.list("messages")),
        gap_s=form.decimal("gap_s"),
        area=form.raw("area") or None,
    )


@bp.post("/programs/new")
def create():  # type: ignore[no-untyped-def]
    me = require(Role.ADMIN, Role.CHIEF)
    form = Form(request.form.copy())
    wanted = _request(form)
    service = runtime().service
    try:
        if not form.ok:  # the other fields still get their errors; nothing is saved
            catalog.check_program(service, me.user, wanted, now())
        else:
            saved = catalog.create_program(
                service, me.user, wanted, now(), remote_addr=request.remote_addr
            )
    except catalog.Invalid as exc:
        form.refused(exc)
    if not form.ok:
        return _render(me, form, None, 422)
    flash(_("Saved."))
    return redirect(url_for("programs.edit", program_id=saved.program.id))


@bp.post("/programs/<program_id>")
def update(program_id: str):  # type: ignore[no-untyped-def]
    me = require(Role.ADMIN, Role.CHIEF)
    current = me.program(program_id)
    if not me.edits_owned("program", program_id):
        raise Forbidden("only an admin edits district-wide programs")
    form = Form(request.form.copy())
    wanted = _request(form)
    service = runtime().service
    try:
        if not form.ok:
            catalog.check_program(service, me.user, wanted, now(), program_id)
        else:
            catalog.update_program(
                service, me.user, program_id, wanted, now(), remote_addr=request.remote_addr
            )
    except catalog.Invalid as exc:
        form.refused(exc)
    if not form.ok:
        return _render(me, form, current, 422)
    flash(_("Saved."))
    return redirect(url_for("programs.edit", program_id=program_id))


@bp.post("/programs/<program_id>/delete")
def delete(program_id: str) -> Response | tuple[str, int]:
    me = require(Role.ADMIN, Role.CHIEF)
    program = me.program(program_id)
    try:
        catalog.delete_program(
            runtime().service, me.user, program_id, now(), remote_addr=request.remote_addr
        )
    except catalog.InUse as exc:
        users = list(exc.users)
        form = Form(MultiDict([("name", program.name), ("gap_s", f"{program.gap_s:g}")]))
        for message_id in program.message_ids:
            form.data.add("messages", message_id)
        others = _("Schedules outside your areas use it.") if exc.others else ""
        if users:
            shown = _(
                "Cannot delete: it is used by the schedules %(names)s.", names="、".join(users)
            )
            reason = f"{shown} {others}".strip()
        else:
            reason = _("Cannot delete: %(reason)s", reason=others or _("It is still in use."))
        return _render(me, form, program, 409, delete_error=reason, used_by=users)
    flash(_("Deleted."))
    return redirect(url_for("programs.index"))
