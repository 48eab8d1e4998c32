"""Test doubles for the client: WAV clips, plan bodies and a stub device-API server."""

from __future__ import annotations

import array
import contextlib
import gzip
import hashlib
import json
import math
import socket
import ssl
import threading
import time
import wave
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

RATE = 22050
TOKEN = "tok-vehicle-01"
SPEAKER = "vehicle-01"


def wav_bytes(seconds: float, freq: float = 440.0, rate: int = RATE, amp: int = 8000) -> bytes:
    """A mono 16-bit sine clip as WAV file bytes."""
    import io

    n = int(seconds * rate)
    samples = array.array(
        "h", (int(amp * math.sin(2 * math.pi * freq * i / rate)) for i in range(n))
    )
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return buf.getvalue()


def iso(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds")


@dataclass
class Clip:
    key: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def spec(self) -> dict[str, Any]:
        return {
            "url": f"/api/v1/clips/{self.key}",
            "sha256": self.sha256,
            "size": len(self.data),
            "duration_ms": 1000 * (len(self.data) - 44) // (2 * RATE),
            "format": "wav",
        }


def make_clip(key: str, seconds: float, freq: float = 440.0) -> Clip:
    return Clip(key, wav_bytes(seconds, freq))


def plan_body(
    windows: list[tuple[datetime, datetime]],
    items: Sequence[tuple[datetime, Clip, str, str | None]],
    heartbeat_s: float = 30,
) -> dict[str, Any]:
    """A plan body as the server sends it. ``items``: (start, clip, kind, urgent id)."""

    def window_end(t: datetime) -> datetime:
        return next(e for s, e in windows if s <= t < e)

    clips = {c.key: c.spec() for _, c, _, _ in items}
    return {
        "speaker": SPEAKER,
        "zone": "UTC",
        "generated_at": iso(datetime.now(UTC)),
        "valid_from": iso(windows[0][0] if windows else datetime.now(UTC)),
        "valid_until": iso(datetime.now(UTC) + timedelta(hours=36)),
        "windows": [{"start": iso(s), "end": iso(e)} for s, e in windows],
        "items": [
            {
                "start": iso(t),
                "end": iso(t + timedelta(milliseconds=clips[c.key]["duration_ms"])),
                "kind": kind,
                "message": c.key,
                "clip": c.key,
                "urgent": urgent,
                "window_end": iso(window_end(t)),
            }
            for t, c, kind, urgent in items
        ],
        "clips": clips,
        "heartbeat_s": heartbeat_s,
    }


@dataclass
class StubState:
    """What the stub serves and what it received."""

    plan: dict[str, Any] | None = None
    clips: dict[str, bytes] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    plays: dict[str, dict[str, Any]] = field(default_factory=dict)
    play_posts: int = 0
    duplicate_posts: int = 0
    heartbeats: list[dict[str, Any]] = field(default_factory=list)
    acks: list[dict[str, Any]] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    fail_with: int | None = None  # answer every request with this status
    clip_gets: dict[str, int] = field(default_factory=dict)
    clip_delay_s: dict[str, float] = field(default_factory=dict)  # slow downloads, by key
    connections: int = 0  # TCP connections accepted (keep-alive: far fewer than requests)
    not_modified: int = 0  # 304 answers to plan requests
    drop_reused: int = 0  # close this many kept-alive connections on their next request
    open_sockets: set[socket.socket] = field(default_factory=set)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def etag(self) -> str:
        body = json.dumps(self.plan, sort_keys=True).encode()
        return '"' + hashlib.sha256(body).hexdigest()[:16] + '"'

    def push_event(self, kind: str, payload: dict[str, Any]) -> int:
        with self.cond:
            seq = len(self.events) + 1
            self.events.append(
                {"seq": seq, "kind": kind, "created_at": iso(datetime.now(UTC)), "payload": payload}
            )
            self.cond.notify_all()
            return seq


class _Handler(BaseHTTPRequestHandler):
    state: StubState
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without this, Nagle's algorithm holds
        # the body until the client's delayed ACK (~40 ms a request on a kept-alive link).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.state.cond:
            self.state.connections += 1
            self.state.open_sockets.add(self.connection)

    def finish(self) -> None:
        with self.state.cond:
            self.state.open_sockets.discard(self.connection)
        super().finish()

    def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        data = b""
        if body is not None:
            if isinstance(body, dict):
                body = {**body, "server_time": iso(datetime.now(UTC))}
                data = json.dumps(body).encode()
            else:
                data = body
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if body is not None and isinstance(data, bytes) and "Content-Type" not in (headers or {}):
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _auth(self) -> bool:
        st = self.state
        self.served = getattr(self, "served", 0) + 1
        if self.served > 1 and st.drop_reused > 0:
            # An idle connection the server closed just as the client sent on it.
            st.drop_reused -= 1
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return False
        st.requests.append(f"{self.command} {self.path}")
        refusal = None
        if st.fail_with is not None:
            refusal = st.fail_with, {"error": {"code": "fail", "message": "stub failure"}}
        elif self.headers.get("Authorization") != f"Bearer {TOKEN}":
            refusal = 401, {"error": {"code": "unauthorized", "message": "bad token"}}
        if refusal is None:
            return True
        # Read what was sent: the kept-alive connection serves the next request.
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._send(*refusal)
        return False

    def _body(self) -> Any:
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n) or b"{}")

    def do_GET(self) -> None:
        if not self._auth():
            return
        st = self.state
        path, _, query = self.path.partition("?")
        if path.endswith("/plan"):
            if st.plan is None:
                self._send(404, {"error": {"code": "not_found", "message": "no plan"}})
            elif self.headers.get("If-None-Match") == st.etag():
                st.not_modified += 1
                self._send(304)
            elif "gzip" in (self.headers.get("Accept-Encoding") or ""):
                body = json.dumps({**st.plan, "server_time": iso(datetime.now(UTC))}).encode()
                headers = {"ETag": st.etag(), "Content-Encoding": "gzip"}
                self._send(
                    200, gzip.compress(body), {**headers, "Content-Type": "application/json"}
                )
            else:
                self._send(200, st.plan, {"ETag": st.etag()})
        elif path.startswith("/api/v1/clips/"):
            key = path.rsplit("/", 1)[1]
            st.clip_gets[key] = st.clip_gets.get(key, 0) + 1
            if key in st.clip_delay_s:
                time.sleep(st.clip_delay_s[key])
            data = st.clips.get(key)
            if data is None:
                self._send(404, {"error": {"code": "not_found", "message": "no clip"}})
                return
            rng = self.headers.get("Range")
            if rng and rng.startswith("bytes="):
                start = int(rng[6:].split("-")[0])
                self._send(206, data[start:], {"Content-Type": "audio/wav"})
            else:
                self._send(200, data, {"Content-Type": "audio/wav"})
        elif path.endswith("/events"):
            params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
            if "after" not in params:
                self._send(200, {"events": [], "last": len(st.events)})
                return
            after, wait = int(params["after"]), min(float(params.get("wait", 0)), 5.0)
            with st.cond:
                st.cond.wait_for(lambda: len(st.events) > after, timeout=wait)
                events = [e for e in st.events if e["seq"] > after]
            self._send(200, {"events": events, "last": len(st.events)})
        else:
            self._send(404, {"error": {"code": "not_found", "message": path}})

    def do_POST(self) -> None:
        if not self._auth():
            return
        st = self.state
        body = self._body()
        if self.path.endswith("/heartbeat"):
            st.heartbeats.append(body)
            etag = st.etag() if st.plan is not None else None
            self._send(200, {"plan_etag": etag, "heartbeat_s": st.plan and st.plan["heartbeat_s"]})
        elif self.path.endswith("/plays"):
            accepted, dups = [], []
            st.play_posts += 1
            for e in body["entries"]:
                if e["id"] in st.plays:
                    dups.append(e["id"])
                    st.duplicate_posts += 1
                else:
                    st.plays[e["id"]] = e
                    accepted.append(e["id"])
            self._send(200, {"accepted": accepted, "duplicates": dups})
        elif self.path.endswith("/acks"):
            st.acks.append(body)
            self._send(204)
        else:
            self._send(404, {"error": {"code": "not_found", "message": self.path}})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    gone = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not self.gone:  # a connection cut by __exit__ is no error
            super().handle_error(request, client_address)


class StubServer:
    """A device-API stub on 127.0.0.1 serving ``state``."""

    def __init__(
        self, tls: tuple[Path, Path] | None = None, port: int = 0, state: StubState | None = None
    ) -> None:
        """``tls``: (certificate, key) PEM files to serve HTTPS instead of HTTP; ``port``
        and ``state``: those of a stub that went away, to come back as it."""
        self.state = state or StubState()
        handler = type("Handler", (_Handler,), {"state": self.state})
        self.httpd = _Server(("127.0.0.1", port), handler)
        scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> StubServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Gone like a stopped server: no new connection, and the kept-alive ones cut."""
        self.httpd.gone = True
        self.httpd.shutdown()
        self.httpd.server_close()
        with self.state.cond:
            for sock in list(self.state.open_sockets):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def serve(self, plan: dict[str, Any], clips: list[Clip]) -> None:
        for c in clips:
            self.state.clips[c.key] = c.data
        self.state.plan = plan


def read_log(path: Path) -> Iterator[dict[str, Any]]:
    log = Path(str(path) + ".log")
    if not log.exists():
        return
    for line in log.read_text(encoding="utf-8").splitlines():
        yield json.loads(line)
