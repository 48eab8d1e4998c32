"""The Flask application factory: nothing happens at import time."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from flask import Flask, Response, g, jsonify, request

from broadcaster import limits, workers
from broadcaster.config import Settings
from broadcaster.service import Service
from web import cap_api, catalog_api, device_api, errors, live_api, panel, shapes_api, user_api
from web.openapi import openapi_document
from web.proxy import TrustedProxies
from web.runtime import Runtime, utc_now

access = logging.getLogger("broadcaster.access")


def create_app(
    settings: Settings,
    service: Service,
    *,
    secret_key: str | None = None,
    clock: Callable[[], datetime] = utc_now,
    secure_cookies: bool = True,
) -> Flask:
    """A configured app; the caller owns the service (store, library) and closes it."""
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secret_key or secrets.token_hex(32),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure_cookies,
        SESSION_COOKIE_NAME="broadcaster_session",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        MAX_CONTENT_LENGTH=32 * 1024 * 1024,
        JSON_SORT_KEYS=False,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    # request.remote_addr is the client behind `server.trusted_proxies` (README: reverse proxy)
    app.wsgi_app = TrustedProxies(app.wsgi_app, settings.server.trusted_proxies)  # type: ignore[method-assign]
    app.extensions["broadcaster"] = Runtime(settings, service, clock)
    app.register_blueprint(device_api.bp)
    app.register_blueprint(user_api.bp)
    app.register_blueprint(catalog_api.bp)
    app.register_blueprint(shapes_api.bp)
    live_api.register(app)
    cap_api.register(app)
    panel.register(app)
    app.jinja_env.globals["limits"] = limits  # the min/max of the forms' number inputs
    errors.register(app)

    @app.get("/api/v1/openapi.json")
    def openapi() -> Response:
        return jsonify(openapi_document())

    @app.get("/healthz")
    def healthz() -> tuple[Response, int]:
        """Is this process serving, and can it reach the database (503 if not); under
        `broadcaster serve` also which process runs the jobs (the scheduler lease) and until
        when, and this process's state (`broadcaster.workers.health`)."""
        more = app.extensions.get("broadcaster.health")  # `broadcaster serve` sets it
        if more is not None:
            state = dict(more())
        else:
            state = {
                "database": workers.database_state(service.store.journal, service.store.dialect)
            }
        reachable = bool(state["database"]["reachable"])
        answer = {"ok": reachable, "name": settings.name, **state}
        return jsonify(answer), 200 if reachable else 503

    @app.before_request
    def start_clock() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def access_log(response: Response) -> Response:
        """One line per request: method, path (no query string: it may carry anything),
        status, milliseconds, and who asked (user:<name>, speaker:<id> or -). Never a header,
        a token or a form field."""
        started = g.get("started")
        ms = (time.perf_counter() - started) * 1000 if started is not None else 0.0
        access.info(
            "%s %s %d %.0f ms %s",
            request.method,
            request.path,
            response.status_code,
            ms,
            g.get("actor") or "-",
        )
        return response

    @app.after_request
    def push_changes(response: Response) -> Response:
        """After a user's successful edit, speakers whose plan changed get a resync (the
        pusher compares plan ETags off this request)."""
        if (
            request.method in ("POST", "PUT", "PATCH", "DELETE")
            and response.status_code < 400
            and not request.path.startswith("/api/v1/speakers/")
        ):
            service.request_push()
        return response

    @app.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
            "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
        )
        return response

    return app
