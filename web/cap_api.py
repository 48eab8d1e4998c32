"""CAP 1.2 in and out (issue 15, docs/cap.md): `POST /api/v1/cap`, `GET /api/v1/cap/feed`,
`GET /api/v1/urgent/{id}.cap`.

Who may: a configured source's key (`cap.sources`, sent as `Authorization: Bearer <key>`;
only its SHA-256 is configured) or an admin's user token or session. A refused document
answers `422 {"error": {"code": "cap_refused", ...}}` (413 over the size bound) and is kept
nowhere but the audit log.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, g, jsonify, request

from broadcaster import urgent
from broadcaster.cap import ingest, outgoing
from broadcaster.cap.document import MAX_BYTES, CapRefused
from broadcaster.cap.settings import CapSource
from broadcaster.errors import Forbidden
from broadcaster.models import Role, User
from web.auth import bearer_token, current_user
from web.errors import error_body
from web.runtime import iso, runtime

bp = Blueprint("cap_api", __name__, url_prefix="/api/v1")
CAP_TYPE = "application/cap+xml"


def _source() -> CapSource | None:
    """The configured source whose key is the bearer token, if any."""
    token = bearer_token()
    if token is None:
        return None
    found = runtime().settings.cap.source_for_key(token)
    if found is not None:
        g.actor = f"key:{found.id}"
    return found


def _caller() -> tuple[ingest.Origin, User]:
    """Who posts or reads: a source key, else an admin (401/403 otherwise)."""
    rt = runtime()
    source = _source()
    if source is not None:
        origin = ingest.Origin(
            f"key:{source.id}", source.senders, request.remote_addr, source.certificates
        )
        return origin, ingest.acting_user(origin)
    user = current_user(rt.clock())
    if user.role is not Role.ADMIN:
        raise Forbidden("cap: only an admin or a configured CAP source may use CAP")
    return ingest.Origin(f"user:{user.name}", (), request.remote_addr), user


def _refused(message: str, status: int = 422) -> Response:
    response = jsonify(error_body("cap_refused", message))
    response.status_code = status
    return response


@bp.post("/cap")
def receive() -> Response:
    rt = runtime()
    now = rt.clock()
    origin, _user = _caller()
    length = request.content_length
    too_big = length is not None and length > MAX_BYTES
    data = b"" if too_big else request.stream.read(MAX_BYTES + 1)  # chunked: read to the bound
    if too_big or len(data) > MAX_BYTES:  # the rest is never read
        message = f"cap: the document is larger than {MAX_BYTES} bytes (512 KiB), refused"
        rt.service.store.journal.append_audit(now, origin.source, "cap.refused", "",
                                              {"reason": message, "bytes": length or len(data)},
                                              origin.remote_addr)  # fmt: skip
        return _refused(message, 413)
    try:
        outcome = ingest.receive(rt.service, data, origin, now)
    except CapRefused as exc:
        return _refused(str(exc))
    response = jsonify(
        {
            "alert": outcome.alert,
            "urgents": outcome.urgents,
            "held": outcome.held,
            "ignored": outcome.ignored,
            "repeated": outcome.repeated,
            "server_time": iso(now),
        }
    )
    response.status_code = 201 if outcome.changed else 200
    return response


@bp.get("/urgent/<urgent_id>.cap")
def urgent_cap(urgent_id: str) -> Response:
    rt = runtime()
    now = rt.clock()
    _origin, user = _caller()
    view = urgent.get(rt.service, user, urgent_id, now)
    settings = rt.settings
    body = outgoing.alert_xml(
        view.urgent, rt.service.deployment(now), settings.cap, settings.name, settings.zone
    )
    return Response(body, mimetype=CAP_TYPE)


@bp.get("/cap/feed")
def feed() -> Response:
    rt = runtime()
    now = rt.clock()
    _origin, user = _caller()
    views = urgent.list_for(rt.service, user, now, limit=urgent.PAGE_MAX)
    live = [v.urgent for v in views if v.state == "live"]
    settings = rt.settings
    # `updated`: the newest entry's time (the same body while nothing changes: 304s)
    newest = max((u.created_at for u in live), default=outgoing.EPOCH)
    body = outgoing.atom_feed(
        live, rt.service.deployment(now), request.host_url, settings.cap, settings.name, newest
    )
    response = Response(body, mimetype="application/atom+xml")
    response.add_etag()  # pollers ask with If-None-Match: unchanged, 304 and no body
    response.make_conditional(request)  # in place: 304 and no body when it matches
    return response


def register(app: Flask) -> None:
    app.register_blueprint(bp)
