"""Ranges -> quantization parameters and quantized constants, as the TFLite converter computes them.

Activations (int8 asymmetric, per tensor; TFLite's MLIR quantizer):
  the range is widened to include 0 and to at least 1e-6 (ExpandVerySmallRange); then
  scale = (max - min) / 255 in double, the zero point is solved from whichever end adds the
  smaller rounding error and nudged to an integer in [-128, 127] (fakeQuantAttrsToType);
  the scale is stored as float32, like the flatbuffer does.
Symmetric activations (option): zero point 0, scale = max(|min|, |max|) / 127.
Weights (int8 symmetric, narrow range -127..127, zero point 0): per output channel or per
  tensor, scale = max|w| / 127; values round half away from zero.
Bias (int32, zero point 0): scale = input scale x weight scale (per channel), value
  round(b / scale), saturated to int32.
Other constants (ADD/MUL operands): int8 asymmetric per tensor from their own [min, max].
"""

from __future__ import annotations

import math

import numpy as np

from ..ir import QuantParams

QMIN, QMAX = -128, 127
NEAR_ZERO = 1.0e-6  # TFLite kNearZeroTolerance
INT32_MAX = (1 << 31) - 1


def _f32(v: float) -> float:
    return float(np.float32(v))


def round_half_away(x: np.ndarray) -> np.ndarray:
    """Round to nearest, ties away from zero (C ``round``), on float64 arrays."""
    x = np.asarray(x, np.float64)
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def activation_params(lo: float, hi: float, symmetric: bool = False) -> QuantParams:
    """TFLite's (scale, zero point) for an int8 tensor whose values lie in [lo, hi]."""
    lo, hi = float(lo), float(hi)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"non-finite range [{lo}, {hi}]")
    if hi - lo <= NEAR_ZERO:
        lo, hi = min(lo, -NEAR_ZERO / 2), max(hi, NEAR_ZERO / 2)
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    if symmetric:
        m = max(-lo, hi)
        return QuantParams((_f32(2 * m / 254.0),), (0,))
    scale = (hi - lo) / (QMAX - QMIN)
    zp_min, err_min = QMIN - lo / scale, abs(QMIN) + abs(lo / scale)
    zp_max, err_max = QMAX - hi / scale, abs(QMAX) + abs(hi / scale)
    zp = zp_min if err_min < err_max else zp_max
    nudged = QMIN if zp < QMIN else QMAX if zp > QMAX else int(round_half_away(zp))
    return QuantParams((_f32(scale),), (nudged,))


def params_with_scale(lo: float, hi: float, scale: float) -> int:
    """The nudged zero point for [lo, hi] at a given scale (used when the scale is imposed)."""
    lo = min(float(lo), 0.0)
    zp = QMIN - lo / scale
    return QMIN if zp < QMIN else QMAX if zp > QMAX else int(round_half_away(zp))


def weight_scales(w: np.ndarray, axis: int | None) -> np.ndarray:
    """Symmetric narrow-range scales: max|w| / 127 per slice along ``axis`` (or one for all)."""
    a = np.abs(w.astype(np.float64))
    if axis is None:
        m = np.array([a.max() if a.size else 0.0])
    else:
        m = np.moveaxis(a, axis, 0).reshape(w.shape[axis], -1).max(axis=1)
    m = np.maximum(m, NEAR_ZERO / 2)  # ExpandVerySmallRange: an all-zero slice gets a tiny scale
    return np.array([_f32(v) for v in 2 * m / 254.0])


def quantize_weights(w: np.ndarray, scales: np.ndarray, axis: int | None) -> np.ndarray:
    """int8 values of ``w`` at ``scales`` (broadcast along ``axis``), clamped to -127..127."""
    s = np.asarray(scales, np.float64)
    if axis is not None:
        shape = [1] * w.ndim
        shape[axis] = s.size
        s = s.reshape(shape)
    q = round_half_away(w.astype(np.float64) / s)
    return np.clip(q, -127, 127).astype(np.int8)


def weight_params(scales: np.ndarray, axis: int | None) -> QuantParams:
    scales = tuple(float(s) for s in scales)
    return QuantParams(scales, (0,) * len(scales), axis if len(scales) > 1 else None)


def bias_scales(input_scale: float, w_scales: np.ndarray) -> np.ndarray:
    return np.array([_f32(input_scale * float(s)) for s in w_scales])


def min_weight_scales_for_bias(bias: np.ndarray, input_scale: float) -> np.ndarray:
    """The smallest weight scale per channel that keeps round(b / (s_in * s_w)) within int32."""
    return np.abs(bias.astype(np.float64)) / (input_scale * (INT32_MAX - 1))


def quantize_bias(b: np.ndarray, scales: np.ndarray) -> np.ndarray:
    s = np.broadcast_to(np.asarray(scales, np.float64), b.shape)
    q = round_half_away(b.astype(np.float64) / s)
    return np.clip(q, -INT32_MAX - 1, INT32_MAX).astype(np.int32)


def quantize_values(x: np.ndarray, q: QuantParams) -> np.ndarray:
    """int8 values of a per-tensor asymmetric constant."""
    v = round_half_away(x.astype(np.float64) / q.s) + q.zp
    return np.clip(v, QMIN, QMAX).astype(np.int8)
