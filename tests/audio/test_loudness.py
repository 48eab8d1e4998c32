"""The loudness step's shortcuts against the plain computation they replace.

`normalize` interpolates the true-peak envelope only near the peaks the limiter may act on,
and reports the loudness of the K-weighted signal times the gain when it applied a plain
gain, instead of filtering the result again. Both must give what the plain computation gives, on real speech (espeak-ng)
and on signals made to be hard (noise, a full-scale square, clicks, near silence).
"""

from __future__ import annotations

import math
import subprocess
import wave

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from audio import loudness

RATE = 22050
TARGET, CEILING = -16.0, -1.0
SENTENCE = (
    "ge4 wei4 cun1 min2 qing3 zhu4 yi4, ming2 tian1 you3 bao4 yu3, qing3 bu2 yao4 qu4 he2 bian1."
)


def _speech(tmp_path_factory: pytest.TempPathFactory, text: str) -> np.ndarray:
    path = tmp_path_factory.mktemp("speech") / "speech.wav"
    subprocess.run(
        ["espeak-ng", "-v", "cmn-latn-pinyin", "-s", "160", "-w", str(path), text], check=True
    )
    with wave.open(str(path), "rb") as wav:
        frames = wav.readframes(wav.getnframes())
    return np.frombuffer(frames, dtype="<i2").astype(np.float64) / 32768.0


@pytest.fixture(scope="module")
def signals(tmp_path_factory) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(16)
    t = np.arange(RATE) / RATE
    clicks = np.zeros(RATE)
    clicks[::997] = 0.9
    return {
        "speech": _speech(tmp_path_factory, SENTENCE),
        "speech, quiet": 0.05 * _speech(tmp_path_factory, "ting2 dian4 tong1 zhi1"),
        "noise": 0.3 * rng.standard_normal(RATE),
        "square": np.sign(np.sin(2 * np.pi * 1000 * t)),
        "clicks": clicks,
        "near silence": 1e-4 * rng.standard_normal(RATE),
    }


def _plain_normalize(samples: np.ndarray) -> tuple[np.ndarray, float, float]:
    """The same refinement with the whole envelope and the result filtered again."""
    weighted = loudness.k_weighted(samples, RATE)
    measured = loudness.gated_lufs(weighted, RATE)
    if not math.isfinite(measured):
        return samples, measured, loudness.true_peak_dbtp(samples)
    envelope = loudness.peak_envelope(samples)
    ceiling = 10 ** ((CEILING - 0.3) / 20)
    gain_db = TARGET - measured
    gain: np.ndarray | float = 1.0
    for _ in range(8):
        scale = 10 ** (gain_db / 20)
        if float(envelope.max()) * scale <= ceiling:
            gain = 1.0
            break
        gain = loudness.limiter_gain(envelope * scale, RATE, CEILING - 0.3)
        error_db = TARGET - loudness.gated_lufs(weighted * scale * gain, RATE)
        if abs(error_db) < 0.05:
            break
        gain_db += error_db
    out = samples * scale * gain
    peak = float(np.max(envelope * scale * gain))
    return out, loudness.integrated_lufs(out, RATE), 20 * math.log10(peak)


@pytest.mark.parametrize(
    "name", ["speech", "speech, quiet", "noise", "square", "clicks", "near silence"]
)
def test_normalize_gives_what_the_plain_computation_gives(signals, name):
    samples = signals[name]
    out, lufs, peak = loudness.normalize(samples, RATE, TARGET, CEILING)
    plain_out, plain_lufs, plain_peak = _plain_normalize(samples)
    assert np.max(np.abs(out - plain_out)) < 1e-9
    if name == "near silence":  # below the absolute gate: left as it is
        assert lufs == plain_lufs == -math.inf
        return
    assert abs(lufs - plain_lufs) < 1e-6
    assert abs(peak - plain_peak) < 1e-9
    assert loudness.true_peak_dbtp(out) <= CEILING + 0.05
    if name != "clicks":  # sharp clicks limited hard end below the target, also when plain
        assert abs(lufs - TARGET) < 0.1


def test_a_clip_that_needs_no_limiting_reports_its_exact_loudness(signals):
    out, lufs, peak = loudness.normalize(signals["speech"], RATE, -30.0, CEILING)
    assert abs(lufs - loudness.integrated_lufs(out, RATE)) < 1e-9
    assert abs(peak - loudness.true_peak_dbtp(out)) < 0.05


@pytest.mark.parametrize("level", [0.0, 0.05, 0.2, 0.5, 2.0])
@pytest.mark.parametrize("name", ["speech", "noise", "clicks", "square"])
def test_envelope_above_a_level_is_exact_there_and_a_bound_below(signals, name, level):
    samples = signals[name]
    full = loudness.peak_envelope(samples)
    envelope = loudness.peak_envelope_above(samples, level)
    reaches = full >= level
    np.testing.assert_allclose(envelope[reaches], full[reaches], rtol=0, atol=1e-12)
    assert np.all(envelope >= full - 1e-12)
    assert np.all(envelope[~reaches] < level + 1e-12) or level == 0.0


@settings(max_examples=60, deadline=None)
@given(
    arrays(np.float64, st.integers(1, 400), elements=st.floats(-1, 1, allow_nan=False)),
    st.floats(0, 1),
)
def test_envelope_above_any_level_up_to_the_sample_peak_keeps_the_true_peak(samples, share):
    level = share * float(np.max(np.abs(samples)))
    full = loudness.peak_envelope(samples)
    envelope = loudness.peak_envelope_above(samples, level)
    assert len(envelope) == len(samples)
    assert np.all(envelope >= full - 1e-12)
    assert abs(float(envelope.max()) - float(full.max())) < 1e-12


@pytest.mark.parametrize("name", ["speech", "speech, quiet", "noise", "clicks"])
def test_k_weighting_and_loudness_are_pyloudnorms(signals, name):
    """One fourth-order filter instead of pyloudnorm's two stages; gating done at once."""
    import pyloudnorm
    from scipy import signal

    samples = signals[name]
    meter = pyloudnorm.Meter(RATE)
    staged = samples
    for stage in meter._filters.values():
        staged = signal.lfilter(stage.b, stage.a, staged)
    weighted = loudness.k_weighted(samples, RATE)
    assert np.max(np.abs(weighted - staged)) < 1e-9
    assert abs(loudness.integrated_lufs(samples, RATE) - meter.integrated_loudness(samples)) < 0.01
