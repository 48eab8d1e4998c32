"""One error hierarchy for the whole service; translated to exit codes (CLI) and HTTP (web)."""

from audio.errors import AudioError


class BroadcasterError(Exception):
    """Base of every error the service raises on purpose."""


class ConfigError(BroadcasterError):
    """The configuration file is missing, unreadable or invalid."""


class ValidationError(BroadcasterError):
    """Input from a user or device failed validation."""


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


__all__ = [
    "AudioError",
    "BroadcasterError",
    "ConfigError",
    "Conflict",
    "Forbidden",
    "NotFound",
    "StorageFull",
    "Unauthenticated",
    "ValidationError",
]
