"""Accuracy of a float or quantized graph on labelled data, with mcc's reference interpreters."""

from __future__ import annotations

import numpy as np

from .ir import Graph
from .passes.rebatch import rebatch
from .reference import float_interp, interp


def predict_int8(g: Graph, x: np.ndarray, chunk: int = 500) -> np.ndarray:
    """Float outputs (N, classes) of an int8 graph on float inputs ``x``: quantized at the input and
    dequantized at the output when the graph has int8 I/O. Runs the TFLM-exact numpy interpreter."""
    out = []
    for i in range(0, len(x), chunk):
        xb = x[i:i + chunk]
        if g.tensors[g.inputs[0]].dtype in ("int8", "int16"):  # int16: 16x8 graphs
            t_in = g.tensors[g.inputs[0]]
            info = np.iinfo(t_in.dtype)
            xb = np.clip(np.round(xb / t_in.quant.s) + t_in.quant.zp, info.min, info.max).astype(t_in.dtype)
        out.append(interp.run(rebatch(g, len(xb)), [xb])[0])
    y = np.concatenate(out).reshape(len(x), -1)
    t = g.tensors[g.outputs[0]]
    if t.dtype in ("int8", "int16"):
        y = t.quant.s * (y.astype(np.float32) - t.quant.zp)
    return y


def predict_float(g: Graph, x: np.ndarray, chunk: int = 500) -> np.ndarray:
    return np.concatenate([float_interp.run(g, [x[i:i + chunk]])[0].reshape(len(x[i:i + chunk]), -1)
                           for i in range(0, len(x), chunk)])


def top1(probs: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(probs.argmax(1) == np.asarray(labels).reshape(-1)))
