"""Loudness (ITU-R BS.1770 via pyloudnorm), true peak and a look-ahead peak limiter."""

from __future__ import annotations

import functools
import math

import numpy as np
import pyloudnorm
from scipy import ndimage, signal

TRUE_PEAK_OVERSAMPLING = 4
# About the 48-tap interpolator of ITU-R BS.1770-4 Annex 2 (12 taps per phase, odd so that
# the output stays centred) is enough for true-peak metering; scipy's default is 81 taps.
_INTERPOLATOR_TAPS = 49


@functools.cache
def _meter(rate: int) -> pyloudnorm.Meter:
    return pyloudnorm.Meter(rate)


@functools.cache
def _interpolator() -> np.ndarray:
    # resample_poly scales the taps by the up factor itself.
    return np.asarray(
        signal.firwin(_INTERPOLATOR_TAPS, 1.0 / TRUE_PEAK_OVERSAMPLING, window=("kaiser", 5.0))
    )


def k_weighted(samples: np.ndarray, rate: int) -> np.ndarray:
    """The signal through BS.1770's K-weighting (pyloudnorm's two filter stages)."""
    weighted = samples
    for stage in _meter(rate)._filters.values():
        weighted = signal.lfilter(stage.b, stage.a, weighted)
    return np.asarray(weighted)


def gated_lufs(weighted: np.ndarray, rate: int) -> float:
    """Integrated loudness of an already K-weighted signal: 400 ms blocks with 75 % overlap,
    the absolute gate at -70 LUFS and the relative gate 10 LU below (BS.1770-4), computed
    at once from a running sum (pyloudnorm loops over blocks in Python)."""
    block = int(0.4 * rate)
    if len(weighted) < block:
        weighted = np.concatenate([weighted, np.zeros(block - len(weighted))])
    step = int(0.1 * rate)
    energy = np.concatenate([[0.0], np.cumsum(weighted * weighted)])
    starts = np.arange(0, len(weighted) - block + 1, step)
    power = (energy[starts + block] - energy[starts]) / block
    with np.errstate(divide="ignore"):
        levels = -0.691 + 10 * np.log10(power)
    gated = power[levels > -70.0]
    if len(gated) == 0:
        return -math.inf
    relative = -0.691 + 10 * math.log10(float(gated.mean())) - 10.0
    final = power[(levels > -70.0) & (levels > relative)]
    return -0.691 + 10 * math.log10(float(final.mean())) if len(final) else -math.inf


def integrated_lufs(samples: np.ndarray, rate: int) -> float:
    """Integrated loudness in LUFS of float samples in [-1, 1] (gated, BS.1770-4)."""
    return gated_lufs(k_weighted(samples, rate), rate)


def _oversampled(samples: np.ndarray) -> np.ndarray:
    return signal.resample_poly(samples, TRUE_PEAK_OVERSAMPLING, 1, window=_interpolator())


def true_peak_dbtp(samples: np.ndarray) -> float:
    """Peak level in dBTP, estimated on a 4x oversampled signal."""
    if len(samples) == 0:
        return -math.inf
    peak = float(np.max(np.abs(_oversampled(samples))))
    return 20 * math.log10(peak) if peak > 0 else -math.inf


def peak_envelope(samples: np.ndarray) -> np.ndarray:
    """Per-sample peak of the 4x oversampled signal: what true-peak metering sees."""
    up = np.abs(_oversampled(samples)[: len(samples) * TRUE_PEAK_OVERSAMPLING])
    envelope = up.reshape(-1, TRUE_PEAK_OVERSAMPLING).max(axis=1)
    return np.pad(envelope, (0, len(samples) - len(envelope)))


def limiter_gain(
    envelope: np.ndarray, rate: int, ceiling_db: float, lookahead_ms: float = 5.0
) -> np.ndarray:
    """Smooth gain that keeps a signal with this peak `envelope` under `ceiling_db`.

    The required gain is min-filtered over twice the look-ahead and then averaged over
    the look-ahead, which keeps the smoothed gain at or below the required gain at every
    sample: peaks end at the ceiling without the clicks of hard clipping.
    """
    ceiling = 10 ** (ceiling_db / 20)
    needed = np.minimum(1.0, ceiling / np.maximum(envelope, 1e-12))
    width = max(1, int(rate * lookahead_ms / 1000))
    floor = ndimage.minimum_filter1d(needed, size=2 * width + 1, mode="nearest")
    smooth = ndimage.uniform_filter1d(floor, size=width, mode="nearest")
    return np.minimum(smooth, 1.0)


def normalize(
    samples: np.ndarray, rate: int, target_lufs: float, ceiling_dbtp: float
) -> tuple[np.ndarray, float, float]:
    """Gain to `target_lufs`, limiting peaks to `ceiling_dbtp`; returns (samples, LUFS, dBTP).

    Limiting lowers the loudness a little, so the make-up gain is refined until the
    limited signal measures on target. Both the K-weighted signal and the oversampled
    peak envelope are computed once: the limiter's gain moves slowly next to the
    K-weighting filters, so each refinement only re-gates the weighted signal times the
    gain. The result is measured exactly once at the end.
    """
    weighted = k_weighted(samples, rate)
    loudness = gated_lufs(weighted, rate)
    if not math.isfinite(loudness):
        return samples, loudness, true_peak_dbtp(samples)
    envelope = peak_envelope(samples)
    margin_db = 0.3  # limit a little under the ceiling: interpolation can lift peaks slightly
    ceiling = 10 ** ((ceiling_dbtp - margin_db) / 20)
    gain_db = target_lufs - loudness
    gain: np.ndarray | float = 1.0
    for _ in range(8):
        scale = 10 ** (gain_db / 20)
        if float(envelope.max()) * scale <= ceiling:
            gain = 1.0  # no limiting needed: the gain alone is exact
            break
        gain = limiter_gain(envelope * scale, rate, ceiling_dbtp - margin_db)
        error_db = target_lufs - gated_lufs(weighted * scale * gain, rate)
        if abs(error_db) < 0.05:
            break
        gain_db += error_db
    out = samples * scale * gain
    peak = float(np.max(envelope * scale * gain))
    peak_db = 20 * math.log10(peak) if peak > 0 else -math.inf
    return out, integrated_lufs(out, rate), peak_db
