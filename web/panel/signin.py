"""Sign in and out of the panel."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, g, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from broadcaster.errors import NotFound, Unauthenticated
from broadcaster.passwords import verify_password
from web.audit_limit import anonymous_line
from web.auth import current_user, session_epoch
from web.panel.common import now
from web.panel.i18n import _
from web.panel.security import (
    MAX_ADDRESS_FAILURES,
    MAX_FAILURES,
    Throttle,
    new_csrf_token,
    record_failure,
    throttled,
)
from web.proxy import client_key
from web.runtime import runtime

bp = Blueprint("signin", __name__)


def _safe_next(target: str | None) -> str:
    # Only a path on this site: never redirect to another host after sign-in.
    if not target or not target.startswith("/") or target.startswith("//"):
        return url_for("dashboard.index")
    parts = urlsplit(target)
    return parts.path + (f"?{parts.query}" if parts.query else "")


@bp.get("/login")
def login_form() -> str:
    return render_template("panel/login.html", name="", error=None, next=request.args.get("next"))


@bp.post("/login")
def login() -> Response | tuple[str, int]:
    store = runtime().service.store
    moment = now()
    name = (request.form.get("name") or "").strip()[:100]
    password = request.form.get("password") or ""
    address = request.remote_addr
    target = request.form.get("next")
    refused = throttled(store, name, address, moment)
    if refused is not None:
        left_out = anonymous_line(client_key(address), moment)
        if left_out is not None:  # a locked-out script does not fill the audit log either
            detail = {"by": refused.value, **({"suppressed": left_out} if left_out else {})}
            store.journal.append_audit(
                moment, "anonymous", "login.throttled", name, detail, address
            )
        if refused is Throttle.ADDRESS:
            error = _("Too many failed sign-ins from this computer. Wait 15 minutes and try again.")
        else:
            error = _(
                "Too many failed sign-ins for this name from this computer. Wait 15 minutes "
                "and try again."
            )
        return render_template("panel/login.html", name=name, error=error, next=target), 429
    try:
        record = store.people.get_user(name) if name else None
    except NotFound:
        record = None
    # The password is checked in every case (a dummy hash without an account or password),
    # so that how long the answer takes does not tell which names exist.
    matches = verify_password(record.password_hash if record else None, password)
    if record is None or record.disabled or not matches:
        record_failure(store, name, address, moment)
        store.journal.append_audit(
            moment,
            "anonymous",
            "login.failed",
            name,
            {
                "reason": "disabled" if record and record.disabled else "password",
                "limit": MAX_FAILURES,
                "address_limit": MAX_ADDRESS_FAILURES,
            },
            address,
        )
        error = _("Wrong name or password.")
        return render_template("panel/login.html", name=name, error=error, next=target), 401
    lang = session.get("lang")
    session.clear()
    session.permanent = True
    session["user"] = record.user.name
    session["epoch"] = session_epoch(record.password_hash, record.session_generation)
    if lang:
        session["lang"] = lang
    new_csrf_token()
    store.journal.append_audit(
        moment, f"user:{record.user.name}", "login", record.user.name, {}, address
    )
    g.actor = f"user:{record.user.name}"  # the access log names who signed in
    return redirect(_safe_next(target))


@bp.post("/logout")
def logout() -> Response:
    moment = now()
    lang = session.get("lang")
    if session.get("user"):
        try:
            name = current_user(moment).name
        except Unauthenticated:
            pass  # an ended session: nothing to end (and no one else to sign out)
        else:
            store = runtime().service.store
            # Ends this account's sessions in every browser, so a copied cookie is useless.
            store.people.end_sessions(name)
            store.journal.append_audit(
                moment, f"user:{name}", "logout", name, {}, request.remote_addr
            )
    session.clear()
    if lang:
        session["lang"] = lang
    return redirect(url_for("signin.login_form"))
