"""The map (issue 13, item 4): areas, quiet zones, route stops and lines, fixed loudspeakers
and each vehicle's latest position, drawn as SVG from coordinates alone: no tiles, no CDN,
no network. A plain equirectangular projection fitted to the bounds of what the user sees
(longitude scaled by the cosine of the middle latitude, so a village keeps its shape).

Only what the user may see: admins everything; chiefs their areas (and those below) and the
loudspeakers in them; operators their vehicle and its area. Quiet zones are public places
(hospitals, schools): a chief or an operator sees those that lie in the view.

The page polls `/map/live` every few seconds (the vehicles' latest fixes from their
heartbeats, online or not) and moves the markers (web/static/map.js).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, time
from typing import Any

from flask import Blueprint, flash, jsonify, redirect, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from broadcaster import geometry, limits, planning
from broadcaster.coverage import PASS_RADIUS_M, seconds, thinned, with_fix
from broadcaster.editing import Scope
from broadcaster.errors import NotFound, ValidationError
from broadcaster.models import (
    Area,
    QuietAction,
    QuietHours,
    QuietZone,
    Role,
    Route,
    Speaker,
    SpeakerKind,
)
from broadcaster.store.records import Fix
from web.panel.common import Form, audit, local, now, page, require, scope
from web.panel.i18n import _
from web.panel.speakers import _stops as route_stops
from web.runtime import iso, runtime

bp = Blueprint("map", __name__)

WIDTH = 1000.0  # the SVG's user units across; its height follows the view's shape
MARGIN = 0.06  # of the view's span, around what is drawn
MIN_SPAN = 0.002  # degrees (~200 m): a single point still gets a view
LIVE_EVERY_MS = 3000
TRACKS_EVERY = 5  # polls: today's tracks come along every 15 s, the markers every 3 s
MAX_DRAWN = 300  # points of a vehicle's track drawn (thinned evenly; ~1 m on screen apart)
DEFAULT_VIEW = (35.9, 111.3, 36.3, 111.8)  # nothing to draw: somewhere, not the null island


@dataclass(frozen=True, slots=True)
class Projection:
    """Degrees to SVG units: x grows east, y grows south."""

    west: float
    north: float
    scale: float  # SVG units per degree of latitude
    cos_lat: float
    height: float

    def point(self, lat: float, lon: float) -> tuple[float, float]:
        x = (lon - self.west) * self.cos_lat * self.scale
        y = (self.north - lat) * self.scale
        return (round(x, 1), round(y, 1))

    def path(self, ring: Sequence[tuple[float, float]]) -> str:
        return " ".join(f"{x},{y}" for x, y in (self.point(lat, lon) for lat, lon in ring))

    def as_json(self) -> dict[str, float]:
        return {
            "west": self.west,
            "north": self.north,
            "scale": self.scale,
            "cos_lat": self.cos_lat,
            "width": WIDTH,
            "height": self.height,
        }


def fit(points: Iterable[tuple[float, float]]) -> Projection:
    """The projection that shows every point, with a margin."""
    found = geometry.bounds([list(points)])
    south, west, north, east = found if found is not None else DEFAULT_VIEW
    mid = (south + north) / 2
    cos_lat = max(math.cos(math.radians(mid)), 0.05)
    lat_span = max(north - south, MIN_SPAN)
    lon_span = max((east - west) * cos_lat, MIN_SPAN)  # in latitude-degree units
    south, north = mid - lat_span * (0.5 + MARGIN), mid + lat_span * (0.5 + MARGIN)
    mid_lon = (west + east) / 2
    half = lon_span * (0.5 + MARGIN) / cos_lat
    west = mid_lon - half
    scale = WIDTH / (2 * half * cos_lat)
    height = round((north - south) * scale, 1)
    return Projection(west, north, scale, cos_lat, height)


def _visible_areas(me: Scope) -> list[Area]:
    if me.user.role is Role.OPERATOR:
        vehicle = me.speakers.get(me.user.vehicle_id or "")
        if vehicle is None:
            return []
        return [
            a for a in me.areas.values() if vehicle.area_id in planning.area_chain(a.id, me.areas)
        ]
    return [me.areas[a] for a in sorted(me.reach)]


def _overlaps(ring: Sequence[tuple[float, float]], box: tuple[float, float, float, float]) -> bool:
    found = geometry.bounds([ring])
    if found is None:
        return False
    south, west, north, east = found
    return not (north < box[0] or south > box[2] or east < box[1] or west > box[3])


def _zone_label(zone: QuietZone) -> str:
    muted = zone.action is QuietAction.MUTE
    what = _("muted") if muted else _("volume %(n)s%%", n=zone.volume)
    if zone.hours:
        hours = "、".join(
            f"{h.start.strftime('%H:%M')}–{h.end.strftime('%H:%M')}" for h in zone.hours
        )
        return f"{zone.name}（{what}，{hours}）"
    return f"{zone.name}（{what}）"


def _fix_json(fix: Fix | None, at: datetime) -> dict[str, Any] | None:
    if fix is None:
        return None
    return {
        "lat": fix.lat,
        "lon": fix.lon,
        "fix_at": iso(fix.at),
        "time": local(fix.at, "%H:%M:%S"),
        "age_s": max(0, round((at - fix.at).total_seconds())),
        "speed": fix.speed,
        "heading": fix.heading,
    }


def vehicles(me: Scope) -> list[dict[str, Any]]:
    """The visible vehicles with their latest fix (None: never had one) and whether online."""
    rt = runtime()
    moment = now()
    mine = [s for s in me.speakers.values() if s.kind is SpeakerKind.VEHICLE]
    statuses = rt.service.statuses(s.id for s in mine)
    silence = rt.service.offline_after()
    rows = []
    for speaker in sorted(mine, key=lambda s: s.id):
        status = statuses.get(speaker.id)
        rows.append(
            {
                "id": speaker.id,
                "name": speaker.name,
                "online": status is not None and status.online(moment, silence),
                "fix": _fix_json(status.fix if status else None, moment),
            }
        )
    return rows


@bp.get("/map")
def index() -> str:
    me = scope()
    areas = [a for a in _visible_areas(me) if a.polygon is not None]
    speakers = sorted(me.speakers.values(), key=lambda s: s.id)
    fixed = [s for s in speakers if s.kind is SpeakerKind.FIXED and s.location is not None]
    routes = [
        s
        for s in speakers
        if s.kind is SpeakerKind.VEHICLE and s.route is not None and s.route.stops
    ]
    moving = vehicles(me)
    tracks = tracks_today(me)
    points: list[tuple[float, float]] = [p for a in areas for p in a.polygon or ()]
    points += [s.location for s in fixed if s.location is not None]
    points += [
        (stop.lat, stop.lon)
        for s in routes
        for stop in (s.route.stops if s.route else ())
        if stop.lat is not None and stop.lon is not None
    ]
    points += [(v["fix"]["lat"], v["fix"]["lon"]) for v in moving if v["fix"]]
    points += [(p[0], p[1]) for line in tracks.values() for p in line]
    zones = list(me.deployment.quiet_zones)
    if not me.is_admin:
        box = geometry.bounds([points])
        zones = [z for z in zones if box is not None and _overlaps(z.polygon, box)]
    points += [p for z in zones for p in z.polygon]
    view = fit(points)
    drawn_routes = []
    for s in routes:
        placed = [
            (st.name, *view.point(st.lat, st.lon), number)
            for number, st in enumerate(s.route.stops if s.route else ())
            if st.lat is not None and st.lon is not None
        ]
        unplaced = [
            (number, st.name)
            for number, st in enumerate(s.route.stops if s.route else ())
            if st.lat is None
        ]
        drawn_routes.append({"speaker": s, "stops": placed, "unplaced": unplaced})
    return page(
        "panel/map.html",
        view=view,
        areas=[
            (a, view.path(a.polygon or ()), view.point(*_label_at(a.polygon or ()))) for a in areas
        ],
        zones=[
            (z, view.path(z.polygon), _zone_label(z), view.point(*_label_at(z.polygon)))
            for z in zones
        ],
        fixed=[(s, view.point(*s.location)) for s in fixed if s.location is not None],
        routes=drawn_routes,
        vehicles=moving,
        tracks={
            speaker: view.path([(p[0], p[1]) for p in line]) for speaker, line in tracks.items()
        },
        live_every_ms=LIVE_EVERY_MS,
        tracks_every=TRACKS_EVERY,
        unshaped=[a for a in _visible_areas(me) if a.polygon is None],
    )


@bp.app_context_processor
def _route_progress() -> dict[str, Any]:
    """`stops_passed(speaker)` for the route sheet: per stop, when it was passed today
    ("08:14", local) or None; called only by the templates that show it."""

    def stops_passed(speaker: Speaker) -> list[str | None]:
        found = runtime().service.route_progress([speaker], now()).get(speaker.id, [])
        return [local(t, "%H:%M") if t is not None else None for t in found]

    return {"stops_passed": stops_passed, "pass_radius_m": f"{PASS_RADIUS_M:g}"}


def _label_at(ring: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """Where an area's name goes: the average of its points (inside for the shapes people
    draw; good enough for a label)."""
    return (sum(p[0] for p in ring) / len(ring), sum(p[1] for p in ring) / len(ring))


@bp.get("/map/live")
def live() -> Response:
    """The visible vehicles' latest fixes, for the page's script (small, polled every 3 s);
    with `?tracks=1` (every `TRACKS_EVERY`th poll) also today's tracks, thinned."""
    me = scope()
    answer: dict[str, Any] = {
        "vehicles": vehicles(me),
        "every_ms": LIVE_EVERY_MS,
        "time": local(now(), "%H:%M:%S"),
    }
    if request.args.get("tracks") == "1":
        answer["tracks"] = tracks_today(me)
    return jsonify(answer)


