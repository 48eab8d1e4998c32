"""Exponential backoff with full jitter, for every network retry of the client."""

from __future__ import annotations

import random


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
