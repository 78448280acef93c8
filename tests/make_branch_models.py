"""Single-input models whose ADD, MUL and CONCATENATION take activations from two branches or a
constant (the generated C API has one input). Run by hand; outputs are committed to tests/data/ops/.

    .venv/bin/python tests/make_branch_models.py
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

from pathlib import Path  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

OUT = Path(__file__).parent / "data" / "ops"


def _convert(model, shape):
    rng = np.random.default_rng(0)

    def rep():
        for _ in range(32):
            yield [rng.normal(size=(1,) + shape).astype(np.float32)]

    c = tf.lite.TFLiteConverter.from_keras_model(model)
    c.optimizations = [tf.lite.Optimize.DEFAULT]
    c.representative_dataset = rep
    c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    c.inference_input_type = tf.int8
    c.inference_output_type = tf.int8
    return c.convert()


class ScaleBy(keras.layers.Layer):
    """x * constant per channel (becomes MUL with a constant operand)."""

    def __init__(self, values, **kw):
        super().__init__(**kw)
        self.values = np.asarray(values, np.float32)

    def call(self, x):
        return x * self.values


class Shift(keras.layers.Layer):
    def __init__(self, values, **kw):
        super().__init__(**kw)
        self.values = np.asarray(values, np.float32)

    def call(self, x):
        return x + self.values


def models():
    keras.utils.set_random_seed(7)
    shape = (6, 5, 3)
    x = keras.Input(shape)
    a = keras.layers.Conv2D(3, 1)(x)
    yield "add_residual", keras.Model(x, keras.layers.Add()([a, x])), shape
    x = keras.Input(shape)
    a = keras.layers.Conv2D(3, 3, padding="same")(x)
    yield "add_residual_relu", keras.Model(x, keras.layers.ReLU()(keras.layers.Add()([x, a]))), shape
    x = keras.Input(shape)
    yield "add_const_broadcast", keras.Model(x, Shift([0.5, -1.0, 2.0])(keras.layers.MaxPooling2D(2)(x))), shape
    x = keras.Input(shape)
    a = keras.layers.Conv2D(3, 1)(x)
    yield "mul_branches", keras.Model(x, keras.layers.Multiply()([a, x])), shape
    x = keras.Input(shape)
    yield "mul_const_broadcast", keras.Model(x, ScaleBy([0.5, -1.5, 3.0])(keras.layers.MaxPooling2D(2)(x))), shape
    x = keras.Input(shape)
    a = keras.layers.Conv2D(4, 1)(x)
    b = keras.layers.Conv2D(2, 3, padding="same")(x)
    yield "concat_branches", keras.Model(x, keras.layers.Concatenate()([a, b])), shape


def main():
    for name, model, shape in models():
        buf = _convert(model, shape)
        (OUT / f"{name}.tflite").write_bytes(buf)
        print(name, len(buf))


if __name__ == "__main__":
    main()
