"""HTTP calls of the device API (docs/device-api.md) over a pool of keep-alive connections.

One ``urllib3.PoolManager`` per client: the long poll, the sync, the heartbeat and the
uploads each reuse an open connection instead of a new TCP (and TLS) handshake per request.
TLS is verified as the standard library does it (``ssl.create_default_context()``: the
system's CA certificates, or ``SSL_CERT_FILE``/``SSL_CERT_DIR``, and the host name); the
``http_proxy``/``https_proxy``/``no_proxy`` variables are honoured. urllib3 retries nothing
by itself and follows no redirect (the bearer token goes to the configured server only):
the loops retry (broadcaster.client.retry), except a request on a kept-alive connection the
server had closed, which is sent once more at once on a new one.
"""

from __future__ import annotations

import contextlib
import json
import ssl
import urllib.parse
import urllib.request
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urllib3
from urllib3.exceptions import HTTPError as TransportError
from urllib3.exceptions import ProtocolError

from broadcaster.client.clock import Clock
from broadcaster.client.plan import ClipSpec, parse_time
from broadcaster.client.retry import Link
from broadcaster.errors import BroadcasterError, ValidationError

USER_AGENT = "broadcaster-client"
POOL_SIZE = 8  # connections kept per server: events, sync, heartbeat, upload, urgent clips


