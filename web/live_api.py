"""Live paging over HTTP (issue 12, docs/live-paging.md): the pager's WebSocket in, a chunked
stream of frames out to each speaker.

- `GET /api/v1/live` (WebSocket; a personal bearer token, or the panel's session with its
  CSRF token as `?csrf=` and a same-origin `Origin`): the first text message asks for the
  targets, the answer names the page and each target's state, binary messages are 20 ms
  frames of 16-bit mono PCM at the clip rate, `{"end": true}` (or closing) ends the page.
- `GET /api/v1/speakers/{id}/live/{page}` (device token): frames as they come, each
  `seq` (u32), `length` (u16), `flags` (u16, bit 0: the page is over) and the PCM.
"""

from __future__ import annotations

import contextlib
import json
import logging
import struct
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    jsonify,
    request,
    session,
    stream_with_context,
)
from simple_websocket import ConnectionClosed, Server

from broadcaster import schema, workers
from broadcaster.errors import BroadcasterError, Forbidden, NotFound, Unauthenticated
from broadcaster.live import (
    FRAME_MS,
    Page,
    PageRequest,
    Pages,
    Recording,
    SpeakerBusy,
    close_unfinished,
    end_page,
    recording_path,
    start_page,
)
from web import payloads
from web.auth import bearer_token, current_user, require_device
from web.errors import error_body
from web.runtime import runtime

log = logging.getLogger(__name__)

bp = Blueprint("live", __name__, url_prefix="/api/v1")
HEADER = struct.Struct(">IHH")
END = 1
MAX_FRAME_BYTES = 8192  # 20 ms at 48 kHz is 1,920 bytes; anything far bigger is not a frame
PAGER_SILENCE_S = 10.0  # a pager that sends nothing for this long has gone


def register(app: Flask) -> None:
    app.register_blueprint(bp)
    found = app.extensions["broadcaster"]
    app.extensions["live_pages"] = Pages(max_ms=found.settings.live_max_minutes * 60_000)
    if not workers.serves_live_pages():
        # `serve --workers`: live pages run in worker 0 (`--live-port`, deploy/README.md).
        refusal = (
            "live pages are served by one process: route /api/v1/live and "
            "/api/v1/speakers/*/live/* to the server's --live-port (deploy/README.md)"
        )

        @app.before_request
        def elsewhere() -> tuple[Response, int] | None:
            if request.blueprint == bp.name:
                return jsonify(error_body("live_elsewhere", refusal)), 503
            return None

        return
    # Pages a server killed mid-page left open: over (`server restart`), kept as far as heard.
    closed = close_unfinished(found.service, found.clock())
    if closed:
        log.warning("live pages cut by the last stop, closed: %s", ", ".join(closed))


def pages() -> Pages:
    found: Pages = current_app.extensions["live_pages"]
    return found


def _mono_ms() -> int:
    return int(time.monotonic() * 1000)


def _pager_user() -> Any:
    now = runtime().clock()
    user = current_user(now)
    if bearer_token() is None:  # a browser: its session, so prove this page opened it
        if request.args.get("csrf") != session.get("csrf"):
            raise Forbidden("csrf: the security token is missing or wrong; reload the page")
        origin = request.headers.get("Origin")
        # Host and port only: behind the TLS reverse proxy the README recommends the browser
        # says https:// while the server sees http:// (the CSRF token is required as well).
        if origin is not None and urlsplit(origin).netloc.lower() != request.host.lower():
            raise Forbidden("origin: a live page is opened from the panel only")
    return user


@bp.get("/live")
def live_pages() -> Response:
    """The live pages on the user's loudspeakers now."""
    return _live_pages()


@bp.get("/live", websocket=True)
def live_socket() -> Response:
    """A pager's socket, authenticated before the upgrade (401/403 as every API answer)."""
    user = _pager_user()
    ws = Server(request.environ)
    with contextlib.suppress(ConnectionClosed):
        pager(ws, user)
    with contextlib.suppress(Exception):
        ws.close()
    return _Upgraded()


class _Upgraded(Response):
    """The connection belongs to the WebSocket now: nothing more is written on it (gevent's
    server then closes it), as flask-sock does."""

    def __call__(self, environ: Any, start_response: Any) -> Any:  # type: ignore[override]
        return []


def _live_pages() -> Response:
    from broadcaster import access

    now = runtime().clock()
    user = current_user(now)
    deployment = runtime().service.deployment(now)
    areas = {a.id: a for a in deployment.areas}
    mine = {s.id for s in access.visible_speakers(user, deployment.speakers, areas)}
    rows = []
    for page in pages().running():
        speakers = sorted(s for s in page.speaker_ids if s in mine and page.live_for(s))
        if speakers:
            rows.append({"page": page.id, "by": page.by, "speakers": speakers})
    return jsonify({"data": rows})


