"""The device API (docs/device-api.md): plans, clips, events, heartbeats, plays, tracks, acks."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request, send_file

from broadcaster import schema
from broadcaster.store.tracks import TrackPoint
from web import answers, payloads
from web.answers import MAX_SEQ, answer
from web.auth import require_any_device, require_device
from web.runtime import iso, runtime

bp = Blueprint("device_api", __name__, url_prefix="/api/v1")


def _json(model: type[answers.Answer], **fields: Any) -> Response:
    """The answer `model` (web/answers.py) with the server's time."""
    return jsonify(answer(model, **fields, server_time=iso(runtime().clock())))


@bp.get("/speakers/<speaker_id>/plan")
def plan(speaker_id: str) -> Response:
    rt = runtime()
    now = rt.clock()
    require_device(speaker_id, now)
    document = rt.service.plan(speaker_id, now)
    if request.if_none_match.contains(document.etag.strip('"')):
        response = Response(status=304)
    else:
        # A day of looping is thousands of near-identical items: gzip shrinks it ~20x.
        gzipped = "gzip" in request.headers.get("Accept-Encoding", "")
        body = document.response(speaker_id, iso(now) or "", gzipped=gzipped)
        response = Response(body, mimetype="application/json")
        if gzipped:
            response.headers["Content-Encoding"] = "gzip"
        response.headers["Vary"] = "Accept-Encoding"
    response.headers["ETag"] = document.etag
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/clips/<key>")
def clip(key: str) -> Response:
    rt = runtime()
    require_any_device(rt.clock())
    path = rt.service.clip_file(key)
    response = send_file(path, mimetype="audio/wav", conditional=True, etag=key, max_age=31536000)
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    response.headers["Accept-Ranges"] = "bytes"
    return response


@bp.get("/speakers/<speaker_id>/events")
def events(speaker_id: str) -> Response:
    rt = runtime()
    require_device(speaker_id, rt.clock())
    after = payloads.query_int(request.args, "after", 0, MAX_SEQ)
    wait = payloads.query_int(request.args, "wait", 0, None)
    wait_s = min(wait if wait is not None else 25, rt.settings.server.long_poll_max_s)
    found, last = rt.service.events(speaker_id, after, float(wait_s))
    events = [
        answers.EventOut(
            seq=e.seq, kind=e.kind, created_at=iso(e.created_at), payload=dict(e.payload)
        )
        for e in found
    ]
    return _json(answers.EventsOut, events=events, last=last)


@bp.post("/speakers/<speaker_id>/heartbeat")
def heartbeat(speaker_id: str) -> Response:
    rt = runtime()
    now = rt.clock()
    require_device(speaker_id, now)
    beat = payloads.heartbeat(payloads.json_body(), now, rt.settings.zone)
    told = rt.service.heartbeat(speaker_id, beat, now)
    return _json(answers.HeartbeatOut, **told)


@bp.post("/speakers/<speaker_id>/plays")
def plays(speaker_id: str) -> Response:
    rt = runtime()
    now = rt.clock()
    require_device(speaker_id, now)
    entries = payloads.plays(payloads.json_body(), speaker_id, now, rt.settings.zone)
    upload = rt.service.record_plays(speaker_id, entries, now)
    return _json(
        answers.PlaysOut, accepted=list(upload.accepted), duplicates=list(upload.duplicates)
    )


@bp.post("/speakers/<speaker_id>/track")
def track(speaker_id: str) -> Response:
    """A vehicle's GPS track points (issue 13), answered as plays are."""
    rt = runtime()
    now = rt.clock()
    require_device(speaker_id, now)
    batch = schema.read(schema.Track, payloads.json_body(), schema.Clock(now, rt.settings.zone))
    points = [
        TrackPoint(speaker_id, p.id, p.lat, p.lon, p.at, p.speed, p.heading) for p in batch.points
    ]
    upload = rt.service.record_track(speaker_id, points, now)
    return _json(
        answers.PlaysOut, accepted=list(upload.accepted), duplicates=list(upload.duplicates)
    )


@bp.post("/speakers/<speaker_id>/acks")
def acks(speaker_id: str) -> Response:
    rt = runtime()
    now = rt.clock()
    require_device(speaker_id, now)
    urgent_id, state, at = payloads.ack(payloads.json_body(), now, rt.settings.zone)
    # An urgent not aimed at this speaker is answered as one that does not exist.
    rt.service.ack(speaker_id, urgent_id, state, at)
    return Response(status=204)
