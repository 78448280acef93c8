"""Small Keras models whose fully connected and 1x1 conv weights are pruned (unstructured) to a
given fraction of zeros, quantized by mcc's PTQ: the inputs of tests/test_sparse_codegen.py."""

from __future__ import annotations

import numpy as np


def pruned_keras(sparsity: float, seed: int = 0, bias: bool = True):
    """Conv 3x3 stem -> 1x1 conv -> flatten -> dense -> dense; the 1x1 and dense kernels get
    ``sparsity`` of their weights zeroed at random (the stem stays dense)."""
    import keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input((6, 6, 3))
    h = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="stem")(inp)
    h = keras.layers.Conv2D(48, 1, activation="relu", name="pw", use_bias=bias)(h)
    h = keras.layers.Flatten()(h)
    h = keras.layers.Dense(64, activation="relu", name="fc1", use_bias=bias)(h)
    out = keras.layers.Dense(10, name="fc2")(h)
    model = keras.Model(inp, out)
    rng = np.random.default_rng(seed)
    for name in ("pw", "fc1", "fc2"):
        layer = model.get_layer(name)
        ws = layer.get_weights()
        k = ws[0]
        mask = rng.random(k.shape) >= sparsity
        ws[0] = (k * mask).astype(k.dtype)
        if bias:
            ws[1] = rng.normal(0, 0.05, ws[1].shape).astype(ws[1].dtype)
        layer.set_weights(ws)
    return model


def calibration(n: int = 32, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 1, (n, 6, 6, 3)).astype(np.float32)


def pruned_graph(sparsity: float, seed: int = 0, bias: bool = True):
    """The int8 IR graph (float in/out) of ``pruned_keras``."""
    from mcc.frontend.keras import load_keras
    from mcc.quantize_api import quantize_model

    g = load_keras(pruned_keras(sparsity, seed, bias))
    return quantize_model(g, calibration(), progress=False)


def without_bias(g):
    """``g`` with the bias inputs of its FULLY_CONNECTED ops dropped (None), as a .tflite may have
    them; the Keras frontend always gives one."""
    import dataclasses

    ops, drop = [], set()
    for op in g.ops:
        if op.kind == "FULLY_CONNECTED" and len(op.inputs) > 2:
            drop.add(op.inputs[2])
            op = dataclasses.replace(op, inputs=op.inputs[:2] + (None,))
        ops.append(op)
    return g.replace(ops=tuple(ops), tensors={k: t for k, t in g.tensors.items() if k not in drop})
