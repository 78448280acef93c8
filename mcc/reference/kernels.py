"""Numpy reference kernels, one per operator kind, consuming the records of ``mcc.lower.params``.

Each reproduces the integer arithmetic of the TFLite Micro reference kernel bit for bit; the C
kernels in ``firmware/`` are tested against these functions. Accumulators follow int32
semantics (sums wrap modulo 2^32 as a 32-bit accumulator would). Dot products go through
float64 matrix products, which are exact here: every partial sum is an integer far below 2^53.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from ..lower import params as P
from . import fixed_point as fp


def _clamp_to(values: np.ndarray, lo: int, hi: int, dtype=np.int8) -> np.ndarray:
    return np.clip(values, lo, hi).astype(dtype)


def _narrowest(qmin: int, qmax: int):
    return np.int8 if (qmin, qmax) == (-128, 127) else np.int16


def _taps(x: np.ndarray, p, filter_h: int, filter_w: int, dilation_h: int, dilation_w: int,
          fill: int) -> Iterator[tuple[int, int, np.ndarray]]:
    """(fy, fx, view (N, OH, OW, C)) for every filter tap, over ``x`` padded with ``fill``."""
    _, h, w, _ = x.shape
    span_h = (p.output_h - 1) * p.stride_h + 1
    span_w = (p.output_w - 1) * p.stride_w + 1
    bottom = max(span_h + (filter_h - 1) * dilation_h - h - p.pad_h, 0)
    right = max(span_w + (filter_w - 1) * dilation_w - w - p.pad_w, 0)
    xp = np.pad(x, ((0, 0), (p.pad_h, bottom), (p.pad_w, right), (0, 0)), constant_values=fill)
    for fy in range(filter_h):
        y0 = fy * dilation_h
        for fx in range(filter_w):
            x0 = fx * dilation_w
            yield fy, fx, xp[:, y0:y0 + span_h:p.stride_h, x0:x0 + span_w:p.stride_w, :]


def _output_stage(acc: np.ndarray, p) -> np.ndarray:
    """int32 accumulator -> requantize per channel -> + output offset -> clamp -> int8."""
    out = fp.requantize(fp.wrap_int32(acc), p.multiplier, p.shift) + p.output_offset
    return _clamp_to(out, p.act_min, p.act_max)


def _add_bias(acc: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    return acc if b is None else acc + b.astype(np.int64)


def conv_s8(p: P.ConvParams, x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """CONV_2D: x int8 NHWC, w int8 OHWI, b int32[output_c] or None -> int8 NHWC."""
    xo = x.astype(np.int64) + p.input_offset  # padding with 0 here = skipping outside taps
    taps = [v for _, _, v in _taps(xo, p, p.filter_h, p.filter_w, p.dilation_h, p.dilation_w, 0)]
    cols = np.stack(taps, axis=3).reshape(-1, p.filter_h * p.filter_w * p.input_c)
    wt = np.ascontiguousarray(w.reshape(p.output_c, -1).T, dtype=np.float64)
    acc = (cols.astype(np.float64) @ wt).astype(np.int64)
    acc = _add_bias(acc, b).reshape(p.input_n, p.output_h, p.output_w, p.output_c)
    return _output_stage(acc, p)


def depthwise_conv_s8(p: P.DepthwiseConvParams, x: np.ndarray, w: np.ndarray,
                      b: np.ndarray | None) -> np.ndarray:
    """DEPTHWISE_CONV_2D: x int8 NHWC, w int8 1HWC (C = input_c * depth_multiplier) -> int8 NHWC."""
    xo = x.astype(np.int64) + p.input_offset
    if p.depth_multiplier > 1:  # output channel c reads input channel c // depth_multiplier
        xo = np.repeat(xo, p.depth_multiplier, axis=3)
    wk = w.reshape(p.filter_h, p.filter_w, p.output_c).astype(np.int64)
    acc = np.zeros((p.input_n, p.output_h, p.output_w, p.output_c), dtype=np.int64)
    for fy, fx, view in _taps(xo, p, p.filter_h, p.filter_w, p.dilation_h, p.dilation_w, 0):
        acc += view * wk[fy, fx]
    return _output_stage(_add_bias(acc, b), p)


def fully_connected_s8(p: P.FullyConnectedParams, x: np.ndarray, w: np.ndarray,
                       b: np.ndarray | None) -> np.ndarray:
    """FULLY_CONNECTED: x int8 (batches x accum_depth elements), w int8 (output_size, accum_depth)
    -> int8 (batches, output_size)."""
    xo = x.reshape(p.batches, p.accum_depth).astype(np.float64) + p.input_offset
    wt = np.ascontiguousarray(w.reshape(p.output_size, p.accum_depth).T, dtype=np.float64)
    acc = _add_bias((xo @ (wt + p.filter_offset)).astype(np.int64), b)
    return _output_stage(acc, p)


def _pool_counts(size: int, out: int, stride: int, pad: int, filt: int) -> np.ndarray:
    origin = np.arange(out) * stride - pad
    return np.minimum(filt, size - origin) - np.maximum(0, -origin)


def avg_pool_s8(p: P.PoolParams, x: np.ndarray) -> np.ndarray:
    """AVERAGE_POOL_2D: the mean of the in-image taps, rounded half away from zero."""
    acc = np.zeros((p.input_n, p.output_h, p.output_w, p.channels), dtype=np.int64)
    for _, _, view in _taps(x.astype(np.int64), p, p.filter_h, p.filter_w, 1, 1, 0):
        acc += view
    count_h = _pool_counts(p.input_h, p.output_h, p.stride_h, p.pad_h, p.filter_h)
    count_w = _pool_counts(p.input_w, p.output_w, p.stride_w, p.pad_w, p.filter_w)
    count = (count_h[:, None] * count_w[None, :])[None, :, :, None]
    half = count // 2
    avg = np.where(acc > 0, (acc + half) // count, -((half - acc) // count))
    return _clamp_to(avg, p.act_min, p.act_max)


def max_pool_s8(p: P.PoolParams, x: np.ndarray) -> np.ndarray:
    """MAX_POOL_2D: the maximum of the in-image taps."""
    best = np.full((p.input_n, p.output_h, p.output_w, p.channels), -128, dtype=np.int16)
    for _, _, view in _taps(x.astype(np.int16), p, p.filter_h, p.filter_w, 1, 1, -129):
        best = np.maximum(best, view)
    return _clamp_to(best, p.act_min, p.act_max)


def _broadcast_view(x: np.ndarray, shape: P.BroadcastShape, strides) -> np.ndarray:
    flat = np.ascontiguousarray(x).reshape(-1).astype(np.int64)
    return np.lib.stride_tricks.as_strided(
        flat, shape=shape.out_dims, strides=tuple(s * flat.itemsize for s in strides),
        writeable=False)


def add_s8(p: P.AddParams, x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    """ADD: both inputs rescaled to twice the larger input scale (with 2^left_shift headroom)."""
    a = _broadcast_view(x1, p.shape, p.shape.in1_strides) + p.input1_offset
    b = _broadcast_view(x2, p.shape, p.shape.in2_strides) + p.input2_offset
    a = fp.requantize(fp.wrap_int32(a << p.left_shift), p.input1_multiplier, p.input1_shift)
    b = fp.requantize(fp.wrap_int32(b << p.left_shift), p.input2_multiplier, p.input2_shift)
    raw = fp.requantize(fp.wrap_int32(a + b), p.output_multiplier, p.output_shift)
    return _clamp_to(raw + p.output_offset, p.act_min, p.act_max)


def mul_s8(p: P.MulParams, x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    """MUL: (x1 - zp1) * (x2 - zp2) requantized to the output scale."""
    a = _broadcast_view(x1, p.shape, p.shape.in1_strides) + p.input1_offset
    b = _broadcast_view(x2, p.shape, p.shape.in2_strides) + p.input2_offset
    raw = fp.requantize(a * b, p.output_multiplier, p.output_shift)
    return _clamp_to(raw + p.output_offset, p.act_min, p.act_max)


def softmax_s8(p: P.SoftmaxParams, x: np.ndarray) -> np.ndarray:
    """SOFTMAX over rows of ``row_size``: gemmlowp fixed-point exp, sum in Q12.19, reciprocal."""
    rows = x.reshape(p.rows, p.row_size).astype(np.int64)
    diff = rows - rows.max(axis=1, keepdims=True)
    used = diff >= p.diff_min
    # MultiplyByQuantizedMultiplierGreaterThanOne: no rounding shift afterwards.
    scaled = fp.saturating_rounding_doubling_high_mul(
        fp.wrap_int32(diff << p.input_left_shift), p.input_multiplier)
    exps = fp.exp_on_negative_values(scaled, 5)
    accumulated = np.where(used, fp.rounding_divide_by_pot(exps, 12), 0)
    sum_of_exps = fp.wrap_int32(accumulated.sum(axis=1, keepdims=True))
    scale, num_bits_over_unit = fp.get_reciprocal(sum_of_exps, 12)
    exponent = num_bits_over_unit + 31 - 8
    out = fp.rounding_divide_by_pot(fp.saturating_rounding_doubling_high_mul(scale, exps), exponent)
    out = np.clip(out + p.output_offset, -128, 127)
    return np.where(used, out, -128).astype(np.int8)


def logistic_s8(p: P.LogisticParams, x: np.ndarray) -> np.ndarray:
    """LOGISTIC: input in Q4.27, gemmlowp logistic, output scale 1/256 and zero point -128."""
    v = x.astype(np.int64) - p.input_zero_point
    q4 = fp.requantize(v, p.input_multiplier, p.input_left_shift)
    out = fp.rounding_divide_by_pot(fp.logistic(q4, 4), 31 - 8) - 128
    out = np.clip(out, -128, 127)
    out = np.where(v <= -p.input_range_radius, -128, out)
    return np.where(v >= p.input_range_radius, 127, out).astype(np.int8)


def tanh_s8(p: P.TanhParams, x: np.ndarray) -> np.ndarray:
    """TANH: input in Q4.27, gemmlowp tanh, output scale 1/128 and zero point 0."""
    v = x.astype(np.int64) - p.input_zero_point
    q4 = fp.requantize(v, p.input_multiplier, p.input_left_shift)
    out = np.clip(fp.rounding_divide_by_pot(fp.tanh(q4, 4), 31 - 7), -128, 127)
    out = np.where(v <= -p.input_range_radius, -128, out)
    return np.where(v >= p.input_range_radius, 127, out).astype(np.int8)


def mean_s8(p: P.MeanParams, x: np.ndarray) -> np.ndarray:
    """MEAN over the middle axis of x viewed as (outer, reduce, inner) -> int8 (outer, inner).
    The multiplier already holds the 1/reduce factor."""
    total = x.reshape(p.outer, p.reduce, p.inner).astype(np.int64).sum(axis=1)
    acc = fp.wrap_int32(total + p.input_offset * p.reduce)
    out = fp.requantize(acc, p.multiplier, p.shift) + p.output_offset
    return _clamp_to(out, -128, 127)


def pad_s8(p: P.PadParams, x: np.ndarray) -> np.ndarray:
    """PAD (up to 4-D, right-aligned) with ``pad_value``."""
    return np.pad(x.reshape(p.input_dims), tuple(zip(p.before, p.after)),
                  constant_values=p.pad_value)


def concat(p: P.ConcatParams, xs: list[np.ndarray]) -> np.ndarray:
    """CONCATENATION: row r of the output is row r of every input, one after the other."""
    return np.concatenate([x.reshape(p.outer, n) for x, n in zip(xs, p.copy_sizes)], axis=1)


def quantize_f32(p: P.QuantizeParams, x: np.ndarray) -> np.ndarray:
    """QUANTIZE float32 -> int8/int16: round(x / scale) in float32, ties away from zero."""
    v = x.astype(np.float32) / np.float32(p.scale)
    rounded = np.trunc(v.astype(np.float64) + np.where(v >= 0, 0.5, -0.5))
    q = np.clip(rounded, fp.INT32_MIN, fp.INT32_MAX).astype(np.int64) + p.zero_point
    return _clamp_to(q, p.qmin, p.qmax, _narrowest(p.qmin, p.qmax))


def requantize_s8(p: P.RequantizeParams, x: np.ndarray) -> np.ndarray:
    """QUANTIZE int8 -> int8 (or int16): rescale to the output quantization."""
    v = fp.requantize(x.astype(np.int64) + p.input_offset, p.multiplier, p.shift)
    return _clamp_to(v + p.output_offset, p.qmin, p.qmax, _narrowest(p.qmin, p.qmax))


def dequantize_f32(p: P.DequantizeParams, x: np.ndarray) -> np.ndarray:
    """DEQUANTIZE: float32(scale) * float32(x - zero_point), a float32 product."""
    return np.float32(p.scale) * (x.astype(np.int64) - p.zero_point).astype(np.float32)
