"""Issue 16 through the renderer and the real engine: a pinyin voice is given syllables, the
clip is byte-identical for the same input, the cache key follows the G2P; other voices keep
today's characters and keys."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import audio.render
from audio.cache import ClipCache, cache_key
from audio.render import ClipRequest, Renderer
from audio.tts import DEFAULT_VOICE, ClipCheck, SpeechRequest, reads_pinyin

TEXT = "各位村民请注意：银行的大夫明天来村里，重庆来的人员请登记。"


class Recording:
    """The real synthesizer, remembering what it was given."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.texts: list[str] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def synthesize(self, request: SpeechRequest, out_path: Path) -> ClipCheck:
        self.texts.append(request.text)
        return self.inner.synthesize(request, out_path)  # type: ignore[attr-defined, no-any-return]


@pytest.fixture
def recording(synthesizer):
    return Recording(synthesizer)


def make(recording, settings, folder: Path) -> Renderer:
    return Renderer(recording, ClipCache(folder), settings.render)  # type: ignore[arg-type]


def test_pinyin_voices_are_told_apart() -> None:
    assert reads_pinyin(DEFAULT_VOICE)
    assert reads_pinyin("cmn-latn-pinyin")
    assert reads_pinyin("sit/cmn-Latn-pinyin")
    assert not reads_pinyin("sit/yue")
    assert not reads_pinyin("sit/cmn")


def test_the_pinyin_voice_is_given_syllables_and_the_clip_is_byte_identical(
    recording, settings, tmp_path
):
    first = make(recording, settings, tmp_path / "a").render(ClipRequest(TEXT, DEFAULT_VOICE))
    second = make(recording, settings, tmp_path / "b").render(ClipRequest(TEXT, DEFAULT_VOICE))
    assert recording.texts[0] == (
        "ge4 wei4 cun1 min2 qing3 zhu4 yi4： yin2 hang2 de5 dai4 fu5 ming2 tian1 lai2 cun1 li3，"
        " chong2 qing4 lai2 de5 ren2 yuan2 qing3 deng1 ji4。"
    )
    assert recording.texts == [recording.texts[0]] * 2
    assert not first.cached and not second.cached
    assert first.key == second.key
    assert first.path.read_bytes() == second.path.read_bytes()


def test_other_voices_keep_characters_and_todays_key(recording, settings, tmp_path):
    renderer = make(recording, settings, tmp_path)
    request = ClipRequest(TEXT, "sit/yue")
    key = renderer.key_for(request)
    spoken = renderer.spoken_text(TEXT)
    plain = ClipRequest(spoken, "sit/yue", request.rate, request.volume, request.chime)
    assert key == cache_key(renderer._fields(plain, spoken, recording.engine_id))
    renderer.render(request)
    assert recording.texts == [spoken]


def test_the_key_follows_the_g2p_and_the_syllables(recording, settings, tmp_path, monkeypatch):
    renderer = make(recording, settings, tmp_path)
    request = ClipRequest("洪洞县的银行", DEFAULT_VOICE)
    key = renderer.key_for(request)
    assert renderer.key_for(request) == key
    monkeypatch.setattr(audio.render, "g2p_id", lambda: "pypinyin-0.0.0/rules-0/tables-0")
    assert renderer.key_for(request) != key
    monkeypatch.undo()
    assert renderer.key_for(request) == key
    # A lexicon reading in pinyin changes what is given, so the key, not the text shown.
    keys = []
    for reading in ("hong2 tong2", "hong2 dong4"):
        lexicon = {**renderer.settings.lexicon, "洪洞": reading}
        renderer.settings = dataclasses.replace(renderer.settings, lexicon=lexicon)
        assert renderer.spoken_text("洪洞县的银行") == "洪洞县的银行"
        keys.append(renderer.key_for(request))
    assert keys[0] != keys[1]
