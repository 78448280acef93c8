"""Taylor first-order (Molchanov et al. 2017): the loss change from removing a channel, estimated
as |mean over positions of activation x gradient|, averaged over the data sample."""

import numpy as np

from .base import Criterion, register


@register
class Taylor(Criterion):
    name = "taylor"
    element = False
    needs_data = True

    def channel_scores(self, ctx, producers):
        import keras
        import tensorflow as tf

        tensors = ctx.activation_tensors(producers)
        sub = keras.Model(ctx.model.inputs[0], [ctx.model.outputs[0]] + [tensors[p] for p in producers])
        x, y = ctx.sample()
        acc = {p: 0.0 for p in producers}
        for i in range(0, len(x), 64):
            with tf.GradientTape() as tape:
                outs = sub(x[i:i + 64], training=False)
                loss = ctx.loss(y[i:i + 64], outs[0])
            grads = tape.gradient(loss, outs[1:])
            for p, a, g in zip(producers, outs[1:], grads):
                ag = np.asarray(a * g) * len(x[i:i + 64])   # undo the batch mean of the loss
                ag = ag.reshape(ag.shape[0], -1, ag.shape[-1]).mean(1)
                acc[p] = acc[p] + np.abs(ag).sum(0)
        return {p: np.asarray(acc[p], dtype=np.float64) / len(x) for p in producers}
