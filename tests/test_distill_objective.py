"""The offline response objective of DistillTrainer, end to end on models that END IN SOFTMAX,
against plain numpy Hinton on the PRE-softmax logits (the bench_distill investigation: distilling
through log p must equal distilling the logits, with T^2 and alpha where Hinton puts them)."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from mcc.optimize.distill import DistillConfig, DistillTrainer  # noqa: E402


def _softmax_model(seed, width, scale):
    keras.utils.set_random_seed(seed)
    i = keras.Input((6,))
    h = keras.layers.Dense(width, activation="relu", name="h")(i)
    out = keras.layers.Dense(5, activation="softmax", name="out",
                             kernel_initializer=keras.initializers.RandomNormal(stddev=scale))(h)
    return keras.Model(i, out)


def _logits(model, x):
    """Pre-softmax logits in numpy: the last Dense layer's affine map of its input."""
    h = np.asarray(keras.Model(model.inputs, model.get_layer("h").output)(x))
    last = model.get_layer("out")
    return h.astype(np.float64) @ np.asarray(last.kernel, np.float64) + np.asarray(last.bias, np.float64)


def _log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


@pytest.mark.parametrize("temperature,alpha", [(4.0, 0.9), (2.0, 0.5), (1.0, 0.3)])
def test_response_objective_equals_numpy_hinton_on_logits(temperature, alpha):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6)).astype(np.float32)
    y = rng.integers(0, 5, 64)
    teacher = _softmax_model(1, 32, 3.0)      # confident: logit gaps of tens
    student = _softmax_model(2, 8, 0.5)
    zt, zs = _logits(teacher, x), _logits(student, x)
    assert (zt.max(1) - zt.min(1)).max() > 10.0
    lt, ls = _log_softmax(zt / temperature), _log_softmax(zs / temperature)
    kl = (np.exp(lt) * (lt - ls)).sum(1).mean()
    ce = -_log_softmax(zs)[np.arange(64), y].mean()
    want = alpha * temperature ** 2 * kl + (1 - alpha) * ce
    trainer = DistillTrainer(teacher, DistillConfig(temperature=temperature, alpha=alpha))
    got = trainer.evaluate_loss(student, x, y, batch_size=64)
    assert got == pytest.approx(want, rel=1e-4)
