"""Exponential backoff with full jitter, for every network retry of the client."""

from __future__ import annotations

import logging
import random

log = logging.getLogger(__name__)


class Backoff:
    """Delays from ``base_s`` growing to ``cap_s``, each drawn uniformly (full jitter)."""

    def __init__(
        self, base_s: float = 1.0, cap_s: float = 60.0, rng: random.Random | None = None
    ) -> None:
        self.base_s = base_s
        self.cap_s = cap_s
        self.failures = 0
        self._rng = rng or random.Random()

    def next(self) -> float:
        """The delay before the next try, after one more failure."""
        ceiling = min(self.cap_s, self.base_s * 2**self.failures)
        self.failures = min(self.failures + 1, 32)
        return self._rng.uniform(self.base_s, max(self.base_s, ceiling))

    def reset(self) -> None:
        self.failures = 0


# A refused token is not fixed by hammering the server: retry slowly.
UNAUTHORIZED_RETRY_S = 60.0


def delay_after_failure(
    what: str, exc: BaseException, backoff: Backoff, cap_s: float | None = None
) -> float:
    """How long a loop waits after `what` failed with `exc`, logged in one line
    (with the traceback only for an unexpected error)."""
    from broadcaster.client.api import Unauthorized
    from broadcaster.errors import BroadcasterError

    if isinstance(exc, Unauthorized):
        log.error(
            "%s: the server rejects our token (%s); retrying in %.0f s",
            what,
            exc,
            UNAUTHORIZED_RETRY_S,
        )
        return UNAUTHORIZED_RETRY_S
    delay = backoff.next() if cap_s is None else min(backoff.next(), cap_s)
    if isinstance(exc, (BroadcasterError, OSError)):
        log.warning("%s failed: %s; retrying in %.1f s", what, exc, delay)
    else:
        log.error("%s failed unexpectedly; retrying in %.1f s", what, delay, exc_info=exc)
    return delay
