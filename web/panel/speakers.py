"""Speakers, areas, vehicle routes, device tokens and the driver's printable route sheet."""

from __future__ import annotations

from dataclasses import replace

from flask import Blueprint, flash, redirect, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from broadcaster import geometry, limits
from broadcaster.editing import Scope
from broadcaster.errors import Conflict, Forbidden, NotFound, ValidationError
from broadcaster.models import (
    Area,
    AreaKind,
    PlayKind,
    Role,
    Route,
    Speaker,
    SpeakerKind,
    Stop,
)
from broadcaster.planning import PlanItem
from broadcaster.store import TokenKind
from web.panel.common import Form, audit, local, now, page, require, scope
from web.panel.i18n import _
from web.panel.wording import run_label
from web.runtime import runtime

bp = Blueprint("speakers", __name__)
MAX_STOPS = 200


def edits_route(me: Scope, speaker: Speaker) -> bool:
    """Admins, chiefs over the vehicle's area and the vehicle's own operator edit its route."""
    return speaker.kind is SpeakerKind.VEHICLE and speaker.id in me.speakers


def _detail(
    me: Scope,
    speaker: Speaker,
    form: Form | None = None,
    route_form: Form | None = None,
    status: int = 200,
    **extra: object,
):  # type: ignore[no-untyped-def]
    if form is None:
        form = Form(
            MultiDict(
                {
                    "name": speaker.name,
                    "kind": speaker.kind.value,
                    "area": speaker.area_id,
                    "volume": str(speaker.volume),
                    "lat": f"{speaker.location[0]:g}" if speaker.location else "",
                    "lon": f"{speaker.location[1]:g}" if speaker.location else "",
                }
            )
        )
    store = runtime().service.store
    tokens = store.people.list_tokens(TokenKind.DEVICE, speaker.id) if me.is_admin else ()
    # The saved stops, or the rows as typed when the route form was refused.
    stops: list[Stop] | list[dict[str, str]] = list(speaker.route.stops) if speaker.route else []
    if route_form is not None:
        stops = _stops_as_typed(route_form)
    body = page(
        "panel/speaker.html",
        speaker=speaker,
        form=form,
        route_form=route_form,
        stops=stops,
        tokens=tokens,
        edits_route=edits_route(me, speaker),
        # Only admins edit the settings; others see the speaker's own area, never the list
        # of every area of the district (areas beyond their reach do not exist for them).
        areas=list(me.areas.values()) if me.is_admin else [me.areas[speaker.area_id]],
        local=local,
        **extra,
    )
    return body, status


@bp.get("/speakers")
def index() -> str:
    me = scope()
    return page("panel/speakers.html", speakers=list(me.speakers.values()))


@bp.get("/speakers/<speaker_id>")
def detail(speaker_id: str):  # type: ignore[no-untyped-def]
    me = scope()
    return _detail(me, me.speaker(speaker_id))


def _speaker_from(
    form: Form, me: Scope, speaker_id: str, current: Speaker | None
) -> Speaker | None:
    name = form.text("name", max_len=limits.NAME_MAX)
    kind = form.raw("kind")
    if kind not in {k.value for k in SpeakerKind}:
        form.error("kind", _("Choose vehicle or fixed."))
    area = form.raw("area")
    if area not in me.areas:
        form.error("area", _("Choose an area."))
    volume = int(form.within("volume", limits.SPEAKER_VOLUME))
    location = _location(form, kind)
    if not form.ok:
        return None
    route = (
        current.route
        if current and current.route
        else (Route() if kind == SpeakerKind.VEHICLE.value else None)
    )
    if kind != SpeakerKind.VEHICLE.value:
        route = None
    return Speaker(speaker_id, name, SpeakerKind(kind), area, route, volume, location)


