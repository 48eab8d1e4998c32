"""Rendering with the real engine and ffmpeg, measured by ffmpeg's ebur128 (independent)."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from audio.errors import InvalidInput
from audio.render import ClipRequest, Renderer
from audio.tts import DEFAULT_VOICE, expected_duration_s
from tests.audio.corpus import CORPUS
from tests.audio.measure import duration_s, ebur128, stream_info

TARGET_LUFS = -16.0
CHIME_AND_SILENCE_S = 1.05 + 0.3 + 0.7  # chime, lead, tail (sample config)


@pytest.fixture(scope="module")
def corpus_clips(tmp_path_factory, settings, synthesizer):
    """Every corpus sentence rendered once, in parallel like the server's pre-render job."""
    from audio.cache import ClipCache

    renderer = Renderer(synthesizer, ClipCache(tmp_path_factory.mktemp("corpus")), settings.render)
    requests = [ClipRequest(entry.text, DEFAULT_VOICE, rate=160) for entry in CORPUS]
    with ThreadPoolExecutor(max_workers=2) as pool:
        clips = list(pool.map(renderer.render, requests))
    return dict(zip([entry.id for entry in CORPUS], clips, strict=True))


@pytest.mark.parametrize("entry", CORPUS, ids=[entry.id for entry in CORPUS])
def test_corpus_sentence_renders_at_the_loudness_target(corpus_clips, entry):
    clip = corpus_clips[entry.id]
    measured = ebur128(clip.path)
    assert abs(measured.integrated_lufs - TARGET_LUFS) <= 1.0, measured
    assert measured.true_peak_dbfs < 0.0, measured
    low, high = expected_duration_s(entry.spoken, 160)
    speech_s = duration_s(clip.path) - CHIME_AND_SILENCE_S
    assert low <= speech_s <= high, (speech_s, low, high)
    info = stream_info(clip.path)
    assert (info["channels"], info["sample_fmt"]) == ("1", "s16")


def test_no_chime_is_shorter_by_the_chime(renderer):
    with_chime = renderer.render(ClipRequest("请戴口罩。", DEFAULT_VOICE))
    without = renderer.render(ClipRequest("请戴口罩。", DEFAULT_VOICE, chime=False))
    assert with_chime.key != without.key
    difference_s = (with_chime.duration_ms - without.duration_ms) / 1000
    assert 1.2 <= difference_s <= 1.5


@pytest.mark.parametrize(("fmt", "codec"), [("mp3", "mp3"), ("ogg", "opus")])
def test_compressed_formats_decode_at_the_target(renderer, fmt, codec):
    wav = renderer.render(ClipRequest("各位村民请注意，请保持两米距离。", DEFAULT_VOICE))
    clip = renderer.render(ClipRequest("各位村民请注意，请保持两米距离。", DEFAULT_VOICE, fmt=fmt))
    assert clip.path.suffix == f".{fmt}"
    assert stream_info(clip.path)["codec_name"] == codec
    assert abs(duration_s(clip.path) - wav.duration_ms / 1000) < 0.2
    assert abs(ebur128(clip.path).integrated_lufs - TARGET_LUFS) <= 1.0
    assert clip.path.stat().st_size < wav.path.stat().st_size / 3


def test_second_identical_render_is_served_from_the_cache(renderer):
    request = ClipRequest("今晚有大风，请关好门窗。", DEFAULT_VOICE)
    first = renderer.render(request)
    syntheses = renderer.syntheses
    second = renderer.render(request)
    assert (first.cached, second.cached) == (False, True)
    assert renderer.syntheses == syntheses
    assert second.path == first.path and second.entry.sha256 == first.entry.sha256


def test_concurrent_identical_requests_synthesize_once(renderer):
    request = ClipRequest("请大家不要聚集。", DEFAULT_VOICE)
    with ThreadPoolExecutor(max_workers=4) as pool:
        clips = list(pool.map(renderer.render, [request] * 4))
    assert renderer.syntheses == 1
    assert sorted(clip.cached for clip in clips) == [False, True, True, True]


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(
            lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), id="truncated"
        ),
        pytest.param(lambda p: p.write_bytes(b"\x00" * p.stat().st_size), id="zeroed"),
        pytest.param(lambda p: p.unlink(), id="deleted"),
        pytest.param(lambda p: Path(f"{p}.json").write_text("{not json"), id="bad-sidecar"),
    ],
)
def test_damaged_cache_file_is_rendered_again(renderer, damage):
    request = ClipRequest("请勿酒后驾驶。", DEFAULT_VOICE)
    first = renderer.render(request)
    damage(first.path)
    again = renderer.render(request)
    assert again.cached is False
    assert renderer.syntheses == 2
    assert again.entry.sha256 == first.entry.sha256  # rendering is deterministic
    assert renderer.render(request).cached is True


def test_lexicon_changes_what_is_spoken_and_the_key(settings, synthesizer, tmp_path):
    from dataclasses import replace

    from audio.cache import ClipCache

    plain = Renderer(synthesizer, ClipCache(tmp_path), replace(settings.render, lexicon={}))
    with_lexicon = Renderer(synthesizer, ClipCache(tmp_path), settings.render)
    request = ClipRequest("洪洞县的村民请注意。", DEFAULT_VOICE)
    assert "洪同" in with_lexicon.spoken_text(request.text)
    assert plain.key_for(request) != with_lexicon.key_for(request)


def test_recording_gets_the_same_treatment(renderer, tmp_path):
    source = tmp_path / "phone.wav"
    # A quiet stereo 44.1 kHz "recording": a sweep at about -35 dBFS.
    subprocess.run(
        ["sox", "-n", "-r", "44100", "-c", "2", str(source), "synth", "3", "sine", "300-900",
         "vol", "0.02"],
        check=True,
    )  # fmt: skip
    clip = renderer.render_recording(source, chime=True)
    assert abs(ebur128(clip.path).integrated_lufs - TARGET_LUFS) <= 1.0
    assert stream_info(clip.path)["channels"] == "1"
    assert renderer.render_recording(source, chime=True).cached is True


@pytest.mark.parametrize(
    ("sox_args", "problem"),
    [
        pytest.param(["synth", "3", "sine", "0", "vol", "0"], "silent", id="silent"),
        pytest.param(["trim", "0", "0.05"], "silent or shorter", id="too-short"),
    ],
)
def test_unusable_recordings_are_refused(renderer, tmp_path, sox_args, problem):
    source = tmp_path / "bad.wav"
    subprocess.run(["sox", "-n", "-r", "22050", "-c", "1", str(source), *sox_args], check=True)
    with pytest.raises(InvalidInput, match=problem):
        renderer.render_recording(source, chime=False)


def test_undecodable_recording_is_refused(renderer, tmp_path):
    source = tmp_path / "broken.m4a"
    source.write_bytes(b"\x00\x00\x00\x18ftypM4A garbage" * 10)
    with pytest.raises(InvalidInput, match="cannot decode"):
        renderer.render_recording(source, chime=False)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param("", "empty", id="empty"),
        pytest.param("   \n ", "empty", id="blank"),
        pytest.param("。。！？……", "nothing to say", id="punctuation-only"),
        pytest.param("好" * 501, "limit is 500", id="too-long"),
    ],
)
def test_bad_text_is_refused_before_synthesis(renderer, text, problem):
    with pytest.raises(InvalidInput, match=problem):
        renderer.render(ClipRequest(text, DEFAULT_VOICE))
    assert renderer.syntheses == 0
