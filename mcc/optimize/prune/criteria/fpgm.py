"""FPGM (He et al. 2019): filters near the geometric median of their layer are redundant; a
filter's score is its summed Euclidean distance to the other filters of the layer."""

import numpy as np

from .base import Criterion, out_kernel, register


@register
class FPGM(Criterion):
    name = "fpgm"
    element = False

    def channel_scores(self, ctx, producers):
        out = {}
        for p in producers:
            w = np.asarray(out_kernel(ctx.model.get_layer(p)).numpy())
            f = w.reshape(-1, w.shape[-1]).T.astype(np.float64)         # (filters, fan_in)
            d = np.sqrt(np.maximum(((f[:, None, :] - f[None, :, :]) ** 2).sum(-1), 0.0))
            out[p] = d.sum(1)
        return out
