"""A MobileNetV2-style int8 model at 96x96x3 for patch-based execution (the first high-resolution
inverted-residual blocks dominate its peak memory, as in MCUNetV2). Random weights (seeded), int8
by the TFLite converter with random calibration. Run by hand; the output is committed:

    .venv/bin/python tests/make_mobilenet.py   ->  tests/data/mobilenet_v2_96_int8.tflite
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

from pathlib import Path  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

OUT = Path(__file__).parent / "data" / "mobilenet_v2_96_int8.tflite"
L = keras.layers


def _inverted_residual(x, expand: int, out: int, stride: int):
    c_in = x.shape[-1]
    y = L.Conv2D(c_in * expand, 1, activation="relu6")(x) if expand > 1 else x
    y = L.DepthwiseConv2D(3, strides=stride, padding="same", activation="relu6")(y)
    y = L.Conv2D(out, 1)(y)
    if stride == 1 and c_in == out:
        y = L.Add()([x, y])
    return y


def build() -> keras.Model:
    keras.utils.set_random_seed(6)
    inp = keras.Input((96, 96, 3))
    x = L.Conv2D(16, 3, strides=2, padding="same", activation="relu6")(inp)   # 48x48x16
    x = _inverted_residual(x, 1, 8, 1)                                          # 48x48x8
    x = _inverted_residual(x, 6, 16, 2)                                         # 24x24x16
    x = _inverted_residual(x, 3, 16, 1)                                         # 24x24x16 (+ residual)
    x = _inverted_residual(x, 3, 24, 2)                                         # 12x12x24
    x = _inverted_residual(x, 3, 24, 1)                                         # 12x12x24 (+ residual)
    x = _inverted_residual(x, 3, 32, 2)                                         # 6x6x32
    x = L.Conv2D(64, 1, activation="relu6")(x)
    x = L.GlobalAveragePooling2D()(x)
    out = L.Dense(10, activation="softmax")(x)
    return keras.Model(inp, out)


def main():
    model = build()
    rng = np.random.default_rng(0)

    def rep():
        for _ in range(32):
            yield [rng.uniform(-1, 1, size=(1, 96, 96, 3)).astype(np.float32)]

    c = tf.lite.TFLiteConverter.from_keras_model(model)
    c.optimizations = [tf.lite.Optimize.DEFAULT]
    c.representative_dataset = rep
    c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    c.inference_input_type = tf.int8
    c.inference_output_type = tf.int8
    OUT.write_bytes(c.convert())
    print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
