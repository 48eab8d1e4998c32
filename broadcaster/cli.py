"""The `broadcaster` command: the composition root that wires settings, audio and storage.

Heavy imports happen inside the commands: `serve` must patch the standard library for
gevent before anything else creates threads or sockets.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from broadcaster.config import Settings

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad input on the command line: one line on stderr, exit code 2."""


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", type=Path, default=Path("config.yaml"), help="configuration file"
    )
    parser.add_argument(
        "--data", type=Path, default=Path("data"), help="state folder (database, clips)"
    )
    parser.add_argument("--db", help="database URL instead of the SQLite file under --data")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="broadcaster", description="Public-safety announcements on loudspeakers."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("normalize", help="print a text exactly as it will be spoken")
    p.add_argument("text")
    p.add_argument(
        "--pinyin",
        action="store_true",
        help="print the syllables a pinyin voice is given (tone numbers 1-5), one line",
    )
    _common(p)

    p = sub.add_parser("synth", help="render one announcement to an audio file")
    p.add_argument("text")
    p.add_argument("-o", "--output", type=Path, required=True, help=".wav, .mp3, .ogg or .opus")
    p.add_argument("--voice", help="voice id (default from the configuration)")
    p.add_argument("--rate", type=int, help="words per minute (default from the configuration)")
    p.add_argument("--no-chime", action="store_true", help="leave out the pre-announce chime")
    _common(p)

    p = sub.add_parser("voices", help="list the installed voices (Chinese ones unless --all)")
    p.add_argument("--all", action="store_true", help="every voice, not only Chinese ones")

    p = sub.add_parser("check", help="validate the configuration and the schedules")
    _common(p)

    p = sub.add_parser("plan", help="print a speaker's timeline for one day")
    p.add_argument("--speaker", required=True)
    p.add_argument("--date", type=_parse_date, help="YYYY-MM-DD (default: today)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _common(p)

    p = sub.add_parser("token", help="issue or revoke a device or personal API token")
    token_sub = p.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    for action in ("issue", "revoke"):
        q = token_sub.add_parser(action)
        who = q.add_mutually_exclusive_group(required=True)
        who.add_argument("--speaker", help="a speaker id (device token)")
        who.add_argument("--user", help="a user name (personal API token)")
        if action == "revoke":
            who.add_argument("--id", help="one token by its id (see the panel)")
        else:
            q.add_argument("--label", default="", help="a note, e.g. where the token is used")
            q.add_argument(
                "--output",
                type=Path,
                help="write the token to this new file (mode 0600) instead of printing it",
            )
        _common(q)

    p = sub.add_parser(
        "page",
        help="talk live on loudspeakers: stream a WAV file (or - for stdin) as a live page",
        description="Stream a WAV file, or a WAV stream on stdin (-), in real time as a live "
        "page (issue 12). Prints `live` when the first audio goes out; exit 0 once the server "
        "confirmed the end, 2 when refused (busy: who is talking), 1 when cut short.",
    )
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--speaker", action="append", default=[], metavar="ID", help="a loudspeaker")
    who.add_argument("--area", action="append", default=[], metavar="ID", help="a whole area")
    p.add_argument("--token", required=True, help="a personal API token, or @FILE to read it")
    p.add_argument("--server", default="http://127.0.0.1:8080", help="the server's URL")
    p.add_argument("--override-window", action="store_true", help="also outside the windows")
    p.add_argument("--take-over", action="store_true", help="admins: end another's page there")
    p.add_argument("-v", "--verbose", action="store_true", help="each target's state on stderr")
    p.add_argument("file", metavar="FILE|-", help="a WAV file, or - for a WAV stream on stdin")

    p = sub.add_parser("serve", help="run the service (web panel, APIs, scheduler)")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument(
        "--workers",
        type=_positive,
        default=1,
        help="server processes on one socket (PostgreSQL only; deploy/README.md)",
    )
    p.add_argument(
        "--live-port",
        type=int,
        help="with --workers: the port where worker 0 serves live pages (deploy/README.md)",
    )
    # Given by `--workers` to the processes it starts (broadcaster/workers.py).
    p.add_argument("--worker-fd", type=int, help=argparse.SUPPRESS)
    p.add_argument("--worker-live-fd", type=int, help=argparse.SUPPRESS)
    p.add_argument("--worker-index", type=int, default=0, help=argparse.SUPPRESS)
    _common(p)
    return parser


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"not a whole number of 1 or more: {text!r}")
    return value


def _now() -> datetime:
    return datetime.now(UTC)


def _settings(args: argparse.Namespace) -> Settings:
    from broadcaster.config import load_settings

    return load_settings(args.config)


def cmd_normalize(args: argparse.Namespace) -> int:
    from audio.textnorm import normalize, read

    lexicon = _settings(args).lexicon
    print(read(args.text, lexicon).pinyin if args.pinyin else normalize(args.text, lexicon))
    return EXIT_OK


