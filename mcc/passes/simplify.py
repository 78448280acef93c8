"""simplify: clean up reshapes the frontend leaves behind.

- RESHAPE of a RESHAPE (the inner one read by nothing else) becomes one RESHAPE;
- a RESHAPE that does not change the shape disappears (its readers read its input).

Between two Conv1D layers this removes the squeeze/expand pair around them.
"""

from __future__ import annotations

from dataclasses import replace

from ..ir import Graph
from ._graphutil import prune, rename_uses, single_consumer


def _simplify_once(g: Graph) -> Graph | None:
    producers = g.producers()
    for k, op in enumerate(g.ops):
        if op.kind != "RESHAPE":
            continue
        x, y = op.inputs[0], op.outputs[0]
        p = producers.get(x)
        if p is not None and g.ops[p].kind == "RESHAPE" and single_consumer(g, x) == k:
            ops = list(g.ops)
            ops[k] = replace(op, inputs=(g.ops[p].inputs[0],))
            del ops[p]
            return prune(g.replace(ops=tuple(ops)))
        if g.tensors[x].shape != g.tensors[y].shape:
            continue
        ops = list(g.ops)
        if y not in g.outputs:
            del ops[k]
            return prune(g.replace(ops=tuple(rename_uses(ops, y, x))))
        if p is not None and single_consumer(g, x) == k:  # keep the graph output's name
            ops[p] = replace(ops[p], outputs=(y,))
            del ops[k]
            return prune(g.replace(ops=tuple(rename_uses(ops, x, y))))
    return None


def simplify(g: Graph) -> Graph:
    """Apply the reshape rules until none applies; returns a new graph."""
    while True:
        s = _simplify_once(g)
        if s is None:
            return g
        g = s

