"""Who may see and act on what: roles and areas, checked on the server for every request.

Pure: users, areas and speakers in; answers out. An object outside a user's reach is
reported as not found (404), so its existence is not revealed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from broadcaster import planning
from broadcaster.errors import Forbidden, NotFound
from broadcaster.models import Area, Role, Speaker, User


def area_ids_within(user: User, areas: Mapping[str, Area]) -> set[str]:
    """The areas a user may act on: all for admin, their areas and every area below for a chief."""
    if user.role is Role.ADMIN:
        return set(areas)
    if user.role is not Role.CHIEF:
        return set()
    mine = set(user.area_ids)
    return {a for a in areas if mine & set(planning.area_chain(a, areas))}


def visible_speakers(
    user: User, speakers: Iterable[Speaker], areas: Mapping[str, Area]
) -> list[Speaker]:
    """Speakers the user may see: all (admin), in their areas (chief), their vehicle (operator)."""
    if user.role is Role.ADMIN:
        return list(speakers)
    if user.role is Role.OPERATOR:
        return [s for s in speakers if s.id == user.vehicle_id]
    allowed = area_ids_within(user, areas)
    return [s for s in speakers if s.area_id in allowed]


def require_speaker(
    user: User, speaker_id: str, speakers: Iterable[Speaker], areas: Mapping[str, Area]
) -> Speaker:
    """The speaker if the user may see it, else NotFound (also for speakers that exist)."""
    for speaker in visible_speakers(user, speakers, areas):
        if speaker.id == speaker_id:
            return speaker
    raise NotFound(f"no speaker {speaker_id!r}")


def require_area(user: User, area_id: str, areas: Mapping[str, Area]) -> Area:
    """The area if the user may act on it, else NotFound."""
    if area_id in areas and area_id in area_ids_within(user, areas):
        return areas[area_id]
    raise NotFound(f"no area {area_id!r}")


def require_role(user: User, *roles: Role) -> None:
    """Forbidden unless the user has one of `roles`."""
    if user.role not in roles:
        raise Forbidden(f"this needs the role {' or '.join(r.value for r in roles)}")


def speakers_in(
    area_ids: Iterable[str], speakers: Iterable[Speaker], areas: Mapping[str, Area]
) -> list[Speaker]:
    """Speakers in any of the areas or below them."""
    wanted = set(area_ids)
    return [s for s in speakers if wanted & set(planning.area_chain(s.area_id, areas))]
