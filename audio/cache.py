"""Content-addressed clip cache: one file per key, written atomically, verified on read.

Last use is the sidecar's mtime (touched on a hit at most once a minute; atime is not
reliable), so `evict` can keep the cache under a size budget by removing the least recently
used clips that the caller does not name as still referenced.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Collection, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from audio.errors import AudioError

TOUCH_EVERY_S = 60.0  # a hit moves the clip's last use forward at most this often
ORPHAN_AGE_S = 3600.0  # a temp file or a clip without its sidecar this old is a leftover
LOW_WATER = 0.9  # an eviction frees space down to this share of the budget


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


@dataclass(frozen=True, slots=True)
class Stored:
    """A committed clip as found on disk: `size` counts the audio file and its sidecar,
    `last_used` is the sidecar's mtime (epoch seconds), `stamp` the same in nanoseconds."""

    key: str
    fmt: str
    size: int
    last_used: float
    stamp: int


@dataclass(slots=True)
class Eviction:
    """What `ClipCache.evict` found and did."""

    budget: int
    before: int  # bytes in the cache before
    after: int  # bytes in the cache after
    referenced: int  # bytes of clips the caller named as referenced (never removed)
    removed: list[Stored] = field(default_factory=list)
    leftovers: int = 0  # temp files and clips without sidecar removed

    @property
    def over_budget(self) -> bool:
        """Still over the budget: the referenced clips alone do not fit in it."""
        return self.after > self.budget


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
        # Bytes at the last scan plus bytes put since: an estimate (other processes may
        # write too) that tells when an eviction is due without scanning the folder.
        self._scanned: int | None = None
        self._added = 0

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
        self._touch(meta_path)
        return entry

    @staticmethod
    def _touch(meta_path: Path) -> None:
        """Mark the clip as used now (its sidecar's mtime), at most once a minute."""
        with contextlib.suppress(OSError):
            if time.time() - meta_path.stat().st_mtime > TOUCH_EVERY_S:
                os.utime(meta_path)

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
        self._added += entry.size
        return entry

    def keys(self) -> Iterator[tuple[str, str]]:
        """(key, fmt) of every committed entry (unverified)."""
        for meta_path in self.root.glob("*/*.json"):
            key, fmt, _ = meta_path.name.split(".", 2)
            yield key, fmt

    def estimated_bytes(self) -> int | None:
        """Bytes in the cache by the last scan plus what was put since (None: never scanned)."""
        return None if self._scanned is None else self._scanned + self._added

    def stored(self) -> list[Stored]:
        """Every committed clip with its size and last use (unverified)."""
        found = []
        for meta_path in self.root.glob("*/*.json"):
            parts = meta_path.name.split(".")
            if len(parts) != 3 or not is_clip_key(parts[0]):
                continue
            key, fmt = parts[0], parts[1]
            try:
                meta = meta_path.stat()
                audio = meta_path.with_name(f"{key}.{fmt}").stat()
            except FileNotFoundError:
                continue  # half removed or damaged: `get` drops it
            size = meta.st_size + audio.st_size
            found.append(Stored(key, fmt, size, meta.st_mtime, meta.st_mtime_ns))
        return found

    def remove(self, clip: Stored) -> bool:
        """Remove a clip found by `stored`, unless it was used or rewritten since (its
        sidecar's mtime moved); True if removed. The sidecar goes first: a reader then
        sees a miss, never an entry without its audio."""
        audio_path, meta_path = self._paths(clip.key, clip.fmt)
        try:
            if meta_path.stat().st_mtime_ns != clip.stamp:
                return False
            meta_path.unlink()
        except FileNotFoundError:
            return False
        audio_path.unlink(missing_ok=True)
        return True

    def _leftovers(self, now: float) -> int:
        """Remove temp files and clips without a sidecar older than ORPHAN_AGE_S (a crash
        between writing and committing); returns their bytes."""
        freed = 0
        for path in self.root.glob("*/*"):
            name = path.name
            if name.endswith(".json") and not name.startswith("."):
                continue
            committed = not name.startswith(".") and path.with_name(name + ".json").exists()
            if committed:
                continue
            with contextlib.suppress(OSError):
                st = path.stat()
                if now - st.st_mtime > ORPHAN_AGE_S and path.is_file():
                    path.unlink()
                    freed += st.st_size
        return freed

    def evict(self, budget: int, keep: Collection[str], *, now: float | None = None) -> Eviction:
        """Keep the cache within `budget` bytes: when over it, remove the least recently used
        clips whose key is not in `keep` until LOW_WATER of the budget is reached. Clips in
        `keep` are never removed, even when they alone exceed the budget."""
        moment = time.time() if now is None else now
        leftovers = self._leftovers(moment)
        clips = self.stored()
        total = sum(c.size for c in clips)
        referenced = sum(c.size for c in clips if c.key in keep)
        report = Eviction(budget, total, total, referenced, leftovers=leftovers)
        if total > budget:
            target = int(budget * LOW_WATER)
            for clip in sorted((c for c in clips if c.key not in keep), key=_by_last_use):
                if total <= target:
                    break
                if self.remove(clip):
                    total -= clip.size
                    report.removed.append(clip)
        report.after = total
        self._scanned, self._added = total, 0
        return report


def _by_last_use(clip: Stored) -> tuple[float, str]:
    return clip.last_used, clip.key
