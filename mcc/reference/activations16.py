"""Numpy reference of TFLite's int16 LOGISTIC and TANH (``reference_integer_ops::Logistic`` /
``Tanh`` for int16, as TFLite Micro runs them), consuming ``LogisticS16Params`` /
``TanhS16Params``.

Both rescale the int16 input to an integer ``v = (x * input_multiplier + round) >> shift`` in
which 4096 * 3 steps are 1.0 (so +-2^17 covers +-10.7), then read one 256-entry table of
sigmoid(i / 24) in unsigned Q0.16 and interpolate linearly between neighbouring entries:

- LOGISTIC: index |v| >> 9, fraction |v| & 0x1FF; the result (Q0.25) is mirrored for negative v
  (1 - sigmoid(|v|)), rounded and shifted down to Q0.15;
- TANH: index |v| >> 8, fraction |v| & 0xFF (tanh(x) = 2 sigmoid(2x) - 1); the result minus one
  half, in Q0.23, is negated for negative v and shifted down to Q0.15.

Indices at or past the table's last entry saturate. All arithmetic is integer, the int32 and
uint32 of the C++ reproduced in int64 arrays.
"""

from __future__ import annotations

import numpy as np

from ..lower import params as P

_SATURATED = 255  # table index from which the output saturates


def _scaled(p: P.LogisticS16Params, x) -> np.ndarray:
    v = np.asarray(x, dtype=np.int64) * p.input_multiplier
    if p.input_left_shift > 0:
        v = v + (1 << (p.input_left_shift - 1))
    return v >> p.input_left_shift


def _interpolate(lut: np.ndarray, a: np.ndarray, frac_bits: int) -> np.ndarray:
    """(lut[h] << frac_bits) + t * (lut[h + 1] - lut[h]) with h = a >> frac_bits, t the low bits;
    ``lut[255] << frac_bits`` shifted in where h >= 255 (the caller replaces those)."""
    lut = np.asarray(lut, dtype=np.int64)
    h = np.minimum(a >> frac_bits, _SATURATED - 1)
    t = a & ((1 << frac_bits) - 1)
    ua, ub = lut[h], lut[h + 1]
    return (ua << frac_bits) + t * (ub - ua)


def logistic_s16(p: P.LogisticS16Params, x) -> np.ndarray:
    v = _scaled(p, x)
    a = np.abs(v)
    r = np.where(a >> 9 >= _SATURATED, 0x7FFF << 10, _interpolate(p.sigmoid_lut, a, 9))
    r = np.where(v >= 0, r + (1 << 9), (1 << 25) - r + (1 << 9) - 1)
    return (r >> 10).astype(np.int16)


def tanh_s16(p: P.TanhS16Params, x) -> np.ndarray:
    v = _scaled(p, x)
    a = np.abs(v)
    r = np.where(a >> 8 >= _SATURATED, 0xFFFF << 8, _interpolate(p.sigmoid_lut, a, 8))
    r = np.where(v >= 0, r - (1 << 23) + (1 << 7), -r + (1 << 23) + (1 << 7) - 1)
    return (r >> 8).astype(np.int16)
