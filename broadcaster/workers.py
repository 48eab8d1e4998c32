"""`broadcaster serve --workers N`: N server processes behind one listening socket.

Pre-fork with an inherited socket: the supervisor (this module's `supervise`) migrates and
seeds the database, makes the first admin and the session key once, binds the socket, then
starts N `broadcaster serve` worker processes that inherit it (`--worker-fd`). Each worker is
the whole single-process server (gevent, the connection deadlines of
`broadcaster.httpserver`, its own scheduler shell in standby, its own LISTEN connection):
any worker answers any request, the kernel hands each new connection to one worker that is
waiting in accept. A worker that dies is started again; SIGTERM or SIGINT stops them all.

Why not gunicorn's gevent worker: it would serve through gunicorn's handler, without the
per-connection deadlines that keep slow or hostile devices from holding connections
(`broadcaster.deadlines`), and the migration, seeding and first-admin steps must run once
before any worker starts anyway.

Only on PostgreSQL: SQLite allows one writing process and cannot tell the others what it
wrote, so `--workers` above 1 is refused there (`refusal`).

What processes tell each other goes through `broadcaster.notify.PgNotifier`; `attach` adds
the messages that keep each process's caches right (see docs/design.md, Processes).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger("broadcaster.workers")

STARTED = time.monotonic()  # this process's start, for /healthz's uptime
RESTART_AFTER_S = (1.0, 2.0, 5.0, 10.0, 30.0)  # a worker that keeps dying waits longer
STOP_WAIT_S = 15.0


def refusal(workers: int, url: str | None) -> str | None:
    """Why `--workers` cannot be used with this database (None if it can)."""
    if workers <= 1:
        return None
    if url is None or url.startswith("sqlite"):
        return (
            f"--workers {workers} needs PostgreSQL: SQLite allows only one server process; "
            "give a PostgreSQL database with --db postgresql+psycopg://USER@HOST/NAME, "
            "or leave out --workers"
        )
    return None


def listener_of(args: argparse.Namespace) -> socket.socket | None:
    """The listening socket a worker inherited from its supervisor (None when alone)."""
    fd = getattr(args, "worker_fd", None)
    if fd is None:
        return None
    sock = socket.socket(fileno=fd)
    sock.setblocking(False)
    return sock


def is_worker(args: argparse.Namespace) -> bool:
    """Whether this process was started by `supervise` (`--worker-fd`)."""
    return getattr(args, "worker_fd", None) is not None


def live_server(
    args: argparse.Namespace, app: Any, make_server: Callable[..., Any], timeouts: Any
) -> Any:
    """Worker 0's second server on the live-page socket (`--live-port`), started; None in
    the other workers and without `--live-port`.

    Live pages are routed to one process (deploy/nginx/broadcaster.conf sends
    `/api/v1/live` and the speakers' `/live/` streams to this port): a page's ring of
    frames, who is busy and the per-target states the pager sees stay in one process's
    memory as docs/live-paging.md describes, and its wake-ups reach the speakers' long polls
    in every process through LISTEN/NOTIFY."""
    fd = getattr(args, "worker_live_fd", None)
    if fd is None:
        return None
    sock = socket.socket(fileno=fd)
    sock.setblocking(False)
    server = make_server(sock, app, timeouts)
    server.start()
    return server


def database_state(journal: Any, dialect: str) -> dict[str, Any]:
    """Reachable, how long one round trip took, the dialect and the migration revision."""
    started = time.perf_counter()
    try:
        revision = journal.schema_revision()
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else ""
        return {"reachable": False, "dialect": dialect, "error": f"{type(exc).__name__}: {first}"}
    return {
        "reachable": True,
        "dialect": dialect,
        "latency_ms": round((time.perf_counter() - started) * 1000, 1),
        "revision": revision,
    }


def health(scheduler: Any, notifier: Any) -> dict[str, Any]:
    """What /healthz answers under `broadcaster serve`. The database is asked through the
    scheduler's lease connection (its own on PostgreSQL): a worker whose pool is busy with
    requests still answers at once, and says the database is reachable when it is."""
    store = scheduler.service.store
    answer: dict[str, Any] = {"database": database_state(scheduler.journal, store.dialect)}
    if answer["database"]["reachable"]:
        try:
            answer["lease"] = scheduler.lease()
        except Exception as exc:  # the answer must come even when a part of it cannot
            answer["lease"] = {"error": f"{type(exc).__name__}: {exc}"}
    answer["worker"] = process_state(notifier)
    return answer


def process_state(notifier: Any) -> dict[str, Any]:
    """This process, for /healthz: pid, host, uptime, open long polls, how wake-ups cross."""
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "uptime_s": round(time.monotonic() - STARTED, 1),
        "long_polls": notifier.waiting,
        "wakeups": notifier.kind,
        "listening": bool(getattr(notifier, "listening", None) and notifier.listening.is_set()),
    }


_serves_live_pages = True


def serves_live_pages() -> bool:
    """Whether this process runs live pages: a single server does; under `--workers` only
    worker 0 with `--live-port` (the others refuse live requests with 503)."""
    return _serves_live_pages


def attach(service: Any, args: argparse.Namespace | None = None) -> None:
    """Keep this process's caches right when another process changed something.

    - an edit (anything that calls `service.request_push`, as every successful POST of the
      panel and the APIs does) asks every process: the lease holder's pusher compares the
      plan ETags at once, and each process reloads the pronunciation lexicon if it changed
      (it changes every clip's key: clips and plans made with the old one are forgotten);
    - clips the lease holder removed from the cache are forgotten (scheduler, clips-removed);
    - plans and the deployment are cached on the catalog revision, a database value that
      every process reads: they need no message.

    Under `--workers` (`args` of a worker) it also says whether this process runs live
    pages (`serves_live_pages`).
    """
    from broadcaster import editing

    global _serves_live_pages
    if args is not None and is_worker(args):
        _serves_live_pages = getattr(args, "worker_live_fd", None) is not None
        _stop_with_the_supervisor()
    notifier = service.notifier
    local_push = service.request_push

    def request_push() -> None:
        local_push()
        notifier.send("push")

    def pushed(_message: dict[str, Any]) -> None:
        editing.apply_lexicon(service, editing.lexicon(service))
        local_push()

    service.request_push = request_push
    notifier.on("push", pushed)


def _stop_with_the_supervisor() -> None:
    """SIGTERM this worker when its supervisor dies (even by SIGKILL): no orphan keeps the
    socket and the lease (Linux `prctl(PR_SET_PDEATHSIG)`; elsewhere nothing)."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not sys.platform.startswith("linux") or name is None:
        return
    pr_set_pdeathsig = 1
    try:
        ctypes.CDLL(name, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        log.warning("cannot ask to be stopped with the supervisor", exc_info=True)
        return
    if os.getppid() == 1:  # the supervisor died before the request was made
        os.kill(os.getpid(), signal.SIGTERM)


# -- the supervisor ------------------------------------------------------------------------


def _bind(host: str, port: int, backlog: int = 2048) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def _worker_command(
    args: argparse.Namespace, fd: int, index: int, live_fd: int | None
) -> list[str]:
    command = [sys.executable, "-m", "broadcaster.cli", "serve", "--config", str(args.config),
               "--data", str(args.data), "--worker-fd", str(fd), "--worker-index", str(index)]  # fmt: skip
    if args.db:
        command += ["--db", args.db]
    if live_fd is not None:
        command += ["--worker-live-fd", str(live_fd)]
    return command


def prepare(args: argparse.Namespace) -> tuple[Any, str | None]:
    """What must happen once before the workers start: migrate and seed the database, the
    first admin, the session key. Returns the settings and the admin's new password."""
    from broadcaster.config import load_settings
    from broadcaster.server import ensure_admin, secret_key, utc_now
    from broadcaster.wiring import open_store

    settings = load_settings(args.config)
    data: Path = args.data
    data.mkdir(parents=True, exist_ok=True, mode=0o700)
    now = utc_now()
    with open_store(settings, data, now, args.db) as store:
        password = ensure_admin(store, now)
    secret_key(data)
    return settings, password


def supervise(args: argparse.Namespace) -> int:
    """Run `args.workers` worker processes on one socket until SIGTERM or SIGINT."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    os.umask(0o077)
    settings, password = prepare(args)
    host = args.host or settings.server.host
    port = args.port if args.port is not None else settings.server.port
    listener = _bind(host, port)
    live = _bind(host, args.live_port) if args.live_port is not None else None
    count: int = args.workers
    procs: dict[int, subprocess.Popen[bytes]] = {}
    started: dict[int, float] = {}
    failures: dict[int, int] = {}
    stopping = False

    def start(index: int) -> None:
        fds = [listener.fileno()]
        live_fd = live.fileno() if live is not None and index == 0 else None
        if live_fd is not None:
            fds.append(live_fd)
        command = _worker_command(args, listener.fileno(), index, live_fd)
        procs[index] = subprocess.Popen(command, pass_fds=fds)
        started[index] = time.monotonic()

    def stop_all(signum: int, _frame: object) -> None:
        nonlocal stopping
        if not stopping:
            log.info("stopping %d worker(s) on signal %d", len(procs), signum)
        stopping = True

    signal.signal(signal.SIGTERM, stop_all)
    signal.signal(signal.SIGINT, stop_all)
    for index in range(count):
        start(index)
    bound = listener.getsockname()
    pids = ", ".join(str(p.pid) for p in procs.values())
    print(
        f"broadcaster: serving {settings.name} at http://{host}:{bound[1]}/ with {count} "
        f"workers (pids {pids}; data in {Path(args.data).resolve()})",
        flush=True,
    )
    if live is not None:
        print(f"broadcaster: live pages on port {live.getsockname()[1]} (worker 0)", flush=True)
    if password is not None:
        print(f"broadcaster: first start: sign in as admin with password {password}", flush=True)
    restart_at: dict[int, float] = {}
    while not stopping:
        time.sleep(0.2)
        for index, proc in list(procs.items()):
            if index in restart_at:
                if time.monotonic() >= restart_at[index] and not stopping:
                    del restart_at[index]
                    start(index)
                continue
            code = proc.poll()
            if code is None:
                if time.monotonic() - started[index] > 60:
                    failures[index] = 0  # it ran for a minute: a later death starts afresh
                continue
            tries = failures.get(index, 0)
            wait_s = RESTART_AFTER_S[min(tries, len(RESTART_AFTER_S) - 1)]
            failures[index] = tries + 1
            log.warning(
                "worker %d (pid %d) exited with %s; starting it again in %.0f s",
                index, proc.pid, code, wait_s,
            )  # fmt: skip
            restart_at[index] = time.monotonic() + wait_s
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_WAIT_S
    for proc in procs.values():
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("worker pid %d did not stop in time: killed", proc.pid)
            proc.kill()
            proc.wait(5)
    listener.close()
    if live is not None:
        live.close()
    print("broadcaster: stopped", flush=True)
    return 0
