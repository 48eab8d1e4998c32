"""HTTP calls of the device API (docs/device-api.md), on the standard library only."""

from __future__ import annotations

import contextlib
import gzip
import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from broadcaster.client.clock import Clock
from broadcaster.client.plan import ClipSpec, parse_time
from broadcaster.errors import BroadcasterError, ValidationError

USER_AGENT = "broadcaster-client"


class ApiError(BroadcasterError):
    """The server answered with an error (or not at all)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Unauthorized(ApiError):
    """401: the token is missing, unknown or revoked."""


class Unreachable(ApiError):
    """No usable answer: connection refused, timeout, a 5xx or a garbled body."""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: dict[str, Any] | None
    etag: str | None


class DeviceApi:
    """One speaker's view of the server. Timed JSON answers anchor ``clock``."""

    def __init__(
        self, server: str, speaker: str, token: str, clock: Clock, timeout_s: float = 15.0
    ) -> None:
        base = server.rstrip("/")
        if base.endswith("/api/v1"):
            base = base[: -len("/api/v1")]
        self.base = base
        self.speaker = speaker
        self._token = token
        self.clock = clock
        self.timeout_s = timeout_s
        self._opener = urllib.request.build_opener()
        self._speaker_path = f"/api/v1/speakers/{urllib.parse.quote(speaker, safe='')}"

    def _open(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        timeout_s: float | None = None,
    ) -> tuple[http.client.HTTPResponse, float]:
        url = urllib.parse.urljoin(self.base + "/", path.lstrip("/")) if "://" not in path else path
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self._token}")
        req.add_header("User-Agent", USER_AGENT)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        sent = self.clock.mono()
        try:
            resp = self._opener.open(req, timeout=timeout_s or self.timeout_s)
        except urllib.error.HTTPError as exc:
            if exc.code == 304:
                exc.close()
                return _NotModified(), sent  # type: ignore[return-value]
            detail = _error_message(exc)
            exc.close()
            if exc.code == 401:
                raise Unauthorized(f"{method} {path}: 401 {detail}", 401) from None
            if exc.code >= 500 or exc.code == 429:
                raise Unreachable(f"{method} {path}: {exc.code} {detail}", exc.code) from None
            raise ApiError(f"{method} {path}: {exc.code} {detail}", exc.code) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise Unreachable(f"{method} {path}: {reason}") from None
        return resp, sent

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
        if isinstance(resp, _NotModified):
            return Response(304, None, None)
        with resp:
            try:
                raw = resp.read()
            except (OSError, http.client.HTTPException) as exc:
                raise Unreachable(f"{method} {path}: {exc}") from None
            received = self.clock.mono()
            status, etag = resp.status, resp.headers.get("ETag")
            encoding = resp.headers.get("Content-Encoding", "")
        if not raw:
            return Response(status, None, etag)
        try:
            parsed = json.loads(gzip.decompress(raw) if encoding == "gzip" else raw)
        except (ValueError, OSError, EOFError) as exc:
            raise Unreachable(f"{method} {path}: the answer is not JSON") from exc
        if not isinstance(parsed, dict):
            raise Unreachable(f"{method} {path}: the answer is not a JSON object")
        if anchor and "server_time" in parsed:
            with contextlib.suppress(ValidationError):
                self.clock.anchor(parse_time(parsed["server_time"], "server_time"), sent, received)
        return Response(status, parsed, etag)

    def get_plan(self, etag: str | None) -> Response:
        """The plan (200) or 304 when ``etag`` is still current."""
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

    def ack(self, urgent: str, state: str, at: str) -> None:
        self._json(
            "POST", f"{self._speaker_path}/acks", {"urgent": urgent, "state": state, "at": at}
        )

    def download(self, spec: ClipSpec, part: Path) -> None:
        """Fetch a clip into ``part``, resuming with a Range request if part of it is there."""
        have = part.stat().st_size if part.exists() else 0
        headers = {"Range": f"bytes={have}-"} if have else None
        resp, _ = self._open("GET", spec.url, headers=headers, timeout_s=30.0)
        if isinstance(resp, _NotModified):
            raise Unreachable(f"GET {spec.url}: unexpected 304")
        expected = resp.headers.get("Content-Length")
        got = 0
        with resp, part.open("ab" if have and resp.status == 206 else "wb") as out:
            try:
                while block := resp.read(1 << 16):
                    out.write(block)
                    got += len(block)
            except (TimeoutError, OSError, http.client.HTTPException) as exc:
                raise Unreachable(f"GET {spec.url}: download broke off: {exc}") from None
        # http.client's read(n) ends quietly when the connection closes early: a short body
        # is a broken download to resume, not a finished one to check (and throw away).
        if expected is not None and expected.isdigit() and got < int(expected):
            raise Unreachable(f"GET {spec.url}: download broke off after {got} of {expected} bytes")


class _NotModified:
    """Stands for a 304 answer (urllib reports it as an error)."""


def _error_message(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read() or b"{}")
        return str(body.get("error", {}).get("message") or exc.reason)
    except (ValueError, AttributeError, OSError):
        return str(exc.reason)
