"""Who is asking: a speaker's device token, a user's personal token or a panel session."""

from __future__ import annotations

import hashlib
from datetime import datetime

from flask import g, request, session

from broadcaster.errors import Forbidden, NotFound, Unauthenticated
from broadcaster.models import User
from broadcaster.store import TokenKind
from web.runtime import runtime


def bearer_token() -> str | None:
    """The token of an `Authorization: Bearer ...` header, if any."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def require_device(speaker_id: str, now: datetime) -> str:
    """The speaker a device token belongs to; 401 without a valid one, 403 for another's path."""
    token = bearer_token()
    if token is None:
        raise Unauthenticated("a device token is required (Authorization: Bearer ...)")
    subject = runtime().service.store.people.verify_token(token, TokenKind.DEVICE, now)
    if subject is None:
        raise Unauthenticated("the token is unknown or revoked")
    g.actor = f"speaker:{subject}"
    if subject != speaker_id:
        raise Forbidden(f"this token belongs to another speaker, not {speaker_id!r}")
    return subject


def require_any_device(now: datetime) -> str:
    """Any valid device token (for clip downloads, which are not secret per speaker)."""
    token = bearer_token()
    if token is None:
        raise Unauthenticated("a device token is required (Authorization: Bearer ...)")
    subject = runtime().service.store.people.verify_token(token, TokenKind.DEVICE, now)
    if subject is None:
        raise Unauthenticated("the token is unknown or revoked")
    g.actor = f"speaker:{subject}"
    return subject


def current_user(now: datetime) -> User:
    """The signed-in user: a personal bearer token or a panel session; 401 otherwise.

    A disabled user is refused even with a session or token issued before.
    """
    store = runtime().service.store
    token = bearer_token()
    if token is not None:
        name = store.people.verify_token(token, TokenKind.USER, now)
        if name is None:
            raise Unauthenticated("the token is unknown or revoked")
    else:
        name = session.get("user")
        if not name:
            raise Unauthenticated("sign in first")
    try:
        record = store.people.get_user(name)
    except NotFound:
        raise Unauthenticated("the account no longer exists") from None
    if record.disabled:
        session.clear()
        raise Unauthenticated("the account is disabled")
    if token is None and session.get("epoch") != session_epoch(
        record.password_hash, record.session_generation
    ):
        session.clear()  # the password changed or the user signed out since it began
        raise Unauthenticated("the session has ended; sign in again")
    g.actor = f"user:{record.user.name}"
    g.user = record.user
    return record.user


def session_epoch(password_hash: str | None, generation: str) -> str:
    """A short fingerprint of the password hash and the user's session generation.

    Changing the password or signing out (which moves the generation) ends the sessions
    begun before, also in a copied cookie: Flask's sessions live in the cookie alone.
    """
    return hashlib.sha256(f"{password_hash or ''}|{generation}".encode()).hexdigest()[:16]
