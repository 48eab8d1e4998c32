"""The device API (docs/device-api.md): plans, clips, events, heartbeats, plays, tracks, acks."""

from __future__ import annotations

import math
import random
import time
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
LONG_WAIT_S = 10.0  # long polls at least this long end in the least busy second of their last half


class PollEnds:
    """When empty long polls end: in the least busy whole second of their last half.

    Speakers that started together (a server restart, the 4G network of a township coming
    back) all come back together every 25 s; with 5,000 of them the request loop was
    overrun for 5-10 s each time (heartbeats waited seconds), and ends drawn at random from
    the last fifth spread them out only over hours. Here each new poll is given the second,
    among those in the last half of its wait, for which the fewest polls are set to end
    (the latest of equals: a quiet server keeps polls their full length), so such a crowd
    is spread over half the wait at once and stays spread. `now` is a monotonic time.
    """

    def __init__(self) -> None:
        self._ends: dict[int, int] = {}  # whole second -> polls set to end in it

    def wait_s(
        self,
        asked: int | None,
        max_s: float,
        now: float,
        draw: Callable[[], float] = random.random,
    ) -> float:
        """How long a poll that asked `asked` s (25 by default, at most `max_s`) waits."""
        wait_s = float(min(asked if asked is not None else 25, max_s))
        if wait_s < LONG_WAIT_S:
            return wait_s
        first, last = math.ceil(now + wait_s / 2), math.floor(now + wait_s) - 1
        best = min(range(last, first - 1, -1), key=lambda second: self._ends.get(second, 0))
        self._ends[best] = self._ends.get(best, 0) + 1
        if len(self._ends) > 4 * max_s:
            self._ends = {k: v for k, v in self._ends.items() if k >= now}
        return best + draw() - now


_poll_ends = PollEnds()


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
    wait_s = _poll_ends.wait_s(wait, rt.settings.server.long_poll_max_s, time.monotonic())
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
