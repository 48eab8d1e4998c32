"""Content-addressed clip cache: one file per key, written atomically, verified on read."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from audio.errors import AudioError


def cache_key(fields: Mapping[str, Any]) -> str:
    """The key of a clip: SHA-256 over a canonical JSON of everything that shaped it."""
    canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def is_clip_key(key: str) -> bool:
    """True for a string shaped like a cache key (lowercase hex, at least 8 digits)."""
    return len(key) >= 8 and all(c in "0123456789abcdef" for c in key)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """A verified clip in the cache. `sha256` is of the file's bytes (clients check it)."""

    key: str
    fmt: str
    path: Path
    size: int
    sha256: str
    duration_ms: int
    loudness_lufs: float
    true_peak_dbtp: float
    spoken_text: str


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` via a temp file in the same folder, fsync and rename."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temp path next to `path`; on success fsync it and rename it over `path`.

    On any error the temp file is removed, so no partial file is ever left behind.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with tmp.open("rb+") as f:
            os.fsync(f.fileno())
        tmp.chmod(0o644)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable (best effort: some filesystems refuse)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class ClipCache:
    """Clips under `root/<key[:2]>/<key>.<fmt>` with a JSON sidecar that commits the entry.

    The sidecar is written after the audio file, so a crash between the two leaves a
    miss, never a bad hit. A read checks size and SHA-256: a truncated or corrupted
    file is a miss (and is removed), so the caller renders it again.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def _paths(self, key: str, fmt: str) -> tuple[Path, Path]:
        if not is_clip_key(key):
            raise AudioError(f"not a clip key: {key!r}")
        folder = self.root / key[:2]
        return folder / f"{key}.{fmt}", folder / f"{key}.{fmt}.json"

    def path_for(self, key: str, fmt: str) -> Path:
        """Where the clip for `key` lives (whether or not it is there)."""
        return self._paths(key, fmt)[0]

    def get(self, key: str, fmt: str) -> CacheEntry | None:
        """The verified entry for `key`, or None when missing, truncated or corrupted."""
        if not is_clip_key(key):
            return None  # a malformed key (e.g. from a URL) names no clip: not a server fault
        audio_path, meta_path = self._paths(key, fmt)
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            entry = CacheEntry(path=audio_path, **meta)
            if audio_path.stat().st_size != entry.size or file_sha256(audio_path) != entry.sha256:
                raise ValueError("size or checksum mismatch")
        except FileNotFoundError:
            return None
        except (ValueError, TypeError, OSError):
            # Damaged: drop both files so the next render replaces them.
            audio_path.unlink(missing_ok=True)
            meta_path.unlink(missing_ok=True)
            return None
        return entry

    @contextlib.contextmanager
    def writer(self, key: str, fmt: str) -> Iterator[Path]:
        """Yield a temp path to write the clip to; `put` commits it."""
        audio_path, _ = self._paths(key, fmt)
        with atomic_path(audio_path) as tmp:
            yield tmp

    def put(
        self,
        key: str,
        fmt: str,
        *,
        duration_ms: int,
        loudness_lufs: float,
        true_peak_dbtp: float,
        spoken_text: str,
    ) -> CacheEntry:
        """Commit the audio file already in place for `key` by writing its sidecar."""
        audio_path, meta_path = self._paths(key, fmt)
        entry = CacheEntry(
            key=key,
            fmt=fmt,
            path=audio_path,
            size=audio_path.stat().st_size,
            sha256=file_sha256(audio_path),
            duration_ms=duration_ms,
            loudness_lufs=round(loudness_lufs, 2),
            true_peak_dbtp=round(true_peak_dbtp, 2),
            spoken_text=spoken_text,
        )
        meta = asdict(entry)
        meta.pop("path")
        atomic_write_bytes(meta_path, json.dumps(meta, ensure_ascii=False).encode("utf-8"))
        return entry

    def keys(self) -> Iterator[tuple[str, str]]:
        """(key, fmt) of every committed entry (unverified)."""
        for meta_path in self.root.glob("*/*.json"):
            key, fmt, _ = meta_path.name.split(".", 2)
            yield key, fmt
