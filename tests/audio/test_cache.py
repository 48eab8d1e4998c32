"""The content-addressed clip cache and atomic writes (no engine needed)."""

from __future__ import annotations

import json

import pytest

from audio.cache import ClipCache, atomic_path, cache_key

KEY = cache_key({"text": "请戴口罩", "voice": "sit/cmn-latn-pinyin"})


def commit(cache: ClipCache, data: bytes = b"RIFF....WAVE" * 100) -> None:
    with cache.writer(KEY, "wav") as tmp:
        tmp.write_bytes(data)
    cache.put(
        KEY, "wav", duration_ms=1200, loudness_lufs=-16.0, true_peak_dbtp=-1.2, spoken_text="x"
    )


def test_key_is_stable_and_order_independent():
    assert cache_key({"a": 1, "b": "两"}) == cache_key({"b": "两", "a": 1})
    assert cache_key({"a": 1}) != cache_key({"a": 2})
    assert len(KEY) == 64


def test_committed_entry_is_found_and_verified(tmp_path):
    cache = ClipCache(tmp_path)
    assert cache.get(KEY, "wav") is None
    commit(cache)
    entry = cache.get(KEY, "wav")
    assert entry is not None and entry.duration_ms == 1200 and entry.size == 1200
    assert list(cache.keys()) == [(KEY, "wav")]


def test_audio_without_sidecar_is_a_miss(tmp_path):
    cache = ClipCache(tmp_path)
    with cache.writer(KEY, "wav") as tmp:
        tmp.write_bytes(b"data")
    assert cache.get(KEY, "wav") is None


def test_same_size_corruption_is_detected_and_removed(tmp_path):
    cache = ClipCache(tmp_path)
    commit(cache)
    entry = cache.get(KEY, "wav")
    assert entry is not None
    data = bytearray(entry.path.read_bytes())
    data[600] ^= 0xFF
    entry.path.write_bytes(bytes(data))
    assert cache.get(KEY, "wav") is None
    assert not entry.path.exists() and not entry.path.with_name(entry.path.name + ".json").exists()


def test_sidecar_with_unknown_fields_is_a_miss(tmp_path):
    cache = ClipCache(tmp_path)
    commit(cache)
    entry = cache.get(KEY, "wav")
    assert entry is not None
    sidecar = entry.path.with_name(entry.path.name + ".json")
    sidecar.write_text(json.dumps({"surprise": 1}))
    assert cache.get(KEY, "wav") is None


def test_failed_write_leaves_nothing_behind(tmp_path):
    target = tmp_path / "out.wav"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("export failed")
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_replaces_the_old_file_whole(tmp_path):
    target = tmp_path / "out.wav"
    target.write_bytes(b"old")
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"new contents")
    assert target.read_bytes() == b"new contents"
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]


def test_malformed_key_names_no_clip_and_cannot_be_written(tmp_path):
    from audio.errors import AudioError

    cache = ClipCache(tmp_path)
    assert cache.get("../../etc/passwd", "wav") is None
    with pytest.raises(AudioError, match="not a clip key"), cache.writer("../x", "wav"):
        pass
