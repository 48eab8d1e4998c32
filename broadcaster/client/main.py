"""``broadcaster-client``: plays one loudspeaker's plan from its cache, synced with the server.

broadcaster-client --server URL --speaker ID (--token TOKEN | --token-file PATH)
                   [--cache DIR] [--output alsa|file:PATH|null] [--gpsd HOST:PORT]
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from importlib import metadata
from pathlib import Path
from types import FrameType

from audio.errors import AudioError
from audio.player import make_sink
from broadcaster.client.app import Client, Options
from broadcaster.client.gps import parse_address
from broadcaster.client.watchdog import Watchdog

log = logging.getLogger("broadcaster.client")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="broadcaster-client", description=__doc__.split("\n")[0])
    p.add_argument("--server", required=True, help="server base URL, e.g. http://10.0.0.1:8080")
    p.add_argument("--speaker", required=True, help="this speaker's id, e.g. vehicle-01")
    tok = p.add_mutually_exclusive_group(required=True)
    tok.add_argument("--token", help="device token (visible in ps: prefer --token-file)")
    tok.add_argument("--token-file", type=Path, help="file holding the device token")
    p.add_argument(
        "--cache",
        type=Path,
        default=Path("client-cache"),
        help="folder for clips, the saved plan and the journal (default ./client-cache)",
    )
    p.add_argument("--output", default="alsa", help="alsa, file:PATH or null (default alsa)")
    p.add_argument(
        "--gpsd",
        metavar="HOST:PORT",
        help="read the vehicle's position from gpsd (e.g. 127.0.0.1:2947); default: no GPS",
    )
    p.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING (default INFO)")
    return p


def token_file_problem(path: Path) -> str | None:
    """Why a token file is unsafe (other users may read it), or None."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None  # reading it says what is wrong
    if mode & 0o077:
        return f"the token file {path} can be read by other users: chmod 600 {path}"
    return None


def _version() -> str:
    try:
        return metadata.version("broadcaster")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format=f"%(asctime)s %(levelname)s {args.speaker} %(threadName)s: %(message)s",
        stream=sys.stderr,
    )
    os.umask(0o077)  # the cache, the saved plan and the journal are this client's alone
    if args.token_file is not None:
        problem = token_file_problem(args.token_file)
        if problem:  # said, not refused: a loudspeaker must not fall silent over it
            log.warning("%s", problem)
        try:
            token = args.token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            log.error("cannot read the token file: %s", exc)
            return 2
    else:
        token = args.token.strip()
    if not token:
        log.error("the token is empty")
        return 2
    try:
        sink = make_sink(args.output)
    except AudioError as exc:
        log.error("%s", exc)
        return 2
    if args.gpsd is not None:
        try:
            parse_address(args.gpsd)
        except ValueError as exc:
            log.error("%s", exc)
            return 2
    options = Options(
        args.server, args.speaker, token, args.cache, version=_version(), gpsd=args.gpsd
    )
    client = Client(options, sink, watchdog=Watchdog())
    log.info("starting: server %s, cache %s, output %s", args.server, args.cache, args.output)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("%s: fading out and stopping", signal.Signals(signum).name)
        client.runner.shutdown()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    client.start()
    while not client.wait(0.5):
        pass
    client.runner.watchdog.stopping()
    client.stop()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
