"""What the audio pipeline may be asked for: each bound and default declared once (issue 11).

`audio` cannot import `broadcaster`, so the bounds the renderer checks live here and
`broadcaster.limits` re-exports them with the rest; the config loader, the models, the APIs,
the panel's forms (and the `min`/`max` of its inputs) and the renderer all read these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

N = TypeVar("N", int, float)


@dataclass(frozen=True, slots=True)
class Bound(Generic[N]):
    """A closed range `[low, high]` and the value used when none is given."""

    low: N
    high: N
    default: N
    unit: str = ""

    def __post_init__(self) -> None:
        if not self.low <= self.default <= self.high:
            raise ValueError(f"default {self.default} outside [{self.low}, {self.high}]")

    def __contains__(self, value: object) -> bool:
        return isinstance(value, int | float) and self.low <= value <= self.high

    def __str__(self) -> str:
        return f"{self.low:g} to {self.high:g}" + (f" {self.unit}" if self.unit else "")

    def html(self, step: str | None = None) -> str:
        """The `min`/`max` (and `step`) attributes of a number input for this bound."""
        attrs = f'min="{self.low:g}" max="{self.high:g}"'
        return attrs + (f' step="{step}"' if step else "")


# Speaking rate in words per minute (espeak-ng's unit). Below 80 espeak-ng drags syllables
# into noise; above 400 it is unintelligible. The deployment default (`audio.rate`) is 160.
RATE_WPM: Bound[int] = Bound(80, 400, 160, "words per minute")
# The synthesizer's volume. 0 would be a silent clip (refused by the clip check); 0.01 is the
# lowest any configuration could ever store, so every stored message stays loadable.
VOLUME: Bound[float] = Bound(0.01, 1.0, 1.0)
# `audio.max_chars`: the longest text rendered (the bound of the setting, and its default).
MAX_CHARS: Bound[int] = Bound(1, 10_000, 500, "characters")
# The voice used when the configuration names none.
DEFAULT_VOICE = "sit/cmn-latn-pinyin"
