"""Building a float32 IR graph piece by piece, and Keras activations as IR ops (used by the
Keras layer translators)."""

from __future__ import annotations

import numpy as np

from ..errors import ModelFormatError, UnsupportedOperatorError
from ..ir import ElementwiseAttrs, Graph, NoAttrs, Op, Pool2DAttrs, ReshapeAttrs, SoftmaxAttrs, Tensor
from ..lower.lowering import conv_padding


def where(layer) -> str:
    return f"layer {layer.name!r} ({type(layer).__name__})"


def as_pair(v) -> tuple[int, int]:
    if isinstance(v, (int, np.integer)):
        return int(v), int(v)
    v = tuple(int(x) for x in v)
    return v if len(v) == 2 else (v[0], v[0])


def conv_out(padding: str, size: int, kernel: int, stride: int, dilation: int = 1) -> int:
    return conv_padding(padding, size, kernel, stride, dilation)[0]


class GraphBuilder:
    """Accumulates float32 tensors and ops with unique names, in topological order."""

    def __init__(self):
        self.tensors: dict[str, Tensor] = {}
        self.ops: list[Op] = []
        self._op_names: set[str] = set()

    def _fresh(self, base: str) -> str:
        name, k = base, 1
        while name in self.tensors:
            k += 1
            name = f"{base}_{k}"
        return name

    def shape(self, name: str) -> tuple[int, ...]:
        return self.tensors[name].shape

    def input(self, base: str, shape: tuple[int, ...]) -> str:
        name = self._fresh(base)
        self.tensors[name] = Tensor(name, tuple(int(d) for d in shape), "float32")
        return name

    def const(self, base: str, data: np.ndarray) -> str:
        data = np.array(data, dtype=np.float32, copy=True)
        if not np.all(np.isfinite(data)):
            raise ModelFormatError(f"constant {base!r} contains NaN or inf")
        name = self._fresh(base)
        self.tensors[name] = Tensor(name, tuple(data.shape), "float32", None, data)
        return name

    def op(self, kind: str, inputs: list, out_shape, attrs, base: str) -> str:
        """Append one op with a fresh float32 output tensor; return the output's name."""
        out = self._fresh(base)
        self.tensors[out] = Tensor(out, tuple(int(d) for d in out_shape), "float32")
        op_name, k = base, 1
        while op_name in self._op_names:
            k += 1
            op_name = f"{base}_{k}"
        self._op_names.add(op_name)
        self.ops.append(Op(kind, tuple(inputs), (out,), attrs, name=op_name))
        return out

    def reshape(self, x: str, shape, base: str) -> str:
        shape = tuple(int(d) for d in shape)
        if int(np.prod(shape, dtype=np.int64)) != self.tensors[x].size:
            raise ModelFormatError(f"{base}: cannot reshape {self.shape(x)} to {shape}")
        return self.op("RESHAPE", [x], shape, ReshapeAttrs(shape), base)

    def graph(self, inputs: list[str], outputs: list[str], meta: dict) -> Graph:
        """The finished graph, without tensors no op reads or writes."""
        used = set(inputs) | set(outputs)
        for op in self.ops:
            used.update(n for n in op.inputs if n is not None)
            used.update(op.outputs)
        tensors = {n: t for n, t in self.tensors.items() if n in used}
        return Graph(tensors, tuple(self.ops), tuple(inputs), tuple(outputs), meta)


# --- activations -----------------------------------------------------------------------------

ACTIVATIONS = ("linear", "relu", "relu6", "sigmoid", "softmax", "hard_silu", "hard_swish",
               "hard_sigmoid", "leaky_relu", "tanh")


def activation_name(layer, fn) -> str:
    import keras
    name = getattr(fn, "__name__", None)
    try:
        builtin = name is not None and keras.activations.get(name) is fn
    except Exception:
        builtin = False
    if not builtin or name not in ACTIVATIONS:
        raise UnsupportedOperatorError(
            f"{where(layer)}: activation {name or fn!r} is not supported; supported activations: "
            f"{', '.join(ACTIVATIONS)}")
    return name


def identity_act(b: GraphBuilder, x: str, act: str, base: str) -> str:
    """A standalone fused-activation clamp (RELU, RELU6) on ``x``."""
    if len(b.shape(x)) == 4:
        return b.op("MAX_POOL_2D", [x], b.shape(x), Pool2DAttrs(activation=act), base)
    return b.op("MUL", [x, b.const(base + "_one", np.ones(1, np.float32))], b.shape(x),
                ElementwiseAttrs(act), base)


def affine(b, x, mul, add, base, act="NONE") -> str:
    """x * mul + add (constants broadcast on the last axis); either may be None."""
    shape = b.shape(x)
    if mul is not None:
        x = b.op("MUL", [x, b.const(base + "_mul", mul)], shape,
                 ElementwiseAttrs(act if add is None else "NONE"), base + ("_mul" if add is not None else ""))
    if add is not None:
        x = b.op("ADD", [x, b.const(base + "_add", add)], shape, ElementwiseAttrs(act), base)
    return x


def emit_activation(b: GraphBuilder, layer, x: str, name: str, base: str, slope: float = 0.2) -> str:
    shape = b.shape(x)
    f32 = np.float32
    if name == "linear":
        return x
    if name in ("relu", "relu6"):
        return identity_act(b, x, name.upper(), base)
    if name == "sigmoid":
        return b.op("LOGISTIC", [x], shape, NoAttrs(), base)
    if name == "softmax":
        return b.op("SOFTMAX", [x], shape, SoftmaxAttrs(1.0), base)
    if name == "tanh":
        return b.op("TANH", [x], shape, NoAttrs(), base)
    if name == "hard_sigmoid":  # relu6(x + 3) / 6
        return affine(b, affine(b, x, None, np.full(1, 3, f32), base + "_p3", "RELU6"),
                      np.full(1, 1 / 6, f32), None, base)
    if name in ("hard_silu", "hard_swish"):  # x * relu6(x + 3) / 6
        gate = affine(b, affine(b, x, None, np.full(1, 3, f32), base + "_p3", "RELU6"),
                      np.full(1, 1 / 6, f32), None, base + "_gate")
        return b.op("MUL", [x, gate], shape, ElementwiseAttrs(), base)
    if name == "leaky_relu":  # slope * x + (1 - slope) * relu(x)
        if not 0.0 <= slope < 1.0:
            raise UnsupportedOperatorError(f"{where(layer)}: leaky ReLU slope {slope} outside [0, 1)")
        pos = affine(b, x, np.full(1, 1 - slope, f32), None, base + "_pos", "RELU")
        neg = affine(b, x, np.full(1, slope, f32), None, base + "_neg")
        return b.op("ADD", [pos, neg], shape, ElementwiseAttrs(), base)
    raise UnsupportedOperatorError(f"{where(layer)}: activation {name!r} is not supported")


def with_activation(b, layer, kind, ins, shape, attrs_fn, base) -> str:
    """An op followed by the layer's own activation (RELU/RELU6 fused directly)."""
    act = activation_name(layer, getattr(layer, "activation", None)) if hasattr(layer, "activation") \
        else "linear"
    fused = act.upper() if act in ("relu", "relu6") else "NONE"
    y = b.op(kind, ins, shape, attrs_fn(fused), base if fused != "NONE" or act == "linear" else base + "_pre")
    if fused == "NONE" and act != "linear":
        y = emit_activation(b, layer, y, act, base)
    return y
