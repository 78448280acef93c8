"""Channel dependency analysis of a Keras 3 functional model, for structured pruning.

Every output channel of a *producer* (Conv1D/Conv2D, Dense, the pointwise half of SeparableConv2D)
is an *element*. Walking the graph in topological order, each tensor gets a *channel map*: for each
of its channels (last axis), the element it carries, or ``PINNED`` for channels that cannot be
removed (model input). Layers that transform channels one by one (BatchNormalization, activations
mapping 0 to 0, pools, padding, Dropout, depthwise convolutions, GlobalPooling, Flatten) pass the
map on; elementwise layers joining tensors (Add, Multiply, Subtract, Maximum, Minimum, Average)
*tie* the elements at equal positions into one class (union-find), so every branch of an Add shares
one mask; Concatenate on the channel axis concatenates the maps (offset masks). A channel class is
*pinned* (left alone, with a reason) when it reaches the model output, feeds a layer whose
channels cannot be removed (Softmax, a non-channel Concatenate, an activation with f(0) != 0, an
unsupported layer...).

A *group* is the set of producers whose classes are tied together (they are pruned at one ratio).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

PINNED = -1

PRODUCERS = ("Conv1D", "Conv2D", "Dense", "SeparableConv2D", "SeparableConv1D")
DEPTHWISE = ("DepthwiseConv2D", "DepthwiseConv1D")
TIES = ("Add", "Multiply", "Subtract", "Maximum", "Minimum", "Average")
PASS = ("BatchNormalization", "ReLU", "LeakyReLU", "ELU", "PReLU", "Dropout", "SpatialDropout2D",
        "MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D",
        "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D",
        "ZeroPadding1D", "ZeroPadding2D", "Cropping2D", "UpSampling2D", "Identity", "ActivityRegularization",
        "GaussianNoise", "GaussianDropout")
ZERO_PRESERVING = {"relu", "relu6", "linear", "leaky_relu", "elu", "selu", "silu", "swish", "tanh",
                   "gelu", "hard_swish", "hard_silu", "mish", "softsign", "relu_"}


class _UnionFind:
    def __init__(self):
        self.parent: list[int] = []

    def add(self) -> int:
        self.parent.append(len(self.parent))
        return len(self.parent) - 1

    def find(self, a: int) -> int:
        while self.parent[a] != a:
            self.parent[a] = self.parent[self.parent[a]]
            a = self.parent[a]
        return a

    def union(self, a: int, b: int):
        a, b = self.find(a), self.find(b)
        if a != b:
            self.parent[max(a, b)] = min(a, b)


@dataclass
class ChannelGraph:
    """The result of ``analyze``: element ids per producer, maps per layer, classes and groups."""

    model: object
    producers: list[str]                                  # layer names, topological order
    elements: dict[str, list[int]]                        # producer -> element id per output channel
    in_maps: dict[str, list[np.ndarray]]                  # layer -> channel map of each input
    out_maps: dict[str, np.ndarray]                       # layer -> channel map of its output
    uf: _UnionFind
    pin_reason: dict[int, str] = field(default_factory=dict)   # class root -> why it is pinned

    def cls(self, element: int) -> int:
        return PINNED if element == PINNED else self.uf.find(element)

    def class_map(self, m: np.ndarray) -> np.ndarray:
        return np.array([self.cls(int(e)) for e in m], dtype=np.int64)

    def pinned(self, c: int) -> bool:
        return c == PINNED or c in self.pin_reason

    def groups(self) -> dict[str, list[str]]:
        """Group id (its first producer) -> producers tied by shared classes, in topological order."""
        owner: dict[int, str] = {}
        parent = {p: p for p in self.producers}

        def find(p):
            while parent[p] != p:
                p = parent[p]
            return p

        for p in self.producers:
            for e in self.elements[p]:
                c = self.cls(e)
                if c in owner:
                    a, b = find(owner[c]), find(p)
                    if a != b:
                        first = min(a, b, key=self.producers.index)
                        parent[a] = parent[b] = first
                else:
                    owner[c] = p
        out: dict[str, list[str]] = {}
        for p in self.producers:
            out.setdefault(find(p), []).append(p)
        return out

    def group_classes(self, producers: list[str]) -> list[int]:
        """Distinct classes of a group, in the order of first appearance."""
        seen: dict[int, None] = {}
        for p in producers:
            for e in self.elements[p]:
                seen.setdefault(self.cls(e), None)
        return list(seen)

    def prunable_classes(self, producers: list[str]) -> list[int]:
        return [c for c in self.group_classes(producers) if not self.pinned(c)]

    def group_reason(self, producers: list[str]) -> str | None:
        """Why a group cannot be pruned at all (None if some of its channels can)."""
        if self.prunable_classes(producers):
            return None
        reasons = sorted({self.pin_reason.get(c, "model input") for c in self.group_classes(producers)})
        return "; ".join(reasons)


def layer_type(layer) -> str:
    return type(layer).__name__


def activation_name(layer) -> str:
    act = getattr(layer, "activation", None)
    return getattr(act, "__name__", "linear") if act is not None else "linear"


def topo_nodes(model):
    """(layer, input tensors, output tensors) in topological order (one call per layer)."""
    out = []
    for layer in model.operations:
        nodes = [n for n in layer._inbound_nodes if n.operation is layer]
        if layer_type(layer) == "InputLayer":
            out.append((layer, [], list(nodes[0].output_tensors)))
            continue
        if len(nodes) != 1:
            raise ValueError(f"layer {layer.name} is called {len(nodes)} times")
        out.append((layer, list(nodes[0].input_tensors), list(nodes[0].output_tensors)))
    return out


def analyze(model) -> ChannelGraph:
    from ...errors import MccError

    uf = _UnionFind()
    maps: dict[int, np.ndarray] = {}
    cg = ChannelGraph(model, [], {}, {}, {}, uf)
    pin_later: list[tuple[np.ndarray, str]] = []

    def pin(m: np.ndarray, reason: str):
        pin_later.append((m, reason))

    try:
        nodes = topo_nodes(model)
    except ValueError as e:
        raise MccError(f"structured pruning needs each layer called once: {e}") from None
    for layer, ins, outs in nodes:
        kind = layer_type(layer)
        if kind == "InputLayer":
            for t in outs:
                maps[id(t)] = np.full(int(t.shape[-1]), PINNED, dtype=np.int64)
            continue
        in_maps = [maps[id(t)] for t in ins]
        cg.in_maps[layer.name] = in_maps
        out_shape = outs[0].shape
        c_out = int(out_shape[-1])
        m_in = in_maps[0] if in_maps else None
        new = None
        if kind in PRODUCERS:
            elems = [uf.add() for _ in range(c_out)]
            cg.producers.append(layer.name)
            cg.elements[layer.name] = elems
            new = np.array(elems, dtype=np.int64)
            if activation_name(layer) not in ZERO_PRESERVING:
                pin(new, f"{layer.name} has activation {activation_name(layer)} (f(0) != 0)")
        elif kind in DEPTHWISE:
            mult = int(layer.depth_multiplier)
            new = np.repeat(m_in, mult)
            if activation_name(layer) not in ZERO_PRESERVING:
                pin(m_in, f"{layer.name} has activation {activation_name(layer)} (f(0) != 0)")
        elif kind in PASS or (kind == "Activation" and activation_name(layer) in ZERO_PRESERVING):
            if kind == "BatchNormalization" and layer.axis not in (-1, len(out_shape) - 1):
                pin(m_in, f"{layer.name} normalizes axis {layer.axis}, not channels")
            if kind == "PReLU" and layer.get_weights() and layer.get_weights()[0].shape[-1] != 1:
                pin(m_in, f"{layer.name} has per-channel slopes")
                new = np.full(c_out, PINNED, dtype=np.int64)
            else:
                new = m_in.copy()
        elif kind in TIES:
            shapes = {tuple(t.shape[1:]) for t in ins}
            if len(shapes) != 1:
                for m in in_maps:
                    pin(m, f"{layer.name} ({kind}) broadcasts its inputs")
                new = np.full(c_out, PINNED, dtype=np.int64)
            else:
                new = in_maps[0].copy()
                for m in in_maps[1:]:
                    for j, (a, b) in enumerate(zip(new, m)):
                        if a == PINNED or b == PINNED:
                            if a != PINNED:
                                pin(np.array([a]), f"tied to a model input channel by {layer.name}")
                            if b != PINNED:
                                pin(np.array([b]), f"tied to a model input channel by {layer.name}")
                            new[j] = PINNED
                        else:
                            uf.union(int(a), int(b))
        elif kind == "Concatenate":
            axis = layer.axis if layer.axis >= 0 else len(out_shape) + layer.axis
            if axis == len(out_shape) - 1:
                new = np.concatenate(in_maps)
            else:
                for m in in_maps:
                    pin(m, f"{layer.name} concatenates along axis {layer.axis}, not channels")
                new = np.full(c_out, PINNED, dtype=np.int64)
        elif kind == "Flatten":
            spatial = int(np.prod(ins[0].shape[1:-1])) if len(ins[0].shape) > 2 else 1
            new = np.tile(m_in, spatial)
        elif kind == "Reshape":
            if len(ins[0].shape) > 2 and int(ins[0].shape[-1]) == c_out and len(out_shape) > 2:
                new = m_in.copy()
            elif len(out_shape) == 2:
                spatial = int(np.prod(ins[0].shape[1:-1])) if len(ins[0].shape) > 2 else 1
                new = np.tile(m_in, spatial)
            else:
                pin(m_in, f"{layer.name} (Reshape {tuple(out_shape[1:])}) regroups channels")
                new = np.full(c_out, PINNED, dtype=np.int64)
        else:
            why = (f"{layer.name} applies {activation_name(layer)} (f(0) != 0)" if kind == "Activation"
                   else f"consumed by {layer.name} ({kind}), which channel surgery does not support")
            for m in in_maps:
                pin(m, why)
            new = np.full(c_out, PINNED, dtype=np.int64) if len(outs) == 1 else None
            if new is None:
                for t in outs:
                    maps[id(t)] = np.full(int(t.shape[-1]), PINNED, dtype=np.int64)
                continue
        maps[id(outs[0])] = new
        cg.out_maps[layer.name] = new
    for t in model.outputs:
        pin(maps[id(t)], "tied to the model output")
    for m, reason in pin_later:
        for e in m:
            if e != PINNED:
                cg.pin_reason.setdefault(uf.find(int(e)), reason)
    return cg
