"""Users (admin): create, assign areas or a vehicle, set a password, disable."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from broadcaster import limits
from broadcaster.editing import Scope
from broadcaster.errors import NotFound
from broadcaster.models import Role, SpeakerKind, User
from broadcaster.passwords import MIN_LENGTH, hash_password
from broadcaster.store import UserRecord
from web.panel.common import Form, audit, now, page, require
from web.panel.i18n import _
from web.runtime import runtime

bp = Blueprint("users", __name__)


def _render(me: Scope, form: Form, record: UserRecord | None, status: int = 200):  # type: ignore[no-untyped-def]
    vehicles = [s for s in me.deployment.speakers if s.kind is SpeakerKind.VEHICLE]
    body = page(
        "panel/user_edit.html",
        form=form,
        record=record,
        roles=list(Role),
        areas=me.own_areas(),
        vehicles=vehicles,
    )
    return body, status


def _record(name: str) -> UserRecord:
    return runtime().service.store.people.get_user(name)


@bp.get("/users")
def index() -> str:
    require(Role.ADMIN)
    return page("panel/users.html", users=runtime().service.store.people.list_users())


@bp.get("/users/new")
def new():  # type: ignore[no-untyped-def]
    return _render(require(Role.ADMIN), Form(MultiDict({"role": "chief"})), None)


@bp.get("/users/<name>")
def edit(name: str):  # type: ignore[no-untyped-def]
    me = require(Role.ADMIN)
    record = _record(name)
    data = MultiDict(
        [
            ("role", record.user.role.value),
            ("vehicle", record.user.vehicle_id or ""),
            ("display_name", record.display_name or ""),
        ]
    )
    for area in record.user.area_ids:
        data.add("areas", area)
    return _render(me, Form(data), record)


def _user_from(form: Form, me: Scope, name: str) -> User | None:
    role = form.raw("role")
    if role not in {r.value for r in Role}:
        form.error("role", _("Choose a role."))
    areas = form.list("areas")
    vehicle = form.raw("vehicle") or None
    if any(a not in me.areas for a in areas):
        form.error("areas", _("Choose areas from the list."))
    if role == Role.CHIEF.value and not areas:
        form.error("areas", _("A chief needs at least one area."))
    vehicles = {s.id for s in me.deployment.speakers if s.kind is SpeakerKind.VEHICLE}
    if role == Role.OPERATOR.value and vehicle not in vehicles:
        form.error("vehicle", _("An operator needs a vehicle."))
    if not form.ok:
        return None
    return User(
        name,
        Role(role),
        tuple(areas) if role == Role.CHIEF.value else (),
        vehicle if role == Role.OPERATOR.value else None,
    )


def _display_name(form: Form) -> str | None:
    """The name the panel shows for the user (e.g. 张村长), blank for the login name."""
    value = form.text("display_name", required=False, max_len=limits.DISPLAY_NAME_MAX)
    if any(not c.isprintable() for c in value):
        form.error("display_name", _("Use letters, digits and punctuation only."))
    return value or None


def _password(form: Form, *, required: bool) -> str | None:
    password = form.data.get("password") or ""
    if not password and not required:
        return None
    if len(password) < MIN_LENGTH:
        form.error("password", _("At least %(n)s characters.", n=MIN_LENGTH))
    elif password != (form.data.get("password2") or ""):
        form.error("password2", _("The two passwords differ."))
    return password


@bp.post("/users/new")
def create():  # type: ignore[no-untyped-def]
    me = require(Role.ADMIN)
    form = Form(request.form.copy())
    name = form.ident("name")
    if name and name in {r.user.name for r in runtime().service.store.people.list_users()}:
        form.error("name", _("This name is taken."))
    user = _user_from(form, me, name or "x")
    shown = _display_name(form)
    password = _password(form, required=True)
    if user is None or not form.ok or password is None:
        return _render(me, form, None, 422)
    store = runtime().service.store
    store.people.create_user(user, now(), password_hash=hash_password(password))
    store.people.set_display_name(name, shown)
    audit(
        "user.create",
        name,
        {
            "display_name": shown,
            "role": user.role.value,
            "areas": list(user.area_ids),
            "vehicle": user.vehicle_id,
        },
    )
    flash(_("Saved."))
    return redirect(url_for("users.edit", name=name))


@bp.post("/users/<name>")
def update(name: str):  # type: ignore[no-untyped-def]
    me = require(Role.ADMIN)
    record = _record(name)
    form = Form(request.form.copy())
    user = _user_from(form, me, name)
    shown = _display_name(form)
    password = _password(form, required=False)
    if user is None or not form.ok:
        return _render(me, form, record, 422)
    store = runtime().service.store
    store.people.update_user(user)
    store.people.set_display_name(name, shown)
    if password is not None:
        store.people.set_password_hash(name, hash_password(password))
    audit(
        "user.update",
        name,
        {
            "display_name": shown,
            "role": user.role.value,
            "areas": list(user.area_ids),
            "vehicle": user.vehicle_id,
            "password": password is not None,
        },
    )
    flash(_("Saved."))
    return redirect(url_for("users.edit", name=name))


@bp.post("/users/<name>/disable")
def disable(name: str) -> Response:
    me = require(Role.ADMIN)
    record = _record(name)
    disabled = request.form.get("disabled") == "1"
    if name == me.user.name and disabled:
        raise NotFound("you cannot disable yourself")
    runtime().service.store.people.set_user_disabled(record.user.name, disabled)
    audit("user.disable" if disabled else "user.enable", name, {})
    flash(_("Saved."))
    return redirect(url_for("users.edit", name=name))
