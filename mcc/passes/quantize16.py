"""quantize16: a float32 graph and calibrated ranges -> a 16x8 graph (int16 activations, int8
weights), as the TFLite converter's ``EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8``
mode quantizes:

- activations int16 symmetric per tensor: zero point 0, scale = max(|min|, |max|) / 32767 over the
  calibrated range (widened to include 0 and to at least 1e-6, as for int8); the same-scale ops
  (pooling, RESHAPE, PAD, CONCATENATION) share one set of parameters over their group, and
  SOFTMAX, LOGISTIC and TANH outputs are fixed at scale 1/32768 (as the converter fixes them);
- CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED: weights int8 symmetric (narrow range) per output
  channel or per tensor, exactly as for int8; bias int64 at input scale x weight scale (int64
  leaves room for any bias, so weight scales are never raised);
- other constants (ADD / MUL operands): int16 symmetric per tensor from their own range;
- I/O: ``io="float"`` puts QUANTIZE (float32 -> int16) and DEQUANTIZE at the edges, ``io="int16"``
  (or ``"int8"``, read as "integer") makes the graph input and output int16.

Input rescaling (a leading Rescaling layer) is not folded into the input quantization here: its
MUL / ADD run as int16 ops.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import MccError
from ..ir import Graph, NoAttrs, Op, QuantParams, Tensor, verify
from ..quant import params as Q
from ._graphutil import const_data
from .calibrate import check_float_graph
from .quantize import SAME_SCALE, WEIGHT_AXIS, _Builder, _group_range, _groups

QMAX16 = 32767
FIXED_OUTPUT16 = {"SOFTMAX": QuantParams((1.0 / 32768,), (0,)),
                  "LOGISTIC": QuantParams((1.0 / 32768,), (0,)),
                  "TANH": QuantParams((1.0 / 32768,), (0,))}


def symmetric16_params(lo: float, hi: float) -> QuantParams:
    """int16 symmetric (zero point 0) parameters covering [lo, hi]."""
    lo, hi = float(lo), float(hi)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"non-finite range [{lo}, {hi}]")
    m = max(-min(lo, 0.0), max(hi, 0.0), Q.NEAR_ZERO / 2)
    return QuantParams((float(np.float32(m / QMAX16)),), (0,))


def quantize16_values(x: np.ndarray, q: QuantParams) -> np.ndarray:
    v = Q.round_half_away(x.astype(np.float64) / q.s)
    return np.clip(v, -QMAX16 - 1, QMAX16).astype(np.int16)


def _linear(b: _Builder, op: Op, qin: list, params, per_channel: bool) -> list:
    g = b.g
    s_in = params[op.inputs[0]].s
    w = g.tensors[op.inputs[1]].data
    axis = WEIGHT_AXIS[op.kind] if per_channel else None
    n_out = w.shape[WEIGHT_AXIS[op.kind]]
    bias_name = op.inputs[2] if len(op.inputs) > 2 else None
    bias = g.tensors[bias_name].data if bias_name is not None else np.zeros(n_out, np.float32)
    scales = Q.weight_scales(w, axis)
    wq = b.const(op.inputs[1], Q.quantize_weights(w, scales, axis), "int8", Q.weight_params(scales, axis))
    bs = Q.bias_scales(s_in, scales)
    bq_params = QuantParams(tuple(float(s) for s in bs), (0,) * len(bs), 0 if len(bs) > 1 else None)
    s = np.broadcast_to(np.asarray(bs, np.float64), bias.shape)
    bq_data = np.clip(Q.round_half_away(bias.astype(np.float64) / s), -2.0 ** 62, 2.0 ** 62).astype(np.int64)
    bq = b.const(bias_name or f"{op.outputs[0]}_bias", bq_data, "int64", bq_params)
    return [qin[0], wq, bq]


def _other_inputs(b: _Builder, op: Op, qin: list, params) -> list:
    out = []
    for n, q in zip(op.inputs, qin):
        data = const_data(b.g, n)
        if data is None:
            out.append(q)
            continue
        p = params[op.outputs[0]] if op.kind in SAME_SCALE else \
            symmetric16_params(float(data.min()), float(data.max()))
        out.append(b.const(n, quantize16_values(data, p), "int16", p))
    return out


def quantize16(graph: Graph, ranges: dict, per_channel: bool = True, io: str = "float",
               dense_per_channel: bool | None = None) -> Graph:
    """The 16x8 version of the float ``graph`` given calibrated ``ranges`` (see the module doc)."""
    dense_pc = per_channel if dense_per_channel is None else dense_per_channel
    check_float_graph(graph)
    if io not in ("float", "int8", "int16"):
        raise MccError(f"io must be 'float' or 'int16', got {io!r}")
    g = graph
    for n in g.activations():
        if n not in ranges:
            raise MccError(f"no calibrated range for tensor {n}")
        if not all(math.isfinite(v) for v in ranges[n]):
            raise MccError(f"the calibrated range of tensor {n} is not finite: {ranges[n]}")
    groups = _groups(g)
    fixed = {op.outputs[0]: FIXED_OUTPUT16[op.kind] for op in g.ops if op.kind in FIXED_OUTPUT16}
    params: dict[str, QuantParams] = {}
    for n, group in groups.items():
        if n not in params:
            pinned = [fixed[m] for m in group if m in fixed]
            p = pinned[0] if pinned else symmetric16_params(*_group_range(ranges, group))
            params.update({m: p for m in group})
    x, y = g.inputs[0], g.outputs[0]
    b = _Builder(g)
    qname = {n: n for n in g.activations()}
    if io == "float":
        qname[x], qname[y] = b.fresh(f"{x}_int16"), b.fresh(f"{y}_int16")
    for n in g.activations():
        b.tensors[qname[n]] = Tensor(qname[n], g.tensors[n].shape, "int16", params[n])
    ops: list[Op] = []
    if io == "float":
        b.tensors[x] = Tensor(x, g.tensors[x].shape, "float32")
        ops.append(Op("QUANTIZE", (x,), (qname[x],), NoAttrs(), name=f"{x}_quantize"))
    for op in g.ops:
        qin = [None if n is None else qname.get(n, n) for n in op.inputs]
        if op.kind in WEIGHT_AXIS:
            ins = _linear(b, op, qin, params, dense_pc if op.kind == "FULLY_CONNECTED" else per_channel)
        else:
            ins = _other_inputs(b, op, qin, params)
        ops.append(Op(op.kind, tuple(ins), tuple(qname[n] for n in op.outputs), op.attrs, name=op.name))
    if io == "float":
        b.tensors[y] = Tensor(y, g.tensors[y].shape, "float32")
        ops.append(Op("DEQUANTIZE", (qname[y],), (y,), NoAttrs(), name=f"{y}_dequantize"))
    meta = dict(g.meta, quantized="16x8", per_channel=per_channel, dense_per_channel=dense_pc,
                io=io, symmetric_activations=True, input_rescale_folded=False)
    out = Graph(b.tensors, tuple(ops), (x if io == "float" else qname[x],),
                (y if io == "float" else qname[y],), meta)
    return verify(out)
