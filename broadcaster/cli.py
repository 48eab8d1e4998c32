"""The `broadcaster` command: the composition root that wires settings, audio and storage."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from audio.cache import ClipCache, atomic_path
from audio.errors import AudioError, InvalidInput
from audio.render import ClipRequest, Renderer, format_for
from audio.textnorm import normalize
from audio.tts import Pyttsx3Synthesizer
from broadcaster.config import Settings, load_settings
from broadcaster.errors import BroadcasterError, ConfigError, ValidationError

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad input on the command line: one line on stderr, exit code 2."""


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=Path("config.yaml"), help="configuration file")
    parser.add_argument("--data", type=Path, default=Path("data"), help="state folder (database, clips)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="broadcaster", description="Public-safety announcements on loudspeakers."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("normalize", help="print a text exactly as it will be spoken")
    p.add_argument("text")
    _common(p)

    p = sub.add_parser("synth", help="render one announcement to an audio file")
    p.add_argument("text")
    p.add_argument("-o", "--output", type=Path, required=True, help=".wav, .mp3, .ogg or .opus")
    p.add_argument("--voice", help="voice id (default from the configuration)")
    p.add_argument("--rate", type=int, help="words per minute (default from the configuration)")
    p.add_argument("--no-chime", action="store_true", help="leave out the pre-announce chime")
    _common(p)

    p = sub.add_parser("serve", help="run the service (web panel, APIs, scheduler)")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    _common(p)
    return parser


def renderer_for(settings: Settings, data: Path) -> Renderer:
    """The deployment's renderer: pyttsx3/espeak-ng into the clip cache under `data`."""
    return Renderer(Pyttsx3Synthesizer(), ClipCache(data / "clips"), settings.render)


def cmd_normalize(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    print(normalize(args.text, settings.lexicon))
    return EXIT_OK


def _check_writable(path: Path) -> None:
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
    settings = load_settings(args.config)
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
    renderer = renderer_for(settings, args.data)
    try:
        clip = renderer.render(request)
    finally:
        renderer.synthesizer.close()  # type: ignore[attr-defined]
    with atomic_path(args.output) as tmp:
        shutil.copyfile(clip.path, tmp)
    entry = clip.entry
    print(
        f"{args.output}: {entry.duration_ms / 1000:.2f} s, {entry.loudness_lufs:.1f} LUFS, "
        f"true peak {entry.true_peak_dbtp:.1f} dBTP, "
        f"{'served from cache' if clip.cached else 'rendered'} (clip {entry.key[:12]})"
    )
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    # Until the server lands: render every default message so the cache is warm.
    settings = load_settings(args.config)
    renderer = renderer_for(settings, args.data)
    try:
        total = len(settings.messages)
        for done, message in enumerate(settings.messages, start=1):
            v = message.voice
            clip = renderer.render(ClipRequest(message.text, v.voice, v.rate, v.volume, v.chime))
            state = "cached" if clip.cached else "rendered"
            print(f"[{done}/{total}] {message.id}: {clip.duration_ms / 1000:.1f} s ({state})")
    finally:
        renderer.synthesizer.close()  # type: ignore[attr-defined]
    print(f"{total} messages ready in {args.data / 'clips'}; the web server is not built yet.")
    return EXIT_OK


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "normalize": cmd_normalize,
    "synth": cmd_synth,
    "serve": cmd_serve,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (UsageError, InvalidInput, ValidationError, ConfigError) as exc:
        print(f"broadcaster: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (AudioError, BroadcasterError) as exc:
        print(f"broadcaster: failed: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
