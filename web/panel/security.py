"""CSRF tokens bound to the session, and login throttling counted in the audit log."""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta

from flask import Flask, request, session

from broadcaster.errors import Forbidden
from broadcaster.store import Store
from web.auth import bearer_token

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)


def csrf_token() -> str:
    """This session's CSRF token (made on first use)."""
    token = session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return str(token)


def new_csrf_token() -> str:
    """A fresh token (after sign-in, so a token seen before sign-in is useless after)."""
    session["csrf"] = secrets.token_urlsafe(32)
    return str(session["csrf"])


def _needs_check() -> bool:
    if request.method not in UNSAFE:
        return False
    if bearer_token() is not None:
        # Bearer requests carry no cookie credentials: a forged cross-site request cannot
        # add the header, so there is nothing to protect.
        return False
    if request.path.startswith("/api/"):
        # The JSON API needs the header only when a panel session would authenticate it.
        return bool(session.get("user"))
    return True


def check_csrf() -> None:
    """Refuse an unsafe cookie-authenticated request without this session's token."""
    if not _needs_check():
        return
    expected = session.get("csrf")
    given = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD) or ""
    if not expected or not hmac.compare_digest(str(expected), given):
        raise Forbidden("csrf: the security token is missing or wrong; reload the page")


def install(app: Flask) -> None:
    app.before_request(check_csrf)
    app.jinja_env.globals["csrf_token"] = csrf_token


def recent_failures(store: Store, name: str, address: str | None, now: datetime) -> int:
    """Failed sign-ins for `name` from `address` within the last 15 minutes."""
    since = now - FAILURE_WINDOW
    count = 0
    for entry in store.list_audit(limit=500, action="login.failed"):
        if entry.at < since:
            break
        if entry.object == name and entry.remote_addr == address:
            count += 1
    return count


def throttled(store: Store, name: str, address: str | None, now: datetime) -> bool:
    """True once a user and address have failed `MAX_FAILURES` times in the window."""
    return recent_failures(store, name, address, now) >= MAX_FAILURES
