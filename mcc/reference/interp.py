"""Numpy integer interpreter of the IR: lowers each op to its kernel parameter record and runs
the reference kernel on it. It is the Python golden model the generated C is compared with.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..errors import InputDataError, UnsupportedOperatorError
from ..ir import Graph, Op
from ..lower.lowering import lower_op
from . import kernels as K
from .kernels16 import RUNNERS16


def _optional(args: list, i: int):
    return args[i] if len(args) > i else None


def _quantize(p, args):
    return (K.quantize_f32 if args[0].dtype == np.float32 else K.requantize_s8)(p, args[0])


# kind -> f(params, input arrays) -> output array (reshaped to the output tensor's shape later)
_RUNNERS: dict[str, Callable[[object, list], np.ndarray]] = {
    "CONV_2D": lambda p, a: K.conv_s8(p, a[0], a[1], _optional(a, 2)),
    "DEPTHWISE_CONV_2D": lambda p, a: K.depthwise_conv_s8(p, a[0], a[1], _optional(a, 2)),
    "FULLY_CONNECTED": lambda p, a: K.fully_connected_s8(p, a[0], a[1], _optional(a, 2)),
    "AVERAGE_POOL_2D": lambda p, a: K.avg_pool_s8(p, a[0]),
    "MAX_POOL_2D": lambda p, a: K.max_pool_s8(p, a[0]),
    "ADD": lambda p, a: K.add_s8(p, a[0], a[1]),
    "MUL": lambda p, a: K.mul_s8(p, a[0], a[1]),
    "SOFTMAX": lambda p, a: K.softmax_s8(p, a[0]),
    "LOGISTIC": lambda p, a: K.logistic_s8(p, a[0]),
    "MEAN": lambda p, a: K.mean_s8(p, a[0]),
    "PAD": lambda p, a: K.pad_s8(p, a[0]),
    "CONCATENATION": lambda p, a: K.concat(p, a),
    "QUANTIZE": _quantize,
    "DEQUANTIZE": lambda p, a: K.dequantize_f32(p, a[0]),
    "TANH": lambda p, a: K.tanh_s8(p, a[0]),
}


def run_op(graph: Graph, op: Op, args: list[np.ndarray | None]) -> np.ndarray:
    """Run one op on its input arrays (None for an absent optional input)."""
    out = graph.tensors[op.outputs[0]]
    if op.kind == "RESHAPE":
        return args[0].reshape(out.shape)
    if op.kind not in _RUNNERS:
        raise UnsupportedOperatorError(f"the reference interpreter has no kernel for {op.kind}")
    record = lower_op(graph, op)
    if type(record) in RUNNERS16:  # 16x8 (int16 activations): the records of lowering16
        result = RUNNERS16[type(record)](op.kind, record, args)
    else:
        result = _RUNNERS[op.kind](record, args)
    return result.reshape(out.shape).astype(out.dtype, copy=False)


def _check_inputs(graph: Graph, inputs: list[np.ndarray]) -> list[np.ndarray]:
    if len(inputs) != len(graph.inputs):
        raise InputDataError(f"the model has {len(graph.inputs)} inputs, got {len(inputs)}")
    checked = []
    for name, arr in zip(graph.inputs, inputs):
        t = graph.tensors[name]
        arr = np.asarray(arr)
        if arr.dtype != np.dtype(t.dtype) or arr.size != t.size:
            raise InputDataError(f"input {name} must be {t.dtype}{list(t.shape)}, "
                                 f"got {arr.dtype}{list(arr.shape)}")
        checked.append(arr.reshape(t.shape))
    return checked


def run(graph: Graph, inputs: list[np.ndarray], keep_all: bool = False):
    """Run ``graph`` on ``inputs`` (one array per graph input, in order).

    Returns the list of output arrays, or with ``keep_all`` a dict of every activation tensor
    (graph inputs and op outputs) by name.
    """
    env: dict[str, np.ndarray] = dict(zip(graph.inputs, _check_inputs(graph, inputs)))
    for op in graph.ops:
        args = [None if n is None else env[n] if n in env else graph.tensors[n].data
                for n in op.inputs]
        env[op.outputs[0]] = run_op(graph, op, args)
    if keep_all:
        return env
    return [env[n] for n in graph.outputs]
