"""Test / benchmark helper: an int8 IR graph with some weight tensors requantized to 4 or 2 bits per
channel, as the bit-allocation pass would leave it (independent of that pass):

    s_b[c] = max|w8[c] * s8[c]| / (2^(b-1) - 1),   w_b = clip(round(w8 * s8 / s_b), +-(2^(b-1) - 1)),
    bias_b = round(bias * s8 / s_b)  (bias scale s_in * s_b)

Per-tensor weights (a per-tensor FULLY_CONNECTED) become per-channel (axis 0) when requantized.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from mcc.ir import Graph, verify
from mcc.ir.graph import QuantParams

AXIS = {"CONV_2D": 0, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 0}


def requantize_weights(g: Graph, choose: Callable[[int, object, int], tuple[int, ...] | None]) -> Graph:
    """A new graph whose weighted op i gets channel widths ``choose(i, op, n_channels)`` (None:
    unchanged). ``g`` is not modified."""
    tensors = dict(g.tensors)
    for i, op in enumerate(g.ops):
        if op.kind not in AXIS:
            continue
        axis = AXIS[op.kind]
        w = g.tensors[op.inputs[1]]
        n = w.shape[axis]
        widths = choose(i, op, n)
        if widths is None:
            continue
        widths = tuple(int(b) for b in widths)
        x = g.tensors[op.inputs[0]]
        s8 = np.asarray(w.quant.scale, np.float64)
        s8 = np.full(n, s8[0]) if s8.size == 1 else s8
        w8 = np.moveaxis(np.asarray(w.data, np.int64), axis, 0).reshape(n, -1)
        real = w8 * s8[:, None]
        lim = np.array([(1 << (b - 1)) - 1 for b in widths], np.float64)
        amax = np.abs(real).max(axis=1)
        sb = np.where(amax > 0, amax / lim, s8).astype(np.float32).astype(np.float64)
        wb = np.clip(np.round(real / sb[:, None]), -lim[:, None], lim[:, None]).astype(np.int8)
        moved = (n,) + tuple(s for k, s in enumerate(w.shape) if k != axis)
        data = np.ascontiguousarray(np.moveaxis(wb.reshape(moved), 0, axis))
        quant = QuantParams(tuple(float(s) for s in sb), (0,) * n, axis, 8, widths)
        tensors[w.name] = dataclasses.replace(w, data=data, quant=quant)
        if len(op.inputs) > 2 and op.inputs[2] is not None:
            b = g.tensors[op.inputs[2]]
            bb = np.round(np.asarray(b.data, np.float64) * s8 / sb)
            bb = np.clip(bb, -(2 ** 31), 2 ** 31 - 1).astype(np.int32)
            bq = QuantParams(tuple(float(x.quant.s * s) for s in sb), (0,) * n, 0)
            tensors[b.name] = dataclasses.replace(b, data=bb, quant=bq)
    return verify(g.replace(tensors=tensors))


def uniform(bits: int):
    """Every weighted layer at ``bits`` (8: unchanged)."""
    return lambda i, op, n: None if bits == 8 else (bits,) * n


def reference_outputs(g: Graph, x: np.ndarray) -> np.ndarray:
    from mcc.reference.interp import run
    return np.stack([run(g, [xi])[0] for xi in x])
