"""Loudness (ITU-R BS.1770 via pyloudnorm), true peak and a look-ahead peak limiter."""

from __future__ import annotations

import functools
import math

import numpy as np
import pyloudnorm
from scipy import ndimage, signal

TRUE_PEAK_OVERSAMPLING = 4


@functools.cache
def _meter(rate: int) -> pyloudnorm.Meter:
    return pyloudnorm.Meter(rate)


def integrated_lufs(samples: np.ndarray, rate: int) -> float:
    """Integrated loudness in LUFS of float samples in [-1, 1] (gated, BS.1770-4)."""
    if len(samples) < int(0.4 * rate):
        samples = np.concatenate([samples, np.zeros(int(0.4 * rate) - len(samples))])
    return float(_meter(rate).integrated_loudness(samples))


def true_peak_dbtp(samples: np.ndarray) -> float:
    """Peak level in dBTP, estimated on a 4x oversampled signal."""
    if len(samples) == 0:
        return -math.inf
    up = signal.resample_poly(samples, TRUE_PEAK_OVERSAMPLING, 1)
    peak = float(np.max(np.abs(up)))
    return 20 * math.log10(peak) if peak > 0 else -math.inf


def peak_envelope(samples: np.ndarray) -> np.ndarray:
    """Per-sample peak of the 4x oversampled signal: what true-peak metering sees."""
    up = signal.resample_poly(samples, TRUE_PEAK_OVERSAMPLING, 1)
    envelope = np.abs(up[: len(samples) * TRUE_PEAK_OVERSAMPLING])
    envelope = envelope.reshape(-1, TRUE_PEAK_OVERSAMPLING).max(axis=1)
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
    limited signal measures on target. The oversampled peak envelope is computed once:
    a gain scales it exactly, so each refinement costs one loudness measurement.
    """
    loudness = integrated_lufs(samples, rate)
    if not math.isfinite(loudness):
        return samples, loudness, true_peak_dbtp(samples)
    envelope = peak_envelope(samples)
    margin_db = 0.3  # limit a little under the ceiling: interpolation can lift peaks slightly
    gain_db = target_lufs - loudness
    out = samples
    for _ in range(8):
        scale = 10 ** (gain_db / 20)
        if float(envelope.max()) * scale <= 10 ** ((ceiling_dbtp - margin_db) / 20):
            out = samples * scale  # no limiting needed: the gain alone is exact
            break
        out = samples * scale * limiter_gain(envelope * scale, rate, ceiling_dbtp - margin_db)
        error_db = target_lufs - integrated_lufs(out, rate)
        if abs(error_db) < 0.05:
            break
        gain_db += error_db
    peak = true_peak_dbtp(out)
    if peak > ceiling_dbtp:  # a last safety net; not expected after the loop above
        out = out * limiter_gain(peak_envelope(out), rate, ceiling_dbtp - margin_db)
        peak = true_peak_dbtp(out)
    return out, integrated_lufs(out, rate), peak