def _location(form: Form, kind: str) -> tuple[float, float] | None:
    """A fixed loudspeaker's place (issue 13): both numbers or neither; a vehicle has none
    (its GPS says where it is)."""
    lat, lon = form.raw("lat").replace("，", ""), form.raw("lon").replace("，", "")
    if not lat and not lon:
        return None
    if kind != SpeakerKind.FIXED.value:
        form.error(
            "lat", _("Only a fixed loudspeaker has a location; a vehicle's comes from its GPS.")
        )
        return None
    try:
        numbers = (float(lat), float(lon))
    except ValueError:
        field = "lat" if not _is_number(lat) else "lon"
        form.error(field, _("Give both latitude and longitude as numbers, or neither."))
        return None
    try:
        return geometry.location(*numbers, "location")
    except geometry.ShapeError as exc:
        form.error("lat" if exc.code.endswith("lat") else "lon", _(exc.problem, **exc.values))
        return None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@bp.get("/speakers/new")
def new() -> str:
    me = require(Role.ADMIN)
    form = Form(MultiDict({"kind": "fixed", "volume": str(limits.SPEAKER_VOLUME.default)}))
    return page("panel/speaker_new.html", form=form, areas=list(me.areas.values()))


@bp.post("/speakers/new")
def create():  # type: ignore[no-untyped-def]
    me = require(Role.ADMIN)
    form = Form(request.form.copy())
    speaker_id = form.ident("id")
    if speaker_id in {s.id for s in me.deployment.speakers}:
        form.error("id", _("This id is taken."))
    speaker = _speaker_from(form, me, speaker_id, None)
    if speaker is None:
        return page("panel/speaker_new.html", form=form, areas=list(me.areas.values())), 422
    runtime().service.store.places.create_speaker(speaker)
    audit("speaker.create", speaker.id, {"name": speaker.name, "area": speaker.area_id})
    flash(_("Saved."))
    return redirect(url_for("speakers.detail", speaker_id=speaker.id))


@bp.post("/speakers/<speaker_id>")
def update(speaker_id: str):  # type: ignore[no-untyped-def]
    me = scope()
    current = me.speaker(speaker_id)
    require(Role.ADMIN)
    form = Form(request.form.copy())
    speaker = _speaker_from(form, me, speaker_id, current)
    if speaker is None:
        return _detail(me, current, form, status=422)
    try:
        runtime().service.store.places.update_speaker(speaker)
    except Conflict as exc:
        form.error("kind", _("Cannot change: %(reason)s", reason=str(exc)))
        return _detail(me, current, form, status=409)
    audit(
        "speaker.update",
        speaker_id,
        {
            "name": speaker.name,
            "kind": speaker.kind.value,
            "area": speaker.area_id,
            "volume": speaker.volume,
            "location": list(speaker.location) if speaker.location else None,
        },
    )
    flash(_("Saved."))
    return redirect(url_for("speakers.detail", speaker_id=speaker_id))


def _stops_as_typed(form: Form) -> list[dict[str, str]]:
    names, lats = form.data.getlist("stop_name"), form.data.getlist("stop_lat")
    lons, notes = form.data.getlist("stop_lon"), form.data.getlist("stop_note")
    rows = []
    for i, name in enumerate(names):
        rows.append(
            {
                "name": name,
                "lat": lats[i] if i < len(lats) else "",
                "lon": lons[i] if i < len(lons) else "",
                "note": notes[i] if i < len(notes) else "",
            }
        )
    return rows


def _stops(form: Form) -> list[Stop]:
    stops = []
    rows = [r for r in _stops_as_typed(form) if any(v.strip() for v in r.values())]
    if len(rows) > MAX_STOPS:
        form.error("stops", _("At most %(n)s stops.", n=MAX_STOPS))
    for i, row in enumerate(rows, start=1):
        name = row["name"].strip()
        if not name or len(name) > 100:
            form.error("stops", _("Stop %(n)s needs a name (at most 100 characters).", n=i))
            continue
        lat = lon = None
        if row["lat"].strip() or row["lon"].strip():
            try:
                lat, lon = float(row["lat"]), float(row["lon"])
                if lat not in limits.LAT or lon not in limits.LON:
                    raise ValueError
            except ValueError:
                form.error(
                    "stops", _("Stop %(n)s: give both latitude and longitude, or neither.", n=i)
                )
                continue
        stops.append(Stop(name, lat, lon, row["note"].strip()[:200]))
    return stops


