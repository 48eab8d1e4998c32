"""A live page's audio on its way in (issue 12, docs/live-paging.md): the stream reader.

`LivePlayback` is one page on this speaker, shared by two threads under a lock: the reader
(`LiveReader`, below) feeds it the frames of `GET /api/v1/speakers/{id}/live/{page}`, and the
runner (the only thread that touches the sink) takes one chunk per frame time from it. The
decisions are `broadcaster.client.livemode`'s (pure); this module only does the I/O.

The stream is read through the client's own HTTP pool (broadcaster/client/api.py): each frame
is `seq` (u32, big-endian), `length` (u16), `flags` (u16, bit 0: the page is over) and
`length` bytes of PCM. A stream that breaks (or stalls past its read timeout) before the end
flag is opened again with `behind_ms`, so the speaker rejoins at the newest audio, for as long
as the page lasts here: once 2 s have passed without audio the runner has ended it.
"""

from __future__ import annotations

import contextlib
import logging
import struct
import threading
from collections.abc import Callable
from typing import Any

from urllib3.exceptions import HTTPError as TransportError

from broadcaster.client.api import ApiError, DeviceApi, Unreachable
from broadcaster.client.livemode import (
    GIVE_UP_MS,
    RECONNECT_MS,
    Chunk,
    LivePage,
    LiveSession,
)

log = logging.getLogger(__name__)

HEADER = struct.Struct(">IHH")
END = 1
READ_BLOCK = 1 << 14
# A stream that brings nothing for this long is dropped (and opened again if the page still
# lasts here): a stall shows as silence first, and after GIVE_UP_MS the page is over anyway.
READ_TIMEOUT_S = GIVE_UP_MS / 1000 + 0.5


class LivePlayback:
    """One live page on this speaker, between the stream reader and the runner (thread-safe)."""

    def __init__(self, page: LivePage, sink_rate: int, mono: Callable[[], float]) -> None:
        self.page = page
        self._mono = mono
        self._lock = threading.Lock()
        self._session = LiveSession(page, self.now_ms(), sink_rate)
        self._response: Any = None  # the stream being read, shut down when the page ends
        self.closed = threading.Event()  # set once the page is over here

    def now_ms(self) -> int:
        return int(self._mono() * 1000)

    # -- the reader's side ----------------------------------------------------------------

    def push(self, seq: int, pcm: bytes) -> None:
        with self._lock:
            self._session.push(seq, pcm, self.now_ms())

    def finish(self) -> None:
        """The end flag came."""
        with self._lock:
            self._session.finish()

    def wants_stream(self) -> bool:
        with self._lock:
            return self._session.wants_stream(self.now_ms())

    @property
    def behind_ms(self) -> int:
        with self._lock:
            return self._session.behind_ms

    def reading(self, response: Any) -> bool:
        """The reader opened (or, with None, closed) a stream; False if the page ended
        meanwhile (the reader closes it)."""
        with self._lock:
            if response is not None:
                self._session.streams += 1
            self._response = response
            return not self._session.over

    # -- the runner's side ----------------------------------------------------------------

    def next_chunk(self, now_s: float) -> Chunk | None:
        with self._lock:
            return self._session.next_chunk(int(now_s * 1000))

    def begin_audio(self) -> None:
        with self._lock:
            self._session.begin_audio(self.now_ms())

    def limit(self) -> str | None:
        with self._lock:
            return self._session.limit(self.now_ms())

    @property
    def ended(self) -> str | None:
        with self._lock:
            return self._session.ended

    def end(self, reason: str) -> str:
        """Over here, for `reason` unless it ended already; the reason it ended for. The
        stream being read is shut down (the reader returns at once)."""
        with self._lock:
            self._session.end(reason)
            response, self._response = self._response, None
            why = self._session.ended
        self.closed.set()
        if response is not None:
            with contextlib.suppress(Exception):
                response.shutdown()
        assert why is not None
        return why

    def counts(self) -> dict[str, int]:
        with self._lock:
            return self._session.counts()


class LiveReader:
    """Reads a page's stream into its `LivePlayback` on a thread of its own."""

    def __init__(self, api: DeviceApi, playback: LivePlayback) -> None:
        self.api = api
        self.playback = playback
        self.thread = threading.Thread(target=self.run, name="live-stream", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def run(self) -> None:
        pb = self.playback
        page = pb.page.page
        attempt = 0
        try:
            while pb.wants_stream():
                if attempt > 0 and pb.closed.wait(RECONNECT_MS / 1000):
                    return
                attempt += 1
                path = pb.page.stream_path(pb.behind_ms)
                try:
                    response = self.api.live_stream(path, READ_TIMEOUT_S)
                except Unreachable as exc:
                    log.info("live page %s: stream not open (%s); trying again", page, exc)
                    continue
                except ApiError as exc:  # 404: the page is not (or no longer) for us
                    log.info("live page %s: stream refused (%s); not trying again", page, exc)
                    return
                if attempt > 1:
                    log.info("live page %s: stream open again (rejoining at the newest)", page)
                try:
                    if pb.reading(response) and self._read(response):
                        return  # the end flag
                    if not pb.closed.is_set():
                        log.info("live page %s: the stream ended before the page", page)
                except (TransportError, OSError) as exc:
                    if not pb.closed.is_set():
                        log.info("live page %s: stream lost (%s)", page, type(exc).__name__)
                finally:
                    pb.reading(None)
                    with contextlib.suppress(Exception):
                        response.close()  # unread bytes: never back into the pool
                    with contextlib.suppress(Exception):
                        response.release_conn()
        except Exception:  # a bug: the runner ends the page after 2 s without audio
            log.exception("live page %s: the stream reader failed", page)

    def _read(self, response: Any) -> bool:
        """Frames into the playback until the end flag (True) or the stream's end (False)."""
        pb = self.playback
        pending = b""
        while not pb.closed.is_set():
            block = response.read1(READ_BLOCK)
            if not block:
                return False
            pending += block
            while len(pending) >= HEADER.size:
                seq, length, flags = HEADER.unpack_from(pending)
                if len(pending) < HEADER.size + length:
                    break
                pcm = pending[HEADER.size : HEADER.size + length]
                pending = pending[HEADER.size + length :]
                if flags & END:
                    pb.finish()
                    return True
                if pcm:
                    pb.push(seq, pcm)
        return False
