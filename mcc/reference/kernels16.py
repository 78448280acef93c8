"""Numpy reference kernels for 16x8 (int16 activations, int8 weights), consuming the ``*S16``
records of ``mcc.lower.params``; each reproduces TFLite Micro's reference kernel for int16.

CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED accumulate exactly in int64 (no input or output
offsets: int16 activations are symmetric), add the int64 bias and requantize with TFLite's int64
``MultiplyByQuantizedMultiplier`` (``requantize64``). ADD, MUL, pooling and MEAN follow the int8
arithmetic with int16 clamps (ADD with 15 bits of headroom); SOFTMAX is TFLM's LUT path.
"""

from __future__ import annotations

import numpy as np

from ..lower import params as P
from . import activations16 as A16
from . import fixed_point as fp
from . import kernels as K

I16_MIN, I16_MAX = -32768, 32767


def requantize64(acc, multiplier, shift) -> np.ndarray:
    """TFLite MultiplyByQuantizedMultiplier(int64 x, multiplier, shift): the Q31 multiplier is
    rounded to Q15 (saturating at 0x7FFF), then one rounding right shift by 15 - shift."""
    acc = np.asarray(acc, dtype=np.int64)
    m = np.asarray(multiplier, dtype=np.int64)
    reduced = np.where(m < 0x7FFF0000, (m + (1 << 15)) >> 16, 0x7FFF)
    total_shift = 15 - np.asarray(shift, dtype=np.int64)
    result = (acc * reduced + (np.int64(1) << (total_shift - 1))) >> total_shift
    return fp.wrap_int32(result)


def _output_stage(acc: np.ndarray, p) -> np.ndarray:
    """The bias added (int64 ``acc``): with an int64 bias, TFLite's int64 requantization; with an
    int32 bias (``bias_bits`` 32) the accumulator is int32 (wraps) and requantized as for int8."""
    if p.bias_bits == 32:
        scaled = fp.requantize(fp.wrap_int32(acc), p.multiplier, p.shift)
    else:
        scaled = requantize64(acc, p.multiplier, p.shift)
    return np.clip(scaled, p.act_min, p.act_max).astype(np.int16)


def _add_bias(acc: np.ndarray, b) -> np.ndarray:
    return acc if b is None else acc + np.asarray(b, dtype=np.int64)


