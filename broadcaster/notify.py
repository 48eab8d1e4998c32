"""Wake-ups for long polls, and word between server processes.

A new event sequence number wakes every waiting request. `Notifier` is the single-process
kind (SQLite): `publish` wakes waiters at once, and `watch` polls the database's last
sequence number once a second for events another process wrote (the CLI). Waiting requests
never poll the database themselves.

`PgNotifier` (PostgreSQL, any number of `serve` processes) sends each published sequence
number, and the other messages processes exchange (`send`), on one `LISTEN/NOTIFY` channel;
`watch` listens on it (no polling): an event written by one process wakes the long polls of
every process as soon as the writer's transaction has committed. Messages other than event
numbers go to the handlers registered with `on` (cache invalidation, pushes; see
`broadcaster.workers`). After the listening connection was lost, the listener reads the last
sequence number once when it is back, so no wake-up is lost for good.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

CHANNEL = "broadcaster"
# PostgreSQL refuses NOTIFY payloads of 8,000 bytes or more.
MAX_PAYLOAD = 7_900
OUTBOX_MAX = 10_000
Handler = Callable[[dict[str, Any]], None]


class Notifier:
    """The highest event sequence number known, and a condition to wait for a higher one."""

    def __init__(self, last_seq: int = 0) -> None:
        self._cond = threading.Condition()
        self._seq = last_seq
        self._waiting = 0
        self._handlers: dict[str, list[Handler]] = {}

    @property
    def seq(self) -> int:
        return self._seq

    @property
    def waiting(self) -> int:
        """How many requests wait in `wait_beyond` now (open long polls, for /healthz)."""
        return self._waiting

    @property
    def kind(self) -> str:
        """How wake-ups cross processes: `in-process` here, `listen-notify` on PostgreSQL."""
        return "in-process"

    def publish(self, seq: int) -> None:
        """A new event exists: wake everyone waiting for something after an older one."""
        self._wake(seq)

    def _wake(self, seq: int) -> None:
        with self._cond:
            if seq > self._seq:
                self._seq = seq
                self._cond.notify_all()

    def wait_beyond(self, after: int, timeout_s: float) -> bool:
        """Block until an event with `seq > after` may exist, or the timeout; True if woken."""
        with self._cond:
            self._waiting += 1
            try:
                return self._cond.wait_for(lambda: self._seq > after, timeout=timeout_s)
            finally:
                self._waiting -= 1

    def on(self, kind: str, handler: Handler) -> None:
        """Call `handler(message)` for each message of `kind` another process sends."""
        self._handlers.setdefault(kind, []).append(handler)

    def send(self, kind: str, **fields: Any) -> None:
        """Tell the other server processes something (nothing to do in one process)."""

    def _dispatch(self, message: dict[str, Any]) -> None:
        for handler in self._handlers.get(str(message.get("kind")), ()):
            try:
                handler(message)
            except Exception:  # one failing handler must not end the listener
                log.exception("handling the message %s failed", message.get("kind"))

    def watch(
        self, last_seq: Callable[[], int], stop: threading.Event, every_s: float = 1.0
    ) -> None:
        """Publish what other processes wrote, until `stop` is set (run in its own thread)."""
        while not stop.wait(every_s):
            try:
                self._wake(last_seq())
            except Exception:  # a database hiccup must not end the watcher
                log.exception("cannot read the last event sequence; trying again")


class PgNotifier(Notifier):
    """Wake-ups and messages between processes through PostgreSQL's LISTEN/NOTIFY.

    `conninfo` is a libpq connection string or URI (`postgresql://…`). Messages are queued
    and sent by one sender thread on a connection of its own (opened on first use, reopened
    after an error), all that queued up in one transaction; the listener in `watch` holds
    another connection.
    """

    def __init__(self, conninfo: str, last_seq: int = 0) -> None:
        super().__init__(last_seq)
        self.conninfo = conninfo
        self.origin = f"{os.getpid()}:{id(self):x}"
        self._outbox: deque[str] = deque()
        self._outbox_ready = threading.Condition()
        self._closed = False
        # Started here, not on the first `send`: that may come in a signal handler.
        self._sender_thread = threading.Thread(
            target=self._send_loop, name="notify-sender", daemon=True
        )
        self._sender_thread.start()
        self.listening = threading.Event()  # set while the listener holds its connection
        self.received = 0  # messages from other processes (for /healthz and tests)

    @property
    def kind(self) -> str:
        return "listen-notify"

    def publish(self, seq: int) -> None:
        """Wake this process's waiters, and every other process's through the channel."""
        self._wake(seq)
        self.send("seq", seq=seq)

    def send(self, kind: str, **fields: Any) -> None:
        """Queue a message for the other processes; the sender thread sends it (in order).

        Never blocks: also safe in a signal handler and on gevent's loop."""
        payload = json.dumps({"kind": kind, "from": self.origin, **fields}, separators=(",", ":"))
        if len(payload.encode()) >= MAX_PAYLOAD:
            raise ValueError(f"message {kind!r} is too long for NOTIFY ({len(payload)} bytes)")
        with self._outbox_ready:
            if len(self._outbox) >= OUTBOX_MAX:
                self._outbox.popleft()  # no database for a long time: old news goes first
            self._outbox.append(payload)
            self._outbox_ready.notify()

    def _send_loop(self) -> None:
        import psycopg

        conn: Any = None
        while True:
            with self._outbox_ready:
                while not self._outbox and not self._closed:
                    self._outbox_ready.wait(1.0)
                if self._closed and not self._outbox:
                    break
                batch = list(self._outbox)
                self._outbox.clear()
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(self.conninfo, autocommit=True)
                with conn.transaction():  # one commit: NOTIFYs are delivered in order
                    for payload in batch:
                        conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))
            except Exception:
                # The listeners catch up with the sequence number when they reconnect; the
                # sender's own work is done and stays done.
                log.exception("cannot notify the other processes (%d message(s))", len(batch))
                if conn is not None:
                    try:
                        conn.close()
                    except Exception:
                        log.debug("closing the notify connection failed", exc_info=True)
                conn = None
                if self._closed:
                    break
                time.sleep(1.0)
        if conn is not None:
            conn.close()

    def close(self) -> None:
        """Send what is queued (waiting at most 2 s) and stop the sender."""
        with self._outbox_ready:
            self._closed = True
            self._outbox_ready.notify()
        self._sender_thread.join(2.0)

    def watch(
        self, last_seq: Callable[[], int], stop: threading.Event, every_s: float = 1.0
    ) -> None:
        """Listen on the channel until `stop` is set; reconnect after `every_s` on errors.

        `every_s` is also how long one wait for notifications lasts before `stop` is looked
        at again: no query is made while listening.
        """
        import psycopg

        while not stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    # Anything written while no one listened (start, reconnect).
                    self._wake(last_seq())
                    self.listening.set()
                    while not stop.is_set():
                        for note in conn.notifies(timeout=every_s):
                            self._received(note.payload)
                            if stop.is_set():
                                break
            except Exception:
                log.exception("lost the LISTEN connection; listening again in %.0f s", every_s)
            finally:
                self.listening.clear()
            stop.wait(every_s)

    def _received(self, payload: str) -> None:
        try:
            message = json.loads(payload)
        except ValueError:
            log.warning("ignored a message on %s that is not JSON", CHANNEL)
            return
        if not isinstance(message, dict) or message.get("from") == self.origin:
            return
        self.received += 1
        if message.get("kind") == "seq":
            seq = message.get("seq")
            if isinstance(seq, int):
                self._wake(seq)
            return
        self._dispatch(message)


def conninfo_of(url: str) -> str:
    """A libpq URI for a SQLAlchemy URL (`postgresql+psycopg://…` -> `postgresql://…`)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


def make_notifier(store: Any) -> Notifier:
    """The notifier for `store`'s database: LISTEN/NOTIFY on PostgreSQL, in process else."""
    last = store.devices.last_event_seq()
    if store.dialect == "postgresql":
        url = store.engine.url.render_as_string(hide_password=False)
        return PgNotifier(conninfo_of(url), last)
    return Notifier(last)