class ApiError(BroadcasterError):
    """The server answered with an error (or not at all)."""

    def __init__(self, message: str, status: int | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field  # the refused field the server named (`points[3].at`), if any


class Unauthorized(ApiError):
    """401: the token is missing, unknown or revoked."""


class Unreachable(ApiError):
    """No usable answer: connection refused, timeout, a 5xx or 429, a garbled or cut-off
    body. ``status`` is None when the server did not answer at all (the Link is down)."""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: dict[str, Any] | None
    etag: str | None


def _pool(base: str) -> urllib3.PoolManager:
    parts = urllib.parse.urlsplit(base)
    options: dict[str, Any] = {
        "num_pools": 2,
        "maxsize": POOL_SIZE,
        "retries": False,
        "ssl_context": ssl.create_default_context() if parts.scheme == "https" else None,
        "headers": {"User-Agent": USER_AGENT},
    }
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(parts.netloc):
        return urllib3.ProxyManager(proxy, **options)
    return urllib3.PoolManager(**options)


class DeviceApi:
    """One speaker's view of the server. Timed JSON answers anchor ``clock``; every
    request tells ``link`` whether the server answered."""

    def __init__(
        self,
        server: str,
        speaker: str,
        token: str,
        clock: Clock,
        timeout_s: float = 15.0,
        link: Link | None = None,
    ) -> None:
        base = server.rstrip("/")
        if base.endswith("/api/v1"):
            base = base[: -len("/api/v1")]
        self.base = base
        self.speaker = speaker
        self._token = token
        self.clock = clock
        self.timeout_s = timeout_s
        self.link = link or Link(base)
        self._http = _pool(base)
        # Idle pooled connections are closed when this object goes (or on close()).
        self._closer = weakref.finalize(self, self._http.clear)
        self._speaker_path = f"/api/v1/speakers/{urllib.parse.quote(speaker, safe='')}"

    def close(self) -> None:
        self._closer()

    def _open(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        timeout_s: float | None = None,
        stream: bool = False,
    ) -> tuple[urllib3.BaseHTTPResponse, float]:
        """Send one request; the answer (2xx or 304) and the monotonic time it was sent.
        Raises Unauthorized, Unreachable (no answer, 429, 5xx) or ApiError (other 3xx, 4xx).
        With ``stream`` the body is left to read (and the answer to release) by the caller."""
        url = urllib.parse.urljoin(self.base + "/", path.lstrip("/")) if "://" not in path else path
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        all_headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        if data is not None:
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        t = timeout_s or self.timeout_s

        def send() -> urllib3.BaseHTTPResponse:
            return self._http.request(
                method,
                url,
                body=data,
                headers=all_headers,
                timeout=urllib3.Timeout(connect=t, read=t),
                redirect=False,
                preload_content=not stream,
                decode_content=not stream,
            )

        asked, sent = self.link.now(), self.clock.mono()
        try:
            try:
                resp = send()
            except ProtocolError:
                # A kept-alive connection the server (or a middlebox) had closed: once
                # more on a fresh one (plays and acks are idempotent, a heartbeat is too).
                sent = self.clock.mono()
                resp = send()
        except (TransportError, OSError) as exc:
            raise self._unreachable(f"{method} {path}: {_reason(exc)}") from None
        return self._answer(method, path, resp, stream, asked), sent

    def _answer(
        self, method: str, path: str, resp: urllib3.BaseHTTPResponse, stream: bool, asked: float
    ) -> urllib3.BaseHTTPResponse:
        """``resp`` if it is a 2xx or a 304, else the matching error (the connection back)."""
        status = resp.status
        if status < 300 or status == 304:
            self.link.up(asked)
            return resp
        try:
            raw = resp.data if not stream else resp.read()
        except (TransportError, OSError):
            raw = b""
        finally:
            resp.release_conn()
        detail = _error_message(raw, resp.reason or str(status))
        field = _error_field(raw)
        # The server answered, if with a refusal: it is reachable. A 5xx or 429 is retried
        # like no answer (Unreachable) but logged by the loop that got it, once.
        self.link.up(asked)
        if status >= 500 or status == 429:
            raise Unreachable(f"{method} {path}: {status} {detail}", status)
        if status == 401:
            raise Unauthorized(f"{method} {path}: 401 {detail}", 401)
        raise ApiError(f"{method} {path}: {status} {detail}", status, field)

    def _unreachable(self, message: str) -> Unreachable:
        """No answer at all: the link is down."""
        self.link.down(message)
        return Unreachable(message)

    def _json(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        anchor: bool = True,
        headers: dict[str, str] | None = None,
        timeout_s: float | None = None,
    ) -> Response:
        resp, sent = self._open(method, path, body, headers, timeout_s)
        received = self.clock.mono()
        status, etag = resp.status, resp.headers.get("ETag")
        if status == 304:
            return Response(304, None, etag)
        raw = resp.data  # read and decoded (gzip) by urllib3; the connection is back
        if not raw:
            return Response(status, None, etag)
        try:
            parsed = json.loads(raw)
        except ValueError as exc:
            raise Unreachable(f"{method} {path}: the answer is not JSON", status) from exc
        if not isinstance(parsed, dict):
            raise Unreachable(f"{method} {path}: the answer is not a JSON object", status)
        if anchor and "server_time" in parsed:
            with contextlib.suppress(ValidationError):
                self.clock.anchor(parse_time(parsed["server_time"], "server_time"), sent, received)
        return Response(status, parsed, etag)

    def get_plan(self, etag: str | None) -> Response:
        """The plan (200), or 304 (no body) when ``etag`` is still current: the caller
        keeps the plan it has."""
        headers = {"Accept-Encoding": "gzip"}  # a day of looping compresses ~20x: it is 4G
        if etag:
            headers["If-None-Match"] = etag
        return self._json("GET", f"{self._speaker_path}/plan", headers=headers)

    def events(self, after: int | None, wait_s: int) -> dict[str, Any]:
        """Long poll; the answer's server_time is not a clock sample (it waited)."""
        query = f"?after={after}&wait={wait_s}" if after is not None else ""
        r = self._json(
            "GET", f"{self._speaker_path}/events{query}", anchor=False, timeout_s=wait_s + 20.0
        )
        return r.body or {}

    def heartbeat(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self._json("POST", f"{self._speaker_path}/heartbeat", payload).body or {}

    def plays(self, entries: list[dict[str, Any]]) -> dict[str, Any]:
        return self._json("POST", f"{self._speaker_path}/plays", {"entries": entries}).body or {}

    def track(self, points: list[dict[str, Any]]) -> dict[str, Any]:
        """Upload track points (issue 13); the answer lists the ids the server holds."""
        return self._json("POST", f"{self._speaker_path}/track", {"points": points}).body or {}

    def ack(self, urgent: str, state: str, at: str) -> None:
        self._json(
            "POST", f"{self._speaker_path}/acks", {"urgent": urgent, "state": state, "at": at}
        )

    def live_stream(self, path: str, timeout_s: float) -> urllib3.BaseHTTPResponse:
        """Open a live page's frame stream (docs/device-api.md): the answer, its body left to
        read (``read1``) and to close by the caller. ``timeout_s`` bounds the connect and
        each read (a stalled stream raises a read timeout)."""
        resp, _ = self._open(
            "GET",
            path,
            headers={"Accept": "application/vnd.broadcaster.pcm-frames"},
            timeout_s=timeout_s,
            stream=True,
        )
        return resp

    def download(self, spec: ClipSpec, part: Path) -> None:
        """Fetch a clip into ``part``, resuming with a Range request if part of it is there."""
        have = part.stat().st_size if part.exists() else 0
        headers = {"Range": f"bytes={have}-"} if have else None
        resp, _ = self._open("GET", spec.url, headers=headers, timeout_s=30.0, stream=True)
        complete = False
        try:
            if resp.status == 304:
                raise Unreachable(f"GET {spec.url}: unexpected 304", 304)
            expected = resp.headers.get("Content-Length")
            got = 0
            with part.open("ab" if have and resp.status == 206 else "wb") as out:
                try:
                    for block in resp.stream(1 << 16):
                        out.write(block)
                        got += len(block)
                except (TransportError, OSError) as exc:
                    raise Unreachable(
                        f"GET {spec.url}: download broke off: {_reason(exc)}", resp.status
                    ) from None
            # A short body is a broken download to resume, not a finished one to check
            # (and throw away).
            if expected is not None and expected.isdigit() and got < int(expected):
                raise Unreachable(
                    f"GET {spec.url}: download broke off after {got} of {expected} bytes",
                    resp.status,
                )
            complete = True
        finally:
            if not complete:
                resp.close()  # unread bytes: the connection cannot serve another request
            resp.release_conn()


def _reason(exc: BaseException) -> str:
    """The innermost cause of a transport error (urllib3 wraps the socket's), in words."""
    while True:
        inner = (
            getattr(exc, "reason", None)
            or exc.__cause__
            or next((a for a in exc.args if isinstance(a, BaseException)), None)
        )
        if not isinstance(inner, BaseException) or inner is exc:
            return str(exc) or type(exc).__name__
        exc = inner


def _error_message(raw: bytes, fallback: str) -> str:
    try:
        body = json.loads(raw or b"{}")
        return str(body.get("error", {}).get("message") or fallback)
    except (ValueError, AttributeError):
        return fallback


def _error_field(raw: bytes) -> str | None:
    try:
        found = json.loads(raw or b"{}").get("error", {}).get("field")
    except (ValueError, AttributeError):
        return None
    return found if isinstance(found, str) else None


def held(answer: dict[str, Any]) -> list[str]:
    """The ids an upload's answer (plays, track) says the server now holds: `accepted` and
    `duplicates`; the client drops them from its journal."""
    return [str(i) for i in (answer.get("accepted") or []) + (answer.get("duplicates") or [])]