def _dot(cols: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Exact integer matrix product: split the int16 side in bytes so float64 sums stay exact."""
    c = cols.astype(np.int64)
    hi, lo = c >> 8, c & 0xFF
    wf = w.astype(np.float64)
    return ((hi.astype(np.float64) @ wf).astype(np.int64) << 8) + (lo.astype(np.float64) @ wf).astype(np.int64)


def conv_s16(p: P.ConvS16Params, x, w, b) -> np.ndarray:
    """CONV_2D 16x8: x int16 NHWC, w int8 OHWI, b int64[output_c] or None -> int16 NHWC."""
    taps = [v for _, _, v in K._taps(np.asarray(x, np.int64), p, p.filter_h, p.filter_w,
                                     p.dilation_h, p.dilation_w, 0)]
    cols = np.stack(taps, axis=3).reshape(-1, p.filter_h * p.filter_w * p.input_c)
    acc = _dot(cols, np.ascontiguousarray(w.reshape(p.output_c, -1).T))
    acc = _add_bias(acc, b).reshape(p.input_n, p.output_h, p.output_w, p.output_c)
    return _output_stage(acc, p)


def depthwise_conv_s16(p: P.DepthwiseConvS16Params, x, w, b) -> np.ndarray:
    """DEPTHWISE_CONV_2D 16x8: w int8 1HWC (C = input_c * depth_multiplier)."""
    xi = np.asarray(x, np.int64)
    if p.depth_multiplier > 1:
        xi = np.repeat(xi, p.depth_multiplier, axis=3)
    wk = w.reshape(p.filter_h, p.filter_w, p.output_c).astype(np.int64)
    acc = np.zeros((p.input_n, p.output_h, p.output_w, p.output_c), dtype=np.int64)
    for fy, fx, view in K._taps(xi, p, p.filter_h, p.filter_w, p.dilation_h, p.dilation_w, 0):
        acc += view * wk[fy, fx]
    return _output_stage(_add_bias(acc, b), p)


def fully_connected_s16(p: P.FullyConnectedS16Params, x, w, b) -> np.ndarray:
    """FULLY_CONNECTED 16x8: x int16 (batches, accum_depth), w int8 (output_size, accum_depth)."""
    xi = np.asarray(x).reshape(p.batches, p.accum_depth)
    acc = _add_bias(_dot(xi, np.ascontiguousarray(w.reshape(p.output_size, p.accum_depth).T)), b)
    return _output_stage(acc, p)


def avg_pool_s16(p: P.PoolS16Params, x) -> np.ndarray:
    acc = np.zeros((p.input_n, p.output_h, p.output_w, p.channels), dtype=np.int64)
    for _, _, view in K._taps(np.asarray(x, np.int64), p, p.filter_h, p.filter_w, 1, 1, 0):
        acc += view
    count_h = K._pool_counts(p.input_h, p.output_h, p.stride_h, p.pad_h, p.filter_h)
    count_w = K._pool_counts(p.input_w, p.output_w, p.stride_w, p.pad_w, p.filter_w)
    count = (count_h[:, None] * count_w[None, :])[None, :, :, None]
    half = count // 2
    avg = np.where(acc > 0, (acc + half) // count, -((half - acc) // count))
    return np.clip(avg, p.act_min, p.act_max).astype(np.int16)


def max_pool_s16(p: P.PoolS16Params, x) -> np.ndarray:
    best = np.full((p.input_n, p.output_h, p.output_w, p.channels), I16_MIN, dtype=np.int32)
    for _, _, view in K._taps(np.asarray(x, np.int32), p, p.filter_h, p.filter_w, 1, 1, I16_MIN - 1):
        best = np.maximum(best, view)
    return np.clip(best, p.act_min, p.act_max).astype(np.int16)


def add_s16(p: P.AddS16Params, x1, x2) -> np.ndarray:
    """ADD int16: TFLM's general-scale path (AddElementwise / BroadcastAdd6DSlow) with
    left_shift 15, clamped to the activation range."""
    a = K._broadcast_view(x1, p.shape, p.shape.in1_strides) + p.input1_offset
    b = K._broadcast_view(x2, p.shape, p.shape.in2_strides) + p.input2_offset
    a = fp.requantize(fp.wrap_int32(a << p.left_shift), p.input1_multiplier, p.input1_shift)
    b = fp.requantize(fp.wrap_int32(b << p.left_shift), p.input2_multiplier, p.input2_shift)
    raw = fp.requantize(fp.wrap_int32(a + b), p.output_multiplier, p.output_shift)
    return np.clip(raw + p.output_offset, p.act_min, p.act_max).astype(np.int16)


def mul_s16(p: P.MulS16Params, x1, x2) -> np.ndarray:
    """MUL int16: x1 * x2 requantized (int32 MultiplyByQuantizedMultiplier), clamped."""
    a = K._broadcast_view(x1, p.shape, p.shape.in1_strides) + p.input1_offset
    b = K._broadcast_view(x2, p.shape, p.shape.in2_strides) + p.input2_offset
    raw = fp.requantize(fp.wrap_int32(a * b), p.output_multiplier, p.output_shift)
    return np.clip(raw + p.output_offset, p.act_min, p.act_max).astype(np.int16)


def mean_s16(p: P.MeanS16Params, x) -> np.ndarray:
    total = np.asarray(x).reshape(p.outer, p.reduce, p.inner).astype(np.int64).sum(axis=1)
    acc = fp.wrap_int32(total + p.input_offset * p.reduce)
    out = fp.requantize(acc, p.multiplier, p.shift) + p.output_offset
    return np.clip(out, I16_MIN, I16_MAX).astype(np.int16)


def _lut_lookup(value: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """lut_lookup_with_interpolation for int16 inputs and a 513-entry int16 table."""
    v = np.asarray(value, np.int64)
    index = 256 + (v >> 7)
    offset = v & 0x7F
    base = lut[index]
    slope = fp.wrap_int32(lut[index + 1] - base)
    slope = ((slope + 32768) & 0xFFFF) - 32768  # int16 difference
    delta = (slope * offset + 64) >> 7
    return ((base + delta + 32768) & 0xFFFF) - 32768


def softmax_s16(p: P.SoftmaxS16Params, x) -> np.ndarray:
    """SOFTMAX int16 (TFLM SoftmaxInt16): LUT exp of the scaled difference to the row maximum,
    Q16.15 sum, LUT reciprocal, rounding rescale to [0, 32767]."""
    exp_lut = np.asarray(p.exp_lut, np.int64)
    recip_lut = np.asarray(p.one_over_one_plus_x_lut, np.int64)
    rows = np.asarray(x).reshape(p.rows, p.row_size).astype(np.int64)
    diff = rows - rows.max(axis=1, keepdims=True)
    scaled = fp.requantize(diff, p.input_multiplier, p.input_left_shift)
    sym = np.clip(scaled + 32767, I16_MIN, I16_MAX)
    exps = _lut_lookup(sym, exp_lut)
    sum_of_exps = fp.wrap_int32(exps.sum(axis=1, keepdims=True))
    headroom_plus_one = fp.count_leading_zeros32(sum_of_exps)
    shifted_sum = ((sum_of_exps << (headroom_plus_one - 1)) + (1 << 13)) >> 14
    sym_sum = np.clip(shifted_sum - ((1 << 15) + (1 << 16)), I16_MIN, I16_MAX)
    reciprocal = _lut_lookup(sym_sum, recip_lut)
    right_shift = 31 - headroom_plus_one
    result = (exps * reciprocal + (np.int64(1) << (right_shift - 1))) >> right_shift
    return np.clip(fp.wrap_int32(result), 0, I16_MAX).astype(np.int16)


def requantize_s16(p: P.RequantizeS16Params, x) -> np.ndarray:
    """QUANTIZE int8/int16 -> int8/int16 (rescale), as TFLM's Requantize."""
    v = fp.requantize(np.asarray(x, np.int64) + p.input_offset, p.multiplier, p.shift)
    return np.clip(v + p.output_offset, p.qmin, p.qmax).astype(np.int16 if p.output_bits == 16 else np.int8)


def quantize_f32_s16(p: P.QuantizeS16Params, x) -> np.ndarray:
    return K.quantize_f32(p, x).astype(np.int16)


def dequantize_s16_f32(p: P.DequantizeS16Params, x) -> np.ndarray:
    return K.dequantize_f32(p, x)


def pad_s16(p: P.PadS16Params, x) -> np.ndarray:
    return K.pad_s8(p, x).astype(np.int16)


# record type -> f(op kind, params, input arrays) -> output array
RUNNERS16 = {
    P.ConvS16Params: lambda k, p, a: conv_s16(p, a[0], a[1], a[2] if len(a) > 2 else None),
    P.DepthwiseConvS16Params: lambda k, p, a: depthwise_conv_s16(p, a[0], a[1], a[2] if len(a) > 2 else None),
    P.FullyConnectedS16Params: lambda k, p, a: fully_connected_s16(p, a[0], a[1], a[2] if len(a) > 2 else None),
    P.PoolS16Params: lambda k, p, a: (avg_pool_s16 if k == "AVERAGE_POOL_2D" else max_pool_s16)(p, a[0]),
    P.AddS16Params: lambda k, p, a: add_s16(p, a[0], a[1]),
    P.MulS16Params: lambda k, p, a: mul_s16(p, a[0], a[1]),
    P.MeanS16Params: lambda k, p, a: mean_s16(p, a[0]),
    P.PadS16Params: lambda k, p, a: pad_s16(p, a[0]),
    P.SoftmaxS16Params: lambda k, p, a: softmax_s16(p, a[0]),
    P.QuantizeS16Params: lambda k, p, a: quantize_f32_s16(p, a[0]),
    P.RequantizeS16Params: lambda k, p, a: requantize_s16(p, a[0]),
    P.DequantizeS16Params: lambda k, p, a: dequantize_s16_f32(p, a[0]),
    P.LogisticS16Params: lambda k, p, a: A16.logistic_s16(p, a[0]),
    P.TanhS16Params: lambda k, p, a: A16.tanh_s16(p, a[0]),
}
