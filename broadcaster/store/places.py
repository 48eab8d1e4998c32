"""Areas (nested, with their polygons), speakers with their vehicle routes and locations, and
the quiet zones (issue 13)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.sql import ColumnElement

from broadcaster.errors import Conflict, NotFound, ValidationError
from broadcaster.models import (
    Area,
    QuietHours,
    QuietZone,
    Route,
    Speaker,
    SpeakerKind,
    Stop,
)
from broadcaster.store import schema as t
from broadcaster.store.base import Part, touch_catalog
from broadcaster.store.records import TokenKind


def load_areas(conn: Connection) -> tuple[Area, ...]:
    rows = conn.execute(select(t.areas).order_by(t.areas.c.id)).mappings()
    return tuple(_area(r) for r in rows)


def _area(r: RowMapping) -> Area:
    return Area(r["id"], r["name"], r["kind"], r["parent_id"], _ring(r["polygon"]))


def _ring(stored: Any) -> tuple[tuple[float, float], ...] | None:
    return None if stored is None else tuple((float(p[0]), float(p[1])) for p in stored)


def _clock(text: str) -> time:
    return time.fromisoformat(text)


def load_quiet_zones(conn: Connection) -> tuple[QuietZone, ...]:
    """Every quiet zone, by id."""
    rows = conn.execute(select(t.quiet_zones).order_by(t.quiet_zones.c.id)).mappings()
    return tuple(_quiet_zone(r) for r in rows)


def _quiet_zone(r: RowMapping) -> QuietZone:
    hours = tuple(QuietHours(_clock(h["start"]), _clock(h["end"])) for h in r["hours"])
    polygon = _ring(r["polygon"])
    assert polygon is not None
    return QuietZone(r["id"], r["name"], polygon, hours, r["action"], r["volume"])


def _quiet_zone_row(zone: QuietZone) -> dict[str, object]:
    return {
        "id": zone.id,
        "name": zone.name,
        "polygon": [list(p) for p in zone.polygon],
        "hours": [
            {"start": h.start.isoformat("minutes"), "end": h.end.isoformat("minutes")}
            if h.start.second == 0 and h.end.second == 0
            else {"start": h.start.isoformat(), "end": h.end.isoformat()}
            for h in zone.hours
        ],
        "action": zone.action.value,
        "volume": zone.volume,
    }


def insert_quiet_zone(conn: Connection, zone: QuietZone) -> None:
    if exists(conn, t.quiet_zones.c.id, zone.id):
        raise Conflict(f"quiet zone {zone.id!r} already exists")
    conn.execute(insert(t.quiet_zones).values(_quiet_zone_row(zone)))


def load_speakers(conn: Connection, ids: Iterable[str] | None = None) -> tuple[Speaker, ...]:
    query = select(t.speakers).order_by(t.speakers.c.id)
    stops_query = select(t.route_stops).order_by(
        t.route_stops.c.speaker_id, t.route_stops.c.position
    )
    if ids is not None:
        wanted = list(ids)
        query = query.where(t.speakers.c.id.in_(wanted))
        stops_query = stops_query.where(t.route_stops.c.speaker_id.in_(wanted))
    stops: dict[str, list[Stop]] = {}
    for r in conn.execute(stops_query).mappings():
        stops.setdefault(r["speaker_id"], []).append(Stop(r["name"], r["lat"], r["lon"], r["note"]))
    return tuple(_speaker(r, stops.get(r["id"], [])) for r in conn.execute(query).mappings())


def _speaker(r: RowMapping, stops: list[Stop]) -> Speaker:
    route = Route(tuple(stops)) if r["has_route"] else None
    location = None if r["lat"] is None or r["lon"] is None else (r["lat"], r["lon"])
    return Speaker(r["id"], r["name"], r["kind"], r["area_id"], route, r["volume"], location)


def area_ids_under(conn: Connection, area_id: str) -> set[str]:
    """`area_id` and every area nested below it."""
    children: dict[str | None, list[str]] = {}
    for aid, parent in conn.execute(select(t.areas.c.id, t.areas.c.parent_id)):
        children.setdefault(parent, []).append(aid)
    found, todo = set(), [area_id]
    while todo:
        current = todo.pop()
        if current not in found:
            found.add(current)
            todo.extend(children.get(current, ()))
    return found


def exists(conn: Connection, column: ColumnElement[Any], value: str) -> bool:
    """True if a row has `value` in `column`."""
    return conn.execute(select(column).where(column == value).limit(1)).first() is not None


def insert_area(conn: Connection, area: Area) -> None:
    if exists(conn, t.areas.c.id, area.id):
        raise Conflict(f"area {area.id!r} already exists")
    _check_parent(conn, area)
    conn.execute(insert(t.areas).values(_area_row(area)))


def insert_speaker(conn: Connection, speaker: Speaker) -> None:
    if exists(conn, t.speakers.c.id, speaker.id):
        raise Conflict(f"speaker {speaker.id!r} already exists")
    _check_speaker(conn, speaker)
    conn.execute(insert(t.speakers).values(_speaker_row(speaker)))
    _insert_stops(conn, speaker)


def _area_row(area: Area) -> dict[str, object]:
    polygon = None if area.polygon is None else [list(p) for p in area.polygon]
    return {
        "id": area.id,
        "name": area.name,
        "kind": area.kind.value,
        "parent_id": area.parent_id,
        "polygon": polygon,
    }


def _speaker_row(s: Speaker) -> dict[str, object]:
    return {
        "id": s.id,
        "name": s.name,
        "kind": s.kind.value,
        "area_id": s.area_id,
        "volume": s.volume,
        "has_route": s.route is not None,
        "lat": None if s.location is None else s.location[0],
        "lon": None if s.location is None else s.location[1],
    }


def _insert_stops(conn: Connection, speaker: Speaker) -> None:
    if speaker.route is None or not speaker.route.stops:
        return
    rows = [
        {"speaker_id": speaker.id, "position": i, "name": s.name, "lat": s.lat, "lon": s.lon}
        | {"note": s.note}
        for i, s in enumerate(speaker.route.stops)
    ]
    conn.execute(insert(t.route_stops), rows)


def _check_parent(conn: Connection, area: Area) -> None:
    if area.parent_id is None:
        return
    if not exists(conn, t.areas.c.id, area.parent_id):
        raise ValidationError(f"area {area.id}.parent_id: no area {area.parent_id!r}")
    if area.id in _ancestors(conn, area.parent_id):
        raise ValidationError(f"area {area.id}.parent_id: {area.parent_id!r} is inside {area.id!r}")


def _ancestors(conn: Connection, area_id: str) -> set[str]:
    parents = {
        aid: parent for aid, parent in conn.execute(select(t.areas.c.id, t.areas.c.parent_id))
    }
    chain: set[str] = set()
    current: str | None = area_id
    while current is not None and current not in chain:
        chain.add(current)
        current = parents.get(current)
    return chain


def _check_speaker(conn: Connection, speaker: Speaker) -> None:
    if not exists(conn, t.areas.c.id, speaker.area_id):
        raise ValidationError(f"speaker {speaker.id}.area_id: no area {speaker.area_id!r}")


def names_where(
    conn: Connection, column: ColumnElement[Any], where: ColumnElement[bool]
) -> list[str]:
    """The distinct values of `column` in the rows matching `where`."""
    return sorted(conn.execute(select(column).where(where).distinct()).scalars())


class Places(Part):
    """Areas and speakers (with routes)."""

    def list_areas(self) -> tuple[Area, ...]:
        """Every area, by id."""
        with self._db.transaction(write=False) as conn:
            return load_areas(conn)

    def get_area(self, area_id: str) -> Area:
        with self._db.transaction(write=False) as conn:
            row = conn.execute(select(t.areas).where(t.areas.c.id == area_id)).mappings().first()
        if row is None:
            raise NotFound(f"no area {area_id!r}")
        return _area(row)

    def create_area(self, area: Area) -> Area:
        """Add an area; its parent must exist."""
        with self._db.transaction() as conn:
            insert_area(conn, area)
            touch_catalog(conn)
        return area

    def update_area(self, area: Area) -> Area:
        """Rename, re-kind or move an area (never below itself)."""
        with self._db.transaction() as conn:
            if not exists(conn, t.areas.c.id, area.id):
                raise NotFound(f"no area {area.id!r}")
            _check_parent(conn, area)
            conn.execute(update(t.areas).where(t.areas.c.id == area.id).values(_area_row(area)))
            touch_catalog(conn)
        return area

    def delete_area(self, area_id: str) -> None:
        """Remove an empty, unused area; Conflict names what still uses it (child areas,
        speakers, schedules, users, and the messages and programs it owns)."""
        with self._db.transaction() as conn:
            if not exists(conn, t.areas.c.id, area_id):
                raise NotFound(f"no area {area_id!r}")
            uses = [
                ("area", names_where(conn, t.areas.c.id, t.areas.c.parent_id == area_id)),
                ("speaker", names_where(conn, t.speakers.c.id, t.speakers.c.area_id == area_id)),
                (
                    "schedule",
                    names_where(
                        conn, t.schedule_areas.c.schedule_id, t.schedule_areas.c.area_id == area_id
                    ),
                ),
                (
                    "user",
                    names_where(conn, t.user_areas.c.user_name, t.user_areas.c.area_id == area_id),
                ),
                # What its chiefs made stays theirs until an admin moves or deletes it: it
                # neither becomes district-wide (seen by every chief) nor disappears.
                (
                    "message",
                    names_where(conn, t.messages.c.id, t.messages.c.owner_area_id == area_id),
                ),
                (
                    "program",
                    names_where(conn, t.programs.c.id, t.programs.c.owner_area_id == area_id),
                ),
                (
                    "message",
                    names_where(
                        conn, t.message_areas.c.message_id, t.message_areas.c.area_id == area_id
                    ),
                ),
            ]
            refuse_if_used(f"area {area_id!r}", uses)
            conn.execute(delete(t.areas).where(t.areas.c.id == area_id))
            touch_catalog(conn)

    def list_speakers(self, area_id: str | None = None) -> tuple[Speaker, ...]:
        """Every speaker by id, or those in `area_id` and the areas below it."""
        with self._db.transaction(write=False) as conn:
            speakers = load_speakers(conn)
            if area_id is None:
                return speakers
            inside = area_ids_under(conn, area_id)
        return tuple(s for s in speakers if s.area_id in inside)

    def get_speaker(self, speaker_id: str) -> Speaker:
        with self._db.transaction(write=False) as conn:
            found = load_speakers(conn, [speaker_id])
        if not found:
            raise NotFound(f"no speaker {speaker_id!r}")
        return found[0]

    def create_speaker(self, speaker: Speaker) -> Speaker:
        """Add a speaker (a vehicle with its route); its area must exist."""
        with self._db.transaction() as conn:
            insert_speaker(conn, speaker)
            touch_catalog(conn)
        return speaker

    def update_speaker(self, speaker: Speaker) -> Speaker:
        """Replace a speaker's fields and its whole route (stops in the given order)."""
        with self._db.transaction() as conn:
            current = load_speakers(conn, [speaker.id])
            if not current:
                raise NotFound(f"no speaker {speaker.id!r}")
            _check_speaker(conn, speaker)
            if current[0].kind is SpeakerKind.VEHICLE and speaker.kind is not SpeakerKind.VEHICLE:
                drivers = names_where(conn, t.users.c.name, t.users.c.vehicle_id == speaker.id)
                refuse_if_used(f"vehicle {speaker.id!r}", [("user", drivers)])
            conn.execute(
                update(t.speakers)
                .where(t.speakers.c.id == speaker.id)
                .values(_speaker_row(speaker))
            )
            conn.execute(delete(t.route_stops).where(t.route_stops.c.speaker_id == speaker.id))
            _insert_stops(conn, speaker)
            touch_catalog(conn)
        return speaker

    def list_quiet_zones(self) -> tuple[QuietZone, ...]:
        """Every quiet zone (issue 13), by id."""
        with self._db.transaction(write=False) as conn:
            return load_quiet_zones(conn)

    def get_quiet_zone(self, zone_id: str) -> QuietZone:
        with self._db.transaction(write=False) as conn:
            query = select(t.quiet_zones).where(t.quiet_zones.c.id == zone_id)
            row = conn.execute(query).mappings().first()
        if row is None:
            raise NotFound(f"no quiet zone {zone_id!r}")
        return _quiet_zone(row)

    def create_quiet_zone(self, zone: QuietZone) -> QuietZone:
        with self._db.transaction() as conn:
            insert_quiet_zone(conn, zone)
            touch_catalog(conn)
        return zone

    def update_quiet_zone(self, zone: QuietZone) -> QuietZone:
        with self._db.transaction() as conn:
            if not exists(conn, t.quiet_zones.c.id, zone.id):
                raise NotFound(f"no quiet zone {zone.id!r}")
            row = _quiet_zone_row(zone)
            conn.execute(update(t.quiet_zones).where(t.quiet_zones.c.id == zone.id).values(row))
            touch_catalog(conn)
        return zone

    def delete_quiet_zone(self, zone_id: str) -> None:
        with self._db.transaction() as conn:
            if not exists(conn, t.quiet_zones.c.id, zone_id):
                raise NotFound(f"no quiet zone {zone_id!r}")
            conn.execute(delete(t.quiet_zones).where(t.quiet_zones.c.id == zone_id))
            touch_catalog(conn)

    def delete_speaker(self, speaker_id: str, now: datetime) -> None:
        """Remove a speaker no schedule or user names; its device tokens are revoked at `now`.

        Its play log, events and urgent acknowledgements stay (history).
        """
        with self._db.transaction() as conn:
            if not exists(conn, t.speakers.c.id, speaker_id):
                raise NotFound(f"no speaker {speaker_id!r}")
            uses = [
                (
                    "schedule",
                    names_where(
                        conn,
                        t.schedule_speakers.c.schedule_id,
                        t.schedule_speakers.c.speaker_id == speaker_id,
                    ),
                ),
                ("user", names_where(conn, t.users.c.name, t.users.c.vehicle_id == speaker_id)),
            ]
            refuse_if_used(f"speaker {speaker_id!r}", uses)
            conn.execute(
                update(t.tokens)
                .where(
                    t.tokens.c.kind == TokenKind.DEVICE.value,
                    t.tokens.c.subject == speaker_id,
                    t.tokens.c.revoked_at.is_(None),
                )
                .values(revoked_at=now)
            )
            conn.execute(delete(t.speakers).where(t.speakers.c.id == speaker_id))
            touch_catalog(conn)


def refuse_if_used(what: str, uses: list[tuple[str, list[str]]]) -> None:
    """Raise Conflict naming every (kind, ids) that still uses the object."""
    named = [f"{kind} {', '.join(repr(n) for n in ids)}" for kind, ids in uses if ids]
    if named:
        raise Conflict(f"{what} is still used by {'; '.join(named)}")
