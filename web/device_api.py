"""The device API (docs/device-api.md): plans, clips, events, heartbeats, plays, tracks, acks."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify, request, send_file

from broadcaster import schema
from broadcaster.store.tracks import TrackPoint
from web import answers, payloads
from web.answers import MAX_SEQ, answer
from web.auth import require_any_device, require_device
from web.runtime import iso, runtime

bp = Blueprint("device_api", __name__, url_prefix="/api/v1")
LONG_WAIT_S = 10.0  # long polls at least this long end at a random point of their last fifth


def _json(model: type[answers.Answer], **fields: Any) -> Response:
    """The answer `model` (web/answers.py) with the server's time."""
    return jsonify(answer(model, **fields, server_time=iso(runtime().clock())))


def long_poll_s(
    asked: int | None, max_s: float, draw: Callable[[float, float], float] = random.uniform
) -> float:
    """How long an empty long poll waits: what the client asked (25 s by default), at most
    `max_s`; a wait of `LONG_WAIT_S` or more ends at a random point of its last fifth.
    Speakers that started together (a server restart) would otherwise all come back in the
    same instant, every time: 1,000 answers at once stall the request loop for ~1 s."""
    wait_s = float(min(asked if asked is not None else 25, max_s))
    return wait_s * draw(0.8, 1.0) if wait_s >= LONG_WAIT_S else wait_s


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
    wait_s = long_poll_s(wait, rt.settings.server.long_poll_max_s)
    found, last = rt.service.events(speaker_id, after, wait_s)
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
