"""The integer rounding of the int8 kernels, in ``keras.ops``, for the QAT forward pass.

A fake-quantization node rounds ``y / s_out`` once, exactly. The int8 kernels (TFLM reference /
CMSIS-NN) do not: CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, MEAN, ADD and MUL compute an exact
int32 accumulator and rescale it with TFLite's ``MultiplyByQuantizedMultiplier``, a Q31
multiplier (``SaturatingRoundingDoublingHighMul``, one rounding) followed by a rounding shift
(``RoundingDivideByPOT``, a second rounding). When the shift is small (few bits below the output
LSB: 4-bit weights, MEAN over few elements) the double rounding lands one LSB away from the
exactly rounded value on up to ~10 % of the elements, and these 1-LSB flips then propagate
through the network (the int8 softmax amplifies a 1-LSB logit flip to several output LSBs).

The functions here recompute, from the fake-quantized values (which lie on their int8 grids),
the integers the kernel sees and the integer the kernel produces, with the kernel's multiplier
(``mcc.reference.fixed_point.quantize_multiplier`` of the same float64 scale ratio that
``mcc.lower.lowering`` takes) and its two roundings, in int64. ``QATModel`` uses them as the
forward value of those ops (the straight-through gradient of the float op is kept), so the QAT
model's quantized forward pass is the integer pipeline that the exported graph runs.

Every scale passed here must be the float32 value the export writes (``activation_qparams`` and
``weight_scales`` compute them as ``mcc.quant.params`` does).
"""

from __future__ import annotations

import numpy as np
from keras import ops

_POW_OFFSET = 80
_POW2_F64 = np.array([2.0 ** (k - _POW_OFFSET) for k in range(2 * _POW_OFFSET + 1)], np.float64)
_POW2_I64 = np.array([1 << k for k in range(63)], np.int64)


def _f64(x):
    return ops.cast(x, "float64")


def _i64(x):
    return ops.cast(x, "int64")


def _pow2_f64(e):
    """2^e (exact, float64) for an integer-valued float64 tensor e in [-80, 80]."""
    return ops.take(ops.convert_to_tensor(_POW2_F64), _i64(e) + _POW_OFFSET)


def _pow2_i64(e):
    """2^e (int64) for an int64 tensor e in [0, 62]."""
    return ops.take(ops.convert_to_tensor(_POW2_I64), e)


def round_half_away(x):
    """Round to nearest, ties away from zero, as the integer kernels and TFLite's quantizer round
    (``ops.round`` rounds ties to even: average pooling of int8 values hits ties often)."""
    return ops.sign(x) * ops.floor(ops.abs(x) + 0.5)


def quantize_multiplier(real):
    """TFLite QuantizeMultiplier of float64 ``real`` > 0 (any shape): (int64 Q31 multiplier,
    int64 shift), as ``mcc.reference.fixed_point.quantize_multiplier`` (frexp, fraction rounded
    half away from zero to Q31, 2^31 renormalized)."""
    real = _f64(real)
    e = ops.floor(ops.log2(real)) + 1.0
    frac = real * _pow2_f64(-e)  # log2 may be one off near a power of two: renormalize to [0.5, 1)
    e = e + ops.cast(frac >= 1.0, "float64") - ops.cast(frac < 0.5, "float64")
    q = round_half_away(real * _pow2_f64(31.0 - e))
    top = ops.cast(q >= 2.0 ** 31, "float64")
    q = q - top * 2.0 ** 30
    return _i64(q), _i64(e + top)


def _trunc_div_pow2(x, k: int):
    """C integer division of int64 ``x`` by 2^k (towards zero)."""
    d = 1 << k
    return ops.where(x >= 0, ops.floor_divide(x, d), -ops.floor_divide(-x, d))


def multiply_by_quantized_multiplier(acc, mult, shift):
    """TFLite MultiplyByQuantizedMultiplier on int64 ``acc`` (int32 values), ``mult``/``shift``
    int64 (broadcasting): SaturatingRoundingDoublingHighMul then RoundingDivideByPOT."""
    left = ops.maximum(shift, 0)
    right = ops.maximum(-shift, 0)
    ab = acc * _pow2_i64(left) * mult
    nudge = _i64(ops.where(ab >= 0, 1 << 30, 1 - (1 << 30)))
    high = _trunc_div_pow2(ab + nudge, 31)
    p = _pow2_i64(right)
    floor = ops.floor_divide(high, p)
    remainder = high - floor * p
    threshold = ops.floor_divide(p - 1, 2) + _i64(high < 0)
    return floor + _i64(remainder > threshold)


