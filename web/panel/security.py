"""CSRF tokens bound to the session, and login throttling counted in the audit log."""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta
from enum import Enum

from flask import Flask, request, session

from broadcaster.errors import Forbidden
from broadcaster.store import Store
from web.auth import bearer_token
from web.proxy import client_key

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_FAILURES = 5  # per name from one client
MAX_ADDRESS_FAILURES = 20  # from one client, whatever the names
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


class Throttle(Enum):
    """Why a sign-in is refused before the password is looked at."""

    NAME = "name"  # this name failed too often from this client
    ADDRESS = "address"  # this client failed too often, whatever the names


def recent_failures(store: Store, name: str, address: str | None, now: datetime) -> int:
    """Failed sign-ins for `name` from `address` within the last 15 minutes."""
    return store.people.login_failures(name, client_key(address), now - FAILURE_WINDOW)[0]


def throttled(store: Store, name: str, address: str | None, now: datetime) -> Throttle | None:
    """Why this sign-in is refused: `MAX_FAILURES` for this name from this client, or
    `MAX_ADDRESS_FAILURES` from this client for any names, within the window; else None.

    Both are indexed counts in `login_failures`: failures for other names or from other
    clients cannot push these out of what is counted. Counting per client, not per name
    alone, keeps one client from locking a name out for everyone.
    """
    by_name, by_address = store.people.login_failures(
        name, client_key(address), now - FAILURE_WINDOW
    )
    if by_address >= MAX_ADDRESS_FAILURES:
        return Throttle.ADDRESS
    if by_name >= MAX_FAILURES:
        return Throttle.NAME
    return None


def record_failure(store: Store, name: str, address: str | None, now: datetime) -> None:
    store.people.record_login_failure(
        name, client_key(address), now, forget_before=now - FAILURE_WINDOW
    )
