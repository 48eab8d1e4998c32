"""Live paging's relay on a real `broadcaster serve` (issue 12): a pager's WebSocket in, each
speaker's chunked stream out; the `live` event on the long poll; a second pager is told who is
talking; the page ends for everyone when the pager lets go.

(The client's live mode, the panel's Talk button and `broadcaster page` are the next steps:
docs/live-paging.md.)"""

from __future__ import annotations

import contextlib
import json
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import simple_websocket

from tests.integration.harness import Server
from tests.integration.livewire import (
    Frame,
    heartbeat,
    open_pager,
    paging_server,
    read_frames,
    wait_live,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with paging_server(tmp_path) as running:
        yield running


def _read_stream(server: Server, speaker: str, token: str, page: str, into: list[Frame]) -> None:
    with requests.get(
        f"{server.url}/api/v1/speakers/{speaker}/live/{page}?behind_ms=0",
        headers={"Authorization": f"Bearer {token}"},
        stream=True,
        timeout=30,
    ) as answer:
        assert answer.status_code == 200, answer.text
        read_frames(answer.iter_content(chunk_size=None), into)


def test_a_page_reaches_every_speaker_in_order_and_ends_for_all(server: Server):
    devices = {s: server.device_token(s) for s in ("spk-1", "spk-2", "spk-3")}
    admin = server.user_token("admin")
    for speaker, token in devices.items():  # online (heartbeats every 2 s here)
        heartbeat(server, speaker, token)
    ws, answer = open_pager(server, admin, {"speakers": ["spk-1", "spk-2"]})
    assert "page" in answer, answer
    page = answer["page"]
    assert {t["speaker"]: t["live"] for t in answer["targets"]} == {"spk-1": True, "spk-2": True}

    # Each target is told at once on the long poll it already holds.
    events = requests.get(
        f"{server.url}/api/v1/speakers/spk-1/events?after=0&wait=0",
        headers={"Authorization": f"Bearer {devices['spk-1']}"},
        timeout=10,
    ).json()
    live = [e for e in events["events"] if e["kind"] == "live"]
    assert live and live[-1]["payload"]["page"] == page

    got: dict[str, list] = {"spk-1": [], "spk-2": []}  # type: ignore[type-arg]
    readers = [
        threading.Thread(target=_read_stream, args=(server, s, devices[s], page, got[s]))
        for s in got
    ]
    for reader in readers:
        reader.start()
    # The readers are connected before the first frame (the pager is told each is live; a
    # fixed 0.5 s was not always enough on a loaded machine, and the first frames were lost).
    assert wait_live(ws, set(got)) == set(got)

    # A second pager while the first talks: told who is talking, nothing starts.
    chief_ws, refused = open_pager(server, admin, {"speakers": ["spk-2", "spk-3"]})
    assert refused["error"]["code"] == "busy" and refused["error"]["by"] == "admin", refused
    with contextlib.suppress(simple_websocket.ConnectionClosed):  # the server closed it
        chief_ws.close()  # type: ignore[attr-defined]

    sent = [struct.pack("<h", n) * 441 for n in range(100)]  # 20 ms frames, each its own value
    for frame in sent:
        ws.send(frame)  # type: ignore[attr-defined]
        time.sleep(0.02)
    ws.send(json.dumps({"end": True}))  # type: ignore[attr-defined]
    for reader in readers:
        reader.join(timeout=30)
        assert not reader.is_alive()
    for speaker, frames in got.items():
        pcm = [f for f in frames if not f[2] & 1]
        assert [seq for seq, _, _ in pcm] == list(range(len(pcm))), speaker
        assert [data for _, data, _ in pcm] == sent[: len(pcm)], speaker
        assert len(pcm) == 100, (speaker, len(pcm))
        assert frames[-1][2] & 1, f"{speaker}: the stream did not say the page is over"
    with contextlib.suppress(simple_websocket.ConnectionClosed):  # the server closed it
        ws.close()  # type: ignore[attr-defined]

    # Over: the speakers are free for the next pager.
    heartbeat(server, "spk-2", devices["spk-2"])  # online (heartbeats every 2 s here)
    again, answer = open_pager(server, admin, {"speakers": ["spk-2"]})
    assert "page" in answer, answer
    again.close()  # type: ignore[attr-defined]


def test_pagers_without_the_right_are_refused_and_nothing_starts(server: Server):
    devices = {s: server.device_token(s) for s in ("spk-1", "spk-2")}
    chief = server.user_token("chief-a")  # village-a: spk-1 and spk-3
    for speaker, token in devices.items():
        heartbeat(server, speaker, token)
    ws, answer = open_pager(server, chief, {"speakers": ["spk-2"]})  # village-b's
    assert answer["error"]["code"] == "refused" and "spk-2" in answer["error"]["message"], answer
    ws, answer = open_pager(server, chief, {"speakers": ["spk-1"], "take_over": True})
    assert "only an admin" in answer["error"]["message"], answer
    upgrade = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Authorization": "Bearer nope"}  # fmt: skip
    refused = requests.get(f"{server.url}/api/v1/live", headers=upgrade, timeout=10)
    assert refused.status_code == 401, refused.text  # before the upgrade, as every API answer
    assert refused.json()["error"]["code"] == "unauthenticated"
    heartbeat(server, "spk-1", devices["spk-1"])  # online (heartbeats every 2 s here)
    ws, answer = open_pager(server, chief, {"speakers": ["spk-1"]})  # the chief's own: fine
    assert "page" in answer and answer["targets"][0]["live"], answer
    with contextlib.suppress(simple_websocket.ConnectionClosed):
        ws.send(json.dumps({"end": True}))  # type: ignore[attr-defined]
