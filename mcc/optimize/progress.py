"""A rich progress bar for Keras training (one bar over all batches of all epochs)."""

from __future__ import annotations

import math

import keras
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class RichProgress(keras.callbacks.Callback):
    """Shows ``description``, the step count over every epoch, and the latest loss/accuracy."""

    def __init__(self, description: str, n_examples: int, batch_size: int, epochs: int, console=None):
        super().__init__()
        self.total = max(1, epochs * math.ceil(n_examples / batch_size))
        self.description = description
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[logs]}"), TimeRemainingColumn(), console=console,
                                 transient=False)
        self.task = None

    def on_train_begin(self, logs=None):
        self.progress.start()
        self.task = self.progress.add_task(self.description, total=self.total, logs="")

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        text = " ".join(f"{k} {float(v):.4f}" for k, v in sorted(logs.items()) if k in ("loss", "accuracy"))
        self.progress.update(self.task, advance=1, logs=text)

    def on_train_end(self, logs=None):
        self.progress.update(self.task, completed=self.total)
        self.progress.stop()
