"""Issue 16: the reading of polyphones, and what the pinyin step costs.

- Polyphone accuracy on tests/audio/polyphones.py, before (espeak-ng reading the characters
  itself, compared through `espeak-ng -x` with the dictionary reading in the same sentence) and
  after (the syllables the pipeline gives the engine).
- Loading pypinyin and its dictionaries (time and memory, in a fresh process), and converting
  the 64 village notices once loaded.
- Rendering the notices cold through the whole pipeline against bare `espeak-ng -w` on what
  the engine is given (the pinyin), and bare espeak-ng on the characters as it was before.

    .venv/bin/python -m benchmarks.bench_reading
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import audio.render
from audio.cache import ClipCache
from audio.render import ClipRequest, Renderer
from audio.textnorm import normalize, read
from audio.tts import DEFAULT_VOICE, Pyttsx3Synthesizer
from benchmarks.bench_audio import bare_engine
from broadcaster.config import Settings, load_settings
from tests.audio.notices import NOTICES
from tests.audio.polyphones import ERHUA, POLYPHONES, SANDHI, Polyphone
from tests.audio.test_pinyin import segments, tone_heard, word_syllables

ROOT = Path(__file__).resolve().parent.parent
HAN = range(0x3400, 0xA000)


def _groups(text: str) -> list[str]:
    out = subprocess.run(
        ["espeak-ng", "-q", "-v", "cmn-latn-pinyin", "-x", "--", text],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [g.strip() for g in out.replace("\n", " ").split("_|") if g.strip()]


def _heard(groups: list[str]) -> list[tuple[str, int]]:
    return [(segments(g), tone_heard(g)) for g in groups]


def espeak_alone_right(entry: Polyphone) -> bool:
    """Whether espeak-ng, given the characters, says the word as the dictionary does: its
    phonemes equal those it makes of the same sentence with the word written in pinyin."""
    start = entry.sentence.index(entry.word)
    before = sum(1 for ch in entry.sentence[:start] if ord(ch) in HAN)
    mixed = f"{entry.sentence[:start]} {entry.pinyin} {entry.sentence[start + len(entry.word) :]}"
    size = len(entry.word)
    han = _heard(_groups(entry.sentence))[before : before + size]
    return han == _heard(_groups(mixed))[before : before + size]


def accuracy(rows: list[Polyphone]) -> dict[str, object]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        before = sum(pool.map(espeak_alone_right, rows))
    after = sum(word_syllables(entry) == entry.pinyin for entry in rows)
    return {
        "entries": len(rows),
        "before_espeak_alone": round(before / len(rows), 3),
        "after_pipeline": round(after / len(rows), 3),
    }


def load_cost() -> dict[str, float]:
    probe = (
        "import json, os, time\n"
        "from audio.textnorm import normalize\n"
        "normalize('银行')  # the normalizer (OpenCC) loaded first, outside the measurement\n"
        "import audio.textnorm.pinyin as p\n"
        "def rss():\n"
        "    return int(open('/proc/self/statm').read().split()[1]) * os.sysconf('SC_PAGE_SIZE')\n"
        "m0 = rss(); t0 = time.perf_counter(); p.warm_up(); t1 = time.perf_counter(); m1 = rss()\n"
        "print(json.dumps({'load_s': round(t1 - t0, 3), 'load_mb': round((m1 - m0) / 2**20, 1)}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    loaded: dict[str, float] = json.loads(out)
    return loaded


def conversion_ms() -> dict[str, float]:
    read("预热")
    texts = [n.text for n in NOTICES]
    started = time.perf_counter()
    for text in texts:
        normalize(text)
    characters = time.perf_counter() - started
    started = time.perf_counter()
    for text in texts:
        read(text)
    both = time.perf_counter() - started
    return {
        "normalize_ms_per_notice": round(1000 * characters / len(texts), 2),
        "normalize_and_pinyin_ms_per_notice": round(1000 * both / len(texts), 2),
    }


def render_time(folder: Path) -> dict[str, float]:
    settings = load_settings(ROOT / "config.yaml")
    texts = [n.text for n in NOTICES]
    pinyin = [read(t, settings.render.lexicon).pinyin for t in texts]
    characters = [normalize(t, settings.render.lexicon) for t in texts]
    result: dict[str, float] = {}
    result["bare_espeak_pinyin_s"] = round(
        min(bare_engine(pinyin, 160, _mk(folder / f"bp{i}")) for i in range(3)), 3
    )
    result["bare_espeak_characters_s"] = round(
        min(bare_engine(characters, 160, _mk(folder / f"bc{i}")) for i in range(3)), 3
    )
    runs = _pipeline(texts, settings, folder / "pinyin")
    result["pipeline_1_worker_s"] = round(min(runs), 3)
    result["ratio_to_bare_pinyin"] = round(min(runs) / result["bare_espeak_pinyin_s"], 2)
    # Before issue 16: the same pipeline giving the voice characters (no pinyin step).
    original = audio.render.reads_pinyin
    audio.render.reads_pinyin = lambda voice: False
    try:
        runs = _pipeline(texts, settings, folder / "characters")
    finally:
        audio.render.reads_pinyin = original
    result["before_pipeline_characters_1_worker_s"] = round(min(runs), 3)
    result["before_ratio_to_bare_characters"] = round(
        min(runs) / result["bare_espeak_characters_s"], 2
    )
    return result


def _pipeline(texts: list[str], settings: Settings, folder: Path) -> list[float]:
    runs = []
    for i in range(3):
        synth = Pyttsx3Synthesizer()
        renderer = Renderer(synth, ClipCache(folder / str(i)), settings.render)
        synth.voices()
        read("预热", settings.render.lexicon)
        try:
            started = time.perf_counter()
            for text in texts:
                assert not renderer.render(ClipRequest(text, DEFAULT_VOICE, rate=160)).cached
            runs.append(time.perf_counter() - started)
        finally:
            synth.close()
    return runs


def _mk(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


def main() -> dict[str, object]:
    result: dict[str, object] = {
        "polyphones": accuracy(POLYPHONES),
        "yi_bu_sandhi": accuracy(SANDHI),
        "erhua": accuracy(ERHUA),
        "g2p_load": load_cost(),
        "g2p_conversion": conversion_ms(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        result["notices_render"] = render_time(Path(tmp))
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
