"""fold_bn: fold a per-channel affine (MUL by a constant, then ADD a constant) into the preceding
CONV_2D, DEPTHWISE_CONV_2D or FULLY_CONNECTED.

The Keras frontend writes BatchNormalization as MUL(x, gamma / sqrt(var + eps)) followed by
ADD(., beta - mean * gamma / sqrt(var + eps)); this pass turns

    y = act(W x + b) * m + a      (the linear op's activation must be NONE)

into one op with W' = W * m (per output channel), b' = b * m + a, in float64 then float32. A MUL
alone or an ADD alone folds the same way. A RESHAPE between the linear op and the MUL is looked
through when it keeps the channel axis last (Conv1D). The MUL/ADD's fused activation moves onto
the linear op. Anything else (a BN after a pooling, an add, an input) stays a MUL + ADD pair.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..ir import Graph, Tensor
from ._graphutil import LINEAR, channel_vector, fresh_name, prune, single_consumer

_OUT_AXIS = {"CONV_2D": 0, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 0}


def _affine_chain(g: Graph, start: str):
    """From tensor ``start``: the MUL then ADD ops (indices) forming a foldable affine, m and a."""
    chain, found = [], {"MUL": None, "ADD": None}
    name = start
    for kind in ("MUL", "ADD"):
        k = single_consumer(g, name)
        if k is None:
            break
        op = g.ops[k]
        if op.kind != kind or op.inputs[0] != name:
            continue  # no MUL: look for an ADD at the same place
        if chain and g.ops[chain[-1]].attrs.activation != "NONE":
            break
        out_shape = g.tensors[op.outputs[0]].shape
        vec = channel_vector(g, op.inputs[1], out_shape)
        if vec is None or out_shape != g.tensors[name].shape:
            continue
        chain.append(k)
        found[kind] = vec
        name = op.outputs[0]
    return chain, found["MUL"], found["ADD"]


def _fold_once(g: Graph) -> Graph | None:
    for i, op in enumerate(g.ops):
        if op.kind not in LINEAR or op.attrs.activation != "NONE":
            continue
        out = op.outputs[0]
        reshape = None
        k = single_consumer(g, out)
        if k is not None and g.ops[k].kind == "RESHAPE":
            r = g.ops[k]
            if g.tensors[r.outputs[0]].shape[-1] == g.tensors[out].shape[-1]:
                reshape = k
        chain, mul, add = _affine_chain(g, g.ops[reshape].outputs[0] if reshape is not None else out)
        if not chain:
            continue
        return _apply(g, i, reshape, chain, mul, add)
    return None


def _apply(g: Graph, i: int, reshape: int | None, chain: list[int], mul, add) -> Graph:
    op = g.ops[i]
    w_name, b_name = op.inputs[1], op.inputs[2] if len(op.inputs) > 2 else None
    w = g.tensors[w_name].data.astype(np.float64)
    n_out = w.shape[_OUT_AXIS[op.kind]]
    b = g.tensors[b_name].data.astype(np.float64) if b_name is not None else np.zeros(n_out)
    m = np.ones(n_out) if mul is None else mul.astype(np.float64)
    a = np.zeros(n_out) if add is None else add.astype(np.float64)
    shape = [1] * w.ndim
    shape[_OUT_AXIS[op.kind]] = n_out
    tensors = dict(g.tensors)
    new_w = _fresh(tensors, f"{w_name}_folded", (w * m.reshape(shape)).astype(np.float32))
    new_b = _fresh(tensors, f"{b_name or op.outputs[0] + '_bias'}_folded", (b * m + a).astype(np.float32))
    last = g.ops[chain[-1]]
    final_out = last.outputs[0]
    drop = set(chain)
    ops = list(g.ops)
    if reshape is None:
        ops[i] = replace(op, inputs=(op.inputs[0], new_w, new_b), outputs=(final_out,),
                         attrs=replace(op.attrs, activation=last.attrs.activation))
    else:
        ops[i] = replace(op, inputs=(op.inputs[0], new_w, new_b),
                         attrs=replace(op.attrs, activation=last.attrs.activation))
        ops[reshape] = replace(ops[reshape], outputs=(final_out,))
    ops = [o for k, o in enumerate(ops) if k not in drop]
    return prune(g.replace(tensors=tensors, ops=tuple(ops)))


def _fresh(tensors: dict, base: str, data: np.ndarray) -> str:
    name = fresh_name(base, tensors)
    tensors[name] = Tensor(name, tuple(data.shape), "float32", None, data)
    return name


def fold_bn(g: Graph) -> Graph:
    """Fold every foldable per-channel MUL/ADD into its producer; returns a new graph."""
    while True:
        folded = _fold_once(g)
        if folded is None:
            return g
        g = folded