def tracks_today(me: Scope) -> dict[str, list[list[float]]]:
    """Today's track of each visible vehicle, as [[lat, lon], ...] of at most `MAX_DRAWN`
    points (evenly thinned, the newest kept; the heartbeat's fix last when it is newer):
    ~6 KB a vehicle however long the day."""
    ids = [s.id for s in me.speakers.values() if s.kind is SpeakerKind.VEHICLE]
    moment = now()
    found = runtime().service.today_tracks.get(ids, moment)
    statuses = runtime().service.statuses(found)
    drawn = {}
    for speaker, track in found.items():
        status = statuses.get(speaker)
        fix = status.fix if status is not None else None
        if fix is not None and seconds(fix.at) > track.t[-1] and fix.at <= moment:
            track = with_fix(track, fix)  # the line reaches the marker
        few = thinned(track, MAX_DRAWN)
        drawn[speaker] = [
            [round(float(lat), 5), round(float(lon), 5)]
            for lat, lon in zip(few.lat, few.lon, strict=True)
        ]
    return drawn


# -- editing the shapes (admins): an area's outline, the quiet zones ---------------------------
#
# A polygon is typed (or pasted) as one point per line, "latitude, longitude" (a Chinese comma
# or spaces also separate them), or as JSON [[lat, lon], ...]. The server checks the ring
# (broadcaster/geometry.py) and says what is wrong next to the field, in the user's language.

