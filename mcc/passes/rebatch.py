"""rebatch: the same graph with batch N instead of 1, so the reference interpreters run many
samples in one call (every kernel treats batch items independently, so the results are
bit-identical to N single runs). Every activation's leading axis must be the batch (size 1).
"""

from __future__ import annotations

from dataclasses import replace

from ..errors import MccError
from ..ir import Graph, ReshapeAttrs


def rebatch(g: Graph, n: int) -> Graph:
    """``g`` with every activation tensor's leading dimension set to ``n``."""
    tensors = dict(g.tensors)
    for name in g.activations():
        t = g.tensors[name]
        if not t.shape or t.shape[0] != 1:
            raise MccError(f"cannot rebatch: tensor {name} has shape {t.shape} (leading axis is not 1)")
        tensors[name] = replace(t, shape=(n,) + tuple(t.shape[1:]))
    ops = []
    for op in g.ops:
        if op.kind == "RESHAPE":
            shape = tuple(op.attrs.shape)
            op = replace(op, attrs=ReshapeAttrs((n,) + shape[1:] if shape else shape))
        ops.append(op)
    return g.replace(tensors=tensors, ops=tuple(ops))
