"""Learning-rate schedules for trainers (the ``mcc.optimize.trainer`` protocol).

``CosineLR(trainer, lr)`` is itself a trainer: it runs ``trainer.fit`` with the learning rate of the
optimizer that actually steps (the model's own for ``LabelTrainer``, the distillation wrapper's for
``DistillTrainer``) set before every batch to ``lr * (1 + cos(pi * t / T)) / 2``, ``t`` the batch
index within that ``fit`` and ``T`` its number of batches: from ``lr`` down to (almost) 0, so a
fine-tuning ends converged instead of at a constant step size.
"""

from __future__ import annotations

import math


def cosine_lr(lr: float, t: int, total: int) -> float:
    """The cosine-decayed learning rate at batch ``t`` of ``total``."""
    return 0.5 * lr * (1.0 + math.cos(math.pi * min(t, total) / max(1, total)))


class CosineLR:
    """Wraps a trainer; every ``fit`` decays its learning rate from ``lr`` along a cosine."""

    def __init__(self, inner, lr: float):
        if not lr > 0:
            from ..errors import MccError

            raise MccError(f"learning rate must be > 0, got {lr}")
        self.inner, self.lr = inner, lr
        self.last_lr: float | None = None

    def _optimizer(self, model):
        w = getattr(self.inner, "wrapper_", None)        # DistillTrainer: its wrapper model steps
        return w.optimizer if w is not None and w.student is model else model.optimizer

    def fit(self, model, x, y, *, epochs: int, batch_size: int, callbacks=(), validation_data=None, verbose=0):
        import keras

        outer = self
        total = max(1, epochs * math.ceil(len(x) / batch_size))

        class Cosine(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.t = 0

            def on_train_batch_begin(self, batch, logs=None):
                outer.last_lr = cosine_lr(outer.lr, self.t, total)
                outer._optimizer(model).learning_rate.assign(outer.last_lr)
                self.t += 1

        return self.inner.fit(model, x, y, epochs=epochs, batch_size=batch_size, callbacks=[Cosine(), *callbacks],
                              validation_data=validation_data, verbose=verbose)