_SEPARATOR = re.compile(r"[\s,，;；]+")
_HOURS = re.compile(r"^\s*(\d{1,2}[:：]\d{2})\s*[-–—~～至到]\s*(\d{1,2}[:：]\d{2})\s*$")


def points_text(ring: Iterable[tuple[float, float]] | None) -> str:
    """A polygon as the form shows it: one "lat, lon" a line."""
    return "\n".join(f"{lat:g}, {lon:g}" for lat, lon in ring or ())


def read_points(form: Form, name: str) -> list[list[float]] | None:
    """The typed points (unchecked as a ring), or None after an error (said at `name`)."""
    text = form.raw(name)
    if text.lstrip().startswith("["):
        try:
            found = json.loads(text)
        except ValueError:
            form.error(
                name, _('This is not a list of points: use one "latitude, longitude" per line.')
            )
            return None
        return found if isinstance(found, list) else []
    points = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p for p in _SEPARATOR.split(line.strip()) if p]
        try:
            if len(parts) != 2:
                raise ValueError
            points.append([float(parts[0]), float(parts[1])])
        except ValueError:
            form.error(
                name,
                _('Line %(n)s: write "latitude, longitude", e.g. 36.0985, 111.4915.', n=number),
            )
            return None
    return points


def shape_problem(exc: ValidationError) -> str:
    """A refused shape in the user's language (every problem of geometry.PROBLEMS)."""
    if isinstance(exc, geometry.ShapeError):
        return _(exc.problem, **exc.values)
    return str(exc)


