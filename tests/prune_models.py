"""Tiny Keras models for the pruning tests (random weights, BN statistics away from identity)."""

import numpy as np


def branchy(seed: int = 0):
    """Conv+BN+ReLU, a depthwise/pointwise branch and a 1x1 shortcut meeting in an Add, a
    SeparableConv2D and a MaxPool concatenated, a Conv2D, Flatten -> Dense -> Dense (logits)."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    inp = keras.Input((12, 12, 3), name="image")
    x = layers.Conv2D(8, 3, padding="same", use_bias=False, name="stem")(inp)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.ReLU(name="stem_relu")(x)
    y = layers.DepthwiseConv2D(3, padding="same", name="dw")(x)
    y = layers.BatchNormalization(name="dw_bn")(y)
    y = layers.ReLU(max_value=6.0)(y)
    y = layers.Conv2D(12, 1, name="pw")(y)
    y = layers.BatchNormalization(name="pw_bn")(y)
    s = layers.Conv2D(12, 1, name="shortcut")(x)
    x = layers.Activation("relu")(layers.Add(name="add")([y, s]))
    a = layers.SeparableConv2D(10, 3, strides=2, padding="same", activation="relu", name="sep")(x)
    b = layers.MaxPooling2D(2)(x)
    x = layers.Concatenate(name="concat")([a, b])
    x = layers.Conv2D(16, 3, padding="same", activation="relu", name="conv")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(20, activation="relu", name="fc")(x)
    out = layers.Dense(5, name="logits")(x)
    model = keras.Model(inp, out, name="branchy")
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            n = layer.get_weights()[0].shape
            layer.set_weights([rng.uniform(0.5, 1.5, n), rng.uniform(-0.3, 0.3, n),
                               rng.uniform(-0.3, 0.3, n), rng.uniform(0.5, 2.0, n)])
    return model


def data(n: int = 192, seed: int = 0, shape=(12, 12, 3), classes: int = 5):
    """Inputs and labels that a model can learn (the label is a function of the input)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n,) + shape).astype(np.float32)
    y = (x[..., 0].mean(axis=(1, 2)) * 4 + x[..., 1].mean(axis=(1, 2)) * 2 > 0).astype(np.int64)
    y = y + 2 * (x[..., 2].std(axis=(1, 2)) > 1.0)
    return x, y % classes