def _check_writable(path: Path) -> None:
    import tempfile

    from audio.render import format_for

    format_for(path)  # unsupported extension -> InvalidInput
    if path.is_dir():
        raise UsageError(f"cannot write {path}: it is a directory")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(f"cannot write {path}: folder {folder} does not exist")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{path.name}.", suffix=".probe"):
            pass  # proves we may create files there before spending time on rendering
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def cmd_synth(args: argparse.Namespace) -> int:
    import shutil

    from audio.cache import atomic_path
    from audio.render import ClipRequest, format_for
    from broadcaster.wiring import close_library, make_library

    settings = _settings(args)
    _check_writable(args.output)
    voice = settings.default_voice
    request = ClipRequest(
        text=args.text,
        voice=args.voice or voice.voice,
        rate=args.rate if args.rate is not None else voice.rate,
        volume=voice.volume,
        chime=voice.chime and not args.no_chime,
        fmt=format_for(args.output),
    )
    library = make_library(settings, args.data)
    try:
        clip = library.renderer.render(request)
    finally:
        close_library(library)
    with atomic_path(args.output) as tmp:
        shutil.copyfile(clip.path, tmp)
    entry = clip.entry
    print(
        f"{args.output}: {entry.duration_ms / 1000:.2f} s, {entry.loudness_lufs:.1f} LUFS, "
        f"true peak {entry.true_peak_dbtp:.1f} dBTP, "
        f"{'served from cache' if clip.cached else 'rendered'} (clip {entry.key[:12]})"
    )
    return EXIT_OK


def cmd_voices(args: argparse.Namespace) -> int:
    from audio.tts import DEFAULT_VOICE, Pyttsx3Synthesizer

    with Pyttsx3Synthesizer(prestart=False) as synthesizer:
        voices = synthesizer.voices()
    chinese = ("cmn", "yue", "zh", "hak")
    for voice in voices:
        if args.all or any(lang.startswith(chinese) for lang in voice.languages):
            mark = "  (default)" if voice.id == DEFAULT_VOICE else ""
            print(f"{voice.id:28} {voice.name}{mark}")
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from broadcaster.checks import check_deployment
    from broadcaster.plans import resolve_clips
    from broadcaster.store import Deployment
    from broadcaster.wiring import close_library, make_library

    settings = _settings(args)
    deployment = Deployment(
        settings.areas, settings.speakers, settings.messages, settings.programs,
        settings.schedules, (), 0, settings.quiet_zones,
    )  # fmt: skip
    library = make_library(settings, args.data)
    try:
        by_message, _, _, failures = resolve_clips(deployment, library, settings.default_voice)
    finally:
        close_library(library)
    problems = check_deployment(
        deployment,
        zone=settings.zone,
        now=_now(),
        durations_ms={m: clip.duration_ms for m, clip in by_message.items()},
        clip_failures={f.message_id: f.reason for f in failures if f.message_id},
        users=settings.users,
    )
    for problem in problems:
        print(f"{settings.source}: {problem}")
    if problems:
        print(f"{len(problems)} problem(s) found", file=sys.stderr)
        return EXIT_PROBLEMS
    print(
        f"{settings.source}: OK ({len(settings.speakers)} speakers, {len(settings.messages)} "
        f"messages, {len(settings.schedules)} schedules)"
    )
    return EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    import json

    from broadcaster import planning
    from broadcaster.plans import build_plan
    from broadcaster.wiring import close_library, make_library, open_store

    settings = _settings(args)
    now = _now()
    day = args.date or now.astimezone(settings.zone).date()
    start = planning.wall_time(day, datetime.min.time(), settings.zone)
    end = planning.wall_time(
        date.fromordinal(day.toordinal() + 1), datetime.min.time(), settings.zone
    )
    with open_store(settings, args.data, now, args.db) as store:
        deployment = store.deployment(now)
    library = make_library(settings, args.data)
    try:
        document = build_plan(
            deployment, args.speaker, library, zone=settings.zone,
            default_voice=settings.default_voice, now=now,
            heartbeat_s=settings.server.heartbeat_s, span=(start, end),
        )  # fmt: skip
    finally:
        close_library(library)
    for problem in document.problems:
        print(
            f"warning: {problem.message_id or problem.urgent_id}: {problem.reason}", file=sys.stderr
        )
    if args.json:
        print(
            json.dumps(
                [planning.item_to_json(item) for item in document.items],
                ensure_ascii=False,
                indent=1,
            )
        )
        return EXIT_OK
    _print_plan_table(args.speaker, day, document)
    return EXIT_OK


def _print_plan_table(speaker_id: str, day: date, document: object) -> None:
    items = document.items  # type: ignore[attr-defined]
    windows = document.body["windows"]  # type: ignore[attr-defined]
    print(f"{speaker_id} on {day.isoformat()}: {len(items)} clips")
    for w in windows:
        print(f"  window {w['start'][11:16]} - {w['end'][11:16]} (hard stop)")
    if not items:
        print("  (nothing plays)")
        return
    print(f"  {'start':8}  {'end':8}  {'kind':8}  {'message':16}  clip")
    for item in items:
        cut = " (cut)" if item.cut else ""
        print(
            f"  {item.start:%H:%M:%S}  {item.end:%H:%M:%S}  {item.kind.value:8}  "
            f"{item.message_id or '-':16}  {item.clip[:12]}{cut}"
        )


