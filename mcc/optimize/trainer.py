"""How the training-based optimizers (pruning, distillation, QAT) fine-tune a Keras model.

A *trainer* is any object with

    fit(model, x, y, *, epochs, batch_size, callbacks=(), validation_data=None, verbose=0)

that trains ``model`` in place (it is the optimizer's own copy, never the user's model) and
returns the Keras History. Pruning keeps its masks with callbacks, so a trainer must pass
``callbacks`` to ``keras.Model.fit``. ``LabelTrainer`` trains on the labels alone; the
distillation module provides trainers whose loss also learns from a teacher
(``mcc.optimize.distill``), which is how distillation plugs into pruning and QAT fine-tuning.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Protocol

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import keras  # noqa: E402


class Trainer(Protocol):
    def fit(self, model: keras.Model, x, y, *, epochs: int, batch_size: int, callbacks=(),
            validation_data=None, verbose=0): ...


@dataclass(frozen=True)
class LabelTrainer:
    """Sparse categorical cross-entropy on integer labels (from logits or probabilities, as the
    model's last activation says), Adam."""

    learning_rate: float = 1e-3

    def fit(self, model, x, y, *, epochs: int, batch_size: int, callbacks=(), validation_data=None,
            verbose=0):
        model.compile(optimizer=keras.optimizers.Adam(self.learning_rate),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=not _ends_in_softmax(model)),
                      metrics=["accuracy"])
        return model.fit(x, y, epochs=epochs, batch_size=batch_size, callbacks=list(callbacks),
                         validation_data=validation_data, verbose=verbose)


def _ends_in_softmax(model) -> bool:
    flag = getattr(model, "ends_in_softmax", None)  # models without Keras layers (QAT) say so
    if flag is not None:
        return bool(flag)
    last = model.layers[-1]
    act = getattr(last, "activation", None)
    name = getattr(act, "__name__", "") if act is not None else ""
    return name == "softmax" or type(last).__name__ == "Softmax"
