"""Builds the small models that the error-path tests feed to mcc (run by hand; outputs committed).

    .venv/bin/python tests/make_error_models.py
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

from pathlib import Path  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

OUT = Path(__file__).parent / "data" / "errors"


def _dense_model():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((32,)), keras.layers.Dense(64, activation="relu"), keras.layers.Dense(3)])


def _rep():
    rng = np.random.default_rng(0)
    for _ in range(16):
        yield [rng.normal(size=(1, 32)).astype(np.float32)]


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    conv = tf.lite.TFLiteConverter.from_keras_model(_dense_model())
    (OUT / "float_dense.tflite").write_bytes(conv.convert())

    conv = tf.lite.TFLiteConverter.from_keras_model(_dense_model())
    conv.optimizations = [tf.lite.Optimize.DEFAULT]  # dynamic range: int8 weights, float activations
    (OUT / "hybrid_dense.tflite").write_bytes(conv.convert())

    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((32,)), keras.layers.Dense(4), keras.layers.Activation("elu")])
    conv = tf.lite.TFLiteConverter.from_keras_model(m)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = _rep
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    (OUT / "int8_elu.tflite").write_bytes(conv.convert())
    for p in sorted(OUT.glob("*.tflite")):
        print(p.name, p.stat().st_size)


if __name__ == "__main__":
    main()
