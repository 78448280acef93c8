"""fuse_activation: move a standalone ReLU / ReLU6 into the op that produces its input.

The frontend writes a standalone activation as an identity op carrying the clamp (MAX_POOL_2D
1x1 or MUL by 1.0, see ``_graphutil.is_identity_activation``). When its input comes from an op
TFLite fuses activations into (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, ADD, MUL, the pools)
and nothing else reads that input, the clamp becomes the producer's fused activation and the
identity op disappears. A RESHAPE in between (Conv1D) is looked through. Clamps that cannot be
fused stay as they are: they compute exactly the activation in float and in int8.
"""

from __future__ import annotations

from dataclasses import replace

from ..ir import Graph
from ._graphutil import FUSABLE, combine_activations, is_identity_activation, prune, single_consumer, \
    with_activation


def _fuse_once(g: Graph) -> Graph | None:
    producers = g.producers()
    for k, act_op in enumerate(g.ops):
        if not is_identity_activation(g, act_op):
            continue
        x = act_op.inputs[0]
        if single_consumer(g, x) != k or x not in producers:
            continue
        reshape = None
        p = producers[x]
        if g.ops[p].kind == "RESHAPE":
            src = g.ops[p].inputs[0]
            if src not in producers or single_consumer(g, src) != p:
                continue
            reshape, p = p, producers[src]
        prod = g.ops[p]
        if prod.kind not in FUSABLE:
            continue
        act = combine_activations(prod.attrs.activation, act_op.attrs.activation)
        if act is None:
            continue
        ops = list(g.ops)
        out = act_op.outputs[0]
        if reshape is None:
            ops[p] = replace(with_activation(prod, act), outputs=(out,))
        else:
            ops[p] = with_activation(prod, act)
            ops[reshape] = replace(ops[reshape], outputs=(out,))
        del ops[k]
        return prune(g.replace(ops=tuple(ops)))
    return None


def fuse_activation(g: Graph) -> Graph:
    """Fuse every fusable standalone clamp; returns a new graph."""
    while True:
        fused = _fuse_once(g)
        if fused is None:
            return g
        g = fused
