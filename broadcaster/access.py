"""Who may see and act on what: roles and areas, checked on the server for every request.

Pure: users, areas and speakers in; answers out. Requests name objects through
broadcaster.editing.Scope (built on these), which reports an object outside a user's reach
exactly as one that does not exist, so its existence is not revealed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from broadcaster import planning
from broadcaster.errors import Forbidden
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