def checked_polygon(form: Form, name: str, *, required: bool) -> geometry.Ring | None:
    """The typed polygon checked as a ring; None when empty (allowed unless required) or
    refused (the error is next to the field)."""
    if not form.raw(name):
        if required:
            form.error(name, _("Required."))
        return None
    points = read_points(form, name)
    if points is None:
        return None
    try:
        return geometry.polygon(points, name)
    except ValidationError as exc:
        form.error(name, shape_problem(exc))
        return None


def _area_page(area: Area, form: Form, status: int = 200):  # type: ignore[no-untyped-def]
    preview = None
    if area.polygon:
        view = fit(area.polygon)
        preview = (view, view.path(area.polygon))
    return page("panel/map_area.html", area=area, form=form, preview=preview), status


@bp.get("/map/areas/<area_id>")
def area_shape(area_id: str):  # type: ignore[no-untyped-def]
    me = require(Role.ADMIN)
    area = _area(me, area_id)
    return _area_page(area, Form(MultiDict({"polygon": points_text(area.polygon)})))


def _area(me: Scope, area_id: str) -> Area:
    if area_id not in me.areas:
        raise NotFound(f"no area {area_id!r}")
    return runtime().service.store.places.get_area(area_id)


@bp.post("/map/areas/<area_id>")
def save_area_shape(area_id: str):  # type: ignore[no-untyped-def]
    me = require(Role.ADMIN)
    area = _area(me, area_id)
    form = Form(request.form.copy())
    ring = checked_polygon(form, "polygon", required=False)
    if not form.ok:
        return _area_page(area, form, 422)
    runtime().service.store.places.update_area(replace(area, polygon=ring))
    audit("area.shape", area_id, {"points": len(ring or ())})
    flash(_("Saved."))
    return redirect(url_for("map.index"))


def _zone_form(zone: QuietZone | None) -> Form:
    if zone is None:
        return Form(MultiDict({"action": "mute", "volume": str(limits.QUIET_VOLUME.default)}))
    return Form(
        MultiDict(
            {
                "id": zone.id,
                "name": zone.name,
                "polygon": points_text(zone.polygon),
                "hours": "\n".join(
                    f"{h.start.strftime('%H:%M')}-{h.end.strftime('%H:%M')}" for h in zone.hours
                ),
                "action": zone.action.value,
                "volume": str(
                    zone.volume if zone.volume is not None else limits.QUIET_VOLUME.default
                ),
            }
        )
    )


def _read_hours(form: Form) -> tuple[QuietHours, ...]:
    hours = []
    for number, line in enumerate(form.raw("hours").splitlines(), start=1):
        if not line.strip():
            continue
        match = _HOURS.match(line)
        try:
            if match is None:
                raise ValueError
            start, end = (time.fromisoformat(t.replace("：", ":").zfill(5)) for t in match.groups())
        except ValueError:
            form.error("hours", _("Line %(n)s: write a time span like 08:00-12:00.", n=number))
            return ()
        hours.append(QuietHours(start, end))
    return tuple(hours)


def _zone_from(form: Form, zone_id: str) -> QuietZone | None:
    name = form.text("name", max_len=limits.NAME_MAX)
    ring = checked_polygon(form, "polygon", required=True)
    hours = _read_hours(form)
    action = form.raw("action")
    if action not in {a.value for a in QuietAction}:
        form.error("action", _("Choose mute or a volume."))
    volume = int(form.within("volume", limits.QUIET_VOLUME)) if action == "volume" else None
    if not form.ok or ring is None:
        return None
    return QuietZone(zone_id, name, ring, hours, QuietAction(action), volume)


def _zone_page(form: Form, zone: QuietZone | None, status: int = 200):  # type: ignore[no-untyped-def]
    return page("panel/map_zone.html", form=form, zone=zone), status


