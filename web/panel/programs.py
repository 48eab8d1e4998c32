"""Programs: an ordered list of messages with a gap, looped."""

from __future__ import annotations

import secrets

from flask import Blueprint, flash, redirect, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from broadcaster import editing
from broadcaster.editing import Scope
from broadcaster.errors import Conflict, Forbidden, NotFound
from broadcaster.models import Program, Role
from web.panel.common import Form, audit, page, require
from web.panel.i18n import _
from web.panel.messages import area_options
from web.runtime import runtime

bp = Blueprint("programs", __name__)


def visible(me: Scope, program_id: str) -> Program:
    for program in me.programs():
        if program.id == program_id:
            return program
    raise NotFound(f"no program {program_id!r}")


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
    program = visible(me, program_id)
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
        me, Form(data), program, used_by=editing.programs_using(me.deployment, program_id)
    )


def _validate(form: Form, me: Scope, current: Program | None) -> Program | None:
    program_id = current.id if current else (form.raw("id") or f"p-{secrets.token_hex(4)}")
    if current is None and form.raw("id"):
        form.ident("id")
        if any(p.id == program_id for p in me.deployment.programs):
            form.error("id", _("This id is taken."))
    name = form.text("name", max_len=100)
    gap = form.number("gap_s", 0, 3600)
    chosen = form.list("messages")
    allowed = {m.id for m in me.messages()}
    if not chosen:
        form.error("messages", _("Add at least one message."))
    elif editing.ids_in(chosen, allowed):
        form.error("messages", _("Choose messages from the list."))
    area = form.raw("area") or None
    if (area is not None and area not in me.reach) or (area is None and not me.is_admin):
        form.error("area", _("Choose one of your areas."))
    if not form.ok:
        return None
    return Program(program_id, name, tuple(chosen), gap)


@bp.post("/programs/new")
def create():  # type: ignore[no-untyped-def]
    me = require(Role.ADMIN, Role.CHIEF)
    form = Form(request.form.copy())
    program = _validate(form, me, None)
    if program is None:
        return _render(me, form, None, 422)
    area = form.raw("area") or None
    store = runtime().service.store
    if area:
        editing.set_owner(store, "program", program.id, area)
    store.create_program(program)
    audit("program.create", program.id, {"messages": list(program.message_ids), "area": area})
    flash(_("Saved."))
    return redirect(url_for("programs.edit", program_id=program.id))


@bp.post("/programs/<program_id>")
def update(program_id: str):  # type: ignore[no-untyped-def]
    me = require(Role.ADMIN, Role.CHIEF)
    current = visible(me, program_id)
    if not me.edits_owned("program", program_id):
        raise Forbidden("only an admin edits district-wide programs")
    form = Form(request.form.copy())
    program = _validate(form, me, current)
    if program is None:
        return _render(me, form, current, 422)
    area = form.raw("area") or None
    store = runtime().service.store
    store.update_program(program)
    if area != me.owner("program", program_id):
        editing.set_owner(store, "program", program_id, area)
    audit(
        "program.update",
        program_id,
        {"messages": list(program.message_ids), "gap_s": program.gap_s, "area": area},
    )
    flash(_("Saved."))
    return redirect(url_for("programs.edit", program_id=program_id))


@bp.post("/programs/<program_id>/delete")
def delete(program_id: str) -> Response | tuple[str, int]:
    me = require(Role.ADMIN, Role.CHIEF)
    program = visible(me, program_id)
    if not me.edits_owned("program", program_id):
        raise Forbidden("only an admin deletes district-wide programs")
    store = runtime().service.store
    try:
        store.delete_program(program_id)
    except Conflict:
        users = editing.programs_using(me.deployment, program_id)
        form = Form(MultiDict([("name", program.name), ("gap_s", f"{program.gap_s:g}")]))
        for message_id in program.message_ids:
            form.data.add("messages", message_id)
        reason = _("Cannot delete: it is used by the schedules %(names)s.", names="、".join(users))
        return _render(me, form, program, 409, delete_error=reason, used_by=users)
    editing.set_owner(store, "program", program_id, None)
    audit("program.delete", program_id, {})
    flash(_("Deleted."))
    return redirect(url_for("programs.index"))
