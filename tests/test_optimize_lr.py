"""CosineLR: the optimizer that steps (labels or distillation) follows the cosine, batch by batch."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from mcc.errors import MccError  # noqa: E402
from mcc.optimize.lr import CosineLR, cosine_lr  # noqa: E402


def _model(seed):
    keras.utils.set_random_seed(seed)
    i = keras.Input((4,))
    return keras.Model(i, keras.layers.Dense(3, activation="softmax")(keras.layers.Dense(8, activation="relu")(i)))


class _Record(keras.callbacks.Callback):
    """Reads the learning rate of ``get_opt()`` at the start of each batch (after CosineLR set it)."""

    def __init__(self, get_opt):
        super().__init__()
        self.get_opt, self.seen = get_opt, []

    def on_train_batch_begin(self, batch, logs=None):
        self.seen.append(float(self.get_opt().learning_rate.numpy()))


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(40, 4)).astype(np.float32), rng.integers(0, 3, 40)


def _expected(lr, total):
    t = np.arange(total)
    return 0.5 * lr * (1 + np.cos(np.pi * t / total))


def test_cosine_lr_formula():
    assert cosine_lr(0.01, 0, 10) == pytest.approx(0.01)
    assert cosine_lr(0.01, 5, 10) == pytest.approx(0.005)
    assert cosine_lr(0.01, 10, 10) == pytest.approx(0.0, abs=1e-12)


def test_label_trainer_follows_cosine():
    from mcc.optimize.trainer import LabelTrainer

    x, y = _data()
    m = _model(1)
    rec = _Record(lambda: m.optimizer)
    CosineLR(LabelTrainer(1e-3), 0.02).fit(m, x, y, epochs=2, batch_size=8, callbacks=[rec])
    np.testing.assert_allclose(rec.seen, _expected(0.02, 10), rtol=1e-5, atol=1e-9)


def test_distill_trainer_follows_cosine():
    from mcc.optimize.distill import DistillConfig, DistillTrainer

    x, y = _data()
    teacher, student = _model(2), _model(3)
    inner = DistillTrainer(teacher, DistillConfig(learning_rate=1e-3))
    rec = _Record(lambda: inner.wrapper_.optimizer)
    w0 = [v.copy() for v in student.get_weights()]
    CosineLR(inner, 0.05).fit(student, x, y, epochs=1, batch_size=10, callbacks=[rec])
    np.testing.assert_allclose(rec.seen, _expected(0.05, 4), rtol=1e-5, atol=1e-9)
    assert any(not np.array_equal(a, b) for a, b in zip(w0, student.get_weights()))


def test_bad_learning_rate():
    with pytest.raises(MccError, match="learning rate"):
        CosineLR(None, 0.0)
