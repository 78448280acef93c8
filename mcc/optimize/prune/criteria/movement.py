"""Movement pruning (Sanh et al. 2020): weights moving toward zero while fine-tuning are pruned.
The score S = -sum over training steps of w * dL/dw is accumulated during a training phase of
``reg_epochs`` epochs (plain Adam steps on the label loss); per filter when structured."""

import numpy as np

from .base import KERNELS, Criterion, out_kernel, register


@register
class Movement(Criterion):
    name = "movement"
    structured = False
    needs_data = True

    def prepare(self, ctx):
        import keras
        import tensorflow as tf

        variables = [v for layer in ctx.model.layers for v in layer.weights if v.name in KERNELS]
        self._scores = {v.path: np.zeros(v.shape, np.float64) for v in variables}
        x, y = ctx.train_data()
        opt = keras.optimizers.Adam(getattr(ctx.trainer, "learning_rate", 1e-3))
        trainable = ctx.model.trainable_variables
        bs = ctx.config.batch_size
        steps = max(1, ctx.config.reg_epochs) * ((len(x) + bs - 1) // bs)
        rng = np.random.default_rng(ctx.config.seed)
        with ctx.progress("movement: accumulating -w x grad", steps) as tick:
            for _ in range(max(1, ctx.config.reg_epochs)):
                order = rng.permutation(len(x))
                for i in range(0, len(x), bs):
                    idx = order[i:i + bs]
                    with tf.GradientTape() as tape:
                        loss = ctx.loss(y[idx], ctx.model(x[idx], training=True))
                    grads = tape.gradient(loss, trainable)
                    gmap = {v.path: g for v, g in zip(trainable, grads)}
                    for v in variables:
                        if gmap.get(v.path) is not None:
                            self._scores[v.path] -= np.asarray(v.numpy()) * np.asarray(gmap[v.path])
                    opt.apply_gradients([(g, v) for g, v in zip(grads, trainable) if g is not None])
                    ctx.reapply_masks()
                    tick()

    def _score(self, v):
        s = self._scores.get(v.path) if hasattr(self, "_scores") else None
        return np.abs(np.asarray(v.numpy())) if s is None else s

    def element_scores(self, ctx, targets):
        return {(layer.name, v.name): self._score(v) for layer, v in targets}

    def channel_scores(self, ctx, producers):
        out = {}
        for p in producers:
            s = self._score(out_kernel(ctx.model.get_layer(p)))
            out[p] = s.reshape(-1, s.shape[-1]).sum(0)
        return out
