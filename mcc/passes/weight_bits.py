"""set_weight_bits: requantize weight tensors per output channel to 8, 4 or 2 bits.

    g2 = set_weight_bits(g, {"conv1/kernel": (8, 4, 4, 2, ...), "dense/kernel": 4}, float_graph=f)

``widths`` maps a weight tensor's name (the second input of a CONV_2D, DEPTHWISE_CONV_2D or
FULLY_CONNECTED op of the int8 graph ``g``) to one width for all its output channels or one per
channel. A channel at b < 8 bits gets the symmetric narrow-range scale max|w| / (2^(b-1) - 1)
and integer values within +-(2^(b-1) - 1), still stored as int8 in ``Tensor.data`` (the packed
storage is the codegen's business: mcc.lower.packing). ``max|w|`` is taken from the float weights
when ``float_graph`` (the float IR the int8 graph was quantized from) holds a weight tensor of the
same name and shape, else from the int8 values (``max|q| * scale``). A channel at 8 bits keeps its
int8 values and scale unchanged, so that all-8 widths return the int8 model as it is.

The int32 bias is requantized to ``input scale x new weight scale`` (from the float bias when the
float graph has it, else by rescaling the int32 values). A per-tensor weight whose channels get
different widths (or any width below 8) becomes per-channel. The result passes ``verify``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import MccError
from ..ir import Graph, QuantParams, Tensor, verify
from ..quant import params as Q

WEIGHT_AXIS = {"CONV_2D": 0, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 0}
WIDTHS = (8, 4, 2)


def qmax(bits: int) -> int:
    """Largest magnitude of a symmetric narrow-range ``bits``-bit weight."""
    return (1 << (bits - 1)) - 1


def weight_ops(g: Graph) -> list[int]:
    """Indices of the ops with int8 weights whose width the planner can choose."""
    return [i for i, op in enumerate(g.ops) if op.kind in WEIGHT_AXIS and len(op.inputs) > 1
            and g.tensors[op.inputs[1]].is_const and g.tensors[op.inputs[1]].dtype == "int8"
            and g.tensors[op.inputs[0]].dtype == "int8"]


def channel_rows(data: np.ndarray, axis: int) -> np.ndarray:
    """(channels, K) view of a weight array with its output channels along ``axis``."""
    return np.moveaxis(np.asarray(data), axis, 0).reshape(data.shape[axis], -1)


def _from_rows(rows: np.ndarray, shape: tuple, axis: int) -> np.ndarray:
    moved = (shape[axis],) + tuple(s for i, s in enumerate(shape) if i != axis)
    return np.moveaxis(rows.reshape(moved), 0, axis)


def _normalize(widths, n: int, name: str) -> tuple[int, ...]:
    ws = (int(widths),) * n if np.isscalar(widths) else tuple(int(b) for b in widths)
    if len(ws) != n:
        raise MccError(f"set_weight_bits: {name} has {n} output channels, got {len(ws)} widths")
    bad = sorted({b for b in ws if b not in WIDTHS})
    if bad:
        raise MccError(f"set_weight_bits: {name}: weight widths must be 8, 4 or 2 bits, got {bad}")
    return ws


def _float_weights(float_graph: Graph | None, name: str, shape: tuple) -> np.ndarray | None:
    if float_graph is None or name not in float_graph.tensors:
        return None
    t = float_graph.tensors[name]
    if not t.is_const or t.dtype != "float32" or tuple(t.shape) != tuple(shape):
        return None
    return np.asarray(t.data, np.float64)


def requantize_channels(q_rows: np.ndarray, scales: np.ndarray, widths: Sequence[int],
                        float_rows: np.ndarray | None = None, min_scales: np.ndarray | None = None):
    """New (int rows, scales) of (channels, K) int8 rows at per-channel ``scales`` for ``widths``.

    8-bit channels are returned unchanged. ``min_scales`` (optional) is a per-channel lower bound
    on the new scale (the bias must stay within int32)."""
    rows = np.array(q_rows, np.int32)
    new_scales = np.array(scales, np.float64)
    for c, b in enumerate(widths):
        if b == 8:
            continue
        if float_rows is not None:
            real = float_rows[c]
        else:
            real = rows[c].astype(np.float64) * scales[c]
        m = float(np.abs(real).max()) if real.size else 0.0
        if m == 0.0:
            rows[c] = 0
            continue
        s = float(np.float32(m / qmax(b)))
        if min_scales is not None and min_scales[c] > s:
            s = float(np.float32(min_scales[c] * (1 + 1e-6)))
        rows[c] = np.clip(Q.round_half_away(real / s), -qmax(b), qmax(b))
        new_scales[c] = s
    return rows.astype(np.int8), new_scales


def set_weight_bits(graph: Graph, widths: Mapping[str, int | Sequence[int]],
                    float_graph: Graph | None = None) -> Graph:
    """A new graph whose weight tensors named in ``widths`` hold those per-channel widths."""
    ops_of: dict[str, list[int]] = {}
    for i in weight_ops(graph):
        ops_of.setdefault(graph.ops[i].inputs[1], []).append(i)
    unknown = sorted(set(widths) - set(ops_of))
    if unknown:
        raise MccError(f"set_weight_bits: {unknown[0]!r} is not the int8 weight tensor of a convolution or "
                       f"fully connected op (weights: {', '.join(sorted(ops_of)) or 'none'})")
    tensors = dict(graph.tensors)
    for name in sorted(widths):
        w = graph.tensors[name]
        first = graph.ops[ops_of[name][0]]
        axis = WEIGHT_AXIS[first.kind]
        n = w.shape[axis]
        ws = _normalize(widths[name], n, name)
        old_widths = w.quant.widths(n)
        if ws == tuple(old_widths):
            continue
        scales = np.broadcast_to(np.asarray(w.quant.scale, np.float64), (n,)).copy()
        if any(b > a for a, b in zip(old_widths, ws)) and _float_weights(float_graph, name, w.shape) is None:
            raise MccError(f"set_weight_bits: {name} is stored at fewer bits than asked; widening needs the "
                           "float model (float_graph)")
        fw = _float_weights(float_graph, name, w.shape)
        float_rows = None if fw is None else channel_rows(fw, axis)
        min_scales = None
        for i in ops_of[name]:  # the bias of every op using the weights must stay within int32
            op = graph.ops[i]
            if len(op.inputs) > 2 and op.inputs[2] is not None:
                bias = graph.tensors[op.inputs[2]]
                real = np.asarray(bias.data, np.float64) * np.broadcast_to(bias.quant.scale, (n,))
                need = Q.min_weight_scales_for_bias(real, graph.tensors[op.inputs[0]].quant.s)
                min_scales = need if min_scales is None else np.maximum(min_scales, need)
        rows, new_scales = requantize_channels(channel_rows(w.data, axis), scales, ws, float_rows, min_scales)
        # 8-bit channels re-derived from the float weights when they were narrower before
        if fw is not None:
            for c, (a, b) in enumerate(zip(old_widths, ws)):
                if b == 8 and a != 8:
                    s = float(np.float32(max(np.abs(float_rows[c]).max(), Q.NEAR_ZERO / 2) / 127))
                    new_scales[c] = s
                    rows[c] = np.clip(Q.round_half_away(float_rows[c] / s), -127, 127)
        per_channel = w.quant.per_channel or len(set(ws)) > 1 or any(b != 8 for b in ws)
        if not per_channel:
            new_scales = new_scales[:1]
        quant = QuantParams(tuple(float(s) for s in new_scales), (0,) * len(new_scales),
                            axis if len(new_scales) > 1 else None, 8,
                            None if all(b == 8 for b in ws) else ws)
        tensors[name] = Tensor(name, w.shape, "int8", quant, _from_rows(rows, w.shape, axis).astype(np.int8))
        for i in ops_of[name]:
            op = graph.ops[i]
            if len(op.inputs) < 3 or op.inputs[2] is None:
                continue
            tensors[op.inputs[2]] = _rescale_bias(graph, op, new_scales, n, float_graph)
    return verify(graph.replace(tensors=tensors))


def _rescale_bias(graph: Graph, op, w_scales: np.ndarray, n: int, float_graph: Graph | None) -> Tensor:
    bias = graph.tensors[op.inputs[2]]
    s_in = graph.tensors[op.inputs[0]].quant.s
    new = Q.bias_scales(s_in, np.broadcast_to(w_scales, (n,)) if w_scales.size == 1 else w_scales)
    fb = _float_weights(float_graph, op.inputs[2], bias.shape)
    real = fb if fb is not None else np.asarray(bias.data, np.float64) * np.broadcast_to(bias.quant.scale, bias.shape)
    if w_scales.size == 1:
        new = new[:1]
    data = Q.quantize_bias(real, np.broadcast_to(new, bias.shape))
    q = QuantParams(tuple(float(s) for s in new), (0,) * len(new), 0 if len(new) > 1 else None)
    return Tensor(bias.name, bias.shape, "int32", q, data)
