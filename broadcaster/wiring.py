"""Building the parts from settings and a data folder (used by the CLI and the server)."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from audio.cache import ClipCache
from audio.render import Renderer
from audio.tts import Pyttsx3Synthesizer
from broadcaster.clips import ClipLibrary
from broadcaster.config import Settings
from broadcaster.renderqueue import RenderQueue
from broadcaster.store import Store, sqlite_url

log = logging.getLogger(__name__)


def open_store(settings: Settings, data: Path, now: datetime, url: str | None = None) -> Store:
    """The database (SQLite under `data` unless `url` is given), migrated and seeded."""
    store = Store.open(url or sqlite_url(data))
    try:
        report = store.seed_from(settings, now)
    except BaseException:
        store.close()
        raise
    if report.first:
        log.info("seeded the database from %s: %d objects", settings.source, report.count)
    elif report.count:
        log.info("added %d new objects from %s", report.count, settings.source)
    return store


def make_library(settings: Settings, data: Path) -> ClipLibrary:
    """The clip library: pyttsx3/espeak-ng rendering into `data/clips`, at most
    `server.render_slots` renders at once (their CPU-bound part in worker threads under
    `serve`), people's renders limited and queued, the cache kept to its size budget."""
    server = settings.server
    queue = RenderQueue(
        slots=server.render_slots, limit=server.render_queue, per_user=server.renders_per_user
    )
    renderer = Renderer(Pyttsx3Synthesizer(), ClipCache(data / "clips"), settings.render, queue)
    return ClipLibrary(
        renderer,
        data / "recordings",
        settings.selftest_text,
        budget_bytes=server.clip_cache_mb * 2**20,
    )


def close_library(library: ClipLibrary) -> None:
    """Stop the synthesizer's synthesis server and the render threads."""
    synthesizer = library.renderer.synthesizer
    if isinstance(synthesizer, Pyttsx3Synthesizer):
        synthesizer.close()
    workers = library.renderer.workers
    if isinstance(workers, RenderQueue):
        workers.close()
