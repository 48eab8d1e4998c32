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


@functools.cache
def _k_sections(rate: int) -> np.ndarray:
    """pyloudnorm's two K-weighting stages (high shelf, high pass) as second-order sections."""
    rows = []
    for stage in _meter(rate)._filters.values():
        b, a = np.asarray(stage.b, dtype=float), np.asarray(stage.a, dtype=float)
        rows.append(np.concatenate([b / a[0], a / a[0]]))
    return np.vstack(rows)


@functools.cache
def _k_filter(rate: int) -> tuple[np.ndarray, np.ndarray]:
    """The two stages as one fourth-order filter (b, a): scipy's `lfilter` runs it about
    three times faster than `sosfilt` runs the sections, within 2e-12 of it on speech."""
    b, a = signal.sos2tf(_k_sections(rate))
    return np.asarray(b), np.asarray(a)


def k_weighted(samples: np.ndarray, rate: int) -> np.ndarray:
    """The signal through BS.1770's K-weighting (pyloudnorm's two filter stages, run as one
    filter: one pass)."""
    b, a = _k_filter(rate)
    return np.asarray(signal.lfilter(b, a, samples))


def gated_lufs(weighted: np.ndarray, rate: int) -> float:
    """Integrated loudness of an already K-weighted signal: 400 ms blocks with 75 % overlap,
    the absolute gate at -70 LUFS and the relative gate 10 LU below (BS.1770-4), computed
    at once from a running sum (pyloudnorm loops over blocks in Python)."""
    block = int(0.4 * rate)
    if len(weighted) < block:
        weighted = np.concatenate([weighted, np.zeros(block - len(weighted))])
    energy = np.concatenate([[0.0], np.cumsum(weighted * weighted)])
    starts = _block_starts(len(weighted), rate)
    return _gated(energy[starts + block] - energy[starts], block)


def _block_starts(count: int, rate: int) -> np.ndarray:
    return np.arange(0, count - int(0.4 * rate) + 1, int(0.1 * rate))


def _gated(energy: np.ndarray, block: int) -> float:
    """Gated loudness from the blocks' energies (sums of squared weighted samples)."""
    power = energy / block
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
    # The maximum of the four phases, phase by phase (a reduction along a short last axis is
    # several times slower in numpy).
    envelope = up[0::TRUE_PEAK_OVERSAMPLING]
    for phase in range(1, TRUE_PEAK_OVERSAMPLING):
        envelope = np.maximum(envelope, up[phase::TRUE_PEAK_OVERSAMPLING])
    return np.pad(envelope, (0, len(samples) - len(envelope)))


