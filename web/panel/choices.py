"""Pickers in the chief's words: areas grouped by township, voices by a name people know.

Installed as template globals by `web.panel.register`: `area_groups(me, options)` and
`voice_options(current)`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from flask import g

from broadcaster.editing import Scope
from broadcaster.errors import NotFound
from broadcaster.models import Area, AreaKind
from web.panel.i18n import _
from web.runtime import runtime

log = logging.getLogger(__name__)

# The voices a chief chooses from (espeak-ng's ids behind them). Only the installed ones are
# offered; the deployment's default voice and a message's own voice are always there.
VOICES: tuple[tuple[str, str], ...] = (
    ("sit/cmn-latn-pinyin", "Mandarin (standard)"),
    ("sit/yue", "Cantonese"),
)

Group = tuple[str, list[tuple[str, str]]]


def _township(area: Area, areas: dict[str, Area]) -> Area | None:
    """The township (or the district) an area belongs to: itself if it is one."""
    seen: set[str] = set()
    current: Area | None = area
    while current is not None and current.id not in seen:
        if current.kind in (AreaKind.TOWNSHIP, AreaKind.DISTRICT):
            return current
        seen.add(current.id)
        current = areas.get(current.parent_id or "")
    return None


def area_groups(me: Scope, options: Iterable[tuple[str, str] | Area]) -> list[Group]:
    """`options` (area ids with names, or areas) grouped under their township's name, each
    township first in its group, in the order of the deployment's areas; "District-wide" and
    the district itself come first, without a group."""
    areas = dict(me.areas)
    order = {a.id: i for i, a in enumerate(me.deployment.areas)}
    groups: dict[str, tuple[int, list[tuple[int, tuple[str, str]]]]] = {}
    for option in options:
        value, text = (option.id, option.name) if isinstance(option, Area) else option
        area = areas.get(value)
        township = _township(area, areas) if area is not None else None
        if township is None or township.kind is AreaKind.DISTRICT:
            key, rank = "", -1
        else:
            key, rank = township.name, order.get(township.id, len(order))
        place = -1 if township is not None and value == township.id else order.get(value, -2)
        groups.setdefault(key, (rank, []))[1].append((place, (value, text)))
    return [
        (name, [option for _place, option in sorted(members, key=lambda m: m[0])])
        for name, (_rank, members) in sorted(groups.items(), key=lambda kv: kv[1][0])
    ]


def _installed() -> set[str] | None:
    """The installed voices' ids (lowercase), None when the engine cannot say."""
    try:
        voices = runtime().service.library.renderer.synthesizer.voices()
    except Exception:  # an engine that cannot list: offer the list as it is
        log.debug("the voices could not be listed", exc_info=True)
        return None
    return {v.id.lower() for v in voices}


def voice_options(current: str | None) -> list[tuple[str, str]]:
    """(voice id, name) for the voice picker: the known voices that are installed, the
    default voice, and the message's own voice when it is none of them."""
    installed = _installed()
    options = [
        (voice, _(label))
        for voice, label in VOICES
        if installed is None or voice.lower() in installed
    ]
    default = runtime().settings.default_voice.voice
    known = {v.lower() for v, _label in options}
    for extra in (default, current):
        if extra and extra.lower() not in known:
            named = voice_name(extra)
            label = named if named != extra else _("Other voice: %(voice)s", voice=extra)
            options.append((extra, label))
            known.add(extra.lower())
    return options


def voice_name(voice: str) -> str:
    """A voice as people call it (its id when it is none of the known ones)."""
    for known, label in VOICES:
        if known.lower() == voice.lower():
            return _(label)
    return voice


def user_name(login: str) -> str:
    """A user as the panel shows them: the display name (e.g. 张建国), else the login name.
    Read once per request and user."""
    if not login:
        return ""
    cache: dict[str, str] = g.setdefault("user_names", {})
    if login not in cache:
        try:
            shown = runtime().service.store.people.display_name(login)
        except NotFound:
            shown = None
        cache[login] = shown or login
    return cache[login]


def flat(groups: Sequence[Group]) -> list[tuple[str, str]]:
    return [option for _name, options in groups for option in options]