def pager(ws: Any, user: Any) -> None:
    """One live page: the pager's socket from the first message to the end."""
    service = runtime().service
    try:
        asked = ws.receive(timeout=10)
        if not isinstance(asked, str):
            raise _Refused("expected the targets as a JSON text message first")
        page, targets = start_page(
            service, pages(), user, _page_request(asked), runtime().clock(), _mono_ms()
        )
    except SpeakerBusy as exc:
        busy = {"code": "busy", "message": str(exc), "by": exc.by}
        ws.send(json.dumps({"error": busy}, ensure_ascii=False))
        ws.close(reason=1000)
        return
    except (BroadcasterError, _Refused) as exc:
        code = "unauthenticated" if isinstance(exc, Unauthenticated) else "refused"
        ws.send(json.dumps(error_body(code, str(exc))))
        ws.close(reason=1000)
        return
    ws.send(
        json.dumps(
            {
                "page": page.id,
                "frame_ms": FRAME_MS,
                "rate": service.settings.render.sample_rate,
                "max_ms": page.max_ms,
                # The speakers sound the chime first and drop what comes during it: a pager
                # starts talking once it is over (the Talk button says so, the CLI waits).
                "chime_ms": service.library.chime().duration_ms,
                "by": page.by,
                "targets": [
                    {
                        "speaker": t.speaker,
                        "name": t.name,
                        "live": t.live,
                        "reason": t.reason,
                        "state": "connecting" if t.live else "not-paged",
                    }
                    for t in targets
                ],
            },
            ensure_ascii=False,
        )
    )
    reason = "released"
    last_frame = time.monotonic()
    told: dict[str, str] = {}  # what the pager was told of each target
    recording: Recording | None = None
    try:
        recording = Recording(
            recording_path(service, f"live/{page.id}.wav"), service.settings.render.sample_rate
        )
        while True:
            message = ws.receive(timeout=STATE_POLL_S)
            _tell_states(ws, page, told)
            if page.ended is not None:
                reason = page.ended
                break
            pages().expire(_mono_ms())
            if message is None:
                if time.monotonic() - last_frame > PAGER_SILENCE_S:
                    reason = "pager-silent"
                    break
                continue
            if isinstance(message, str):
                if _is_end(message):
                    break
                continue
            if len(message) > MAX_FRAME_BYTES or len(message) % 2:
                reason = "bad-frame"
                break
            page.add(bytes(message))
            recording.write(bytes(message))
            last_frame = time.monotonic()
    except (ConnectionClosed, OSError) as exc:  # the socket went away (tab closed, network)
        log.info("live page %s: the pager went away (%s)", page.id, type(exc).__name__)
        reason = "pager-gone"
    except Exception:  # a bug, or the disk: the page ends all the same, the log says why
        log.exception("live page %s: ended by an error", page.id)
        reason = "server-error"
    finally:
        end_page(service, page, user, reason, runtime().clock(), recording)
    # The page is over for every target: say so, with how it went for each (the CLI exits 0
    # on this message; a pager already gone does not hear it).
    with contextlib.suppress(Exception):
        ws.send(json.dumps({"ended": page.ended, "targets": _targets(page)}, ensure_ascii=False))


def _is_end(text: str) -> bool:
    """`{"end": true}`; any other text (not JSON, not an object) is ignored."""
    try:
        data = json.loads(text or "{}")
    except ValueError:
        return False
    return isinstance(data, dict) and bool(data.get("end"))


STATE_POLL_S = 0.2  # how soon the pager hears a target's new state when no frame comes


def _targets(page: Page, only: set[str] | None = None) -> list[dict[str, Any]]:
    _, states = page.states()
    return [
        {"speaker": s, "name": page.names.get(s, s), **state.to_json()}
        for s, state in sorted(states.items())
        if only is None or s in only
    ]


def _tell_states(ws: Any, page: Page, told: dict[str, str]) -> None:
    """Send the pager the targets whose state changed since it was last `told`."""
    _, states = page.states()
    changed = {s for s, st in states.items() if told.get(s, "connecting") != st.state}
    if changed:
        ws.send(json.dumps({"targets": _targets(page, changed)}, ensure_ascii=False))
        told.update({s: states[s].state for s in changed})


class _Refused(Exception):
    pass


def _page_request(text: str) -> PageRequest:
    """The pager's first message (schema.PageIn), refused as the JSON API refuses a body."""
    asked = schema.read(schema.PageIn, payloads.json_object(text, "message"))
    return PageRequest(
        speaker_ids=tuple(dict.fromkeys(asked.speakers or ())),
        area_ids=tuple(dict.fromkeys(asked.areas or ())),
        override_window=bool(asked.override_window),
        take_over=bool(asked.take_over),
    )


@bp.get("/speakers/<speaker_id>/live/<page_id>")
def stream(speaker_id: str, page_id: str) -> Response:
    """The page's frames for one speaker, from near the newest on."""
    require_device(speaker_id, runtime().clock())
    page = pages().get(page_id)
    if page is None or speaker_id not in page.speaker_ids:
        raise NotFound(f"no live page {page_id!r} for {speaker_id!r}")
    text = request.args.get("behind_ms", "120")
    behind_ms = min(int(text), 2000) if text.isdigit() else 120

    def frames() -> Iterator[bytes]:
        seq = page.start_seq(behind_ms)
        page.stream_opened(speaker_id)
        finished = False
        try:
            while True:
                found, seq, why = page.frames_after(speaker_id, seq, wait_s=1.0)
                chunk = b"".join(HEADER.pack(f.seq, len(f.pcm), 0) + f.pcm for f in found)
                if why is not None:
                    yield chunk + HEADER.pack(seq, 0, END)
                    finished = True
                    return
                if chunk:
                    yield chunk
        finally:  # also when the speaker's connection broke (the generator is closed)
            page.stream_closed(speaker_id, finished=finished)

    return Response(
        stream_with_context(frames()),
        mimetype="application/vnd.broadcaster.pcm-frames",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
