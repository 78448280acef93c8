"""Numpy reference of hybrid graphs (PTQ dynamic) and the error bound the C kernels must meet.

``run_op`` evaluates one op of a hybrid graph in float64 from float32 inputs -- the real-valued
meaning of what the C kernel computes (``y = scale[c] * sum(x * q) + bias[c]`` for the weighted
ops, int weights used as exact integers) -- and returns ``(y, bound)``: an elementwise bound on
``|C - y|`` for a C kernel given the same float32 inputs. The bounds are the standard forward
error bounds of IEEE single precision (unit roundoff u = 2^-24, gamma_n = n u / (1 - n u)):

- weighted ops: the C accumulates the K = filter_h * filter_w * input_c (depthwise: filter_h *
  filter_w; dense: accum_depth) products x * q in float32 (each product and each sum rounded
  once: gamma_K), then multiplies by the scale and adds the bias (two more roundings), so
  ``|C - y| <= gamma_{K+2} * (scale * sum |x| |q| + |bias|)``, whatever the summation order;
  the fused activation clamp is 1-Lipschitz and does not increase it;
- ADD / MUL: one rounding, ``u |y|``;
- AVERAGE_POOL_2D / MEAN over n values: n - 1 sums and one division, ``gamma_{n+1} sum|x| / n``;
- SOFTMAX: z = beta (x - max) is rounded twice (gamma_2 |z| absolute, hence relative error
  gamma_2 |z| in exp(z)); expf is taken to be within 1 ulp (<= 2u relative; glibc's and newlib's
  expf are both below 1 ulp); the row sum of n terms (gamma_n) and the division (u):
  ``|C - y| <= y (2 (gamma_2 max|z| + 2u) + gamma_{n+1})``;
- LOGISTIC: exp(-x) within 1 ulp, 1 + e and the division: ``gamma_4 y``;
- MAX_POOL_2D, PAD, CONCATENATION, RESHAPE: exact (bound 0).

Every bound gets an absolute floor of 4 x the smallest normal float32 (underflow to denormals or
zero). ``run`` chains the ops in float64 from the input (the exact model of the hybrid graph).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UnsupportedOperatorError
from ..ir import Graph, Op
from .float_interp import _taps, _window, apply_activation, check_batch

U = 2.0 ** -24
FLOOR = 4 * float(np.finfo(np.float32).tiny)


def gamma(n) -> np.ndarray:
    n = np.asarray(n, np.float64)
    return n * U / (1 - n * U)


def _act(op: Op, y: np.ndarray) -> np.ndarray:
    return apply_activation(y, getattr(op.attrs, "activation", "NONE"))


def _int_weights(g: Graph, op: Op):
    w = g.tensors[op.inputs[1]]
    q = np.asarray(w.data, np.float64)
    s = np.asarray(w.quant.scale, np.float32).astype(np.float64)
    b = None
    if len(op.inputs) > 2 and op.inputs[2] is not None:
        b = np.asarray(g.tensors[op.inputs[2]].data, np.float32).astype(np.float64)
    return q, s, b


def _affine(acc, mag, s, b, k):
    y = acc * s + (0.0 if b is None else b)
    bound = gamma(k + 2) * (mag * s + (0.0 if b is None else np.abs(b)))
    return y, bound


def _conv(g, op, x):
    q, s, b = _int_weights(g, op)
    xp, oh, ow = _window(x, op.attrs, q.shape[1:3], 0.0)
    cols = np.stack([v for _, _, v in _taps(xp, op.attrs, q.shape[1:3], oh, ow)], axis=3)
    cols = cols.reshape(x.shape[0] * oh * ow, -1)
    wm = q.reshape(q.shape[0], -1).T
    y, bound = _affine(cols @ wm, np.abs(cols) @ np.abs(wm), s, b, wm.shape[0])
    shape = (x.shape[0], oh, ow, q.shape[0])
    return y.reshape(shape), bound.reshape(shape)


def _depthwise(g, op, x):
    q, s, b = _int_weights(g, op)
    dm = op.attrs.depth_multiplier
    if dm > 1:
        x = np.repeat(x, dm, axis=3)
    xp, oh, ow = _window(x, op.attrs, q.shape[1:3], 0.0)
    acc = np.zeros((x.shape[0], oh, ow, q.shape[3]))
    mag = np.zeros_like(acc)
    for fy, fx, view in _taps(xp, op.attrs, q.shape[1:3], oh, ow):
        acc += view * q[0, fy, fx]
        mag += np.abs(view) * np.abs(q[0, fy, fx])
    return _affine(acc, mag, s, b, q.shape[1] * q.shape[2])


def _fully_connected(g, op, x):
    q, s, b = _int_weights(g, op)
    xm = x.reshape(-1, q.shape[1])
    return _affine(xm @ q.T, np.abs(xm) @ np.abs(q).T, s, b, q.shape[1])


def _pool(g, op, x):
    fill = -np.inf if op.kind == "MAX_POOL_2D" else 0.0
    xp, oh, ow = _window(x, op.attrs, op.attrs.filter, fill)
    views = [v for _, _, v in _taps(xp, op.attrs, op.attrs.filter, oh, ow)]
    if op.kind == "MAX_POOL_2D":
        y = np.max(np.stack(views), axis=0)
        return y, np.zeros_like(y)
    ones, _, _ = _window(np.ones((1,) + x.shape[1:3] + (1,)), op.attrs, op.attrs.filter, 0.0)
    count = sum(c for _, _, c in _taps(ones, op.attrs, op.attrs.filter, oh, ow))
    total, mag = sum(views), sum(np.abs(v) for v in views)
    return total / count, gamma(count + 1) * mag / count


def _mean(g, op, x):
    axes = tuple(a % x.ndim for a in op.attrs.axes)
    n = int(np.prod([x.shape[a] for a in axes]))
    y = x.mean(axis=axes, keepdims=op.attrs.keep_dims)
    return y, gamma(n + 1) * np.abs(x).mean(axis=axes, keepdims=op.attrs.keep_dims)


def _softmax(g, op, x):
    z = (x - x.max(axis=-1, keepdims=True)) * float(np.float32(op.attrs.beta))
    e = np.exp(z)
    y = e / e.sum(axis=-1, keepdims=True)
    zmax = np.abs(z).max(axis=-1, keepdims=True)
    return y, y * (2 * (gamma(2) * zmax + 2 * U) + gamma(x.shape[-1] + 1))


def _logistic(g, op, x):
    with np.errstate(over="ignore"):
        y = 1.0 / (1.0 + np.exp(-x))
    return y, gamma(4) * y


def _elementwise(g, op, a, b):
    y = a + b if op.kind == "ADD" else a * b
    return y, U * np.abs(y)


def _exact(fn):
    def run(g, op, *a):
        y = fn(op, *a)
        return y, np.zeros_like(y)
    return run


_RUNNERS = {
    "CONV_2D": _conv,
    "DEPTHWISE_CONV_2D": _depthwise,
    "FULLY_CONNECTED": _fully_connected,
    "MAX_POOL_2D": _pool,
    "AVERAGE_POOL_2D": _pool,
    "MEAN": _mean,
    "SOFTMAX": _softmax,
    "LOGISTIC": _logistic,
    "ADD": _elementwise,
    "MUL": _elementwise,
    "PAD": _exact(lambda op, x: np.pad(x, op.attrs.paddings)),
    "CONCATENATION": _exact(lambda op, *xs: np.concatenate(xs, axis=op.attrs.axis)),
    "RESHAPE": _exact(lambda op, x, *_: x),
}


def _arg(g: Graph, env: dict, name: str) -> np.ndarray:
    if name in env:
        return env[name]
    t = g.tensors[name]
    if t.dtype != "float32":
        raise UnsupportedOperatorError(f"constant {name} ({t.dtype}) is not an input of a weighted op")
    return np.asarray(t.data, np.float32).astype(np.float64)[None]


def run_op(g: Graph, op: Op, env: dict) -> tuple[np.ndarray, np.ndarray]:
    """(float64 output, elementwise bound on |C - output|) of ``op`` given the float arrays of its
    activation inputs in ``env`` (leading axis the batch)."""
    if op.kind not in _RUNNERS:
        raise UnsupportedOperatorError(f"the hybrid reference has no kernel for {op.kind}")
    if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
        args = [env[op.inputs[0]].astype(np.float64)]
    elif op.kind == "RESHAPE":
        args = [env[op.inputs[0]]]
    else:
        args = [_arg(g, env, n).astype(np.float64) for n in op.inputs if n is not None]
    y, bound = _RUNNERS[op.kind](g, op, *args)
    y = _act(op, y)
    batch = args[0].shape[0]
    shape = (batch,) + tuple(g.tensors[op.outputs[0]].shape[1:])
    bound = np.broadcast_to(bound, np.shape(y)) + FLOOR
    return np.reshape(y, shape), np.reshape(bound, shape)


def run(g: Graph, x: np.ndarray) -> np.ndarray:
    """The hybrid graph evaluated in float64 on a batch ``x`` (N, *input_shape[1:])."""
    shape = tuple(g.tensors[g.inputs[0]].shape[1:])
    x = np.asarray(x)
    if x.ndim == len(shape) + 2 and x.shape[1] == 1:  # (N, 1, ...) as from random_inputs
        x = x.reshape((x.shape[0],) + shape)
    (x,), _ = check_batch(g, [x])
    env = {g.inputs[0]: x.astype(np.float64)}
    for op in g.ops:
        env[op.outputs[0]] = run_op(g, op, env)[0]
    return env[g.outputs[0]]


@dataclass(frozen=True)
class OpCheck:
    index: int            # op index
    kind: str
    max_abs_diff: float   # max |C - reference| over the batch
    max_ratio: float      # max |C - reference| / bound (<= 1: within the bound)
    failing: tuple[int, ...]  # the items exceeding the bound (empty: all within)


def check_traces(g: Graph, x: np.ndarray, traces: list[dict[int, bytes]]) -> list[OpCheck]:
    """Per-op check of C runs: every op recomputed from the C's own float32 inputs (the traces of
    every op output, ``mcc.sim.host.run(trace=True)``, one dict per item of ``x``) and compared
    with its bound. Returns one ``OpCheck`` per traced op, in op order."""
    n = len(traces)
    env = {g.inputs[0]: np.asarray(x, np.float32).reshape((n,) + g.tensors[g.inputs[0]].shape[1:])}
    checks = []
    for i, op in enumerate(g.ops):
        shape = (n,) + g.tensors[op.outputs[0]].shape[1:]
        if op.kind == "RESHAPE":
            env[op.outputs[0]] = env[op.inputs[0]].reshape(shape)
            continue
        y, bound = run_op(g, op, env)
        c = np.stack([np.frombuffer(t[i], np.float32) for t in traces]).reshape(shape)
        d = np.abs(c.astype(np.float64) - y)
        ratio = (d / bound).reshape(n, -1).max(axis=1)
        bad = np.flatnonzero(~(ratio <= 1.0))
        checks.append(OpCheck(i, op.kind, float(d.max()), float(ratio.max()), tuple(int(k) for k in bad)))
        env[op.outputs[0]] = c
    return checks
