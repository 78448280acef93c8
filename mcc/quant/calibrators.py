"""Range calibrators: observe every activation tensor over the representative set, return ranges.

Each calibrator sees the data ``passes`` times (``observe(name, values, pass_index)``, values
(N, ...) float32) and then gives {tensor name: (min, max)}. Registry by method name:

  minmax      global min and max (the TFLite converter's calibration)
  ema         bias-corrected moving average of the per-batch min and max (constant ``ema_constant``)
  percentile  [p_low, p_high] percentiles (``percentile``, e.g. 99.99 -> 0.01 .. 99.99) read from a
              2048-bin histogram over the min-max range
  kl          entropy calibration as TensorRT: a 2048-bin histogram of |x| (the zero bin's spike
              flattened to its neighbour's count), thresholds from bin 128 to 2048, the reference
              distribution clipped at the threshold (outliers added to the last bin) against its
              quantization into 128 levels; the threshold of minimum KL divergence clips the
              range to [-T, T] (intersected with the min-max range)
  mse         the clipping of the min-max range (shrunk symmetrically by a factor in (0, 1]) whose
              int8 quantization has the least mean squared error, from the histogram
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import MccError
from .params import activation_params

BINS = 2048
LEVELS = 128


@dataclass
class MinMax:
    passes: int = 1
    lo: dict = field(default_factory=dict)
    hi: dict = field(default_factory=dict)

    def observe(self, name: str, x: np.ndarray, pass_index: int) -> None:
        lo, hi = float(x.min()), float(x.max())
        self.lo[name] = min(lo, self.lo.get(name, lo))
        self.hi[name] = max(hi, self.hi.get(name, hi))

    def ranges(self) -> dict[str, tuple[float, float]]:
        return {n: (self.lo[n], self.hi[n]) for n in self.lo}


@dataclass
class EMAMinMax:
    """The min/max of each calibration batch (as TF's moving-average fake quantization tracks
    them) averaged as m <- (1 - c) m + c x from m = 0, bias-corrected: m / (1 - (1 - c)^n) after n
    batches. (Started from the first observation instead, a small constant left that first
    batch's range with weight (1 - c)^(n-1): 0.64 for 45 samples at c = 0.01.)"""
    ema_constant: float = 0.01
    passes: int = 1
    lo: dict = field(default_factory=dict)
    hi: dict = field(default_factory=dict)
    count: dict = field(default_factory=dict)

    def observe(self, name: str, x: np.ndarray, pass_index: int) -> None:
        c = self.ema_constant
        self.lo[name] = (1 - c) * self.lo.get(name, 0.0) + c * float(x.min())
        self.hi[name] = (1 - c) * self.hi.get(name, 0.0) + c * float(x.max())
        self.count[name] = self.count.get(name, 0) + 1

    def ranges(self) -> dict[str, tuple[float, float]]:
        out = {}
        for n in self.lo:
            debias = 1.0 - (1.0 - self.ema_constant) ** self.count[n]
            out[n] = (float(self.lo[n] / debias), float(self.hi[n] / debias))
        return out


@dataclass
class _Histogram:
    """Pass 0: min/max. Pass 1: a BINS-bin histogram over [min, max] (or of |x| over [0, max|x|])."""
    passes: int = 2
    absolute: bool = False
    minmax: MinMax = field(default_factory=MinMax)
    hist: dict = field(default_factory=dict)

    def _edges(self, name: str) -> tuple[float, float]:
        lo, hi = self.minmax.lo[name], self.minmax.hi[name]
        return (0.0, max(-lo, hi)) if self.absolute else (lo, hi)

    def observe(self, name: str, x: np.ndarray, pass_index: int) -> None:
        if pass_index == 0:
            self.minmax.observe(name, x, 0)
            return
        lo, hi = self._edges(name)
        if hi <= lo:
            return
        v = np.abs(x).ravel() if self.absolute else x.ravel()
        idx = np.clip(((v - lo) * (BINS / (hi - lo))).astype(np.int64), 0, BINS - 1)
        counts = np.bincount(idx, minlength=BINS).astype(np.float64)
        self.hist[name] = self.hist.get(name, 0) + counts

    def ranges(self) -> dict[str, tuple[float, float]]:
        out = {}
        for name in self.minmax.lo:
            lo, hi = self.minmax.lo[name], self.minmax.hi[name]
            e_lo, e_hi = self._edges(name)
            if name not in self.hist or e_hi <= e_lo:
                out[name] = (lo, hi)
                continue
            out[name] = self.clip(self.hist[name], e_lo, e_hi, lo, hi)
        return out

    def clip(self, hist, e_lo, e_hi, lo, hi) -> tuple[float, float]:
        raise NotImplementedError


@dataclass
class Percentile(_Histogram):
    percentile: float = 99.99

    def clip(self, hist, e_lo, e_hi, lo, hi):
        cdf = np.cumsum(hist) / hist.sum()
        width = (e_hi - e_lo) / BINS
        tail = 1.0 - self.percentile / 100.0
        lo_bin = int(np.searchsorted(cdf, tail, side="left"))
        hi_bin = int(np.searchsorted(cdf, 1.0 - tail, side="left"))
        return (max(lo, e_lo + lo_bin * width), min(hi, e_lo + (hi_bin + 1) * width))


def _kl_threshold_bin(hist: np.ndarray) -> int:
    """The bin count i (LEVELS..BINS) whose clipped distribution loses the least information.

    The first bin's count is replaced by the second's (as NVIDIA's entropy calibrator does): the
    spike of exact zeros after a ReLU would otherwise make the shortest thresholds, whose
    128-level quantization keeps bin 0 on its own, look best.
    """
    hist = hist.copy()
    if hist.size > 1:
        hist[0] = hist[1]
    best_i, best_kl = BINS, np.inf
    total_tail = np.concatenate([np.cumsum(hist[::-1])[::-1], [0.0]])  # sum of hist[i:]
    for i in range(LEVELS, BINS + 1):
        ref = hist[:i].copy()
        ref[-1] += total_tail[i]
        if ref.sum() == 0:
            continue
        group = (np.arange(i) * LEVELS) // i  # even split of i bins into LEVELS groups
        nonzero = hist[:i] != 0
        sums = np.bincount(group, weights=hist[:i], minlength=LEVELS)
        counts = np.bincount(group, weights=nonzero, minlength=LEVELS)
        q = np.where(nonzero, sums[group] / np.maximum(counts[group], 1), 0.0)
        p = ref / ref.sum()
        if q.sum() == 0:
            continue
        q = q / q.sum()
        mask = p > 0
        if np.any(q[mask] == 0):
            continue  # infinite divergence
        kl = float(np.sum(p[mask] * np.log(p[mask] / q[mask])))
        if kl < best_kl:
            best_kl, best_i = kl, i
    return best_i


@dataclass
class Entropy(_Histogram):
    absolute: bool = True

    def clip(self, hist, e_lo, e_hi, lo, hi):
        t = _kl_threshold_bin(hist) * (e_hi - e_lo) / BINS
        return (max(lo, -t), min(hi, t))


@dataclass
class MSE(_Histogram):
    steps: int = 100

    def clip(self, hist, e_lo, e_hi, lo, hi):
        width = (e_hi - e_lo) / BINS
        centers = e_lo + (np.arange(BINS) + 0.5) * width
        best, best_err = (lo, hi), np.inf
        for a in np.linspace(1.0, 1.0 / self.steps, self.steps):
            c_lo, c_hi = lo * a, hi * a
            q = activation_params(c_lo, c_hi)
            s, zp = q.s, q.zp
            deq = s * (np.clip(np.round(centers / s) + zp, -128, 127) - zp)
            err = float(np.sum(hist * (centers - deq) ** 2))
            if err < best_err:
                best, best_err = (c_lo, c_hi), err
        return best


CALIBRATORS = {
    "minmax": MinMax,
    "ema": EMAMinMax,
    "percentile": Percentile,
    "kl": Entropy,
    "entropy": Entropy,
    "mse": MSE,
}


def make_calibrator(method: str, **options):
    """A fresh calibrator for ``method`` with its options (e.g. percentile=99.9, ema_constant=0.05)."""
    if method not in CALIBRATORS:
        raise MccError(f"unknown calibration method {method!r}; choose one of {', '.join(CALIBRATORS)}")
    cls = CALIBRATORS[method]
    fields = set(cls.__dataclass_fields__) - {"passes", "lo", "hi", "minmax", "hist", "absolute", "count"}
    unknown = set(options) - fields
    if unknown:
        raise MccError(f"calibration method {method!r} has no option {sorted(unknown)[0]!r}"
                         + (f" (options: {', '.join(sorted(fields))})" if fields else ""))
    return cls(**options)
