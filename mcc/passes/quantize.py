"""quantize: a float32 graph and calibrated ranges -> an int8 graph following the TFLite int8 spec.

- Activations: int8 asymmetric per tensor from their range (``mcc.quant.params``), or symmetric
  with ``symmetric_activations``. MAX_POOL_2D, AVERAGE_POOL_2D, RESHAPE, PAD and CONCATENATION
  share one set of parameters between all their inputs and outputs (the kernels copy or compare
  values without rescaling): connected tensors are grouped and quantized over the union of their
  ranges. SOFTMAX and LOGISTIC outputs are fixed at scale 1/256, zero point -128.
- CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED: weights int8 symmetric per output channel
  (``per_channel``) or per tensor; bias int32 at input scale x weight scale (a weight scale is
  raised where the bias would not fit in int32, as the converter does).
- Other constants (ADD/MUL operands): int8 per tensor from their own range; constants of the
  same-scale ops take their group's parameters.
- I/O: ``io="float"`` keeps a float32 input and output with QUANTIZE / DEQUANTIZE at the edges
  (the float edge tensors keep the model's names, the int8 ones get ``_int8``); ``io="int8"``
  makes the graph input and output int8.
- Input rescaling: when the input goes straight into a scalar MUL (a > 0) and/or ADD (Keras
  Rescaling as first layer), they are folded into the input quantization: the int8 input holds
  x with scale s_y / a and zero point z_y + b / s_y, and a RESHAPE view (no code) reinterprets it
  as y = a x + b with (s_y, z_y). The scale s_y is chosen so that b / s_y is an integer.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import MccError
from ..ir import Graph, NoAttrs, Op, QuantParams, ReshapeAttrs, Tensor, verify
from ..quant import params as Q
from ._graphutil import const_data
from .calibrate import check_float_graph

SAME_SCALE = ("MAX_POOL_2D", "AVERAGE_POOL_2D", "RESHAPE", "PAD", "CONCATENATION")
FIXED_OUTPUT = {"SOFTMAX": QuantParams((1.0 / 256,), (-128,)), "LOGISTIC": QuantParams((1.0 / 256,), (-128,))}
FIXED_OUTPUT["TANH"] = QuantParams((1.0 / 128,), (0,))  # TFLite: tanh outputs int8 scale 1/128, zero point 0
WEIGHT_AXIS = {"CONV_2D": 0, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 0}


def _groups(g: Graph) -> dict[str, list[str]]:
    """Tensor -> the list of tensors it must share quantization parameters with (itself included)."""
    parent = {n: n for n in g.activations()}

    def find(n):
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for op in g.ops:
        if op.kind in SAME_SCALE:
            names = [n for n in op.inputs if n is not None and not g.tensors[n].is_const] + list(op.outputs)
            for n in names[1:]:
                parent[find(n)] = find(names[0])
    members: dict[str, list[str]] = {}
    for n in parent:
        members.setdefault(find(n), []).append(n)
    return {n: members[find(n)] for n in parent}


def _activation_params(g: Graph, ranges: dict, groups: dict, symmetric: bool) -> dict[str, QuantParams]:
    fixed = {op.outputs[0]: FIXED_OUTPUT[op.kind] for op in g.ops if op.kind in FIXED_OUTPUT}
    params: dict[str, QuantParams] = {}
    for n, group in groups.items():
        if n in params:
            continue
        pinned = [fixed[m] for m in group if m in fixed]
        if pinned:
            p = pinned[0]
        else:
            lo, hi = _group_range(ranges, group)
            p = Q.activation_params(lo, hi, symmetric)
        for m in group:
            params[m] = p
    return params


def _group_range(ranges: dict, group: list[str]) -> tuple[float, float]:
    return min(ranges[m][0] for m in group), max(ranges[m][1] for m in group)


def _scalar(g: Graph, name: str | None) -> float | None:
    data = const_data(g, name)
    return float(data.reshape(-1)[0]) if data is not None and data.size == 1 else None


def _input_fold(g: Graph, ranges, groups, params, symmetric: bool):
    """(op indices folded, x params, y group params, y) for a leading Rescaling, or None."""
    users = g.consumers()
    cur, chain, a, b = g.inputs[0], [], 1.0, 0.0
    for kind in ("MUL", "ADD"):
        u = users.get(cur, [])
        if len(u) != 1 or cur in g.outputs:
            break
        op = g.ops[u[0]]
        v = _scalar(g, op.inputs[1]) if op.kind == kind and op.inputs[0] == cur else None
        if v is None or op.attrs.activation != "NONE":
            continue
        if kind == "MUL":
            a = v
        else:
            b = v
        chain.append(u[0])
        cur = op.outputs[0]
    y = cur
    if not chain or a <= 0 or y in g.outputs:
        return None
    if any(op.kind in FIXED_OUTPUT and op.outputs[0] in groups[y] for op in g.ops):
        return None
    s_y, z_y, k = params[y].s, params[y].zp, 0
    if b != 0.0:
        if symmetric or abs(b / s_y) < 1:
            return None
        k = int(math.trunc(b / s_y))
        s_y = float(np.float32(b / k))
        lo, _ = _group_range(ranges, groups[y])
        z_y = Q.params_with_scale(lo, 0.0, s_y)
    z_x = z_y + k
    if not Q.QMIN <= z_x <= Q.QMAX:
        return None
    x_params = QuantParams((float(np.float32(s_y / a)),), (z_x,))
    return chain, x_params, QuantParams((s_y,), (z_y,)), y


class _Builder:
    def __init__(self, g: Graph):
        self.g = g
        self.tensors: dict[str, Tensor] = {}

    def fresh(self, base: str) -> str:
        """A name used neither in the float graph nor in the new one."""
        name, k = base, 1
        while name in self.tensors or name in self.g.tensors:
            k += 1
            name = f"{base}_{k}"
        return name

    def const(self, base: str, data: np.ndarray, dtype: str, q: QuantParams) -> str:
        name = base
        k = 1
        while name in self.tensors:
            k += 1
            name = f"{base}_{k}"
        self.tensors[name] = Tensor(name, tuple(data.shape), dtype, q, np.asarray(data, dtype))
        return name


def _linear(b: _Builder, op: Op, qin: list, params, per_channel: bool) -> list:
    g = b.g
    s_in = params[op.inputs[0]].s
    w = g.tensors[op.inputs[1]].data
    axis = WEIGHT_AXIS[op.kind] if per_channel else None
    n_out = w.shape[WEIGHT_AXIS[op.kind]]
    bias_name = op.inputs[2] if len(op.inputs) > 2 else None
    bias = g.tensors[bias_name].data if bias_name is not None else np.zeros(n_out, np.float32)
    scales = Q.weight_scales(w, axis)
    need = Q.min_weight_scales_for_bias(bias, s_in)
    need = need if axis is not None else np.array([need.max()])
    if np.any(need > scales):  # the converter's bias-overflow adjustment
        scales = np.array([float(np.float32(v)) for v in np.maximum(scales, need * (1 + 1e-6))])
    wq = b.const(op.inputs[1], Q.quantize_weights(w, scales, axis), "int8", Q.weight_params(scales, axis))
    bs = Q.bias_scales(s_in, scales)
    bq_params = QuantParams(tuple(float(s) for s in bs), (0,) * len(bs), 0 if len(bs) > 1 else None)
    bq = b.const(bias_name or f"{op.outputs[0]}_bias", Q.quantize_bias(bias, bs), "int32", bq_params)
    return [qin[0], wq, bq]


def _other_inputs(b: _Builder, op: Op, qin: list, params) -> list:
    g = b.g
    out = []
    for n, q in zip(op.inputs, qin):
        data = const_data(g, n)
        if data is None:
            out.append(q)
            continue
        if op.kind in SAME_SCALE:
            p = params[op.outputs[0]]
        else:
            p = Q.activation_params(float(data.min()), float(data.max()))
        out.append(b.const(n, Q.quantize_values(data, p), "int8", p))
    return out


def quantize(graph: Graph, ranges: dict, per_channel: bool = True, symmetric_activations: bool = False,
             io: str = "float", fold_input_rescale: bool = True,
             dense_per_channel: bool | None = None) -> Graph:
    """The int8 version of the float ``graph`` given calibrated ``ranges`` (see the module doc).

    ``dense_per_channel`` overrides ``per_channel`` for FULLY_CONNECTED weights (older TFLite
    converters, and the MLPerf Tiny int8 models, quantize dense layers per tensor).
    """
    dense_pc = per_channel if dense_per_channel is None else dense_per_channel
    check_float_graph(graph)
    if io not in ("float", "int8"):
        raise MccError(f"io must be 'float' or 'int8', got {io!r}")
    g = graph
    for n in g.activations():
        if n not in ranges:
            raise MccError(f"no calibrated range for tensor {n}")
        if not all(math.isfinite(v) for v in ranges[n]):
            raise MccError(f"the calibrated range of tensor {n} is not finite: {ranges[n]}")
    groups = _groups(g)
    params = _activation_params(g, ranges, groups, symmetric_activations)
    fold = _input_fold(g, ranges, groups, params, symmetric_activations) if fold_input_rescale else None
    x, y = g.inputs[0], g.outputs[0]
    b = _Builder(g)
    qname = {n: n for n in g.activations()}
    if io == "float":
        qname[x], qname[y] = b.fresh(f"{x}_int8"), b.fresh(f"{y}_int8")
    skip: set[int] = set()
    dropped: set[str] = set()
    ops: list[Op] = []
    if fold is not None:
        chain, x_params, y_params, fy = fold
        skip = set(chain)
        dropped = {g.ops[i].outputs[0] for i in chain} - {fy}
        for m in groups[fy]:
            params[m] = y_params
        params[x] = x_params
    for n in g.activations():
        if n in dropped:
            continue
        t = g.tensors[n]
        b.tensors[qname[n]] = Tensor(qname[n], t.shape, "int8", params[n])
    if io == "float":
        b.tensors[x] = Tensor(x, g.tensors[x].shape, "float32")
        ops.append(Op("QUANTIZE", (x,), (qname[x],), NoAttrs(), name=f"{x}_quantize"))
    if fold is not None:
        shape = g.tensors[fold[3]].shape
        ops.append(Op("RESHAPE", (qname[x],), (qname[fold[3]],), ReshapeAttrs(tuple(shape)),
                      name="input_rescale_view"))
    for i, op in enumerate(g.ops):
        if i in skip:
            continue
        qin = [None if n is None else qname.get(n, n) for n in op.inputs]
        if op.kind in WEIGHT_AXIS:
            ins = _linear(b, op, qin, params, dense_pc if op.kind == "FULLY_CONNECTED" else per_channel)
        else:
            ins = _other_inputs(b, op, qin, params)
        ops.append(Op(op.kind, tuple(ins), tuple(qname[n] for n in op.outputs), op.attrs, name=op.name))
    if io == "float":
        b.tensors[y] = Tensor(y, g.tensors[y].shape, "float32")
        ops.append(Op("DEQUANTIZE", (qname[y],), (y,), NoAttrs(), name=f"{y}_dequantize"))
    meta = dict(g.meta, quantized="int8", per_channel=per_channel, dense_per_channel=dense_pc, io=io,
                symmetric_activations=symmetric_activations, input_rescale_folded=fold is not None)
    out = Graph(b.tensors, tuple(ops), (x if io == "float" else qname[x],),
                (y if io == "float" else qname[y],), meta)
    return verify(out)
