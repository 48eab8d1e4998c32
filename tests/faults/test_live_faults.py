"""Live paging's faults on real processes (issue 12, docs/live-paging.md, "Faults"): a client
killed mid-page and restarted, the server killed mid-page, a network that stalls for 5 s, the
pager gone without a word. No speaker is left silent or stuck in live mode; each outcome is in
its play log."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.processes import FaultClient
from tests.integration.harness import Client, Server, starts, wait_for
from tests.integration.test_live_client import (
    Pager,
    db_rows,
    heard,
    live_clips,
    live_plays,
    looping,
    online,
    start_deployment,
)

pytestmark = pytest.mark.integration


class StallProxy:
    """A TCP proxy on loopback that can stall: while `paused`, no byte moves either way (the
    connections stay open, new ones wait), as a network that stalls."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream = upstream_port
        self.paused = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        while self.paused.is_set() and not self._closed:
            time.sleep(0.02)
        try:
            up = socket.create_connection(("127.0.0.1", self.upstream), timeout=5)
        except OSError:
            conn.close()
            return
        up.settimeout(None)
        self._sockets += [conn, up]
        threading.Thread(target=self._pump, args=(conn, up), daemon=True).start()
        threading.Thread(target=self._pump, args=(up, conn), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                while self.paused.is_set() and not self._closed:
                    time.sleep(0.02)
                data = src.recv(65536)
                if not data:
                    break
                while self.paused.is_set() and not self._closed:
                    time.sleep(0.02)  # a stall holds what is in flight too
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self._closed = True
        self.paused.clear()
        self._listener.close()
        for s in self._sockets:
            with contextlib.suppress(OSError):
                s.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = start_deployment(tmp_path, speakers=2)
    yield running
    running.stop()


def stop_line(client: Client, page: str) -> dict | None:  # type: ignore[type-arg]
    return next((e for e in client.events() if e["event"] == "stop" and e["clip"] == page), None)


def loop_after(client: Client, t: float) -> bool:
    return any(e["t"] > t for e in starts(client, "loop"))


@pytest.mark.slow
def test_a_client_killed_mid_page_restarts_into_its_loop_not_the_page(
    server: Server, tmp_path: Path
) -> None:
    token = server.device_token("spk-1")
    killed = FaultClient("spk-1", tmp_path, server.url, token)
    killed.start()
    (other,) = [Client("spk-2", tmp_path, server.url, server.device_token("spk-2"))]
    other.start()
    pager = Pager(server, server.user_token("admin"))
    try:
        assert wait_for(lambda: looping([killed, other]) and online(server, ["spk-1", "spk-2"]), 60)
        pager.open(["spk-1", "spk-2"])
        # Up to 30 s: still on when the killed one is back (a restart can take 10 s and more
        # on a loaded machine), ended as soon as it is.
        pager.talk(1500, background=True)
        assert wait_for(lambda: any(h.start["clip"] == pager.page for h in live_clips(killed)), 10)
        time.sleep(1.0)
        killed.kill()  # mid-page
        time.sleep(0.5)
        restarted = time.time()
        killed.start()
        # Back into its loop while the page still runs for the other speaker; never the page.
        assert wait_for(lambda: loop_after(killed, restarted), 30), killed.log_text()[-3000:]
        assert stop_line(other, pager.page) is None  # the page was still on meanwhile
        pager.stop_talking()
        pager.end()
        assert wait_for(lambda: stop_line(other, pager.page) is not None, 10)
        # The page's entry the kill left in the journal reaches the server as cut.
        assert wait_for(lambda: live_plays(server, "spk-1"), 30), killed.log_text()[-3000:]
        assert wait_for(lambda: live_plays(server, "spk-2"), 30)
    finally:
        pager.close()
        killed.stop()
        other.stop()
    after = [h for h in heard(killed) if h.start["t"] > restarted]
    assert after and all(h.start["kind"] != "live" for h in after), [h.start for h in after]
    assert live_plays(server, "spk-1") == [(pager.page, 0, "cut:shutdown")]
    assert live_plays(server, "spk-2") == [(pager.page, 1, "")]
    # The server saw spk-1's stream drop; the other heard the page to the end.
    outcome = db_rows(server, "SELECT targets FROM live_pages WHERE id = ?", pager.page)
    assert outcome and '"heard"' in outcome[0][0]


@contextlib.contextmanager
def page_on_air(server: Server, root: Path) -> Iterator[tuple[list[Client], Pager]]:
    """spk-1 and spk-2 looping, then a page to both that each has started to play; the
    clients and the pager are stopped afterwards whatever happened."""
    group = [Client(s, root, server.url, server.device_token(s)) for s in ("spk-1", "spk-2")]
    for c in group:
        c.start()
    pager = Pager(server, server.user_token("admin"))
    try:
        assert wait_for(lambda: looping(group) and online(server, ["spk-1", "spk-2"]), 60)
        pager.open(["spk-1", "spk-2"])
        pager.talk(500, background=True)
        assert wait_for(
            lambda: all(any(h.start["clip"] == pager.page for h in live_clips(c)) for c in group),
            10,
        )
        yield group, pager
    finally:
        pager.close()
        for c in group:
            c.stop()


@pytest.mark.slow
def test_the_server_killed_mid_page_each_client_ends_it_2_s_later_and_loops_on(
    server: Server, tmp_path: Path
) -> None:
    with page_on_air(server, tmp_path) as (group, pager):
        time.sleep(1.5)
        killed_at = time.time()
        server.kill()
        pager.close()
        assert wait_for(lambda: all(stop_line(c, pager.page) for c in group), 10)
        for c in group:
            stop = stop_line(c, pager.page)
            assert stop is not None and stop["reason"] == "cut:stream-lost", stop
            # 2 s without audio, plus what was buffered and the 20 ms of a frame.
            assert 1.8 <= stop["t"] - killed_at <= 3.5, stop["t"] - killed_at
        # The loop resumes from the cache with the server still down.
        assert wait_for(lambda: all(loop_after(c, killed_at + 2) for c in group), 20)
        server.start()
        for s in ("spk-1", "spk-2"):
            assert wait_for(lambda s=s: live_plays(server, s), 60)  # type: ignore[misc]
    for s in ("spk-1", "spk-2"):
        assert live_plays(server, s) == [(pager.page, 0, "cut:stream-lost")]
    (reason,) = db_rows(server, "SELECT ended_reason FROM live_pages WHERE id = ?", pager.page)
    assert reason == ("server restart",)


@pytest.mark.slow
def test_a_network_that_stalls_5_s_ends_the_page_after_2_s_and_the_loop_resumes(
    server: Server, tmp_path: Path
) -> None:
    proxy = StallProxy(server.port)
    stalled = Client("spk-1", tmp_path, proxy.url, server.device_token("spk-1"))
    direct = Client("spk-2", tmp_path, server.url, server.device_token("spk-2"))
    for c in (stalled, direct):
        c.start()
    pager = Pager(server, server.user_token("admin"))
    try:
        assert wait_for(
            lambda: looping([stalled, direct]) and online(server, ["spk-1", "spk-2"]), 60
        )
        pager.open(["spk-1", "spk-2"])
        pager.talk(500, background=True)  # 10 s
        assert wait_for(lambda: any(h.start["clip"] == pager.page for h in live_clips(stalled)), 10)
        time.sleep(1.5)
        stall_at = time.time()
        proxy.paused.set()
        assert wait_for(lambda: stop_line(stalled, pager.page) is not None, 6)
        stop = stop_line(stalled, pager.page)
        assert stop is not None and stop["reason"] == "cut:stream-lost", stop
        assert 1.8 <= stop["t"] - stall_at <= 3.5, stop["t"] - stall_at
        # Silence for 2 s, then the loop again: from its cache, the network still stalled.
        assert wait_for(lambda: loop_after(stalled, stop["t"]), 15)
        time.sleep(max(0.0, stall_at + 5 - time.time()))
        proxy.paused.clear()
        pager.wait_talked()
        pager.end()
        assert wait_for(lambda: stop_line(direct, pager.page) is not None, 10)
        assert wait_for(lambda: live_plays(server, "spk-1"), 30), stalled.log_text()[-3000:]
    finally:
        pager.close()
        for c in (stalled, direct):
            c.stop()
        proxy.close()
    # The stalled speaker did not rejoin a page it had ended, and it played once.
    assert [h.start["clip"] for h in live_clips(stalled)].count(pager.page) == 1
    assert live_plays(server, "spk-1") == [(pager.page, 0, "cut:stream-lost")]
    assert live_plays(server, "spk-2") == [(pager.page, 1, "")]


def test_the_pager_gone_without_a_word_ends_the_page_everywhere(
    server: Server, tmp_path: Path
) -> None:
    with page_on_air(server, tmp_path) as (group, pager):
        time.sleep(1.0)
        gone_at = time.time()
        pager.vanish()  # the tab closed: the socket goes, no end message
        assert wait_for(lambda: all(stop_line(c, pager.page) for c in group), 10)
        assert wait_for(lambda: all(loop_after(c, gone_at) for c in group), 20)
        for s in ("spk-1", "spk-2"):
            assert wait_for(lambda s=s: live_plays(server, s), 30)  # type: ignore[misc]
    for c in group:
        stop = stop_line(c, pager.page)
        assert stop is not None
        # The server ends the page for everyone with the end flag: the sender ended it.
        assert stop["reason"] == "" and stop["t"] - gone_at < 1.5, (stop, gone_at)
        assert live_plays(server, c.speaker) == [(pager.page, 1, "")]
