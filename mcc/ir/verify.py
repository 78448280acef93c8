"""Structural and numeric invariants of a graph. Run after every pass in tests."""

from __future__ import annotations

import numpy as np

from .attrs import ACTIVATIONS, ATTRS_BY_KIND
from .graph import INTEGER_DTYPES, Graph


class VerifyError(AssertionError):
    pass


def _fail(msg: str):
    raise VerifyError(msg)


def verify(g: Graph) -> Graph:
    """Check ``g`` and return it unchanged; raise VerifyError naming the first problem."""
    for name, t in g.tensors.items():
        if name != t.name:
            _fail(f"tensor key {name!r} != tensor name {t.name!r}")
        if t.dtype in INTEGER_DTYPES and t.dtype not in ("int32", "int64") and t.quant is None:
            _fail(f"integer tensor {name} has no quantization parameters")
        if t.quant is not None:
            q = t.quant
            if any(not np.isfinite(s) or s <= 0 for s in q.scale):
                _fail(f"tensor {name}: non-positive or non-finite scale")
            if q.axis is not None and len(q.scale) > 1:
                if not 0 <= q.axis < len(t.shape) or t.shape[q.axis] != len(q.scale):
                    _fail(f"tensor {name}: per-channel axis {q.axis} does not match shape {t.shape}")
    defined = set(g.inputs) | {n for n, t in g.tensors.items() if t.is_const}
    for n in g.inputs:
        if n not in g.tensors:
            _fail(f"graph input {n} is not a tensor")
    for i, op in enumerate(g.ops):
        where = f"op {i} ({op.kind})"
        if op.kind not in ATTRS_BY_KIND:
            _fail(f"{where}: unknown kind")
        if not isinstance(op.attrs, ATTRS_BY_KIND[op.kind]):
            _fail(f"{where}: attrs {type(op.attrs).__name__} != {ATTRS_BY_KIND[op.kind].__name__}")
        act = getattr(op.attrs, "activation", "NONE")
        if act not in ACTIVATIONS:
            _fail(f"{where}: unknown activation {act}")
        for t in op.inputs:
            if t is None:
                continue
            if t not in g.tensors:
                _fail(f"{where}: dangling input {t}")
            if t not in defined:
                _fail(f"{where}: input {t} used before it is produced (not topological)")
        for t in op.outputs:
            if t not in g.tensors:
                _fail(f"{where}: dangling output {t}")
            if t in defined:
                _fail(f"{where}: output {t} is produced twice or is a constant")
            defined.add(t)
        _verify_op(g, op, where)
    for n in g.outputs:
        if n not in defined:
            _fail(f"graph output {n} is never produced")
    return g


def _verify_op(g: Graph, op, where: str):
    T = g.tensors
    if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
        x, w = T[op.inputs[0]], T[op.inputs[1]]
        b = T[op.inputs[2]] if len(op.inputs) > 2 and op.inputs[2] is not None else None
        if not w.is_const:
            _fail(f"{where}: weights must be constant")
        if x.dtype == "int8":
            if w.dtype != "int8":
                _fail(f"{where}: int8 op needs int8 weights, got {w.dtype}")
            if any(z != 0 for z in w.quant.zero_point):
                _fail(f"{where}: weights must be symmetric (zero point 0)")
            if b is not None:
                if b.dtype != "int32":
                    _fail(f"{where}: bias must be int32, got {b.dtype}")
                if b.quant is not None:
                    ws = np.asarray(w.quant.scale, np.float64)
                    expect = x.quant.s * ws
                    bs = np.asarray(b.quant.scale, np.float64)
                    if bs.size not in (1, expect.size) or not np.allclose(bs, expect, rtol=1e-5, atol=0):
                        _fail(f"{where}: bias scale != input scale x weight scale")
            _verify_widths(w, 3 if op.kind == "DEPTHWISE_CONV_2D" else 0, where)
        elif x.dtype == "int16":
            _verify_16x8(g, op, x, w, b, where)
        if op.kind == "CONV_2D" and len(w.shape) != 4:
            _fail(f"{where}: conv weights must be OHWI")
        if op.kind == "DEPTHWISE_CONV_2D" and (len(w.shape) != 4 or w.shape[0] != 1):
            _fail(f"{where}: depthwise weights must be 1HWC")
    if op.kind in _SYMMETRIC16 or op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
        for n in (op.inputs[0], op.outputs[0]):
            t = T[n]
            if t.dtype == "int16" and t.quant is not None and any(z != 0 for z in t.quant.zero_point):
                _fail(f"{where}: int16 tensor {n} must have zero point 0 (16x8 quantization)")
    if op.kind == "RESHAPE":
        x, y = T[op.inputs[0]], T[op.outputs[0]]
        if x.size != y.size:
            _fail(f"{where}: reshape changes the element count")


def _verify_widths(w, axis: int, where: str):
    """Weights narrower than 8 bits hold values in +-(2^(b-1)-1) on each channel."""
    widths = w.quant.widths(w.shape[axis])
    if len(widths) != w.shape[axis]:
        _fail(f"{where}: {len(widths)} channel widths for {w.shape[axis]} channels")
    if all(b == 8 for b in widths):
        return
    if any(b not in (2, 4, 8) for b in widths):
        _fail(f"{where}: weight widths must be 8, 4 or 2 bits")
    a = np.abs(np.moveaxis(np.asarray(w.data, np.int32), axis, 0).reshape(w.shape[axis], -1)).max(axis=1)
    for c, (m, b) in enumerate(zip(a, widths)):
        if m > (1 << (b - 1)) - 1:
            _fail(f"{where}: channel {c} has |w| = {m}, beyond {b} bits")


# Kinds whose int16 activations TFLite requires to be symmetric (zero point 0).
_SYMMETRIC16 = ("ADD", "MUL", "AVERAGE_POOL_2D", "MAX_POOL_2D", "MEAN", "SOFTMAX", "PAD",
                "CONCATENATION", "LOGISTIC", "TANH")


def _verify_16x8(g, op, x, w, b, where: str):
    """16x8: int16 activations, int8 symmetric weights, int64 (or int32) bias of scale s_in * s_w."""
    if w.dtype != "int8":
        _fail(f"{where}: 16x8 op needs int8 weights, got {w.dtype}")
    if any(z != 0 for z in w.quant.zero_point):
        _fail(f"{where}: weights must be symmetric (zero point 0)")
    y = g.tensors[op.outputs[0]]
    if y.dtype != "int16":
        _fail(f"{where}: int16 input needs an int16 output, got {y.dtype}")
    if b is not None:
        if b.dtype not in ("int64", "int32"):
            _fail(f"{where}: 16x8 bias must be int64 (or int32), got {b.dtype}")
        if b.quant is not None:
            expect = x.quant.s * np.asarray(w.quant.scale, np.float64)
            bs = np.asarray(b.quant.scale, np.float64)
            if bs.size not in (1, expect.size) or not np.allclose(bs, expect, rtol=1e-5, atol=0):
                _fail(f"{where}: bias scale != input scale x weight scale")
    if any(bits != 8 for bits in w.quant.widths(w.shape[3 if op.kind == "DEPTHWISE_CONV_2D" else 0])):
        _fail(f"{where}: 16x8 ops take 8-bit weights only")