@bp.get("/map/zones/new")
def new_zone():  # type: ignore[no-untyped-def]
    require(Role.ADMIN)
    return _zone_page(_zone_form(None), None)


@bp.post("/map/zones/new")
def create_zone():  # type: ignore[no-untyped-def]
    me = require(Role.ADMIN)
    form = Form(request.form.copy())
    zone_id = form.ident("id")
    if zone_id in {z.id for z in me.deployment.quiet_zones}:
        form.error("id", _("This id is taken."))
    zone = _zone_from(form, zone_id)
    if zone is None:
        return _zone_page(form, None, 422)
    runtime().service.store.places.create_quiet_zone(zone)
    audit("quiet_zone.create", zone.id, {"name": zone.name, "points": len(zone.polygon)})
    flash(_("Saved."))
    return redirect(url_for("map.index"))


@bp.get("/map/zones/<zone_id>")
def zone(zone_id: str):  # type: ignore[no-untyped-def]
    require(Role.ADMIN)
    found = runtime().service.store.places.get_quiet_zone(zone_id)
    return _zone_page(_zone_form(found), found)


@bp.post("/map/zones/<zone_id>")
def save_zone(zone_id: str):  # type: ignore[no-untyped-def]
    require(Role.ADMIN)
    current = runtime().service.store.places.get_quiet_zone(zone_id)
    form = Form(request.form.copy())
    zone = _zone_from(form, zone_id)
    if zone is None:
        return _zone_page(form, current, 422)
    runtime().service.store.places.update_quiet_zone(zone)
    audit("quiet_zone.update", zone.id, {"name": zone.name, "points": len(zone.polygon)})
    flash(_("Saved."))
    return redirect(url_for("map.index"))


@bp.post("/map/zones/<zone_id>/delete")
def delete_zone(zone_id: str) -> Response:
    require(Role.ADMIN)
    runtime().service.store.places.delete_quiet_zone(zone_id)
    audit("quiet_zone.delete", zone_id)
    flash(_("Deleted."))
    return redirect(url_for("map.index"))


# -- route stops placed and dragged on the map (admins) -----------------------------------------
#
# The page posts one moved stop (its place in the route, its name as the page knew it, the new
# latitude and longitude); the route is saved through the route editing code of the speaker
# page (the same checks, the same audit action), with the other stops as they are now.


@bp.post("/map/routes/<speaker_id>/stops")
def move_stop(speaker_id: str) -> tuple[Response, int]:
    me = require(Role.ADMIN)
    speaker = me.speaker(speaker_id)
    if speaker.kind is not SpeakerKind.VEHICLE:
        raise NotFound(f"no vehicle {speaker_id!r}")
    store = runtime().service.store
    current = store.places.get_speaker(speaker_id)
    stops = current.route.stops if current.route is not None else ()
    asked = Form(request.form.copy())
    index = asked.integer("index", 0, max(0, len(stops) - 1))
    if not stops:
        asked.error("index", _("This vehicle has no stops."))
    if not asked.ok:
        return _refused(asked, 422)
    if stops[index].name != asked.raw("name"):
        asked.error("name", _("The route was changed meanwhile: reload the map."))
        return _refused(asked, 409)
    rows: MultiDict[str, str] = MultiDict()
    for number, stop in enumerate(stops):
        moved = number == index
        lat = asked.raw("lat") if moved else ("" if stop.lat is None else repr(stop.lat))
        lon = asked.raw("lon") if moved else ("" if stop.lon is None else repr(stop.lon))
        rows.add("stop_name", stop.name)
        rows.add("stop_lat", lat)
        rows.add("stop_lon", lon)
        rows.add("stop_note", stop.note)
    form = Form(rows)
    checked = route_stops(form)
    if not form.ok:
        return _refused(form, 422)
    store.places.update_speaker(replace(current, route=Route(tuple(checked))))
    audit("route.update", speaker_id, {"stops": [s.name for s in checked], "moved": index + 1})
    placed = checked[index]
    return jsonify({"ok": True, "index": index, "lat": placed.lat, "lon": placed.lon}), 200


def _refused(form: Form, status: int) -> tuple[Response, int]:
    field, message = next(iter(form.errors.items()))
    return jsonify({"ok": False, "field": field, "message": message}), status
