"""The clip cache's size budget (issue 10, item 5): least recently used clips that nobody
references are removed when the cache is over its budget; referenced ones never are."""

from __future__ import annotations

import os
import time
from pathlib import Path

from audio.cache import LOW_WATER, ORPHAN_AGE_S, TOUCH_EVERY_S, ClipCache, cache_key

MB = 2**20


def commit(cache: ClipCache, name: str, size: int, used_ago_s: float) -> str:
    """A committed clip of `size` audio bytes, last used `used_ago_s` seconds ago."""
    key = cache_key({"text": name})
    with cache.writer(key, "wav") as tmp:
        tmp.write_bytes(os.urandom(size))
    cache.put(key, "wav", duration_ms=1000, loudness_lufs=-16, true_peak_dbtp=-1, spoken_text=name)
    meta = cache.path_for(key, "wav").with_name(f"{key}.wav.json")
    moment = time.time() - used_ago_s
    os.utime(meta, (moment, moment))
    return key


def on_disk(cache: ClipCache) -> int:
    return sum(p.stat().st_size for p in cache.root.glob("*/*"))


def test_over_budget_the_least_recently_used_unreferenced_clips_go(tmp_path: Path) -> None:
    cache = ClipCache(tmp_path)
    plan = commit(cache, "in today's plan, unused for a day", 3 * MB, 86400)
    old_preview = commit(cache, "a preview from yesterday", 3 * MB, 80000)
    mid_preview = commit(cache, "a preview an hour ago", 3 * MB, 3600)
    new_preview = commit(cache, "a preview a minute ago", 3 * MB, 60)
    report = cache.evict(8 * MB, keep={plan})
    assert [c.key for c in report.removed] == [old_preview, mid_preview]
    assert report.before > 12 * MB and report.after <= 8 * MB * LOW_WATER
    assert report.referenced > 3 * MB and not report.over_budget
    assert cache.get(plan, "wav") is not None
    assert cache.get(new_preview, "wav") is not None
    assert cache.get(old_preview, "wav") is None and cache.get(mid_preview, "wav") is None
    assert not cache.path_for(old_preview, "wav").exists()  # the audio file went too
    assert on_disk(cache) == report.after


def test_under_budget_nothing_is_removed(tmp_path: Path) -> None:
    cache = ClipCache(tmp_path)
    keys = [commit(cache, f"clip {i}", MB, 86400 * i) for i in range(3)]
    report = cache.evict(10 * MB, keep=set())
    assert report.removed == [] and report.before == report.after
    assert all(cache.get(k, "wav") for k in keys)
    assert cache.estimated_bytes() == report.after


def test_referenced_clips_stay_even_when_they_alone_exceed_the_budget(tmp_path: Path) -> None:
    cache = ClipCache(tmp_path)
    plan = [commit(cache, f"message {i}", 2 * MB, 86400) for i in range(3)]
    preview = commit(cache, "a preview", 2 * MB, 10)
    report = cache.evict(3 * MB, keep=set(plan))
    assert [c.key for c in report.removed] == [preview]
    assert report.over_budget and report.referenced == report.after
    assert all(cache.get(k, "wav") for k in plan)


def test_a_hit_counts_as_use(tmp_path: Path) -> None:
    cache = ClipCache(tmp_path)
    played = commit(cache, "downloaded by a speaker just now", 2 * MB, 2 * TOUCH_EVERY_S + 3600)
    idle = commit(cache, "nobody asked for it", 2 * MB, 3600)
    assert cache.get(played, "wav") is not None  # moves its last use to now
    report = cache.evict(3 * MB, keep=set())
    assert [c.key for c in report.removed] == [idle]
    assert cache.get(played, "wav") is not None


def test_a_clip_used_after_the_scan_is_not_removed(tmp_path: Path) -> None:
    cache = ClipCache(tmp_path)
    key = commit(cache, "a preview", MB, 3600)
    (found,) = cache.stored()
    assert cache.get(key, "wav") is not None  # used between the scan and the removal
    assert not cache.remove(found)
    assert cache.get(key, "wav") is not None


def test_leftovers_of_interrupted_writes_are_removed(tmp_path: Path) -> None:
    cache = ClipCache(tmp_path)
    kept = commit(cache, "committed", MB, 60)
    orphan = cache.path_for(cache_key({"text": "crashed before its sidecar"}), "wav")
    temp = orphan.with_name(f".{orphan.name}.abc123.part")
    fresh = orphan.with_name(f".{orphan.name}.def456.part")  # a render writing right now
    for path in (orphan, temp, fresh):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 1000)
    old = time.time() - ORPHAN_AGE_S - 60
    for path in (orphan, temp):
        os.utime(path, (old, old))
    report = cache.evict(100 * MB, keep=set())
    assert report.leftovers == 2000
    assert not orphan.exists() and not temp.exists() and fresh.exists()
    assert cache.get(kept, "wav") is not None


def test_put_counts_towards_the_estimate(tmp_path: Path) -> None:
    cache = ClipCache(tmp_path)
    assert cache.estimated_bytes() is None  # never scanned
    cache.evict(100 * MB, keep=set())
    commit(cache, "new", MB, 0)
    estimate = cache.estimated_bytes()
    assert estimate is not None and MB <= estimate < MB + 4096
