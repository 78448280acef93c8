"""Float numpy interpreter of the IR: the real-valued meaning of every operator kind.

It runs float32 graphs (the Keras frontend's output and every float pass after it) on a batch:
each graph input takes an array of shape (N, *shape[1:]) and every tensor's leading axis is the
batch (the IR's shapes have batch 1). Arithmetic is float32, as in Keras on CPU; windows follow
TFLite's padding rule (SAME puts the odd pixel after), average pooling counts only in-image
taps. Calibration runs this interpreter over the representative set and records every tensor.

QUANTIZE and DEQUANTIZE are the identity here (a float graph has none; a quantized graph is run
by ``mcc.reference.interp``).
"""

from __future__ import annotations

from typing import Callable, Iterator

import numpy as np

from ..errors import InputDataError, UnsupportedOperatorError
from ..ir import Graph, Op
from ..lower.lowering import conv_padding

_F32 = np.float32


def apply_activation(x: np.ndarray, activation: str) -> np.ndarray:
    if activation == "NONE":
        return x
    if activation == "RELU":
        return np.maximum(x, _F32(0))
    if activation == "RELU6":
        return np.clip(x, _F32(0), _F32(6))
    if activation == "RELU_N1_TO_1":
        return np.clip(x, _F32(-1), _F32(1))
    raise UnsupportedOperatorError(f"unknown fused activation {activation}")


def _window(x: np.ndarray, attrs, filter_hw: tuple[int, int], fill: float):
    """Pad ``x`` (N,H,W,C) for a window op; return (padded, out_h, out_w)."""
    dilation = getattr(attrs, "dilation", (1, 1))
    _, h, w, _ = x.shape
    out_h, pad_h = conv_padding(attrs.padding, h, filter_hw[0], attrs.stride[0], dilation[0])
    out_w, pad_w = conv_padding(attrs.padding, w, filter_hw[1], attrs.stride[1], dilation[1])
    need_h = (out_h - 1) * attrs.stride[0] + (filter_hw[0] - 1) * dilation[0] + 1
    need_w = (out_w - 1) * attrs.stride[1] + (filter_hw[1] - 1) * dilation[1] + 1
    bottom, right = max(need_h - h - pad_h, 0), max(need_w - w - pad_w, 0)
    xp = np.pad(x, ((0, 0), (pad_h, bottom), (pad_w, right), (0, 0)), constant_values=fill)
    return xp, out_h, out_w


def _taps(xp: np.ndarray, attrs, filter_hw, out_h, out_w) -> Iterator[tuple[int, int, np.ndarray]]:
    dilation = getattr(attrs, "dilation", (1, 1))
    sh, sw = attrs.stride
    for fy in range(filter_hw[0]):
        y0 = fy * dilation[0]
        for fx in range(filter_hw[1]):
            x0 = fx * dilation[1]
            yield fy, fx, xp[:, y0:y0 + (out_h - 1) * sh + 1:sh, x0:x0 + (out_w - 1) * sw + 1:sw, :]


def _conv(op: Op, a: list) -> np.ndarray:
    x, w, b = a[0], a[1], a[2] if len(a) > 2 else None
    xp, oh, ow = _window(x, op.attrs, w.shape[1:3], 0.0)
    cols = np.stack([v for _, _, v in _taps(xp, op.attrs, w.shape[1:3], oh, ow)], axis=3)
    cols = cols.reshape(x.shape[0] * oh * ow, -1)
    y = cols @ w.reshape(w.shape[0], -1).T.astype(_F32)
    if b is not None:
        y = y + b
    return y.reshape(x.shape[0], oh, ow, w.shape[0])


def _depthwise(op: Op, a: list) -> np.ndarray:
    x, w, b = a[0], a[1], a[2] if len(a) > 2 else None
    dm = op.attrs.depth_multiplier
    if dm > 1:
        x = np.repeat(x, dm, axis=3)
    xp, oh, ow = _window(x, op.attrs, w.shape[1:3], 0.0)
    y = np.zeros((x.shape[0], oh, ow, w.shape[3]), _F32)
    for fy, fx, view in _taps(xp, op.attrs, w.shape[1:3], oh, ow):
        y += view * w[0, fy, fx]
    return y if b is None else y + b


def _fully_connected(op: Op, a: list) -> np.ndarray:
    x, w, b = a[0], a[1], a[2] if len(a) > 2 else None
    y = x.reshape(-1, w.shape[1]) @ w.T.astype(_F32)
    return y if b is None else y + b


def _max_pool(op: Op, a: list) -> np.ndarray:
    xp, oh, ow = _window(a[0], op.attrs, op.attrs.filter, -np.inf)
    best = None
    for _, _, v in _taps(xp, op.attrs, op.attrs.filter, oh, ow):
        best = v if best is None else np.maximum(best, v)
    return best


def _avg_pool(op: Op, a: list) -> np.ndarray:
    x = a[0]
    xp, oh, ow = _window(x, op.attrs, op.attrs.filter, 0.0)
    ones, _, _ = _window(np.ones((1,) + x.shape[1:3] + (1,), _F32), op.attrs, op.attrs.filter, 0.0)
    total = np.zeros((x.shape[0], oh, ow, x.shape[3]), _F32)
    count = np.zeros((1, oh, ow, 1), _F32)
    for (_, _, v), (_, _, c) in zip(_taps(xp, op.attrs, op.attrs.filter, oh, ow),
                                    _taps(ones, op.attrs, op.attrs.filter, oh, ow)):
        total += v
        count += c
    return total / count


