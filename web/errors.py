"""The one place where domain errors become HTTP answers (and denials become audit lines)."""

from __future__ import annotations

import logging

from flask import Flask, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from audio.errors import AudioError, InvalidInput
from broadcaster.deadlines import ClientTooSlow
from broadcaster.errors import (
    BroadcasterError,
    Conflict,
    Forbidden,
    NotFound,
    StorageFull,
    Unauthenticated,
    ValidationError,
)
from broadcaster.urgent import WillNotPlay
from web import audit_limit
from web.audit_limit import anonymous_line
from web.proxy import client_key
from web.runtime import runtime
from web.urgent_json import coverage_json

log = logging.getLogger(__name__)

STATUS: list[tuple[type[Exception], int, str]] = [
    (Unauthenticated, 401, "unauthenticated"),
    (Forbidden, 403, "forbidden"),
    (NotFound, 404, "not_found"),
    (Conflict, 409, "conflict"),
    (ValidationError, 422, "invalid"),
    (InvalidInput, 422, "invalid"),
    (AudioError, 502, "audio_failed"),
    (StorageFull, 507, "storage_full"),
    (BroadcasterError, 500, "error"),
]


def error_body(code: str, message: str, field: str | None = None) -> dict[str, object]:
    """The JSON error shape of the API."""
    error: dict[str, object] = {"code": code, "message": message}
    if field:
        error["field"] = field
    return {"error": error}


def register(app: Flask) -> None:
    """Install the handlers on `app`."""
    audit_limit.install(app)

    @app.errorhandler(BroadcasterError)
    def domain_error(exc: Exception):  # type: ignore[no-untyped-def]
        status, code = next((s, c) for kind, s, c in STATUS if isinstance(exc, kind))
        message = str(exc)
        if status in (401, 403):
            _audit_denial(status, message)
        if status >= 500:
            log.error("%s %s failed: %s", request.method, request.path, message)
        page = _html_page(status, message)
        if page is not None:
            return page
        body = error_body(code, message, exc.field if isinstance(exc, ValidationError) else None)
        if isinstance(exc, WillNotPlay):  # nobody would hear it: say why, speaker by speaker
            body = error_body(exc.code, message, "targets")
            body["error"]["targets"] = [coverage_json(t) for t in exc.targets]  # type: ignore[index]
        response = jsonify(body)
        response.status_code = status
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="broadcaster"'
        return response

    @app.errorhandler(ClientTooSlow)
    def too_slow(exc: ClientTooSlow):  # type: ignore[no-untyped-def]
        return _too_slow(exc)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        if isinstance(exc, RequestEntityTooLarge):
            return _too_large(exc)
        slow = _slow_cause(exc)  # werkzeug reports a failed body read as ClientDisconnected
        if slow is not None:
            return _too_slow(slow)
        page = _html_page(exc.code or 500, exc.description or exc.name)
        if page is not None:
            return page
        response = jsonify(
            error_body(exc.name.lower().replace(" ", "_"), exc.description or exc.name)
        )
        response.status_code = exc.code or 500
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):  # type: ignore[no-untyped-def]
        log.exception("%s %s crashed", request.method, request.path)
        page = _html_page(500, "internal error")
        if page is not None:
            return page
        response = jsonify(error_body("internal", "internal error; the server log has details"))
        response.status_code = 500
        return response


def limit_mb(limit: int) -> str:
    """A byte limit as the MB figure people see ("32", "0.5")."""
    return f"{limit / 2**20:g}"


def _too_large(exc: RequestEntityTooLarge):  # type: ignore[no-untyped-def]
    """413 naming the limit: the panel's page in the user's language, or the JSON error. The
    connection is closed after it (the rest of the body is not read into anything)."""
    if exc.description != RequestEntityTooLarge.description:  # a limit of its own (JSON)
        message = str(exc.description)
    else:
        limit = int(current_app.config.get("MAX_CONTENT_LENGTH") or 0)
        message = f"body: at most {limit_mb(limit)} MB per request ({limit} bytes)"
    page = _html_page(413, message)
    if page is None:
        page = jsonify(error_body("too_large", message, "body"))
        page.status_code = 413
    response = current_app.make_response(page)
    response.headers["Connection"] = "close"
    return response


def _slow_cause(exc: BaseException) -> ClientTooSlow | None:
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None or isinstance(seen, ClientTooSlow):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _too_slow(exc: ClientTooSlow):  # type: ignore[no-untyped-def]
    """The body did not arrive in time (`server.body_timeout_s`): 408; the server closes the
    connection after it."""
    log.info("%s %s: %s", request.method, request.path, exc.strerror)
    message = "body: the request did not arrive in time; check the connection and retry"
    page = _html_page(408, message)
    if page is None:
        page = jsonify(error_body("timeout", message, "body"))
        page.status_code = 408
    response = current_app.make_response(page)
    response.headers["Connection"] = "close"
    return response


def _html_page(status: int, message: str):  # type: ignore[no-untyped-def]
    """The panel's HTML error page for paths outside the JSON APIs, if the panel is installed."""
    render = current_app.extensions.get("panel.error_page")
    if render is None or request.path.startswith("/api/") or request.path == "/healthz":
        return None
    return render(status, message)


def _audit_denial(status: int, message: str) -> None:
    try:
        rt = runtime()
        moment = rt.clock()
        actor = getattr(g, "actor", "anonymous")
        detail: dict[str, object] = {"status": status, "reason": message}
        if actor == "anonymous":  # a budget per client: a script cannot fill the audit log
            left_out = anonymous_line(client_key(request.remote_addr), moment)
            if left_out is None:
                return
            if left_out:
                detail["suppressed"] = left_out
        rt.service.store.journal.append_audit(
            moment,
            actor,
            "denied" if status == 403 else "unauthenticated",
            f"{request.method} {request.path}"[:500],
            detail,
            request.remote_addr,
        )
    except Exception:  # the audit must never turn a 403 into a 500
        log.exception("could not write the audit line for a denied request")
