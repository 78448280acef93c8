"""ADMM pruning (Zhang et al. 2018): minimize loss(W) + rho/2 ||W - Z + U||^2 with Z constrained
to the sparse set. After each batch the trainer's gradient step is followed by a step on the
penalty term, W -= rho (W - Z + U) (operator splitting, so any trainer's loss works; ``admm_rho``
is the fraction of the gap closed per batch); after each epoch Z = project(W + U)
(the largest weights per layer, or the largest filters when structured) and U += W - Z. The final
ranking is the magnitude of the ADMM-trained weights (the support of Z)."""

import numpy as np

from .base import Criterion, out_kernel, register


def project(w, sparsity, structured):
    if sparsity <= 0:
        return w
    if structured:
        norms = np.sqrt(np.square(w).reshape(-1, w.shape[-1]).sum(0))
        k = int(round(sparsity * len(norms)))
        z = w.copy()
        if k:
            z[..., np.argsort(norms, kind="stable")[:k]] = 0.0
        return z
    k = int(round(sparsity * w.size))
    z = w.copy().reshape(-1)
    if k:
        z[np.argsort(np.abs(z), kind="stable")[:k]] = 0.0
    return z.reshape(w.shape)


@register
class ADMM(Criterion):
    name = "admm"
    structured = False

    def prepare(self, ctx):
        import keras

        cfg = ctx.config
        if cfg.reg_epochs == 0:
            return
        structured = cfg.is_structured
        if structured:
            variables = {p: out_kernel(ctx.model.get_layer(p)) for p in ctx.producers()}
        else:
            variables = {f"{layer.name}/{v.name}": v for layer, v in ctx.targets()}
        spars = ctx.admm_sparsities(structured)        # key -> target sparsity
        rho = float(cfg.admm_rho)
        Z = {k: project(np.asarray(v.numpy()), spars.get(k, cfg.sparsity), structured) for k, v in variables.items()}
        U = {k: np.zeros(v.shape, np.float32) for k, v in variables.items()}

        class ADMMStep(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                for k, v in variables.items():
                    w = np.asarray(v.numpy())
                    v.assign(w - rho * (w - Z[k] + U[k]))

            def on_epoch_end(self, epoch, logs=None):
                for k, v in variables.items():
                    w = np.asarray(v.numpy())
                    Z[k] = project(w + U[k], spars.get(k, cfg.sparsity), structured)
                    U[k] = U[k] + w - Z[k]

        ctx.train(cfg.reg_epochs, [ADMMStep()], f"admm: {cfg.reg_epochs} epoch(s) of ADMM training")

    def element_score(self, w):
        return np.abs(w)

    def channel_scores(self, ctx, producers):
        out = {}
        for p in producers:
            w = np.asarray(out_kernel(ctx.model.get_layer(p)).numpy())
            out[p] = np.sqrt(np.square(w).reshape(-1, w.shape[-1]).sum(0))
        return out
