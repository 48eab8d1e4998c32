"""The client's files: verified clips and the last good plan, all written atomically."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audio.cache import atomic_write_bytes, file_sha256, fsync_dir
from broadcaster.client.plan import ClipSpec
from broadcaster.errors import ValidationError

log = logging.getLogger(__name__)

_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")

Downloader = Callable[[ClipSpec, Path], None]
"""Fetches a clip into the given ``.part`` file (appending to what is there, or replacing it)."""


class ClipError(ValidationError):
    """A clip is missing, or its bytes do not match the plan."""


@dataclass(frozen=True, slots=True)
class CacheHealth:
    clips: int
    bytes: int
    missing: int
    corrupt: int

    def as_json(self) -> dict[str, int]:
        return {
            "clips": self.clips,
            "bytes": self.bytes,
            "missing": self.missing,
            "corrupt": self.corrupt,
        }


class ClipStore:
    """Clips under ``root/clips/<key>.<format>``, each checked by size and SHA-256.

    A download goes to ``<file>.part`` (resumed if present), is checked, fsynced and renamed.
    Verified files are remembered by (inode, size, mtime) so routine checks stay cheap;
    ``status(..., full=True)`` always hashes (before playing), as does ``ensure`` unless
    told ``full=False`` (at plan switch it hashes; the routine re-check of the current plan
    does not).
    """

    def __init__(self, root: Path) -> None:
        self.root = root / "clips"
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._verified: dict[str, tuple[int, int, int]] = {}

    def path(self, spec: ClipSpec) -> Path:
        if not _KEY.match(spec.key) or not _KEY.match(spec.fmt):
            raise ClipError(f"not a clip key: {spec.key!r}")
        return self.root / f"{spec.key}.{spec.fmt}"

    def status(self, spec: ClipSpec, full: bool = False) -> str:
        """``ok``, ``missing`` or ``corrupt``."""
        path = self.path(spec)
        try:
            st = path.stat()
        except FileNotFoundError:
            return "missing"
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        if st.st_size != spec.size:
            return "corrupt"
        if not full and self._verified.get(spec.key) == stamp:
            return "ok"
        try:
            ok = file_sha256(path) == spec.sha256
        except FileNotFoundError:
            return "missing"
        with self._lock:
            if ok:
                self._verified[spec.key] = stamp
            else:
                self._verified.pop(spec.key, None)
        return "ok" if ok else "corrupt"

    def ensure(self, spec: ClipSpec, download: Downloader, full: bool = True) -> bool:
        """Make the clip present and verified; returns True if it had to be downloaded.

        A corrupt file is removed and downloaded again. Raises ClipError when the download
        does not match the plan (the ``.part`` is removed so the next try starts clean).
        """
        path = self.path(spec)
        state = self.status(spec, full=full)
        if state == "ok":
            return False
        if state == "corrupt":
            log.warning("clip %s is corrupt on disk; downloading it again", spec.key[:12])
            path.unlink(missing_ok=True)
        part = path.with_name(path.name + ".part")
        if part.exists() and part.stat().st_size >= spec.size:  # complete or overlong: start over
            part.unlink()
        download(spec, part)
        size = part.stat().st_size if part.exists() else -1
        if size != spec.size or file_sha256(part) != spec.sha256:
            part.unlink(missing_ok=True)
            raise ClipError(
                f"clip {spec.key[:12]}: downloaded {size} bytes that do not match "
                f"the plan ({spec.size} bytes, sha256 {spec.sha256[:12]})"
            )
        with part.open("rb+") as f:
            os.fsync(f.fileno())
        os.replace(part, path)
        fsync_dir(self.root)
        self.status(spec)
        return True

    def health(self, specs: Iterable[ClipSpec]) -> CacheHealth:
        """Counts over the clips a plan names (cheap: hashes only files that changed)."""
        clips = size = missing = corrupt = 0
        for spec in specs:
            state = self.status(spec)
            if state == "ok":
                clips += 1
                size += spec.size
            elif state == "missing":
                missing += 1
            else:
                corrupt += 1
        return CacheHealth(clips, size, missing, corrupt)

    def prune(self, keep: set[str], older_than_s: float = 2 * 86400) -> int:
        """Remove clips not in ``keep`` that have not been touched for ``older_than_s``."""
        removed = 0
        cutoff = time.time() - older_than_s
        for path in self.root.iterdir():
            key = path.name.split(".", 1)[0]
            with contextlib.suppress(OSError):
                if key not in keep and path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
        return removed


class PlanStore:
    """The last plan that was switched to, saved atomically as ``plan.json``."""

    def __init__(self, root: Path) -> None:
        self.path = root / "plan.json"
        root.mkdir(parents=True, exist_ok=True)

    def save(self, body: dict[str, Any], etag: str | None) -> None:
        data = json.dumps({"etag": etag, "body": body}, ensure_ascii=False).encode("utf-8")
        atomic_write_bytes(self.path, data)

    def load(self) -> tuple[dict[str, Any], str | None] | None:
        """The saved plan body and its ETag, or None if there is none (or it is unreadable)."""
        try:
            saved = json.loads(self.path.read_text(encoding="utf-8"))
            body, etag = saved["body"], saved.get("etag")
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring the saved plan %s: %s", self.path, exc)
            return None
        if not isinstance(body, dict):
            return None
        return body, etag
