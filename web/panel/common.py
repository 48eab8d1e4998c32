"""What every panel view needs: the signed-in user, their scope, audit lines, small forms."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask import g, render_template, request
from werkzeug.datastructures import MultiDict

from broadcaster import limits
from broadcaster.catalog import Invalid
from broadcaster.editing import Scope, scope_for
from broadcaster.errors import Forbidden
from broadcaster.models import Role, User
from web.auth import current_user
from web.panel.i18n import _
from web.runtime import runtime


def now() -> datetime:
    """The request's one reading of the clock."""
    if "now" not in g:
        g.now = runtime().clock()
    found: datetime = g.now
    return found


def user() -> User:
    """The signed-in user (a disabled user's session ends here: see web.auth)."""
    return current_user(now())


def scope() -> Scope:
    """The user's scope over the current deployment."""
    if "scope" not in g:
        service = runtime().service
        g.scope = scope_for(user(), service.store, service.deployment(now()))
    found: Scope = g.scope
    return found


def require(*roles: Role) -> Scope:
    """The scope, or 403 for a role that may not use this page."""
    found = scope()
    if found.user.role not in roles:
        raise Forbidden(f"this needs the role {' or '.join(r.value for r in roles)}")
    return found


def audit(action: str, obj: str, detail: Mapping[str, Any] | None = None) -> None:
    """One audit line for an edit made in the panel."""
    rt = runtime()
    rt.service.store.journal.append_audit(
        now(),
        getattr(g, "actor", "anonymous"),
        action,
        obj,
        dict(detail or {}),
        request.remote_addr,
    )


def local(moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """A time in the deployment's zone, formatted; empty for None, "—" (unknown) for a time
    the zone cannot show (a device-reported year 9999 stored by an older server)."""
    if moment is None:
        return ""
    try:
        return moment.astimezone(runtime().settings.zone).strftime(fmt)
    except (OverflowError, ValueError):
        return "—"


def local_iso(moment: datetime | None) -> str:
    """ISO 8601 in the deployment's zone (as in the CSV files); empty when unknown or when the
    zone cannot show it (a device-reported year 9999 stored by an older server)."""
    if moment is None:
        return ""
    try:
        return moment.astimezone(runtime().settings.zone).isoformat()
    except (OverflowError, ValueError):
        return ""


def page(template: str, **context: Any) -> str:
    """Render a panel page with the user and scope the layout needs."""
    return render_template(template, me=scope(), **context)


class Form:
    """Values as typed and the errors next to each field; nothing is saved unless `ok`."""

    def __init__(self, data: MultiDict[str, str] | None = None) -> None:
        self.data: MultiDict[str, str] = data if data is not None else MultiDict()
        self.errors: dict[str, str] = {}

    @property
    def ok(self) -> bool:
        return not self.errors

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    def raw(self, name: str) -> str:
        return (self.data.get(name) or "").strip()

    def list(self, name: str) -> list[str]:
        return [v for v in self.data.getlist(name) if v.strip()]

    def text(self, name: str, *, required: bool = True, max_len: int = 200) -> str:
        value = self.raw(name)
        if required and not value:
            self.error(name, _("Required."))
        elif len(value) > max_len:
            self.error(name, _("At most %(n)s characters.", n=max_len))
        return value

    def ident(self, name: str) -> str:
        """An id: letters, digits, '-' and '_' only."""
        value = self.text(name, max_len=limits.ID_MAX)
        if value and not all(c.isascii() and (c.isalnum() or c in "-_") for c in value):
            self.error(name, _("Use only letters, digits, - and _."))
        return value

    def integer(self, name: str, low: int, high: int) -> int:
        value = self.raw(name)
        try:
            number = int(value)
        except ValueError:
            self.error(name, _("Enter a whole number."))
            return low
        if not low <= number <= high:
            self.error(name, _("Must be from %(low)s to %(high)s.", low=low, high=high))
        return number

    def number(self, name: str, low: float, high: float) -> float:
        value = self.raw(name)
        try:
            number = float(value)
        except ValueError:
            self.error(name, _("Enter a number."))
            return low
        if not low <= number <= high:
            self.error(name, _("Must be from %(low)s to %(high)s.", low=low, high=high))
        return number

    def within(self, name: str, bound: limits.Bound[int] | limits.Bound[float]) -> float:
        """A number within `bound` (a whole number when the bound's default is one)."""
        if isinstance(bound.default, int):
            return self.integer(name, int(bound.low), int(bound.high))
        return self.number(name, bound.low, bound.high)

    def flag(self, name: str) -> bool:
        return self.raw(name) in ("1", "on", "true", "yes")

    def whole(self, name: str) -> int | None:
        """A whole number, range unchecked (the use case checks it); None after an error."""
        try:
            return int(self.raw(name))
        except ValueError:
            self.error(name, _("Enter a whole number."))
            return None

    def decimal(self, name: str) -> float | None:
        """A number, range unchecked (the use case checks it); None after an error."""
        try:
            number = float(self.raw(name))
        except ValueError:
            self.error(name, _("Enter a number."))
            return None
        return number

    def refused(self, exc: Invalid) -> None:
        """A use case's refusals next to their fields, in the user's language."""
        for problem in exc.problems:
            self.error(problem.field, _(problem.text, **problem.values))