def grid(x, scale):
    """The integers (int64) of values ``x`` lying on the grid ``k * scale`` (``k = round(x / s)``)."""
    return _i64(round_half_away(ops.cast(x, "float32") / ops.cast(scale, "float32")))


def act_bounds(activation: str, s_out, zp_out):
    """(qmin, qmax) of a fused activation on the int8 output (``activation_range``), float32."""
    def q(real):
        return zp_out + round_half_away(real / s_out)

    lo, hi = -128.0, 127.0
    if activation in ("RELU", "RELU6"):
        lo = ops.maximum(lo, q(0.0))
    if activation == "RELU6":
        hi = ops.minimum(hi, q(6.0))
    if activation == "RELU_N1_TO_1":
        lo, hi = ops.maximum(lo, q(-1.0)), ops.minimum(hi, q(1.0))
    return lo, hi


def _dequant(q, s_out, zp_out, bounds):
    q = ops.clip(ops.cast(q, "float32") + zp_out, bounds[0], bounds[1])
    return (q - zp_out) * s_out


def linear_output(acc, s_in, s_w, s_out, zp_out, activation: str = "NONE"):
    """The int8 output of CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED (per-channel ``s_w`` on
    the last axis of ``acc``), dequantized: requantize(acc, s_in * s_w / s_out) + zp, clamped.
    ``acc`` is the exact int32 accumulator (int64 tensor) including the int32 bias."""
    mult, shift = quantize_multiplier(_f64(s_in) * _f64(s_w) / _f64(s_out))
    q = multiply_by_quantized_multiplier(acc, mult, shift)
    return _dequant(q, s_out, zp_out, act_bounds(activation, s_out, zp_out))


def mean_output(x, axes, keepdims: bool, s_in, s_out, zp_out):
    """MEAN of int8 ``x`` (dequantized values on their grid) as ``mean_s8``: the 1/n factor folded
    into the multiplier with TFLite's shift, then the same requantization."""
    shape = tuple(x.shape)
    n = int(np.prod([shape[a] for a in axes]))
    acc = ops.sum(grid(x, s_in), axis=axes, keepdims=keepdims)  # sum of (q - zp)
    mult, shift = quantize_multiplier(_f64(s_in) / _f64(s_out))
    fold = ops.minimum(ops.minimum(_i64(n.bit_length() - 1), 32), 31 + shift)
    mult = ops.floor_divide(mult * _pow2_i64(fold), n)
    q = multiply_by_quantized_multiplier(acc, mult, shift - fold)
    return _dequant(q, s_out, zp_out, (-128.0, 127.0))


def add_output(a, b, s_a, s_b, s_out, zp_out, activation: str = "NONE"):
    """ADD as ``add_s8``: both inputs shifted left by 20 and rescaled to twice the larger input
    scale, summed, rescaled to the output."""
    left_shift = 20
    twice = 2.0 * ops.maximum(_f64(s_a), _f64(s_b))
    m1, e1 = quantize_multiplier(_f64(s_a) / twice)
    m2, e2 = quantize_multiplier(_f64(s_b) / twice)
    mo, eo = quantize_multiplier(twice / (float(1 << left_shift) * _f64(s_out)))
    ra = multiply_by_quantized_multiplier(grid(a, s_a) * (1 << left_shift), m1, e1)
    rb = multiply_by_quantized_multiplier(grid(b, s_b) * (1 << left_shift), m2, e2)
    q = multiply_by_quantized_multiplier(ra + rb, mo, eo)
    return _dequant(q, s_out, zp_out, act_bounds(activation, s_out, zp_out))


def mul_output(a, b, s_a, s_b, s_out, zp_out, activation: str = "NONE"):
    """MUL as ``mul_s8``: (a - zp_a)(b - zp_b) requantized by s_a * s_b / s_out."""
    mult, shift = quantize_multiplier(_f64(s_a) * _f64(s_b) / _f64(s_out))
    q = multiply_by_quantized_multiplier(grid(a, s_a) * grid(b, s_b), mult, shift)
    return _dequant(q, s_out, zp_out, act_bounds(activation, s_out, zp_out))
