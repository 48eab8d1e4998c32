"""Recording bombs for the tests: small files that decode to hours of audio.

Two hours of Opus are made from one encoded minute joined 120 times without encoding again
(ffmpeg's concat demuxer, stream copy): the same bytes and length as encoding two hours,
in about 2 s instead of about 50 s."""

from __future__ import annotations

import subprocess
from pathlib import Path

SILENCE = "anullsrc=r=48000:cl=mono"


def lavfi(out: Path, source: str, seconds: float, *args: str) -> Path:
    """`seconds` of ffmpeg's generated `source` encoded with `args` into `out`."""
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", source, "-t", str(seconds), *args,
         str(out)],
        check=True, timeout=120,
    )  # fmt: skip
    return out


def repeated(out: Path, segment: Path, times: int, seconds: float) -> Path:
    """`segment` `times` over in one file, joined by stream copy and cut at `seconds` (an
    encoded minute is a few ms longer than 60 s: two hours would probe as 7,201 s)."""
    listing = out.with_name(out.name + ".txt")
    listing.write_text(f"file '{segment}'\n" * times)
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing),
         "-t", str(seconds), "-c", "copy", str(out)],
        check=True, timeout=120,
    )  # fmt: skip
    return out


def opus(out: Path, source: str = SILENCE, minutes: int = 120, bitrate: str = "6k") -> Path:
    """`minutes` of `source` as Opus (two hours of silence: about 2.7 MB)."""
    minute = lavfi(
        out.with_name("minute-" + out.name), source, 60, "-c:a", "libopus", "-b:a", bitrate
    )
    return repeated(out, minute, minutes, 60 * minutes)


def flac(out: Path, seconds: float = 7200) -> Path:
    """`seconds` of FLAC silence (two hours: well under 2 MB)."""
    return lavfi(out, SILENCE, seconds, "-c:a", "flac")
