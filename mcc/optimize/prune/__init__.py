"""Pruning of Keras 3 models: criteria by name, schedules, searches and channel surgery.

    from mcc.optimize.prune import PruneConfig, prune_model
    res = prune_model(model, PruneConfig(method="l1", sparsity=0.5, schedule="agp", epochs=2),
                      x, y, validation_data=None, trainer=None, progress=True)
    res.model          # a new keras.Model (structured: physically smaller); ``model`` is untouched
    res.sparsity       # achieved: channel fraction (structured) or zero-weight fraction (unstructured)
    res.layers         # per-layer rows: name, kind, channels (or weights) before / after, reason
    res.sensitivity    # per unit: accuracy and loss with that unit alone pruned at a few ratios

Modules: ``criteria/`` (one per criterion: level, l1/l2, fpgm, slim, apoz/mean_activation,
taylor, admm, movement), ``graph`` (channel dependencies: Add ties, Concatenate offsets, what is
pinned and why), ``surgery`` (masks and the smaller model), ``select`` (ratios -> masks),
``schedules`` (oneshot, linear, agp, lottery), ``search`` (annealing, auto_compress, amc),
``sensitivity``, ``costs`` (MACs, flash), ``core`` (prune_model).
"""

from .config import SCHEDULES, PruneConfig, PruneError
from .core import LayerRow, PruneResult, prune_model
from .criteria import METHODS

__all__ = ["METHODS", "SCHEDULES", "LayerRow", "PruneConfig", "PruneError", "PruneResult", "prune_model"]
