"""The user API for shapes (issue 13): areas' outlines, quiet zones, fixed loudspeakers'
locations, as JSON; what the panel's map pages edit (web/panel/map_views.py).

Reading: `GET /areas` (the areas the caller may act on: all for an admin, a chief's own and
those below; an operator none) and `GET /quiet-zones` (public places: every signed-in user).
Changing is for admins (403 otherwise): `PATCH /areas/{id}` with `{"polygon": [[lat, lon],
...] | null}`, `PUT /quiet-zones/{id}` (creates or replaces), `DELETE /quiet-zones/{id}`,
`PATCH /speakers/{id}/location` with `{"location": {"lat", "lon"} | null}` (fixed
loudspeakers only). Outlines are checked by broadcaster/geometry.py; a refusal is `422`
with `error.field` naming the field (`polygon[2]`). Every change is an audit line and moves
the catalog revision (vehicles fetch plans with the new shapes). Documented in web/openapi.py
(`shapes_paths`) and docs/user-api.md.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, time
from typing import Annotated, Any, Literal

from flask import Blueprint, Response, jsonify, request
from pydantic import Field

from broadcaster import access, geometry, limits, schema
from broadcaster.errors import Conflict, NotFound, ValidationError
from broadcaster.models import Area, QuietAction, QuietHours, QuietZone, Role, SpeakerKind, User
from web import answers, payloads
from web.answers import Answer, answer
from web.auth import current_user
from web.runtime import iso, runtime

bp = Blueprint("shapes_api", __name__, url_prefix="/api/v1")

# A point as sent: checked by broadcaster/geometry.py (range, ring), so any numbers pass here.
LatLon = Annotated[list[float], Field(min_length=2, max_length=2)]
Points = Annotated[list[LatLon], Field(max_length=limits.POLYGON_POINTS + 1)]
HHMM = Annotated[str, Field(pattern=schema.TIME_OF_DAY)]


class AreaShapeIn(schema.Request):
    """`PATCH /areas/{id}`: the outline, or null to remove it."""

    polygon: Points | None


class PlaceIn(schema.Request):
    lat: float
    lon: float


class LocationIn(schema.Request):
    """`PATCH /speakers/{id}/location`: where a fixed loudspeaker stands, or null."""

    location: PlaceIn | None


class HoursIn(schema.Request):
    start: HHMM
    end: HHMM


class QuietZoneIn(schema.Request):
    """`PUT /quiet-zones/{id}`: the whole zone. `volume` (percent of the loudspeaker's own)
    goes with `action: "volume"` and is left out (or null) with `mute`."""

    name: str = Field(min_length=1, max_length=limits.NAME_MAX)
    polygon: Points
    hours: list[HoursIn] = Field(default_factory=list, max_length=24)
    action: Literal["mute", "volume"] = "mute"
    volume: int | None = Field(None, ge=limits.QUIET_VOLUME.low, le=limits.QUIET_VOLUME.high)


class AreaOut(Answer):
    id: str
    name: str
    kind: str
    parent: str | None
    polygon: list[list[float]] | None = Field(description="[lat, lon] points; null: no outline")


class HoursOut(Answer):
    start: str
    end: str


class QuietZoneOut(Answer):
    id: str
    name: str
    polygon: list[list[float]]
    hours: list[HoursOut]
    action: Literal["mute", "volume"]
    volume: int | None


class LocationOut(Answer):
    id: str
    location: dict[str, float] | None = Field(description="{lat, lon}; null: not placed")


def _json(data: object, status: int = 200) -> Response:
    response = jsonify({"data": data, "server_time": iso(runtime().clock())})
    response.status_code = status
    return response


def _caller() -> tuple[User, datetime]:
    now = runtime().clock()
    return current_user(now), now


def _admin(user: User) -> None:
    access.require_role(user, Role.ADMIN)


def _audit(user: User, now: datetime, action: str, obj: str, detail: dict[str, Any]) -> None:
    runtime().service.store.journal.append_audit(
        now, f"user:{user.name}", action, obj, detail, request.remote_addr
    )


def _ring(points: list[list[float]] | None, field: str) -> geometry.Ring | None:
    return None if points is None else geometry.polygon(points, field)


def area_json(area: Area) -> dict[str, Any]:
    polygon = None if area.polygon is None else [list(p) for p in area.polygon]
    return answer(
        AreaOut,
        id=area.id,
        name=area.name,
        kind=area.kind.value,
        parent=area.parent_id,
        polygon=polygon,
    )


def zone_json(zone: QuietZone) -> dict[str, Any]:
    hours = [{"start": _hhmm(h.start), "end": _hhmm(h.end)} for h in zone.hours]
    return answer(
        QuietZoneOut,
        id=zone.id,
        name=zone.name,
        polygon=[list(p) for p in zone.polygon],
        hours=hours,
        action=zone.action.value,
        volume=zone.volume,
    )


def _hhmm(value: time) -> str:
    return value.isoformat("minutes" if value.second == 0 else "seconds")


@bp.get("/areas")
def list_areas() -> Response:
    user, now = _caller()
    areas = {a.id: a for a in runtime().service.deployment(now).areas}
    mine = access.area_ids_within(user, areas)
    return _json([area_json(areas[a]) for a in sorted(mine)])


@bp.patch("/areas/<area_id>")
def set_area_shape(area_id: str) -> Response:
    user, now = _caller()
    store = runtime().service.store
    areas = {a.id: a for a in runtime().service.deployment(now).areas}
    if area_id not in access.area_ids_within(user, areas):
        raise NotFound(f"no area {area_id!r}")
    _admin(user)
    asked = schema.read(AreaShapeIn, _body())
    ring = _ring(asked.polygon, "polygon")
    area = store.places.update_area(replace(store.places.get_area(area_id), polygon=ring))
    _audit(user, now, "area.shape", area_id, {"points": len(ring or ())})
    return _json(area_json(area))


@bp.patch("/speakers/<speaker_id>/location")
def set_location(speaker_id: str) -> Response:
    user, now = _caller()
    service = runtime().service
    deployment = service.deployment(now)
    areas = {a.id: a for a in deployment.areas}
    if speaker_id not in {s.id for s in access.visible_speakers(user, deployment.speakers, areas)}:
        raise NotFound(f"no speaker {speaker_id!r}")
    _admin(user)
    asked = schema.read(LocationIn, _body())
    speaker = service.store.places.get_speaker(speaker_id)
    place = None
    if asked.location is not None:
        if speaker.kind is not SpeakerKind.FIXED:
            raise ValidationError.at(
                "location", "only fixed loudspeakers have a location (a vehicle's is its GPS)"
            )
        place = geometry.location(asked.location.lat, asked.location.lon, "location")
    service.store.places.update_speaker(replace(speaker, location=place))
    _audit(user, now, "speaker.location", speaker_id, {"location": list(place) if place else None})
    where = None if place is None else {"lat": place[0], "lon": place[1]}
    return _json(answer(LocationOut, id=speaker_id, location=where))


@bp.get("/quiet-zones")
def list_zones() -> Response:
    _caller()
    return _json([zone_json(z) for z in runtime().service.store.places.list_quiet_zones()])


@bp.put("/quiet-zones/<zone_id>")
def put_zone(zone_id: str) -> Response:
    user, now = _caller()
    _admin(user)
    if (
        not zone_id
        or len(zone_id) > limits.ID_MAX
        or not all(c.isascii() and (c.isalnum() or c in "-_") for c in zone_id)
    ):
        raise ValidationError.at("id", "letters, digits, - and _ only")
    asked = schema.read(QuietZoneIn, _body())
    hours = tuple(
        QuietHours(time.fromisoformat(h.start), time.fromisoformat(h.end)) for h in asked.hours
    )
    action = QuietAction(asked.action)
    if action is QuietAction.VOLUME and asked.volume is None:
        raise ValidationError.at("volume", "give the volume inside the zone (percent)")
    volume = asked.volume if action is QuietAction.VOLUME else None
    ring = geometry.polygon(asked.polygon, "polygon")
    zone = QuietZone(zone_id, asked.name.strip() or zone_id, ring, hours, action, volume)
    places = runtime().service.store.places
    try:
        places.create_quiet_zone(zone)
        created = True
    except Conflict:
        places.update_quiet_zone(zone)
        created = False
    _audit(user, now, "quiet_zone.put", zone_id, {"name": zone.name, "points": len(ring)})
    return _json(zone_json(zone), 201 if created else 200)


@bp.delete("/quiet-zones/<zone_id>")
def delete_zone(zone_id: str) -> Response:
    user, now = _caller()
    _admin(user)
    runtime().service.store.places.delete_quiet_zone(zone_id)
    _audit(user, now, "quiet_zone.delete", zone_id, {})
    return Response(status=204)


def _body() -> Any:
    return payloads.json_body()


def shapes_paths(user: list[dict[str, list[str]]]) -> dict[str, Any]:
    """The OpenAPI paths of this module (web/openapi.py includes them)."""

    def body(model: type[schema.Request]) -> dict[str, Any]:
        found = schema.request_schema(model)
        return {"required": True, "content": {"application/json": {"schema": found}}}

    def ok(text: str, model: type[Answer], many: bool = False) -> dict[str, Any]:
        shape = answers.listed(model) if many else answers.one(model)
        return {"description": text, "content": {"application/json": {"schema": shape}}}

    def errors(*codes: int) -> dict[str, Any]:
        ref = {"$ref": "#/components/schemas/Error"}
        return {
            str(c): {"description": f"Error {c}", "content": {"application/json": {"schema": ref}}}
            for c in codes
        }

    def param(name: str) -> list[dict[str, Any]]:
        return [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}]

    note = " Admins only (403 otherwise). Outlines: [lat, lon] points, at least 3 different, "
    note += f"at most {limits.POLYGON_POINTS}, not crossing themselves (422 naming the field)."
    return {
        "/areas": {
            "get": {
                "summary": "The areas the caller may act on, with their outlines",
                "security": user,
                "responses": {"200": ok("Areas", AreaOut, many=True), **errors(401)},
            }
        },
        "/areas/{area_id}": {
            "patch": {
                "summary": "Set or remove (null) an area's outline." + note,
                "security": user,
                "parameters": param("area_id"),
                "requestBody": body(AreaShapeIn),
                "responses": {"200": ok("Changed", AreaOut), **errors(401, 403, 404, 422)},
            }
        },
        "/speakers/{speaker_id}/location": {
            "patch": {
                "summary": "Set or remove (null) a fixed loudspeaker's location." + note,
                "security": user,
                "parameters": param("speaker_id"),
                "requestBody": body(LocationIn),
                "responses": {"200": ok("Changed", LocationOut), **errors(401, 403, 404, 422)},
            }
        },
        "/quiet-zones": {
            "get": {
                "summary": "The quiet zones (issue 13)",
                "security": user,
                "responses": {"200": ok("Quiet zones", QuietZoneOut, many=True), **errors(401)},
            }
        },
        "/quiet-zones/{zone_id}": {
            "put": {
                "summary": "Create (201) or replace (200) a quiet zone." + note,
                "security": user,
                "parameters": param("zone_id"),
                "requestBody": body(QuietZoneIn),
                "responses": {
                    "200": ok("Replaced", QuietZoneOut),
                    "201": ok("Created", QuietZoneOut),
                    **errors(401, 403, 422),
                },
            },
            "delete": {
                "summary": "Delete a quiet zone." + note,
                "security": user,
                "parameters": param("zone_id"),
                "responses": {"204": {"description": "Deleted"}, **errors(401, 403, 404)},
            },
        },
    }
