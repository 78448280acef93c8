"""Activation-based channel ranks on a data sample: APoZ (Hu et al. 2016, the average percentage of
zeros of a channel after its activation: many zeros = unimportant) and the mean activation."""

import numpy as np

from .base import Criterion, register


def channel_activations(ctx, producers, fn):
    """fn(activation batch (N, ..., C)) -> per-channel sums, accumulated over ctx's data sample."""
    import keras

    tensors = ctx.activation_tensors(producers)
    sub = keras.Model(ctx.model.inputs[0], [tensors[p] for p in producers])
    x, _ = ctx.sample()
    acc = [0.0] * len(producers)
    n = 0
    for i in range(0, len(x), 128):
        outs = sub(x[i:i + 128], training=False)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        for j, a in enumerate(outs):
            a = np.asarray(a)
            acc[j] = acc[j] + fn(a.reshape(-1, a.shape[-1]))
        n += 1
    return {p: np.asarray(acc[j]) for j, p in enumerate(producers)}


@register
class APoZ(Criterion):
    name = "apoz"
    element = False
    needs_data = True

    def channel_scores(self, ctx, producers):
        zeros = channel_activations(ctx, producers, lambda a: (a <= 0).sum(0).astype(np.float64))
        counts = channel_activations(ctx, producers, lambda a: np.full(a.shape[-1], a.shape[0], np.float64))
        return {p: 1.0 - zeros[p] / counts[p] for p in producers}


@register
class MeanActivation(Criterion):
    name = "mean_activation"
    element = False
    needs_data = True

    def channel_scores(self, ctx, producers):
        sums = channel_activations(ctx, producers, lambda a: np.abs(a).sum(0).astype(np.float64))
        counts = channel_activations(ctx, producers, lambda a: np.full(a.shape[-1], a.shape[0], np.float64))
        return {p: sums[p] / counts[p] for p in producers}