@bp.post("/speakers/<speaker_id>/route")
def save_route(speaker_id: str):  # type: ignore[no-untyped-def]
    me = scope()
    speaker = me.speaker(speaker_id)
    if not edits_route(me, speaker):
        raise Forbidden("only vehicles have a route")
    form = Form(request.form.copy())
    stops = _stops(form)
    if not form.ok:
        return _detail(me, speaker, route_form=form, status=422)
    current = runtime().service.store.places.get_speaker(speaker_id)
    updated = replace(current, route=Route(tuple(stops)))
    runtime().service.store.places.update_speaker(updated)
    audit("route.update", speaker_id, {"stops": [s.name for s in stops]})
    flash(_("Route saved."))
    return redirect(url_for("speakers.detail", speaker_id=speaker_id))


@bp.post("/speakers/<speaker_id>/tokens")
def issue_token(speaker_id: str):  # type: ignore[no-untyped-def]
    me = require(Role.ADMIN)
    speaker = me.speaker(speaker_id)
    label = (request.form.get("label") or "").strip()[:100]
    record, plain = runtime().service.store.people.issue_token(
        TokenKind.DEVICE, speaker_id, now(), label=label
    )
    audit("token.issue", speaker_id, {"token": record.id, "label": label})
    return _detail(me, speaker, new_token=plain)


@bp.post("/speakers/<speaker_id>/tokens/<token_id>/revoke")
def revoke_token(speaker_id: str, token_id: str) -> Response:
    me = require(Role.ADMIN)
    me.speaker(speaker_id)
    store = runtime().service.store
    if token_id not in {t.id for t in store.people.list_tokens(TokenKind.DEVICE, speaker_id)}:
        raise NotFound(f"no token {token_id!r}")
    store.people.revoke_token(token_id, now())
    audit("token.revoke", speaker_id, {"token": token_id})
    flash(_("Token revoked."))
    return redirect(url_for("speakers.detail", speaker_id=speaker_id))


@bp.get("/speakers/<speaker_id>/sheet")
def sheet(speaker_id: str) -> str:
    """The driver's printable route sheet: stops in order and today's plan."""
    me = scope()
    speaker = me.speaker(speaker_id)
    rt = runtime()
    moment = now()
    zone = rt.settings.zone
    day = moment.astimezone(zone).date()
    try:
        items = [
            i
            for i in rt.service.plan(speaker_id, moment).items
            if i.start.astimezone(zone).date() == day
        ]
    except (NotFound, ValidationError):
        items = []
    titles = {m.id: m.title for m in me.deployment.messages}
    runs: list[list[PlanItem]] = []
    for item in items:
        last = runs[-1] if runs else None
        if (
            last
            and item.kind is PlayKind.LOOP
            and last[0].kind is PlayKind.LOOP
            and last[0].schedule_id == item.schedule_id
        ):
            last.append(item)
        else:
            runs.append([item])
    # (from, to, kind, what it plays by name, clips): the program and its messages, not ids
    windows = [
        (run[0].start, run[-1].end, run[0].kind.value, run_label(me, run, titles), len(run))
        for run in runs
    ]
    return page(
        "panel/route_sheet.html",
        speaker=speaker,
        windows=windows,
        day=day,
        area=me.areas.get(speaker.area_id),
        local=local,
    )


@bp.get("/areas")
def areas() -> str:
    me = scope()
    form = Form(MultiDict({"kind": "village"}))
    return page("panel/areas.html", form=form, area_list=me.own_areas(), kinds=list(AreaKind))


@bp.post("/areas")
def create_area():  # type: ignore[no-untyped-def]
    me = require(Role.ADMIN)
    form = Form(request.form.copy())
    area_id = form.ident("id")
    if area_id in me.areas:
        form.error("id", _("This id is taken."))
    name = form.text("name", max_len=limits.NAME_MAX)
    kind = form.raw("kind")
    if kind not in {k.value for k in AreaKind}:
        form.error("kind", _("Choose a kind."))
    parent = form.raw("parent") or None
    if parent is not None and parent not in me.areas:
        form.error("parent", _("Choose an area."))
    if not form.ok:
        return page(
            "panel/areas.html", form=form, area_list=me.own_areas(), kinds=list(AreaKind)
        ), 422
    runtime().service.store.places.create_area(Area(area_id, name, AreaKind(kind), parent))
    audit("area.create", area_id, {"name": name, "parent": parent})
    flash(_("Saved."))
    return redirect(url_for("speakers.areas"))
