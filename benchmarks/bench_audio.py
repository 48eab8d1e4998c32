"""Rendering the default messages cold, against the bare engine; and a cache hit.

Goal (issue 2): the whole pipeline to WAV within 2x of `espeak-ng -w` on the same texts,
and a cache hit under 5 ms.

    .venv/bin/python -m benchmarks.bench_audio
"""

from __future__ import annotations

import json
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from audio.cache import ClipCache
from audio.render import ClipRequest, Renderer
from audio.textnorm import normalize, read
from audio.tts import Pyttsx3Synthesizer, reads_pinyin
from broadcaster.config import load_settings

ROOT = Path(__file__).resolve().parent.parent


def bare_engine(texts: list[str], rate: int, folder: Path) -> float:
    """Seconds for `espeak-ng -w` on every (already normalized) text, one after another."""
    started = time.perf_counter()
    for i, text in enumerate(texts):
        subprocess.run(
            [
                "espeak-ng",
                "-v",
                "cmn-latn-pinyin",
                "-s",
                str(rate),
                "-w",
                str(folder / f"{i}.wav"),
                text,
            ],
            check=True,
        )
    return time.perf_counter() - started


def pipeline(requests: list[ClipRequest], folder: Path, workers: int) -> tuple[float, Renderer]:
    synth = Pyttsx3Synthesizer()
    settings = load_settings(ROOT / "config.yaml")
    renderer = Renderer(synth, ClipCache(folder), settings.render)
    synth.voices()  # the voice list is read once per process, not per clip
    try:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            clips = list(pool.map(renderer.render, requests))
        elapsed = time.perf_counter() - started
    finally:
        synth.close()
    assert not any(c.cached for c in clips)
    return elapsed, renderer


def main() -> dict[str, object]:
    settings = load_settings(ROOT / "config.yaml")
    voice = settings.default_voice
    requests = [
        ClipRequest(m.text, m.voice.voice, m.voice.rate, m.voice.volume, m.voice.chime)
        for m in settings.messages
    ]
    # The bare engine gets what the pipeline gives it: pinyin for a pinyin voice (issue 16).
    spoken = [
        read(m.text, settings.lexicon).pinyin
        if reads_pinyin(m.voice.voice)
        else normalize(m.text, settings.lexicon)
        for m in settings.messages
    ]
    result: dict[str, object] = {"messages": len(requests)}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        bare_runs = []
        for i in range(3):
            (folder / f"bare{i}").mkdir()
            bare_runs.append(bare_engine(spoken, voice.rate, folder / f"bare{i}"))
        bare = min(bare_runs)
        result["bare_espeak_s"] = round(bare, 3)
        for workers in (1, 2):
            runs = [pipeline(requests, folder / f"p{workers}-{i}", workers)[0] for i in range(3)]
            result[f"pipeline_{workers}_worker_s"] = round(min(runs), 3)
            result[f"ratio_{workers}_worker"] = round(min(runs) / bare, 2)
        # Cache hits: the same requests again on a warm cache (verification included).
        _, renderer = pipeline(requests, folder / "hits", 1)
        synth = Pyttsx3Synthesizer(prestart=False)
        renderer.synthesizer = synth
        synth.voices()
        hits = []
        for _ in range(20):
            for request in requests:
                started = time.perf_counter()
                clip = renderer.render(request)
                hits.append(time.perf_counter() - started)
                assert clip.cached
        synth.close()
        ordered = sorted(hits)
        result["cache_hit_ms"] = {
            "p50": round(1000 * statistics.median(ordered), 2),
            "p99": round(1000 * ordered[int(0.99 * (len(ordered) - 1))], 2),
            "max": round(1000 * ordered[-1], 2),
        }
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
