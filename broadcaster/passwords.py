"""Password hashing: scrypt (N=2^15, r=8, p=1) with a random salt, via werkzeug."""

from __future__ import annotations

import secrets

from werkzeug.security import check_password_hash, generate_password_hash

from broadcaster.errors import ValidationError

METHOD = "scrypt:32768:8:1"
MIN_LENGTH = 8


def hash_password(password: str) -> str:
    """A salted scrypt hash of `password` (refuses passwords that are too short)."""
    if len(password) < MIN_LENGTH:
        raise ValidationError(f"password: at least {MIN_LENGTH} characters")
    return generate_password_hash(password, method=METHOD)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True if `password` matches; always False for an account without a password."""
    if not password_hash:
        return False
    return check_password_hash(password_hash, password)


def generate_password() -> str:
    """A random password for the first admin, easy to type from a printout."""
    return secrets.token_urlsafe(12)
