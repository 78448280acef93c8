"""IR op -> kernel parameter record (``mcc.lower.params``), computed exactly as TFLite Micro's
kernel Prepare functions do, so that kernels consuming the record match TFLM bit for bit.

Scales are the model's float32 values held in Python floats (C doubles); where TFLM multiplies
two float32 scales in float32 before widening (per-tensor FULLY_CONNECTED) we do the same.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ..errors import UnsupportedOperatorError
from ..ir import Graph, Op, Tensor
from ..reference.fixed_point import (frexp_q31, quantize_multiplier, quantize_multipliers,
                                     round_half_away, wrap_int32)
from . import params as P


def activation_range(activation: str, out_quant, dtype: str) -> tuple[int, int]:
    """TFLite CalculateActivationRangeQuantized: the integer clamp range of a fused activation."""
    info = np.iinfo(dtype)
    qmin, qmax = int(info.min), int(info.max)
    scale, zero_point = np.float32(out_quant.s), out_quant.zp

    def quantize(real: float) -> int:  # TfLiteRound of a float32 quotient
        return zero_point + round_half_away(float(np.float32(real) / scale))

    if activation == "NONE":
        return qmin, qmax
    if activation == "RELU":
        return max(qmin, quantize(0.0)), qmax
    if activation == "RELU6":
        return max(qmin, quantize(0.0)), min(qmax, quantize(6.0))
    if activation == "RELU_N1_TO_1":
        return max(qmin, quantize(-1.0)), min(qmax, quantize(1.0))
    raise UnsupportedOperatorError(f"unknown fused activation {activation}")


def conv_padding(padding: str, in_size: int, filter_size: int, stride: int,
                 dilation: int = 1) -> tuple[int, int]:
    """TFLite ComputeOutSize / ComputePaddingWithOffset: (output size, padding before)."""
    effective = (filter_size - 1) * dilation + 1
    if padding == "SAME":
        out = (in_size + stride - 1) // stride
    elif padding == "VALID":
        out = (in_size - effective) // stride + 1 if in_size >= effective else 0
    else:
        raise UnsupportedOperatorError(f"unknown padding {padding}")
    total = max((out - 1) * stride + effective - in_size, 0)
    return out, total // 2


# --- helpers ---------------------------------------------------------------------------------


def _tensors(g: Graph, op: Op) -> tuple[list[Tensor | None], Tensor]:
    ins = [g.tensors[n] if n is not None else None for n in op.inputs]
    return ins, g.tensors[op.outputs[0]]


def _require(cond: bool, op: Op, what: str):
    if not cond:
        raise UnsupportedOperatorError(f"{op.kind} {op.name or op.outputs[0]}: {what}")


def _require_int8(op: Op, *tensors: Tensor):
    for t in tensors:
        _require(t.dtype == "int8", op, f"tensor {t.name} is {t.dtype}; only int8 is supported")


def _spatial(g: Graph, op: Op, filter_hw: tuple[int, int]) -> dict:
    """Output size and padding of a 2-D window op, checked against the IR output shape."""
    (x, *_), y = _tensors(g, op)
    a = op.attrs
    dilation = getattr(a, "dilation", (1, 1))
    _require(len(x.shape) == 4 and len(y.shape) == 4, op, "input and output must be 4-D NHWC")
    out_h, pad_h = conv_padding(a.padding, x.shape[1], filter_hw[0], a.stride[0], dilation[0])
    out_w, pad_w = conv_padding(a.padding, x.shape[2], filter_hw[1], a.stride[1], dilation[1])
    _require((out_h, out_w) == tuple(y.shape[1:3]), op,
             f"output shape {y.shape} does not match the computed {out_h}x{out_w}")
    return dict(input_n=x.shape[0], input_h=x.shape[1], input_w=x.shape[2], output_h=out_h,
                output_w=out_w, stride_h=a.stride[0], stride_w=a.stride[1],
                pad_h=pad_h, pad_w=pad_w)


def _channel_multipliers(x: Tensor, w: Tensor, y: Tensor, channels: int):
    """Per channel: double(s_in) * double(s_w[c]) / double(s_out), as TFLite computes it."""
    ws = w.quant.scale if len(w.quant.scale) > 1 else w.quant.scale * channels
    return quantize_multipliers([x.quant.s * s / y.quant.s for s in ws])


def _broadcast(op: Op, a: Tensor, b: Tensor, y: Tensor) -> P.BroadcastShape:
    _require(max(len(a.shape), len(b.shape), len(y.shape)) <= 4, op, "more than 4 dimensions")

    def dims4(shape):
        return (1,) * (4 - len(shape)) + tuple(shape)

    out = dims4(y.shape)

    def strides(shape):
        d = dims4(shape)
        contiguous = [int(np.prod(d[i + 1:], dtype=np.int64)) for i in range(4)]
        return tuple(0 if d[i] == 1 and out[i] != 1 else contiguous[i] for i in range(4))

    return P.BroadcastShape(out, strides(a.shape), strides(b.shape))


# --- one lowering function per kind ----------------------------------------------------------


def _conv(g: Graph, op: Op) -> P.ConvParams:
    (x, w, *_), y = _tensors(g, op)
    _require_int8(op, x, w, y)
    _require(w.shape[3] == x.shape[3], op, "grouped convolution is not supported")
    mult, shift = _channel_multipliers(x, w, y, w.shape[0])
    act_min, act_max = activation_range(op.attrs.activation, y.quant, y.dtype)
    return P.ConvParams(
        **_spatial(g, op, w.shape[1:3]), input_c=x.shape[3], filter_h=w.shape[1],
        filter_w=w.shape[2], output_c=w.shape[0], dilation_h=op.attrs.dilation[0],
        dilation_w=op.attrs.dilation[1], input_offset=-x.quant.zp, output_offset=y.quant.zp,
        act_min=act_min, act_max=act_max, multiplier=mult, shift=shift)


def _depthwise(g: Graph, op: Op) -> P.DepthwiseConvParams:
    (x, w, *_), y = _tensors(g, op)
    _require_int8(op, x, w, y)
    dm = op.attrs.depth_multiplier
    _require(w.shape[3] == x.shape[3] * dm, op,
             "filter channels != input channels x depth multiplier")
    mult, shift = _channel_multipliers(x, w, y, w.shape[3])
    act_min, act_max = activation_range(op.attrs.activation, y.quant, y.dtype)
    return P.DepthwiseConvParams(
        **_spatial(g, op, w.shape[1:3]), input_c=x.shape[3], filter_h=w.shape[1],
        filter_w=w.shape[2], output_c=w.shape[3], depth_multiplier=dm,
        dilation_h=op.attrs.dilation[0], dilation_w=op.attrs.dilation[1],
        input_offset=-x.quant.zp, output_offset=y.quant.zp, act_min=act_min, act_max=act_max,
        multiplier=mult, shift=shift)


def fc_multipliers(x, w, y) -> tuple[bool, np.ndarray, np.ndarray]:
    """(per_channel, multipliers, shifts) of a FULLY_CONNECTED layer (int8 and 16x8 alike)."""
    per_channel = len(w.quant.scale) > 1
    if per_channel:
        return True, *_channel_multipliers(x, w, y, w.shape[0])
    # GetQuantizedConvolutionMultipler: the scale product is taken in float32
    product = np.float32(x.quant.s) * np.float32(w.quant.s)
    return False, *quantize_multipliers([float(product) / y.quant.s])


def _fully_connected(g: Graph, op: Op) -> P.FullyConnectedParams:
    (x, w, *_), y = _tensors(g, op)
    _require_int8(op, x, w, y)
    output_size, accum_depth = w.shape[0], w.shape[-1]
    per_channel, mult, shift = fc_multipliers(x, w, y)
    act_min, act_max = activation_range(op.attrs.activation, y.quant, y.dtype)
    return P.FullyConnectedParams(
        batches=y.size // output_size, accum_depth=accum_depth, output_size=output_size,
        input_offset=-x.quant.zp, filter_offset=-w.quant.zp, output_offset=y.quant.zp,
        act_min=act_min, act_max=act_max, per_channel=int(per_channel), multiplier=mult,
        shift=shift)


def _pool(g: Graph, op: Op) -> P.PoolParams:
    (x,), y = _tensors(g, op)
    _require_int8(op, x, y)
    act_min, act_max = activation_range(op.attrs.activation, y.quant, y.dtype)
    return P.PoolParams(**_spatial(g, op, op.attrs.filter), channels=x.shape[3],
                        filter_h=op.attrs.filter[0], filter_w=op.attrs.filter[1],
                        act_min=act_min, act_max=act_max)


def _add(g: Graph, op: Op) -> P.AddParams:
    (a, b), y = _tensors(g, op)
    _require_int8(op, a, b, y)
    left_shift = 20
    twice_max_input_scale = 2 * max(a.quant.s, b.quant.s)
    m1, s1 = quantize_multiplier(a.quant.s / twice_max_input_scale)
    m2, s2 = quantize_multiplier(b.quant.s / twice_max_input_scale)
    mo, so = quantize_multiplier(twice_max_input_scale / ((1 << left_shift) * y.quant.s))
    act_min, act_max = activation_range(op.attrs.activation, y.quant, y.dtype)
    return P.AddParams(
        shape=_broadcast(op, a, b, y), input1_offset=-a.quant.zp, input2_offset=-b.quant.zp,
        output_offset=y.quant.zp, left_shift=left_shift, input1_multiplier=m1, input1_shift=s1,
        input2_multiplier=m2, input2_shift=s2, output_multiplier=mo, output_shift=so,
        act_min=act_min, act_max=act_max)


def _mul(g: Graph, op: Op) -> P.MulParams:
    (a, b), y = _tensors(g, op)
    _require_int8(op, a, b, y)
    mult, shift = quantize_multiplier(a.quant.s * b.quant.s / y.quant.s)
    act_min, act_max = activation_range(op.attrs.activation, y.quant, y.dtype)
    return P.MulParams(
        shape=_broadcast(op, a, b, y), input1_offset=-a.quant.zp, input2_offset=-b.quant.zp,
        output_offset=y.quant.zp, output_multiplier=mult, output_shift=shift,
        act_min=act_min, act_max=act_max)


def _softmax(g: Graph, op: Op) -> P.SoftmaxParams:
    (x,), y = _tensors(g, op)
    _require_int8(op, x, y)
    _require(y.quant.zp == -128 and np.float32(y.quant.s) == np.float32(1 / 256), op,
             "int8 output must have scale 1/256 and zero point -128")
    scaled_diff_integer_bits = 5  # PreprocessSoftmaxScaling and CalculateInputRadius
    beta = float(np.float32(op.attrs.beta))
    real = min(beta * x.quant.s * (1 << (31 - scaled_diff_integer_bits)), (1 << 31) - 1.0)
    mult, left_shift = quantize_multiplier(real)
    radius = math.floor(((1 << scaled_diff_integer_bits) - 1)
                        * (1 << (31 - scaled_diff_integer_bits)) / (1 << left_shift))
    row_size = x.shape[-1]
    return P.SoftmaxParams(rows=x.size // row_size, row_size=row_size, input_multiplier=mult,
                           input_left_shift=left_shift, diff_min=-radius, output_offset=y.quant.zp)


def _logistic(g: Graph, op: Op) -> P.LogisticParams:
    (x,), y = _tensors(g, op)
    _require_int8(op, x, y)
    _require(y.quant.zp == -128, op, "int8 output must have zero point -128")
    return _q4_input_record(P.LogisticParams, x)


def _tanh(g: Graph, op: Op) -> P.TanhParams:
    (x,), y = _tensors(g, op)
    _require_int8(op, x, y)
    _require(y.quant.zp == 0 and np.float32(y.quant.s) == np.float32(1 / 128), op,
             "int8 output must have scale 1/128 and zero point 0")
    return _q4_input_record(P.TanhParams, x)


def _q4_input_record(cls, x):
    """LOGISTIC / TANH int8: the input rescaled to Q4.27 (gemmlowp), and the radius beyond which
    the output saturates."""
    input_integer_bits = 4
    # TFLM takes frexp directly here: no 2^31 overflow handling (the int32 cast wraps).
    q_fixed, left_shift = frexp_q31(x.quant.s * (1 << (31 - input_integer_bits)))
    radius = math.floor(((1 << input_integer_bits) - 1)
                        * (1 << (31 - input_integer_bits)) / 2.0 ** left_shift)
    return cls(size=x.size, input_zero_point=x.quant.zp, input_range_radius=radius,
               input_multiplier=int(wrap_int32(q_fixed)), input_left_shift=left_shift)


def _mean(g: Graph, op: Op) -> P.MeanParams:
    (x, *_), y = _tensors(g, op)
    _require_int8(op, x, y)
    rank = len(x.shape)
    axes = sorted({a % rank for a in op.attrs.axes})
    _require(bool(axes) and axes == list(range(axes[0], axes[-1] + 1)), op,
             f"axes {op.attrs.axes} are not one contiguous block")
    outer = int(np.prod(x.shape[:axes[0]], dtype=np.int64))
    reduce = int(np.prod(x.shape[axes[0]:axes[-1] + 1], dtype=np.int64))
    inner = int(np.prod(x.shape[axes[-1] + 1:], dtype=np.int64))
    mult, shift = quantize_multiplier(x.quant.s / y.quant.s)
    # QuantizedMeanOrSum folds 1/reduce into the multiplier.
    fold = min(reduce.bit_length() - 1, 32, 31 + shift)
    mult = (mult << fold) // reduce
    return P.MeanParams(outer=outer, reduce=reduce, inner=inner, input_offset=-x.quant.zp,
                        output_offset=y.quant.zp, multiplier=mult, shift=shift - fold)


def _pad(g: Graph, op: Op) -> P.PadParams:
    (x, *_), y = _tensors(g, op)
    _require(len(x.shape) <= 4, op, "more than 4 dimensions")
    _require(y.quant is not None and x.dtype == y.dtype, op, "needs a quantized integer tensor")
    lead = 4 - len(x.shape)
    pads = ((0, 0),) * lead + tuple(tuple(p) for p in op.attrs.paddings)
    return P.PadParams(input_dims=(1,) * lead + tuple(x.shape), before=tuple(p[0] for p in pads),
                       after=tuple(p[1] for p in pads), pad_value=y.quant.zp)


def _concat(g: Graph, op: Op) -> P.ConcatParams:
    xs, y = _tensors(g, op)
    _require(op.attrs.activation == "NONE", op, "fused activation is not supported")
    for x in xs:
        same = x.quant is not None and y.quant is not None and \
            (x.quant.scale, x.quant.zero_point) == (y.quant.scale, y.quant.zero_point)
        _require(x.dtype == y.dtype and same, op,
                 f"input {x.name} dtype/quantization differs from the output's")
    axis = op.attrs.axis % len(y.shape)
    outer = int(np.prod(y.shape[:axis], dtype=np.int64))
    sizes = tuple(int(np.prod(x.shape[axis:], dtype=np.int64)) for x in xs)
    return P.ConcatParams(outer=outer, copy_sizes=sizes, element_size=y.itemsize)


def _quantize(g: Graph, op: Op) -> P.QuantizeParams | P.RequantizeParams:
    (x,), y = _tensors(g, op)
    _require(y.dtype in ("int8", "int16") and y.quant is not None, op,
             "output must be int8 or int16")
    info = np.iinfo(y.dtype)
    if x.dtype == "float32":
        return P.QuantizeParams(size=x.size, scale=y.quant.s, zero_point=y.quant.zp,
                                qmin=int(info.min), qmax=int(info.max))
    _require(x.dtype in ("int8", "int16"), op, f"input type {x.dtype} is not supported")
    mult, shift = quantize_multiplier(x.quant.s / y.quant.s)
    return P.RequantizeParams(size=x.size, input_offset=-x.quant.zp, output_offset=y.quant.zp,
                              multiplier=mult, shift=shift, qmin=int(info.min), qmax=int(info.max))


def _dequantize(g: Graph, op: Op) -> P.DequantizeParams:
    (x,), y = _tensors(g, op)
    _require(x.dtype in ("int8", "int16") and y.dtype == "float32", op,
             "only int8/int16 -> float32 is supported")
    return P.DequantizeParams(size=x.size, scale=x.quant.s, zero_point=x.quant.zp)


LOWERINGS: dict[str, Callable[[Graph, Op], object]] = {
    "CONV_2D": _conv,
    "DEPTHWISE_CONV_2D": _depthwise,
    "FULLY_CONNECTED": _fully_connected,
    "AVERAGE_POOL_2D": _pool,
    "MAX_POOL_2D": _pool,
    "ADD": _add,
    "MUL": _mul,
    "SOFTMAX": _softmax,
    "LOGISTIC": _logistic,
    "MEAN": _mean,
    "PAD": _pad,
    "CONCATENATION": _concat,
    "QUANTIZE": _quantize,
    "DEQUANTIZE": _dequantize,
    "TANH": _tanh,
}


def lower_op(graph: Graph, op: Op):
    """The kernel parameter record of ``op`` (RESHAPE has none)."""
    if graph.meta.get("quantized") == "dynamic":  # float activations: mcc.lower.hybrid
        from .hybrid import lower_hybrid_op
        return lower_hybrid_op(graph, op)
    if op.kind not in LOWERINGS:
        raise UnsupportedOperatorError(f"no kernel lowering for operator {op.kind}")
    from .lowering16 import LOWERINGS16, is_16x8  # 16x8: int16 activations, int8 weights
    if op.kind in LOWERINGS16 and is_16x8(graph, op):
        return LOWERINGS16[op.kind](graph, op)
    return LOWERINGS[op.kind](graph, op)
