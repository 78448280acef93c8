"""Schedules: oneshot, linear and AGP (gradual, during fine-tuning) and lottery (iterative with
rewind). Each prunes ctx.model to the per-unit sparsities ``target`` and fine-tunes it with the
masks kept by a callback."""

from __future__ import annotations

import math

import numpy as np

from .select import prune_to


def oneshot(ctx, target: dict[str, float]):
    ctx.criterion.prepare(ctx)
    prune_to(ctx, target)
    ctx.train(ctx.config.epochs, label=f"fine-tuning ({ctx.config.method}, one-shot)")


def agp_fraction(step: int, steps: int) -> float:
    """Zhu & Gupta (2017): s_t = s_f (1 - (1 - t/n)^3), t = 1..n."""
    return 1.0 - (1.0 - step / steps) ** 3


def linear_fraction(step: int, steps: int) -> float:
    return step / steps


def gradual(ctx, target: dict[str, float], kind: str):
    """Prune in ``steps`` increments spread over the first 2/3 of fine-tuning (the rest recovers)."""
    import keras

    cfg = ctx.config
    frac = agp_fraction if kind == "agp" else linear_fraction
    ctx.criterion.prepare(ctx)
    if cfg.epochs == 0:
        prune_to(ctx, target)
        return
    x, _ = ctx.train_data()
    total = cfg.epochs * math.ceil(len(x) / cfg.batch_size)
    span = max(1, (2 * total) // 3)
    at = {min(total - 1, (k * span) // cfg.steps): k + 1 for k in range(cfg.steps)}
    ctx.schedule_log = []

    class Gradual(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.t = 0

        def on_train_batch_begin(self, batch, logs=None):
            if self.t in at:
                f = frac(at[self.t], cfg.steps)
                prune_to(ctx, {u: s * f for u, s in target.items()})
                ctx.schedule_log.append((self.t, f))
            self.t += 1

    ctx.train(cfg.epochs, [Gradual()], f"fine-tuning ({cfg.method}, {kind}, {cfg.steps} steps)")
    prune_to(ctx, target)     # the final step exactly at the target, even with few batches


def lottery(ctx, target: dict[str, float]):
    """Frankle & Carbin (2019): train, prune a fraction, rewind the survivors to their initial values
    (here: the weights the pruner was given), repeat; round r reaches 1 - (1 - s)^(r/R)."""
    cfg = ctx.config
    ctx.criterion.prepare(ctx)
    initial = ctx.model.get_weights()
    for r in range(1, cfg.rounds + 1):
        prune_to(ctx, {u: 1.0 - (1.0 - s) ** (r / cfg.rounds) for u, s in target.items()})
        ctx.model.set_weights(initial)
        ctx.reapply_masks()
        ctx.train(cfg.epochs, label=f"lottery round {r}/{cfg.rounds}")
    if cfg.epochs == 0:
        ctx.reapply_masks()


SCHEDULE_FUNCS = {"oneshot": oneshot, "linear": lambda c, t: gradual(c, t, "linear"),
                  "agp": lambda c, t: gradual(c, t, "agp"), "lottery": lottery}


def unit_sparsity_vector(ctx, target: dict[str, float]) -> np.ndarray:
    return np.array([target[u] for u in ctx.units])