def _softmax(op: Op, a: list) -> np.ndarray:
    z = a[0] * _F32(op.attrs.beta)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _mean(op: Op, a: list) -> np.ndarray:
    return a[0].mean(axis=tuple(op.attrs.axes), keepdims=op.attrs.keep_dims, dtype=_F32)


_RUNNERS: dict[str, Callable[[Op, list], np.ndarray]] = {
    "CONV_2D": _conv,
    "DEPTHWISE_CONV_2D": _depthwise,
    "FULLY_CONNECTED": _fully_connected,
    "MAX_POOL_2D": _max_pool,
    "AVERAGE_POOL_2D": _avg_pool,
    "ADD": lambda op, a: a[0] + a[1],
    "MUL": lambda op, a: a[0] * a[1],
    "SOFTMAX": _softmax,
    "LOGISTIC": lambda op, a: _F32(1) / (_F32(1) + np.exp(-a[0])),
    "TANH": lambda op, a: np.tanh(a[0]),
    "MEAN": _mean,
    "PAD": lambda op, a: np.pad(a[0], op.attrs.paddings),
    "CONCATENATION": lambda op, a: np.concatenate(a, axis=op.attrs.axis),
    "RESHAPE": lambda op, a: a[0],
    "QUANTIZE": lambda op, a: a[0],
    "DEQUANTIZE": lambda op, a: a[0],
}

SUPPORTED_KINDS = tuple(sorted(_RUNNERS))


def run_op(graph: Graph, op: Op, args: list, batch: int) -> np.ndarray:
    """Run one op on float arrays whose leading axis is the batch; returns the output array."""
    if op.kind not in _RUNNERS:
        raise UnsupportedOperatorError(f"the float interpreter has no kernel for {op.kind}")
    y = _RUNNERS[op.kind](op, args)
    y = apply_activation(np.asarray(y, dtype=_F32), getattr(op.attrs, "activation", "NONE"))
    out = graph.tensors[op.outputs[0]]
    return y.reshape((batch,) + tuple(out.shape[1:]))


def _constant(graph: Graph, name: str) -> np.ndarray:
    data = graph.tensors[name].data
    if data.dtype != _F32:
        raise UnsupportedOperatorError(
            f"the float interpreter runs float graphs; constant {name} is {data.dtype}")
    return data


def check_batch(graph: Graph, inputs: list[np.ndarray]) -> tuple[list[np.ndarray], int]:
    """Arrays (N, *input_shape[1:]) -> float32 arrays, and N."""
    if len(inputs) != len(graph.inputs):
        raise InputDataError(f"the model has {len(graph.inputs)} inputs, got {len(inputs)}")
    out, batch = [], None
    for name, x in zip(graph.inputs, inputs):
        t = graph.tensors[name]
        x = np.asarray(x)
        if x.ndim != len(t.shape) or tuple(x.shape[1:]) != tuple(t.shape[1:]):
            raise InputDataError(f"input {name} must have shape (N, {', '.join(map(str, t.shape[1:]))}), "
                                 f"got {x.shape}")
        if batch is not None and x.shape[0] != batch:
            raise InputDataError("all inputs must have the same batch size")
        batch = x.shape[0]
        out.append(x.astype(_F32, copy=False))
    return out, int(batch or 1)


def iter_run(graph: Graph, inputs: list[np.ndarray]) -> Iterator[tuple[str, np.ndarray]]:
    """Yield (tensor name, value) for every graph input and op output, in op order.

    Values no longer needed are dropped as the run proceeds, so memory stays bounded.
    """
    arrays, batch = check_batch(graph, inputs)
    env: dict[str, np.ndarray] = dict(zip(graph.inputs, arrays))
    yield from env.items()
    last_use: dict[str, int] = {}
    for i, op in enumerate(graph.ops):
        for n in op.inputs:
            if n is not None:
                last_use[n] = i
    keep = set(graph.outputs)
    for i, op in enumerate(graph.ops):
        args = [None if n is None else env[n] if n in env else _constant(graph, n) for n in op.inputs]
        if args and args[-1] is None:
            args = args[:-1]
        y = run_op(graph, op, args, batch)
        env[op.outputs[0]] = y
        yield op.outputs[0], y
        for n in op.inputs:
            if n is not None and last_use.get(n) == i and n not in keep:
                env.pop(n, None)


def run(graph: Graph, inputs: list[np.ndarray], keep_all: bool = False):
    """Run ``graph`` on ``inputs`` (one (N, ...) array per graph input).

    Returns the list of float32 outputs, or with ``keep_all`` a dict of every activation tensor.
    """
    if keep_all:
        return dict(iter_run(graph, inputs))
    outs = {}
    for name, value in iter_run(graph, inputs):
        if name in graph.outputs:
            outs[name] = value
    return [outs[n] for n in graph.outputs]
