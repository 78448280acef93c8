"""16x8 lowering: IR ops with int16 activations (zero point 0) and int8 weights -> the ``*S16``
records of ``mcc.lower.params``, computed as TFLite Micro's Prepare functions compute them for
int16 tensors (``lower_op`` dispatches here when an op's activations are int16).

Differences from int8 (TFLM): conv-like ops accumulate in int64 with int64 biases and requantize
with the int64 MultiplyByQuantizedMultiplier; ADD rescales its inputs with 15 bits of headroom
(left_shift 15, not 20); SOFTMAX uses interpolated lookup tables instead of gemmlowp exp.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..ir import Graph, Op
from ..reference.fixed_point import quantize_multiplier
from . import params as P
from .lowering import (fc_multipliers, _broadcast, _channel_multipliers, _pad, _require, _spatial, _tensors,
                       activation_range)
from .activations16 import lower_logistic16, lower_tanh16
from .lut16 import softmax_luts


def is_16x8(graph: Graph, op: Op) -> bool:
    """True when ``op`` runs on int16 activations (input or output int16)."""
    ts = [graph.tensors[n] for n in (*op.inputs[:1], *op.outputs[:1]) if n is not None]
    return any(t.dtype == "int16" for t in ts)


def _require_s16(op: Op, *tensors):
    for t in tensors:
        _require(t.dtype == "int16", op, f"tensor {t.name} is {t.dtype}; 16x8 ops need int16")
        _require(t.quant is not None and all(z == 0 for z in t.quant.zero_point), op,
                 f"int16 tensor {t.name} must have zero point 0")


def _require_weights(op: Op, w, b):
    _require(w.dtype == "int8" and all(z == 0 for z in w.quant.zero_point), op,
             "16x8 weights must be int8 with zero point 0")
    _require(b is None or b.dtype in ("int64", "int32"), op,
             f"16x8 bias must be int64 or int32, got {b.dtype if b is not None else None}")


def _bias_bits(ins) -> int:
    """32 for an int32 bias (TFLM then accumulates in int32 and requantizes as for int8), else 64."""
    b = _bias(ins)
    return 32 if b is not None and b.dtype == "int32" else 64


def _bias(ins):
    return ins[2] if len(ins) > 2 else None


def _conv(g: Graph, op: Op) -> P.ConvS16Params:
    ins, y = _tensors(g, op)
    x, w = ins[0], ins[1]
    _require_s16(op, x, y)
    _require_weights(op, w, _bias(ins))
    _require(w.shape[3] == x.shape[3], op, "grouped convolution is not supported")
    mult, shift = _channel_multipliers(x, w, y, w.shape[0])
    act_min, act_max = activation_range(op.attrs.activation, y.quant, y.dtype)
    return P.ConvS16Params(
        **_spatial(g, op, w.shape[1:3]), input_c=x.shape[3], filter_h=w.shape[1],
        filter_w=w.shape[2], output_c=w.shape[0], dilation_h=op.attrs.dilation[0],
        dilation_w=op.attrs.dilation[1], act_min=act_min, act_max=act_max, multiplier=mult,
        shift=shift, bias_bits=_bias_bits(ins))


def _depthwise(g: Graph, op: Op) -> P.DepthwiseConvS16Params:
    ins, y = _tensors(g, op)
    x, w = ins[0], ins[1]
    _require_s16(op, x, y)
    _require_weights(op, w, _bias(ins))
    _require(_bias_bits(ins) == 64, op, "16x8 depthwise convolution with an int32 bias is not "
             "supported (TFLite Micro's int16 depthwise kernel reads its bias as int64)")
    dm = op.attrs.depth_multiplier
    _require(w.shape[3] == x.shape[3] * dm, op,
             "filter channels != input channels x depth multiplier")
    mult, shift = _channel_multipliers(x, w, y, w.shape[3])
    act_min, act_max = activation_range(op.attrs.activation, y.quant, y.dtype)
    return P.DepthwiseConvS16Params(
        **_spatial(g, op, w.shape[1:3]), input_c=x.shape[3], filter_h=w.shape[1],
        filter_w=w.shape[2], output_c=w.shape[3], depth_multiplier=dm,
        dilation_h=op.attrs.dilation[0], dilation_w=op.attrs.dilation[1], act_min=act_min,
        act_max=act_max, multiplier=mult, shift=shift)  # bias_bits 64, required above


def _fully_connected(g: Graph, op: Op) -> P.FullyConnectedS16Params:
    ins, y = _tensors(g, op)
    x, w = ins[0], ins[1]
    _require_s16(op, x, y)
    _require_weights(op, w, _bias(ins))
    output_size, accum_depth = w.shape[0], w.shape[-1]
    per_channel, mult, shift = fc_multipliers(x, w, y)
    act_min, act_max = activation_range(op.attrs.activation, y.quant, y.dtype)
    return P.FullyConnectedS16Params(
        batches=y.size // output_size, accum_depth=accum_depth, output_size=output_size,
        act_min=act_min, act_max=act_max, per_channel=int(per_channel), multiplier=mult,
        shift=shift, bias_bits=_bias_bits(ins))


def _pool(g: Graph, op: Op) -> P.PoolS16Params:
    (x,), y = _tensors(g, op)
    _require_s16(op, x, y)
    act_min, act_max = activation_range(op.attrs.activation, y.quant, y.dtype)
    return P.PoolS16Params(**_spatial(g, op, op.attrs.filter), channels=x.shape[3],
                           filter_h=op.attrs.filter[0], filter_w=op.attrs.filter[1],
                           act_min=act_min, act_max=act_max)


def _add(g: Graph, op: Op) -> P.AddS16Params:
    (a, b), y = _tensors(g, op)
    _require_s16(op, a, b, y)
    left_shift = 15  # TFLM: 15 for int16 outputs (20 for int8)
    twice_max_input_scale = 2 * max(a.quant.s, b.quant.s)
    m1, s1 = quantize_multiplier(a.quant.s / twice_max_input_scale)
    m2, s2 = quantize_multiplier(b.quant.s / twice_max_input_scale)
    mo, so = quantize_multiplier(twice_max_input_scale / ((1 << left_shift) * y.quant.s))
    act_min, act_max = activation_range(op.attrs.activation, y.quant, y.dtype)
    return P.AddS16Params(
        shape=_broadcast(op, a, b, y), input1_offset=0, input2_offset=0, output_offset=0,
        left_shift=left_shift, input1_multiplier=m1, input1_shift=s1, input2_multiplier=m2,
        input2_shift=s2, output_multiplier=mo, output_shift=so, act_min=act_min, act_max=act_max)


def _mul(g: Graph, op: Op) -> P.MulS16Params:
    (a, b), y = _tensors(g, op)
    _require_s16(op, a, b, y)
    mult, shift = quantize_multiplier(a.quant.s * b.quant.s / y.quant.s)
    act_min, act_max = activation_range(op.attrs.activation, y.quant, y.dtype)
    return P.MulS16Params(shape=_broadcast(op, a, b, y), input1_offset=0, input2_offset=0,
                          output_offset=0, output_multiplier=mult, output_shift=shift,
                          act_min=act_min, act_max=act_max)


def _mean(g: Graph, op: Op) -> P.MeanS16Params:
    (x, *_), y = _tensors(g, op)
    _require_s16(op, x, y)
    rank = len(x.shape)
    axes = sorted({a % rank for a in op.attrs.axes})
    _require(bool(axes) and axes == list(range(axes[0], axes[-1] + 1)), op,
             f"axes {op.attrs.axes} are not one contiguous block")
    outer = int(np.prod(x.shape[:axes[0]], dtype=np.int64))
    reduce = int(np.prod(x.shape[axes[0]:axes[-1] + 1], dtype=np.int64))
    inner = int(np.prod(x.shape[axes[-1] + 1:], dtype=np.int64))
    mult, shift = quantize_multiplier(x.quant.s / y.quant.s)
    fold = min(reduce.bit_length() - 1, 32, 31 + shift)  # QuantizedMeanOrSum folds 1/reduce in
    return P.MeanS16Params(outer=outer, reduce=reduce, inner=inner, input_offset=0,
                           output_offset=0, multiplier=(mult << fold) // reduce,
                           shift=shift - fold)


def _pad16(g: Graph, op: Op) -> P.PadS16Params:
    (x, *_), y = _tensors(g, op)
    _require_s16(op, x, y)
    return P.PadS16Params(**dataclasses.asdict(_pad(g, op)))


def _softmax(g: Graph, op: Op) -> P.SoftmaxS16Params:
    (x,), y = _tensors(g, op)
    _require_s16(op, x, y)
    _require(np.float32(y.quant.s) == np.float32(1 / 32768), op,
             "int16 output must have scale 1/32768 and zero point 0")
    beta = float(np.float32(op.attrs.beta))
    # scale the input difference so that [-65535, 0] covers exp's LUT range [-10, 0]
    mult, left_shift = quantize_multiplier(float(np.float32(x.quant.s)) * beta / (10.0 / 65535.0))
    exp_lut, recip_lut = softmax_luts()
    row_size = x.shape[-1]
    return P.SoftmaxS16Params(rows=x.size // row_size, row_size=row_size, input_multiplier=mult,
                              input_left_shift=left_shift, exp_lut=exp_lut,
                              one_over_one_plus_x_lut=recip_lut)


def _quantize(g: Graph, op: Op):
    (x,), y = _tensors(g, op)
    _require(y.dtype in ("int8", "int16") and y.quant is not None, op,
             "output must be int8 or int16")
    info = np.iinfo(y.dtype)
    if x.dtype == "float32":
        return P.QuantizeS16Params(size=x.size, scale=y.quant.s, zero_point=y.quant.zp,
                                   qmin=int(info.min), qmax=int(info.max))
    _require(x.dtype in ("int8", "int16"), op, f"input type {x.dtype} is not supported")
    mult, shift = quantize_multiplier(x.quant.s / y.quant.s)
    return P.RequantizeS16Params(
        size=x.size, input_bits=8 * x.itemsize, output_bits=8 * y.itemsize,
        input_offset=-x.quant.zp, output_offset=y.quant.zp, multiplier=mult, shift=shift,
        qmin=int(info.min), qmax=int(info.max))


def _dequantize(g: Graph, op: Op) -> P.DequantizeS16Params:
    (x,), y = _tensors(g, op)
    _require(x.dtype == "int16" and y.dtype == "float32", op, "only int16 -> float32")
    return P.DequantizeS16Params(size=x.size, scale=x.quant.s, zero_point=x.quant.zp)


LOWERINGS16 = {
    "CONV_2D": _conv,
    "DEPTHWISE_CONV_2D": _depthwise,
    "FULLY_CONNECTED": _fully_connected,
    "AVERAGE_POOL_2D": _pool,
    "MAX_POOL_2D": _pool,
    "ADD": _add,
    "MUL": _mul,
    "MEAN": _mean,
    "PAD": _pad16,
    "SOFTMAX": _softmax,
    "QUANTIZE": _quantize,
    "DEQUANTIZE": _dequantize,
    "LOGISTIC": lower_logistic16,
    "TANH": lower_tanh16,
}
