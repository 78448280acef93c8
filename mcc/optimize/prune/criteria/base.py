"""The criterion interface and the registry (by name)."""

from __future__ import annotations

import numpy as np

REGISTRY: dict[str, "Criterion"] = {}

KERNELS = ("kernel", "pointwise_kernel", "depthwise_kernel")


def register(cls):
    REGISTRY[cls.name] = cls()
    return cls


def out_kernel(layer):
    """The variable holding a producer's output filters (last axis)."""
    names = {v.name: v for v in layer.weights}
    return names.get("pointwise_kernel", names.get("kernel"))


class Criterion:
    """Ranks weights (``element_scores``) or channels (``channel_scores``): higher = more important.

    ``prepare`` runs a training-time phase before ranking (slim's L1 penalty, ADMM, movement)."""

    name = ""
    structured = True          # default mode
    channel = True             # can rank channels (structured)
    element = True             # can rank single weights (unstructured)
    needs_data = False

    def prepare(self, ctx) -> None:
        return None

    def element_score(self, w: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def element_scores(self, ctx, targets) -> dict:
        """{(layer name, weight name): score array of the weight's shape}."""
        return {(layer.name, v.name): self.element_score(np.asarray(v.numpy())) for layer, v in targets}

    def channel_scores(self, ctx, producers: list[str]) -> dict[str, np.ndarray]:
        """{producer: score per output channel}; default: the element scores summed per filter."""
        out = {}
        for p in producers:
            w = np.asarray(out_kernel(ctx.model.get_layer(p)).numpy())
            s = self.element_score(w)
            out[p] = s.reshape(-1, s.shape[-1]).sum(0)
        return out
