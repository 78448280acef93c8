"""BatchNorm folding for QAT with a freeze epoch (Jacob et al. 2018; TF's folded-BN scheme).

``find_bn_folds`` finds, in the user's Keras model, every CONV_2D / DEPTHWISE_CONV_2D /
FULLY_CONNECTED that the ``fold_bn`` pass folded a BatchNormalization into, and returns its raw
(unfolded) weight and bias in IR layout with the BN's gamma, beta, moving statistics, epsilon and
momentum. ``QATModel`` then trains these layers as

    before the freeze epoch:  w_f = w * gamma / sqrt(var_B + eps)      (batch statistics of W x)
                              b_f = beta - mean_B * gamma / sqrt(var_B + eps)
                              y   = conv(x, fake_quant(w_f)) + b_f
                              (= BN(conv(x, w) + b) with the batch statistics when not quantized;
                              the moving mean / variance follow the batch statistics with the BN's
                              momentum)
    from the freeze epoch on: w_f = w * gamma / sqrt(var_M + eps),
                              b_f = beta + (b - mean_M) * gamma / sqrt(var_M + eps)
                              (the moving statistics frozen, as ``fold_bn`` folds them)

``fold_moving_np`` folds with the moving statistics in numpy exactly as the Keras frontend and
``fold_bn`` do (float64, the BN constants rounded to float32 first), so that the export of a
frozen model is the same IR as folding before QAT.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import MccError
from ..ir import Graph

WEIGHT_AXIS = {"CONV_2D": 0, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 0}


@dataclass(frozen=True)
class BNFold:
    """One linear op with a BatchNormalization folded into it (arrays in IR layout, float32)."""
    kind: str
    w: np.ndarray
    b: np.ndarray
    gamma: np.ndarray
    beta: np.ndarray
    mean: np.ndarray
    var: np.ndarray
    epsilon: float
    momentum: float
    scale: bool       # gamma is trainable (BatchNormalization(scale=True))
    center: bool      # beta is trainable


def check_freeze_bn_epoch(freeze_bn_epoch) -> int:
    """The freeze epoch as an int >= 0 (0: BN folded with the moving statistics from the start)."""
    if isinstance(freeze_bn_epoch, bool) or not isinstance(freeze_bn_epoch, (int, np.integer)) \
            or freeze_bn_epoch < 0:
        raise MccError(f"freeze_bn_epoch must be an integer >= 0, got {freeze_bn_epoch!r}")
    return int(freeze_bn_epoch)


def _arr(layer, attr: str) -> np.ndarray:
    from ..frontend.keras_layers import weight
    return weight(layer, attr)


def find_bn_folds(model, g: Graph) -> dict[str, BNFold]:
    """BN folds of the optimized float IR ``g`` of the Keras ``model``, keyed by the linear op's
    output tensor name in ``g``."""
    from ..frontend.keras import keras_to_ir, read_model
    import keras

    if not isinstance(model, keras.Model):
        model = read_model(model)
    raw = keras_to_ir(model, "raw")
    by_name = {op.name: op for op in raw.ops}
    consumers: dict[str, list] = {}
    for op in raw.ops:
        for n in op.inputs:
            if n is not None:
                consumers.setdefault(n, []).append(op)
    layers = {layer.name: layer for layer in model._flatten_layers(include_self=False)}
    folds: dict[str, BNFold] = {}
    for op in g.ops:
        if op.kind not in WEIGHT_AXIS or op.name not in by_name:
            continue
        r = by_name[op.name]
        if r.kind != op.kind or op.inputs[1] != f"{r.inputs[1]}_folded":
            continue
        cons = consumers.get(r.outputs[0], [])
        if len(cons) != 1 or cons[0].kind != "MUL" or not cons[0].name.endswith("_mul"):
            continue
        layer = layers.get(cons[0].name[:-len("_mul")])
        if layer is None or type(layer).__name__ != "BatchNormalization":
            continue
        w = raw.tensors[r.inputs[1]].data.astype(np.float32)
        n_out = w.shape[WEIGHT_AXIS[op.kind]]
        b = raw.tensors[r.inputs[2]].data.astype(np.float32) if len(r.inputs) > 2 and r.inputs[2] is not None \
            else np.zeros(n_out, np.float32)
        ones = np.ones(n_out, np.float32)
        folds[op.outputs[0]] = BNFold(
            op.kind, w, b,
            _arr(layer, "gamma") if layer.scale else ones,
            _arr(layer, "beta") if layer.center else 0 * ones,
            _arr(layer, "moving_mean"), _arr(layer, "moving_variance"),
            float(layer.epsilon), float(layer.momentum), bool(layer.scale), bool(layer.center))
    return folds


def fold_moving_np(kind: str, w, b, gamma, beta, mean, var, epsilon: float) -> tuple[np.ndarray, np.ndarray]:
    """(w', b') folded with the moving statistics, computed as the Keras frontend + ``fold_bn`` do."""
    var64, mean64 = np.asarray(var, np.float64), np.asarray(mean, np.float64)
    g64 = np.asarray(gamma, np.float64) / np.sqrt(var64 + epsilon)
    m = g64.astype(np.float32).astype(np.float64)
    a = (np.asarray(beta, np.float64) - mean64 * g64).astype(np.float32).astype(np.float64)
    w = np.asarray(w, np.float64)
    shape = [1] * w.ndim
    shape[WEIGHT_AXIS[kind]] = m.size
    return (w * m.reshape(shape)).astype(np.float32), (np.asarray(b, np.float64) * m + a).astype(np.float32)
