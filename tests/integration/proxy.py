"""A fault-injecting HTTP proxy on loopback, between real clients and the real server.

Modes: `pass` forwards; `block_clips` answers 503 to clip downloads; `fail` answers 500 to
everything; `hang` holds requests without answering; `down` closes connections at once;
`truncate_clips` sends clip downloads' headers and half their body, then closes (a resumed
download is cut again, so it never completes);
`corrupt_clips` sends clip downloads whole but with bytes flipped in the middle.
"""

from __future__ import annotations

import http.client
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "proxy-connection"}


class FaultProxy:
    """Forward 127.0.0.1:<port> to `upstream`, with a switchable fault `mode`."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.mode = "pass"
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status) as answered
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                mode = proxy.mode
                if mode == "down":
                    self.close_connection = True
                    self.connection.close()
                    return
                if mode == "hang":
                    while proxy.mode == "hang":
                        time.sleep(0.05)
                    self.close_connection = True
                    self.connection.close()
                    return
                if mode == "fail" or (mode == "block_clips" and "/clips/" in self.path):
                    status = 500 if mode == "fail" else 503
                    self._answer(status, b'{"error": {"code": "injected", "message": "fault"}}')
                    return
                conn = http.client.HTTPConnection(
                    proxy.upstream.hostname or "127.0.0.1", proxy.upstream.port, timeout=120
                )
                try:
                    headers = {
                        k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS
                    }
                    conn.request(self.command, self.path, body=body, headers=headers)
                    upstream = conn.getresponse()
                    data = upstream.read()
                    damaged = (
                        mode in ("truncate_clips", "corrupt_clips")
                        and "/clips/" in self.path
                        and upstream.status in (200, 206)
                        and len(data) > 0
                    )
                    if damaged and mode == "corrupt_clips":
                        middle = len(data) // 2
                        data = (
                            data[:middle]
                            + bytes(b ^ 0xFF for b in data[middle : middle + 64])
                            + data[middle + 64 :]
                        )
                    self.send_response(upstream.status)
                    for key, value in upstream.getheaders():
                        if key.lower() not in HOP_HEADERS | {"content-length"}:
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if damaged and mode == "truncate_clips":
                        self.wfile.write(data[: len(data) // 2])
                        self.wfile.flush()
                        self.close_connection = True
                        self.connection.shutdown(2)
                        proxy.requests.append((self.command, self.path, -1))
                        return
                    self.wfile.write(data)
                    proxy.requests.append((self.command, self.path, upstream.status))
                except OSError:
                    self._answer(502, b'{"error": {"code": "bad_gateway", "message": "upstream"}}')
                finally:
                    conn.close()

            def _answer(self, status: int, data: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                proxy.requests.append((self.command, self.path, status))

            do_GET = do_POST = do_DELETE = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.mode = "pass"
        self._server.shutdown()
        self._server.server_close()
