"""One error hierarchy for the whole service; translated to exit codes (CLI) and HTTP (web)."""

from __future__ import annotations

from audio.errors import AudioError, BroadcasterError, InvalidInput, SynthesisError, UnknownVoice


class ConfigError(BroadcasterError):
    """The configuration file is missing, unreadable or invalid."""


class ValidationError(BroadcasterError):
    """Input from a user or device failed validation. `field` names what was refused (the
    JSON API answers it as `error.field`): `entries[0].kind`, `speakers`; None when the
    refusal is about no one field. The message still starts with it, as people read it."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field

    @classmethod
    def at(cls, field: str, text: str) -> ValidationError:
        """The refusal of `field`, said as `field: text`."""
        return cls(f"{field}: {text}", field=field)


class NotFound(BroadcasterError):
    """A referenced object does not exist (or the caller may not know it exists)."""


class Conflict(BroadcasterError):
    """The request conflicts with the current state."""


class Forbidden(BroadcasterError):
    """The caller is known but not allowed to do this."""


class Unauthenticated(BroadcasterError):
    """No valid credentials: a missing, unknown or revoked token, or no session."""


class StorageFull(BroadcasterError):
    """The disk under the data folder is full: a change could not be saved."""


class Busy(BroadcasterError):
    """Too much of this work is under way (for this user, or for everyone): try again after
    `retry_after_s` seconds (HTTP 429 with Retry-After). `reason` is "user" or "queue"."""

    def __init__(self, message: str, *, reason: str, retry_after_s: int, limit: int) -> None:
        super().__init__(message)
        self.reason = reason
        self.retry_after_s = retry_after_s
        self.limit = limit


__all__ = [
    "AudioError",
    "BroadcasterError",
    "Busy",
    "ConfigError",
    "Conflict",
    "Forbidden",
    "InvalidInput",
    "NotFound",
    "StorageFull",
    "SynthesisError",
    "Unauthenticated",
    "UnknownVoice",
    "ValidationError",
]
