"""What the live-paging tests share: a server for three speakers, a device's heartbeat, a
pager's WebSocket and the reading of a speaker's live stream (frames with their header)."""

from __future__ import annotations

import json
import struct
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
import simple_websocket

from tests.integration.harness import Server, aware_now, deployment_yaml, seconds

# A live frame on the wire: sequence number, payload length, flags (bit 0: the end).
HEADER = struct.Struct(">IHH")
END = 1
Frame = tuple[int, bytes, int]


@contextmanager
def paging_server(root: Path, speakers: int = 3) -> Iterator[Server]:
    """A real server whose windows are open for the next hour, with `speakers` speakers."""
    now = aware_now()
    config = root / "config.yaml"
    config.write_text(
        deployment_yaml(
            window_start=now - seconds(60), window_end=now + seconds(3600), speakers=speakers
        )
    )
    running = Server(root, config)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def heartbeat(server: Server, speaker: str, token: str) -> None:
    """One heartbeat: the speaker is online (a page is offered only to online speakers)."""
    answer = requests.post(
        f"{server.url}/api/v1/speakers/{speaker}/heartbeat",
        json={"state": "playing"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text


def open_pager(server: Server, token: str, ask: dict[str, object]) -> tuple[Any, dict[str, Any]]:
    """A pager's WebSocket with its first request sent, and the server's first answer."""
    ws = simple_websocket.Client.connect(
        server.url.replace("http", "ws") + "/api/v1/live",
        headers={"Authorization": f"Bearer {token}"},
    )
    ws.send(json.dumps(ask))
    answer: dict[str, Any] = json.loads(ws.receive(timeout=10))
    return ws, answer


def wait_live(ws: Any, speakers: set[str], timeout_s: float = 15) -> set[str]:
    """Read the pager's state messages until each of `speakers` has been `live` (its stream
    is reading: it gets every frame sent from now on) or `timeout_s`; those that were."""
    live: set[str] = set()
    deadline = time.monotonic() + timeout_s
    while not speakers <= live and (left := deadline - time.monotonic()) > 0:
        message = ws.receive(timeout=left)
        if isinstance(message, str):
            for target in json.loads(message).get("targets") or []:
                if target.get("state") == "live":
                    live.add(target["speaker"])
    return live


def read_frames(
    chunks: Iterable[bytes], into: list[Frame], stop: Callable[[], bool] = lambda: False
) -> None:
    """Append each whole frame of a live stream to `into` until the end frame, the end of the
    stream or `stop()` (asked after every chunk and frame)."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        while len(pending) >= HEADER.size:
            seq, length, flags = HEADER.unpack_from(pending)
            if len(pending) < HEADER.size + length:
                break
            into.append((seq, pending[HEADER.size : HEADER.size + length], flags))
            pending = pending[HEADER.size + length :]
            if flags & END or stop():
                return
        if stop():
            return
