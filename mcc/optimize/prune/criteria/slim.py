"""Network Slimming (Liu et al. 2017): channels ranked by |gamma| of their BatchNormalization,
with an L1 penalty on the gammas during a sparsity-training phase (applied as a proximal step,
soft-thresholding the gammas after each batch, so it works with any trainer's loss)."""

import numpy as np

from .base import Criterion, out_kernel, register


def _bn_of(ctx, p):
    """The BatchNormalization directly consuming producer p's channels, or None."""
    elems = list(ctx.cg.elements[p])
    for layer in ctx.model.layers:
        if type(layer).__name__ == "BatchNormalization":
            m = ctx.cg.out_maps.get(layer.name)
            if m is not None and list(m) == elems:
                return layer
    return None


@register
class Slim(Criterion):
    name = "slim"
    element = False

    def prepare(self, ctx):
        import keras

        cfg = ctx.config
        bns = [layer for layer in ctx.model.layers if type(layer).__name__ == "BatchNormalization"
               and getattr(layer, "gamma", None) is not None]
        if not bns:
            ctx.note("slim: the model has no BatchNormalization with gamma; channels ranked by L1")
            return
        if cfg.reg_epochs == 0:
            return
        lr = getattr(ctx.trainer, "learning_rate", 1e-3)
        thr = float(cfg.slim_penalty) * float(lr)

        class Shrink(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                for bn in bns:
                    g = np.asarray(bn.gamma.numpy())
                    bn.gamma.assign(np.sign(g) * np.maximum(np.abs(g) - thr, 0.0))

        ctx.train(cfg.reg_epochs, [Shrink()], "slim: L1 sparsity training on BN gammas")

    def channel_scores(self, ctx, producers):
        out = {}
        for p in producers:
            bn = _bn_of(ctx, p)
            if bn is None or getattr(bn, "gamma", None) is None:
                w = np.asarray(out_kernel(ctx.model.get_layer(p)).numpy())
                s = np.abs(w).reshape(-1, w.shape[-1]).sum(0)
                ctx.note(f"slim: {p} has no BatchNormalization; its channels are ranked by L1")
                out[p] = s
            else:
                out[p] = np.abs(np.asarray(bn.gamma.numpy()))
        return out
