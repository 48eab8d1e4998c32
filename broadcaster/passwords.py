"""Password hashing: scrypt (N=2^15, r=8, p=1) with a random salt, via werkzeug."""

from __future__ import annotations

import functools
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


@functools.cache
def _dummy_hash() -> str:
    # Made once per process with the same method and cost as real hashes.
    return generate_password_hash(secrets.token_urlsafe(16), method=METHOD)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True if `password` matches; always False for an account without a password.

    Without a hash (an unknown name, an account without a password) a dummy hash is checked
    all the same, so the answer takes as long and its timing does not tell which names exist.
    """
    if not password_hash:
        check_password_hash(_dummy_hash(), password)
        return False
    return check_password_hash(password_hash, password)


def generate_password() -> str:
    """A random password for the first admin, easy to type from a printout."""
    return secrets.token_urlsafe(12)
