"""`broadcaster serve`: panel, APIs and the scheduler in one process on gevent.

gevent's WSGI server runs every request in a greenlet, so a thousand speakers can each
hold a waiting long poll without a thousand OS threads. `broadcaster.cli` patches the
standard library before this module is imported.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import secrets
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from broadcaster.config import ServerSettings, load_settings
from broadcaster.deadlines import Timeouts
from broadcaster.errors import Conflict, NotFound
from broadcaster.models import Role, User
from broadcaster.notify import make_notifier
from broadcaster.passwords import generate_password, hash_password, verify_password
from broadcaster.scheduler import SchedulerShell
from broadcaster.service import Service
from broadcaster.store import Store
from broadcaster.wiring import close_library, make_library, open_store

log = logging.getLogger("broadcaster.server")


def utc_now() -> datetime:
    return datetime.now(UTC)


def ensure_admin(store: Store, now: datetime) -> str | None:
    """Create the first admin if there is none; returns the password to print once, if new."""
    try:
        store.people.get_user("admin")
        return None
    except NotFound:
        pass
    from_env = os.environ.get("BROADCASTER_ADMIN_PASSWORD")
    password = from_env or generate_password()
    store.people.create_user(User("admin", Role.ADMIN), now, password_hash=hash_password(password))
    store.journal.append_audit(now, "server", "user.create", "admin", {"first_start": True})
    return "(from BROADCASTER_ADMIN_PASSWORD)" if from_env else password


def secret_key(data: Path) -> str:
    """The session signing key, kept in the data folder so sessions survive restarts."""
    path = data / "secret_key"
    if path.exists():
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
        return path.read_text().strip()
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key


def timeouts_of(settings: ServerSettings) -> Timeouts:
    """The connection deadlines configured under `server:`."""
    return Timeouts(
        header_s=settings.header_timeout_s,
        idle_s=settings.idle_timeout_s,
        body_s=settings.body_timeout_s,
        body_min_bytes_per_s=settings.body_min_bytes_per_s,
        send_s=settings.send_timeout_s,
    )


def serve(args: argparse.Namespace) -> int:
    """Run until SIGTERM or SIGINT."""
    import gevent

    from broadcaster import workers
    from broadcaster.httpserver import make_server, watch_loop
    from web.app import create_app

    # Quiet until the URL and the first admin's password are printed (migrations, seeding
    # and the first jobs say only warnings); then INFO: access lines and what jobs did.
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = load_settings(args.config)
    host = args.host or settings.server.host
    port = args.port if args.port is not None else settings.server.port
    data: Path = args.data
    # Everything the server writes (database, keys, recordings, clips) is its user's alone
    # (the `broadcaster` command sets umask 077 too).
    os.umask(0o077)
    data.mkdir(parents=True, exist_ok=True, mode=0o700)
    if data.stat().st_mode & 0o077:
        log.warning("the data folder %s is open to other users: chmod 700 it", data)
    now = utc_now()
    store = open_store(settings, data, now, args.db)
    library = make_library(settings, data)
    notifier = make_notifier(store)  # LISTEN/NOTIFY on PostgreSQL (broadcaster/notify.py)
    service = Service(settings, store, library, notifier, utc_now)
    workers.attach(service, args)  # caches right across processes (broadcaster/workers.py)
    scheduler = SchedulerShell(service, utc_now)
    try:
        # On PostgreSQL every process stands by for the lease (it fails over: issue 14).
        scheduler.start(standby=store.dialect == "postgresql")
    except Conflict as exc:
        close_library(library)
        store.close()
        print(f"broadcaster: error: {exc}", file=sys.stderr)
        return 1
    admin_password = ensure_admin(store, now)
    # The dummy hash unknown names are checked against: made now, not at the first such sign-in.
    verify_password(None, "")
    app = create_app(
        settings,
        service,
        secret_key=secret_key(data),
        secure_cookies=settings.server.secure_cookies,
    )
    app.extensions["broadcaster.health"] = lambda: workers.health(scheduler, notifier)
    stop = threading.Event()
    watcher = threading.Thread(
        target=notifier.watch, args=(store.devices.last_event_seq, stop), daemon=True
    )
    watcher.start()
    pusher = threading.Thread(target=scheduler.run_pusher, args=(stop,), daemon=True)
    pusher.start()
    listener: Any = workers.listener_of(args) or (host, port)  # inherited under --workers
    server = make_server(listener, app, timeouts_of(settings.server))
    server.start()
    gevent.spawn(watch_loop)
    # Under --workers --live-port, worker 0 also serves live pages on their own port.
    live_server = workers.live_server(args, app, make_server, timeouts_of(settings.server))
    url = f"http://{host}:{server.server_port}/"
    print(f"broadcaster: serving {settings.name} at {url} (data in {data.resolve()})", flush=True)
    if admin_password is not None:
        print(
            f"broadcaster: first start: sign in as admin with password {admin_password}", flush=True
        )
    logging.getLogger().setLevel(logging.INFO)

    def shutdown(signum: int, _frame: object) -> None:
        log.info("stopping on signal %d", signum)
        stop.set()
        service.request_push()  # wakes the pusher so that it sees `stop`

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    # What start-up made (modules, settings, the app) lives as long as the process: out of
    # the collector's sight, a full collection no longer stops the loop for ~200 ms.
    gc.collect()
    gc.freeze()
    try:
        stop.wait()
    finally:
        server.stop(timeout=2)
        if live_server is not None:
            live_server.stop(timeout=2)
        scheduler.stop()
        close_library(library)
        store.close()
    print("broadcaster: stopped", flush=True)
    return 0
