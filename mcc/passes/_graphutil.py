"""Small graph-editing helpers shared by the passes (graphs are immutable: each returns a new one)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..ir import Graph, Op, Tensor

FUSABLE = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "MUL", "AVERAGE_POOL_2D",
           "MAX_POOL_2D")
LINEAR = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def single_consumer(g: Graph, name: str) -> int | None:
    """The index of the only op reading ``name`` (None if several, none, or a graph output)."""
    if name in g.outputs:
        return None
    users = g.consumers().get(name, [])
    return users[0] if len(users) == 1 else None


def const_data(g: Graph, name: str | None) -> np.ndarray | None:
    if name is None:
        return None
    t = g.tensors[name]
    return t.data if t.is_const else None


def channel_vector(g: Graph, const: str, out_shape: tuple) -> np.ndarray | None:
    """A constant that broadcasts along the last axis only, as a vector of len C (else None)."""
    data = const_data(g, const)
    if data is None or data.ndim > len(out_shape):
        return None
    if any(d != 1 for d in data.shape[:-1]) if data.ndim else False:
        return None
    c = out_shape[-1]
    flat = data.reshape(-1)
    if flat.size == 1:
        return np.full(c, flat[0], dtype=flat.dtype)
    return flat if flat.size == c else None


def is_identity_activation(g: Graph, op: Op) -> bool:
    """An op whose only effect is its fused activation clamp (how the frontend writes ReLU)."""
    act = getattr(op.attrs, "activation", "NONE")
    if act == "NONE":
        return False
    if op.kind == "MAX_POOL_2D":
        a = op.attrs
        return tuple(a.filter) == (1, 1) and tuple(a.stride) == (1, 1)
    if op.kind == "MUL":
        data = const_data(g, op.inputs[1])
        return data is not None and data.size == 1 and float(data.reshape(-1)[0]) == 1.0 \
            and not g.tensors[op.inputs[0]].is_const
    return False


def combine_activations(a: str, b: str) -> str | None:
    """Clamp ``a`` then ``b`` as one fused activation, or None if that is not one of the four."""
    if a == "NONE":
        return b
    if b == "NONE" or a == b:
        return a
    if {a, b} == {"RELU", "RELU6"}:
        return "RELU6"
    return None


def with_activation(op: Op, act: str) -> Op:
    return replace(op, attrs=replace(op.attrs, activation=act))


def prune(g: Graph) -> Graph:
    """Drop tensors that no op or graph edge refers to."""
    used = set(g.inputs) | set(g.outputs)
    for op in g.ops:
        used.update(n for n in op.inputs if n is not None)
        used.update(op.outputs)
    return g.replace(tensors={n: t for n, t in g.tensors.items() if n in used})


def rename_uses(ops, old: str, new: str):
    return [replace(op, inputs=tuple(new if n == old else n for n in op.inputs)) for op in ops]


def fresh_name(base: str, *taken) -> str:
    """``base``, or ``base_2``, ``base_3``, ... : the first not in any of the containers ``taken``."""
    name, k = base, 1
    while any(name in t for t in taken):
        k += 1
        name = f"{base}_{k}"
    return name


def new_const(g: Graph, tensors: dict, base: str, data: np.ndarray) -> str:
    """Add a float32 constant with a name unused in ``g`` and ``tensors``; return the name."""
    name = fresh_name(base, g.tensors, tensors)
    tensors[name] = Tensor(name, tuple(data.shape), "float32", None, np.asarray(data, np.float32))
    return name