def cmd_token(args: argparse.Namespace) -> int:
    from broadcaster.store import TokenKind
    from broadcaster.wiring import open_store

    settings = _settings(args)
    now = _now()
    kind = TokenKind.DEVICE if args.speaker else TokenKind.USER
    subject = args.speaker or args.user
    with open_store(settings, args.data, now, args.db) as store:
        if args.token_command == "issue":
            output = _token_file(args.output) if args.output is not None else None
            try:
                record, plain = store.people.issue_token(kind, subject, now, label=args.label)
            except BaseException:
                if output is not None:
                    output.close()
                    args.output.unlink()
                raise
            store.journal.append_audit(
                now, "cli", "token.issue", f"{kind.value}:{subject}", {"id": record.id}
            )
            if output is None:
                print(plain)
                where = "shown once, store it now"
            else:
                with output:
                    output.write(plain + "\n")
                where = f"written to {args.output} (mode 0600)"
            print(f"token {record.id} for {kind.value} {subject}: {where}", file=sys.stderr)
            return EXIT_OK
        if getattr(args, "id", None):
            record = store.people.revoke_token(args.id, now)
            store.journal.append_audit(
                now,
                "cli",
                "token.revoke",
                f"{record.kind.value}:{record.subject}",
                {"id": record.id},
            )
            print(f"revoked token {record.id} of {record.kind.value} {record.subject}")
            return EXIT_OK
        count = store.people.revoke_tokens(kind, subject, now)
        store.journal.append_audit(
            now, "cli", "token.revoke", f"{kind.value}:{subject}", {"count": count}
        )
        print(f"revoked {count} token(s) of {kind.value} {subject}")
    return EXIT_OK


def _token_file(path: Path) -> TextIO:
    """A new file only its owner may read, opened for the token (an existing one is refused:
    it may hold another token)."""
    import os

    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise UsageError(f"{path} exists: remove it or choose another file") from None
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    return os.fdopen(fd, "w", encoding="utf-8")


def cmd_serve(args: argparse.Namespace) -> int:
    from broadcaster import workers

    refused = workers.refusal(args.workers, args.db)
    if refused is not None:
        raise UsageError(refused)
    if args.live_port is not None and args.workers == 1:
        raise UsageError("--live-port goes with --workers 2 or more; leave it out")
    if args.workers > 1:
        return workers.supervise(args)
    from broadcaster.server import serve

    return serve(args)


def cmd_page(args: argparse.Namespace) -> int:
    from broadcaster.pager import page

    return page(
        server=args.server,
        token=args.token,
        speakers=tuple(args.speaker),
        areas=tuple(args.area),
        source=args.file,
        override_window=args.override_window,
        take_over=args.take_over,
        verbose=args.verbose,
    )


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "normalize": cmd_normalize,
    "synth": cmd_synth,
    "voices": cmd_voices,
    "check": cmd_check,
    "plan": cmd_plan,
    "token": cmd_token,
    "serve": cmd_serve,
    "page": cmd_page,
}


# The `server` extra's modules (pyproject.toml): a loudspeaker computer has none of them.
SERVER_MODULES = (
    "alembic", "apscheduler", "defusedxml", "flask", "gevent", "lxml", "numpy", "opencc",
    "psycopg", "pydub", "pyloudnorm", "pypinyin", "pyttsx3", "scipy", "sqlalchemy", "yaml",
)  # fmt: skip
SERVER_MISSING = (
    "broadcaster: the server part is not installed; "
    "install it with: pip install 'broadcaster[server]'"
)


def main(argv: Sequence[str] | None = None) -> int:
    import importlib.util

    if any(importlib.util.find_spec(name) is None for name in SERVER_MODULES):
        print(SERVER_MISSING, file=sys.stderr)
        return EXIT_USAGE
    args = build_parser().parse_args(argv)
    # What the commands write under --data (database, clips, recordings, keys) is the
    # user's alone; files handed to the user (`synth -o`) get their usual 0644 explicitly.
    import os

    os.umask(0o077)
    if args.command == "serve":
        # Before anything imports threading or socket: one greenlet per waiting long-poll.
        from gevent import monkey

        monkey.patch_all()
    from audio.errors import AudioError, InvalidInput
    from broadcaster.errors import BroadcasterError, ConfigError, NotFound, ValidationError

    try:
        return COMMANDS[args.command](args)
    except (UsageError, InvalidInput, ValidationError, ConfigError, NotFound) as exc:
        print(f"broadcaster: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (AudioError, BroadcasterError) as exc:
        print(f"broadcaster: failed: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader (e.g. `| head`) went away: not an error worth a traceback.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