# Each oversampled value is a weighted sum of the input samples within this many samples
# either side (the interpolator's half-length, 24 taps at 4x, rounded up).
_SLICE = 4096  # rows per matrix product
_BLOCK = 16  # samples per block of the cheap bound (more than _REACH)
_REACH = (_INTERPOLATOR_TAPS // 2 + TRUE_PEAK_OVERSAMPLING - 1) // TRUE_PEAK_OVERSAMPLING + 1


@functools.cache
def _phase_weights() -> tuple[np.ndarray, float]:
    """The interpolator as weights: oversampled value `4n + p` is `x[n - R .. n + R] @ W[:, p]`
    (R = _REACH); and the largest sum of absolute weights of a phase, which bounds how far
    an oversampled value can exceed the largest input sample around it."""
    size = 2 * _REACH + 1
    probe = np.zeros(8 * size)
    at = len(probe) // 2
    probe[at] = 1.0
    response = _oversampled(probe)
    weights = np.empty((size, TRUE_PEAK_OVERSAMPLING))
    for j in range(size):
        n = at - j + _REACH  # the output sample that input `at` reaches with weight row j
        weights[j] = response[TRUE_PEAK_OVERSAMPLING * n : TRUE_PEAK_OVERSAMPLING * (n + 1)]
    return weights, float(np.abs(weights).sum(axis=0).max())


def peak_envelope_above(samples: np.ndarray, level: float) -> np.ndarray:
    """`peak_envelope(samples)` where it can reach `level`; elsewhere a value below `level`
    that is at least the true envelope there.

    An oversampled value is at most the phase's absolute weight sum times the largest input
    sample within reach, a cheap bound; only the samples whose bound reaches `level` (around
    the loud peaks: about a tenth of a speech clip before limiting) are interpolated, as
    small dot products. Exact for everything a limiter with a ceiling at `level` or above
    acts on; with `level` at most the sample peak, the maximum is the true peak.
    """
    weights, gain_bound = _phase_weights()
    size = 2 * _REACH + 1
    count = len(samples)
    # The largest sample of each block and its neighbours (the reach is shorter than a block).
    blocks = -(-count // _BLOCK)
    loud = np.zeros(blocks * _BLOCK)
    np.abs(samples, out=loud[:count])
    block_max = loud[0::_BLOCK].copy()
    for offset in range(1, _BLOCK):
        np.maximum(block_max, loud[offset::_BLOCK], out=block_max)
    around = block_max.copy()
    np.maximum(around[1:], block_max[:-1], out=around[1:])
    np.maximum(around[:-1], block_max[1:], out=around[:-1])
    bound = np.repeat(gain_bound * around, _BLOCK)[:count]
    near = np.flatnonzero(bound >= level)
    if len(near) == 0:
        return bound
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(samples, _REACH), size)
    # In slices: one large product makes OpenBLAS wake its threads, which then spin and
    # take the other core for milliseconds (more CPU than the product itself).
    for at in range(0, len(near), _SLICE):
        part = near[at : at + _SLICE]
        phases = np.abs(windows[part] @ weights)
        peak = phases[:, 0]
        for phase in range(1, TRUE_PEAK_OVERSAMPLING):
            peak = np.maximum(peak, phases[:, phase])
        bound[part] = peak
    return bound


_LOOKAHEAD_MS = 5.0


def limiter_gain(
    envelope: np.ndarray, rate: int, ceiling_db: float, lookahead_ms: float = _LOOKAHEAD_MS
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
    limited signal measures on target. The K-weighted signal and the oversampled peak
    envelope are computed once (the envelope exactly only near the peaks the limiter may
    act on, see `peak_envelope_above`): the limiter's gain moves slowly next to the
    K-weighting filters, so each refinement only re-gates the weighted signal times the
    gain. The limiter's gain differs from 1 only around the peaks over the ceiling, so a
    refinement works on those stretches alone: the gain there (`limiter_gain` on them,
    which is what it gives on the whole signal, since the stretches carry their margins)
    and the blocks' energies corrected by what the gain takes away there. A limited result
    is measured exactly at the end (for clicks and other sharp peaks the limiter's gain is
    not slow next to the filters), filtering only around the stretches (`_limited_energy`);
    an unlimited one is the weighted signal times the gain, which is exact (the filters are
    linear). The result equals the plain computation within rounding (tested).
    """
    weighted = k_weighted(samples, rate)
    block = int(0.4 * rate)
    if len(samples) < block:  # shorter than one gating block: the plain way (it pads)
        return _normalize_plain(samples, weighted, rate, target_lufs, ceiling_dbtp)
    squared = weighted * weighted
    energy = np.concatenate([[0.0], np.cumsum(squared)])
    starts = _block_starts(len(samples), rate)
    ends = starts + block
    block_energy = energy[ends] - energy[starts]
    loudness = _gated(block_energy, block)
    if not math.isfinite(loudness):
        return samples, loudness, true_peak_dbtp(samples)
    margin_db = 0.3  # limit a little under the ceiling: interpolation can lift peaks slightly
    limit_db = ceiling_dbtp - margin_db
    ceiling = 10 ** (limit_db / 20)
    gain_db = target_lufs - loudness
    sample_peak = float(np.max(np.abs(samples)))
    # Exact wherever the envelope could reach the ceiling, also after the make-up gain grows
    # by up to 3 dB while refining (beyond that it is computed again).
    level = min(sample_peak, ceiling / 10 ** ((gain_db + 3.0) / 20))
    envelope = peak_envelope_above(samples, level)
    near = np.flatnonzero(envelope >= level)
    stretch: np.ndarray | None = None  # the sample indices where the gain may differ from 1
    stretch_gain = np.ones(0)
    measured = -math.inf
    for _ in range(8):
        scale = 10 ** (gain_db / 20)
        if ceiling / scale < level:
            level = min(sample_peak, ceiling / 10 ** ((gain_db + 3.0) / 20))
            envelope = peak_envelope_above(samples, level)
            near = np.flatnonzero(envelope >= level)
        over = near[envelope[near] * scale > ceiling]
        if len(over) == 0:
            stretch = None  # no limiting needed: the gain alone is exact
            measured = _gated(block_energy * scale * scale, block)
            break
        stretch, stretch_gain = _sparse_limiter(envelope, over, scale, len(samples), rate, limit_db)
        # What the gain takes away, summed up to each block's start and end.
        lost = np.concatenate([[0.0], np.cumsum(squared[stretch] * (1.0 - stretch_gain**2))])
        taken = lost[np.searchsorted(stretch, ends)] - lost[np.searchsorted(stretch, starts)]
        measured = _gated((block_energy - taken) * scale * scale, block)
        error_db = target_lufs - measured
        if abs(error_db) < 0.05:
            break
        gain_db += error_db
    if stretch is None:
        out = samples * scale
        peak = float(np.max(envelope)) * scale
    else:
        gain = np.ones(len(samples))
        gain[stretch] = stretch_gain
        out = samples * scale * gain
        peak = float(np.max(envelope * gain)) * scale
        at, change = _limited_energy(samples, weighted, gain, stretch, rate)
        taken = change[np.searchsorted(at, ends)] - change[np.searchsorted(at, starts)]
        measured = _gated((block_energy + taken) * scale * scale, block)
    peak_db = 20 * math.log10(peak) if peak > 0 else -math.inf
    return out, measured, peak_db


@functools.cache
def _tail(rate: int) -> int:
    """Samples after which the K-weighting filters' response to an input that stopped is
    below 1e-15 of where it started (their slowest pole), at `rate`."""
    radius = max(float(np.abs(np.roots(row[3:])).max()) for row in _k_sections(rate))
    return math.ceil(math.log(1e-15) / math.log(radius))


def _pieces(stretch: np.ndarray, rate: int, count: int) -> list[tuple[int, int, int]]:
    """The runs of `stretch` as (begin, end of the run, end of its filter tail), runs whose
    tails reach the next run merged into one piece."""
    tail = _tail(rate)
    breaks = np.flatnonzero(np.diff(stretch) > 1)
    begins = stretch[np.concatenate([[0], breaks + 1])]
    ends = stretch[np.concatenate([breaks, [len(stretch) - 1]])] + 1
    pieces: list[tuple[int, int, int]] = []
    for begin, end in zip(begins.tolist(), ends.tolist(), strict=True):
        if pieces and pieces[-1][2] >= begin:
            pieces[-1] = (pieces[-1][0], end, min(end + tail, count))
        else:
            pieces.append((begin, end, min(end + tail, count)))
    return pieces


def _limited_energy(
    samples: np.ndarray, weighted: np.ndarray, gain: np.ndarray, stretch: np.ndarray, rate: int
) -> tuple[np.ndarray, np.ndarray]:
    """How the limiter's `gain` changes the K-weighted energy, before the make-up scale:
    (sample indices in order, the change summed up to each of them, a leading 0 first).

    The filters are linear: K(x g) = K(x) + K(x (g - 1)), and x (g - 1) is zero outside
    the stretches; its response dies out within `_tail` samples after each. So only the
    stretches and their tails are filtered, from rest (what came before them is zero), and
    the exact weighted output there is compared with the weighted input."""
    b, a = _k_filter(rate)
    indices, deltas = [], []
    for begin, _, stop in _pieces(stretch, rate, len(samples)):
        response = signal.lfilter(b, a, samples[begin:stop] * (gain[begin:stop] - 1.0))
        limited = weighted[begin:stop] + response
        indices.append(np.arange(begin, stop))
        deltas.append(limited * limited - weighted[begin:stop] ** 2)
    return np.concatenate(indices), np.concatenate([[0.0], np.cumsum(np.concatenate(deltas))])


def _sparse_limiter(
    envelope: np.ndarray, over: np.ndarray, scale: float, count: int, rate: int, limit_db: float
) -> tuple[np.ndarray, np.ndarray]:
    """`limiter_gain(envelope * scale, ...)` where it is not 1: (indices, gain there).

    The gain can differ from 1 only within the filters' reach of a sample over the ceiling.
    Those stretches, each with a margin of that reach where the gain needed is 1, are put
    side by side and filtered as one signal: every filter window then sees what it sees on
    the whole signal (the needed gain at the peaks, or 1)."""
    width = max(1, int(rate * _LOOKAHEAD_MS / 1000))
    reach = width + width // 2 + 1
    # Merge the stretches [o - reach, o + reach] that touch or overlap.
    gaps = np.flatnonzero(np.diff(over) > 2 * reach + 1)
    first = np.concatenate([[over[0]], over[gaps + 1]])
    last = np.concatenate([over[gaps], [over[-1]]])
    begin = np.maximum(first - reach, 0)
    end = np.minimum(last + reach + 1, count)
    lengths = end - begin
    offsets = np.cumsum(lengths) - lengths
    stretch = np.arange(int(lengths.sum())) + np.repeat(begin - offsets, lengths)
    ceiling = 10 ** (limit_db / 20)
    needed = np.ones(len(stretch))
    needed[np.searchsorted(stretch, over)] = ceiling / (envelope[over] * scale)
    floor = ndimage.minimum_filter1d(needed, size=2 * width + 1, mode="nearest")
    smooth = ndimage.uniform_filter1d(floor, size=width, mode="nearest")
    return stretch, np.minimum(smooth, 1.0)


def _normalize_plain(
    samples: np.ndarray, weighted: np.ndarray, rate: int, target_lufs: float, ceiling_dbtp: float
) -> tuple[np.ndarray, float, float]:
    loudness = gated_lufs(weighted, rate)
    if not math.isfinite(loudness):
        return samples, loudness, true_peak_dbtp(samples)
    envelope = peak_envelope(samples)
    margin_db = 0.3
    ceiling = 10 ** ((ceiling_dbtp - margin_db) / 20)
    gain_db = target_lufs - loudness
    gain: np.ndarray | float = 1.0
    for _ in range(8):
        scale = 10 ** (gain_db / 20)
        if float(envelope.max()) * scale <= ceiling:
            gain = 1.0
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
