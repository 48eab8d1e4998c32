"""What to do with an incoming CAP alert (issue 15): pure rules, no I/O.

Rules are tried in order; the first whose every given field matches decides. A field left out
matches anything; a list matches any of its values. With no rules configured the default is
the issue's: `Extreme` and `Immediate` broadcast at once, overriding the windows; everything
else is held for a chief's or admin's approval. Whatever the rules say, only `Actual` alerts
of type Alert/Update/Cancel are acted on: exercises, tests, system messages, drafts, acks and
errors are recorded (audit) and ignored, as the specification tells recipients to do.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass

from broadcaster.cap.document import Alert, Info


class Action(enum.StrEnum):
    BROADCAST = "broadcast"  # at once, within the speakers' windows
    BROADCAST_OVERRIDE = "broadcast_override"  # at once, also outside the windows
    HOLD = "hold"  # waits for approval in the panel
    IGNORE = "ignore"  # recorded, not acted on


@dataclass(frozen=True, slots=True)
class Rule:
    action: Action
    source: tuple[str, ...] = ()  # configured source names (the feed or key it came through)
    event: tuple[str, ...] = ()
    severity: tuple[str, ...] = ()
    urgency: tuple[str, ...] = ()
    certainty: tuple[str, ...] = ()

    def matches(self, source: str, info: Info) -> bool:
        pairs = (
            (self.source, source),
            (self.event, info.event),
            (self.severity, info.severity),
            (self.urgency, info.urgency),
            (self.certainty, info.certainty),
        )
        return all(not wanted or value in wanted for wanted, value in pairs)


DEFAULT_RULES = (
    Rule(Action.BROADCAST_OVERRIDE, severity=("Extreme",), urgency=("Immediate",)),
    Rule(Action.HOLD),
)


def decide(alert: Alert, info: Info, source: str, rules: Sequence[Rule] = ()) -> Action:
    """The action for `info` of `alert`, received from `source`."""
    if alert.status != "Actual" or alert.msg_type not in ("Alert", "Update", "Cancel"):
        return Action.IGNORE
    for rule in rules or DEFAULT_RULES:
        if rule.matches(source, info):
            return rule.action
    return Action.HOLD


def choose_info(alert: Alert, language: str = "zh-CN") -> Info | None:
    """The info block to broadcast: the deployment's language exactly, else the same primary
    language (zh-TW for zh-CN), else the first."""
    if not alert.infos:
        return None
    wanted = language.lower()
    primary = wanted.split("-")[0]
    for match in (
        lambda lang: lang == wanted,
        lambda lang: lang.split("-")[0] == primary,
    ):
        found = [i for i in alert.infos if match(i.language.lower())]
        if found:
            return found[0]
    return alert.infos[0]


_END = re.compile(r"[。！？!?.…]$")


def spoken_text(info: Info) -> str:
    """What the loudspeakers say: headline, description and instruction, each once (a part
    that another part contains is left out), each ending as a sentence (the normalizer reads the rest as every text)."""
    cleaned = [" ".join(p.split()) for p in (info.headline, info.description, info.instruction)]
    parts: list[str] = []
    said: set[str] = set()
    for n, clean in enumerate(cleaned):
        others = cleaned[:n] + cleaned[n + 1 :]
        if not clean or clean in said or any(clean in o and clean != o for o in others):
            continue  # said already, or said again in a longer part (a headline cut short)
        said.add(clean)
        parts.append(clean if _END.search(clean) else clean + "。")
    return "".join(parts) or info.event
