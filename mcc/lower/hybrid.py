"""Lowering of hybrid graphs (PTQ dynamic, ``mcc.passes.quantize_dynamic``): IR op -> the float
kernel parameter records of ``mcc.lower.params`` (``Hybrid*Params`` and ``Float*Params``).

Activations are float32. CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED carry int8 or int16
weights with per-channel float32 scales; the fused activation becomes a float clamp range
(+-FLT_MAX when there is none). CONCATENATION and RESHAPE are the same as for int8 graphs (a byte
copy and a view).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..errors import UnsupportedOperatorError
from ..ir import Graph, Op, Tensor
from . import params as P
from .lowering import _broadcast, _require, _spatial, _tensors

FLT_MAX = float(np.finfo(np.float32).max)
WEIGHT_DTYPES = {"int8": 8, "int16": 16}
CLAMPS = {"NONE": (-FLT_MAX, FLT_MAX), "RELU": (0.0, FLT_MAX), "RELU6": (0.0, 6.0),
          "RELU_N1_TO_1": (-1.0, 1.0)}


def float_range(activation: str) -> tuple[float, float]:
    """The float clamp range of a fused activation."""
    if activation not in CLAMPS:
        raise UnsupportedOperatorError(f"unknown fused activation {activation}")
    return CLAMPS[activation]


def _require_float(op: Op, *tensors: Tensor):
    for t in tensors:
        _require(t.dtype == "float32", op, f"tensor {t.name} is {t.dtype}; a hybrid graph has float32 activations")


def _weights(op: Op, x: Tensor, w: Tensor, b: Tensor | None, y: Tensor, channels: int):
    _require_float(op, x, y)
    _require(w.dtype in WEIGHT_DTYPES and w.quant is not None, op,
             f"weights {w.name} must be int8 or int16 with quantization parameters, got {w.dtype}")
    _require(all(z == 0 for z in w.quant.zero_point), op, "weights must be symmetric (zero point 0)")
    _require(b is None or b.dtype == "float32", op, "bias must be float32")
    scale = np.asarray(w.quant.scale, np.float32)
    if scale.size == 1:
        scale = np.repeat(scale, channels)
    _require(scale.size == channels, op, f"{scale.size} weight scales for {channels} channels")
    lo, hi = float_range(op.attrs.activation)
    return dict(weight_bits=WEIGHT_DTYPES[w.dtype], act_min=lo, act_max=hi, scale=scale)


def _conv(g: Graph, op: Op) -> P.HybridConvParams:
    (x, w, *rest), y = _tensors(g, op)
    _require(w.shape[3] == x.shape[3], op, "grouped convolution is not supported")
    return P.HybridConvParams(
        **_spatial(g, op, w.shape[1:3]), input_c=x.shape[3], filter_h=w.shape[1], filter_w=w.shape[2],
        output_c=w.shape[0], dilation_h=op.attrs.dilation[0], dilation_w=op.attrs.dilation[1],
        **_weights(op, x, w, rest[0] if rest else None, y, w.shape[0]))


def _depthwise(g: Graph, op: Op) -> P.HybridDepthwiseConvParams:
    (x, w, *rest), y = _tensors(g, op)
    dm = op.attrs.depth_multiplier
    _require(w.shape[3] == x.shape[3] * dm, op, "filter channels != input channels x depth multiplier")
    return P.HybridDepthwiseConvParams(
        **_spatial(g, op, w.shape[1:3]), input_c=x.shape[3], filter_h=w.shape[1], filter_w=w.shape[2],
        output_c=w.shape[3], depth_multiplier=dm, dilation_h=op.attrs.dilation[0],
        dilation_w=op.attrs.dilation[1], **_weights(op, x, w, rest[0] if rest else None, y, w.shape[3]))


def _fully_connected(g: Graph, op: Op) -> P.HybridFullyConnectedParams:
    (x, w, *rest), y = _tensors(g, op)
    output_size, accum_depth = w.shape[0], w.shape[-1]
    _require(x.size % accum_depth == 0, op, "input size is not a multiple of the weights' depth")
    return P.HybridFullyConnectedParams(batches=y.size // output_size, accum_depth=accum_depth,
                                        output_size=output_size,
                                        **_weights(op, x, w, rest[0] if rest else None, y, output_size))


def _pool(g: Graph, op: Op) -> P.FloatPoolParams:
    (x,), y = _tensors(g, op)
    _require_float(op, x, y)
    lo, hi = float_range(op.attrs.activation)
    return P.FloatPoolParams(**_spatial(g, op, op.attrs.filter), channels=x.shape[3],
                             filter_h=op.attrs.filter[0], filter_w=op.attrs.filter[1], act_min=lo, act_max=hi)


def _binary(g: Graph, op: Op) -> P.FloatBinaryParams:
    (a, b), y = _tensors(g, op)
    _require_float(op, a, b, y)
    lo, hi = float_range(op.attrs.activation)
    return P.FloatBinaryParams(shape=_broadcast(op, a, b, y), act_min=lo, act_max=hi)


def _softmax(g: Graph, op: Op) -> P.FloatSoftmaxParams:
    (x,), y = _tensors(g, op)
    _require_float(op, x, y)
    return P.FloatSoftmaxParams(rows=x.size // x.shape[-1], row_size=x.shape[-1],
                                beta=float(np.float32(op.attrs.beta)))


def _logistic(g: Graph, op: Op) -> P.FloatLogisticParams:
    (x,), y = _tensors(g, op)
    _require_float(op, x, y)
    return P.FloatLogisticParams(size=x.size)


def _mean(g: Graph, op: Op) -> P.FloatMeanParams:
    (x, *_), y = _tensors(g, op)
    _require_float(op, x, y)
    rank = len(x.shape)
    axes = sorted({a % rank for a in op.attrs.axes})
    _require(bool(axes) and axes == list(range(axes[0], axes[-1] + 1)), op,
             f"axes {op.attrs.axes} are not one contiguous block")
    return P.FloatMeanParams(outer=int(np.prod(x.shape[:axes[0]], dtype=np.int64)),
                             reduce=int(np.prod(x.shape[axes[0]:axes[-1] + 1], dtype=np.int64)),
                             inner=int(np.prod(x.shape[axes[-1] + 1:], dtype=np.int64)))


def _pad(g: Graph, op: Op) -> P.FloatPadParams:
    (x, *_), y = _tensors(g, op)
    _require_float(op, x, y)
    _require(len(x.shape) <= 4, op, "more than 4 dimensions")
    lead = 4 - len(x.shape)
    pads = ((0, 0),) * lead + tuple(tuple(p) for p in op.attrs.paddings)
    return P.FloatPadParams(input_dims=(1,) * lead + tuple(x.shape), before=tuple(p[0] for p in pads),
                            after=tuple(p[1] for p in pads), pad_value=0.0)


def _concat(g: Graph, op: Op) -> P.ConcatParams:
    xs, y = _tensors(g, op)
    _require_float(op, y, *xs)
    _require(op.attrs.activation == "NONE", op, "fused activation is not supported")
    axis = op.attrs.axis % len(y.shape)
    return P.ConcatParams(outer=int(np.prod(y.shape[:axis], dtype=np.int64)),
                          copy_sizes=tuple(int(np.prod(x.shape[axis:], dtype=np.int64)) for x in xs),
                          element_size=y.itemsize)


HYBRID_LOWERINGS: dict[str, Callable[[Graph, Op], object]] = {
    "CONV_2D": _conv,
    "DEPTHWISE_CONV_2D": _depthwise,
    "FULLY_CONNECTED": _fully_connected,
    "AVERAGE_POOL_2D": _pool,
    "MAX_POOL_2D": _pool,
    "ADD": _binary,
    "MUL": _binary,
    "SOFTMAX": _softmax,
    "LOGISTIC": _logistic,
    "MEAN": _mean,
    "PAD": _pad,
    "CONCATENATION": _concat,
}


def is_hybrid(graph: Graph) -> bool:
    return graph.meta.get("quantized") == "dynamic"


def lower_hybrid_op(graph: Graph, op: Op):
    """The float kernel parameter record of ``op`` in a hybrid graph (RESHAPE has none)."""
    if op.kind not in HYBRID_LOWERINGS:
        raise UnsupportedOperatorError(f"no float (PTQ dynamic) kernel for operator {op.kind}")
    return HYBRID_LOWERINGS[op.kind](graph, op)
