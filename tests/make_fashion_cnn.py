"""Train the small Fashion-MNIST CNN in tests/data/fashion_cnn.keras (run by hand, not in CI).

    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python tests/make_fashion_cnn.py

Data: Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist/*.gz, idx format).
The model takes raw pixels (float 0..255, 28x28x1) and exercises the layers the Keras frontend
and PTQ must handle: Rescaling (first layer, folded into the input quantization), Conv2D +
BatchNormalization + ReLU, MaxPooling2D, DepthwiseConv2D + BN + ReLU6, a 1x1 Conv2D shortcut and
Add, SeparableConv2D with a fused ReLU, AveragePooling2D, Concatenate, GlobalAveragePooling2D,
Dropout and Dense + softmax (about 0.6 M MACs). It trains for 5 epochs on the first 30 000
training images (fixed seed) and prints the test accuracy (about 0.83).
"""

from __future__ import annotations

import gzip
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402

FASHION = Path("/usr/share/datasets/fashion-mnist")
OUT = Path(__file__).resolve().parent / "data" / "fashion_cnn.keras"


def load_fashion_mnist(split: str = "t10k") -> tuple[np.ndarray, np.ndarray]:
    """(images float32 (N, 28, 28, 1) in 0..255, labels int64) of the 'train' or 't10k' split."""
    images = np.frombuffer(gzip.open(FASHION / f"{split}-images-idx3-ubyte.gz").read(), np.uint8, offset=16)
    labels = np.frombuffer(gzip.open(FASHION / f"{split}-labels-idx1-ubyte.gz").read(), np.uint8, offset=8)
    return images.reshape(-1, 28, 28, 1).astype(np.float32), labels.astype(np.int64)


def build():
    import keras
    from keras import layers

    inp = keras.Input((28, 28, 1), name="pixels")
    x = layers.Rescaling(1 / 255.0)(inp)
    x = layers.Conv2D(16, 3, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization(momentum=0.9)(x)
    x = layers.ReLU()(x)
    x = layers.MaxPooling2D(2)(x)                                   # 14x14x16
    y = layers.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
    y = layers.BatchNormalization(momentum=0.9)(y)
    y = layers.ReLU(max_value=6.0)(y)
    y = layers.Conv2D(48, 1, use_bias=False)(y)
    y = layers.BatchNormalization(momentum=0.9)(y)
    shortcut = layers.Conv2D(48, 1)(x)
    x = layers.Activation("relu")(layers.Add()([y, shortcut]))     # 14x14x48
    a = layers.SeparableConv2D(48, 3, strides=2, padding="same", activation="relu")(x)  # 7x7x48
    b = layers.AveragePooling2D(2)(x)                               # 7x7x48
    x = layers.Concatenate()([a, b])                                # 7x7x96
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.2)(x)
    out = layers.Dense(10, activation="softmax")(x)
    return keras.Model(inp, out, name="fashion_cnn")


def main() -> int:
    import keras

    keras.utils.set_random_seed(1234)
    x, y = load_fashion_mnist("train")
    xt, yt = load_fashion_mnist("t10k")
    model = build()
    model.compile(optimizer=keras.optimizers.Adam(5e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x[:30000], y[:30000], batch_size=128, epochs=5, verbose=2)
    _, acc = model.evaluate(xt, yt, verbose=0)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    model.save(OUT)
    print(f"test accuracy {acc:.4f}; wrote {OUT} ({OUT.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
