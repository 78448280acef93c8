"""prune_model: the entry point (config -> criterion + schedule or search -> surgery -> result)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .config import PruneConfig
from .context import Context
from .costs import layer_costs, totals
from .graph import DEPTHWISE, PRODUCERS, layer_type
from .schedules import SCHEDULE_FUNCS, oneshot
from .search import SEARCHES
from .select import achieved, uniform
from .sensitivity import SensitivityRow, sensitivity
from .surgery import shrink


@dataclass(frozen=True)
class LayerRow:
    name: str
    kind: str                       # Keras layer type
    before: int                     # channels (structured) or weights (unstructured)
    after: int
    sparsity: float                 # 1 - after / before (unstructured: zero fraction)
    group: str | None = None        # structured: the group of tied layers it belongs to
    reason: str | None = None       # why it was left alone


@dataclass
class PruneResult:
    model: object                   # the pruned keras.Model (a new model; smaller when structured)
    masked_model: object            # the same weights at the original shapes, removed channels zeroed
    sparsity: float                 # achieved (see select.achieved)
    layers: list[LayerRow]
    sensitivity: list[SensitivityRow]
    structured: bool
    config: PruneConfig
    macs: tuple[int, int]           # before, after
    flash: tuple[int, int]          # int8 weight + int32 bias bytes, before, after
    unit_sparsity: dict[str, float] = field(default_factory=dict)
    search_log: list = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def prune_model(model, config: PruneConfig = PruneConfig(), x=None, y=None, validation_data=None,
                trainer=None, progress: bool = True) -> PruneResult:
    """Prune a Keras model (never modified) and fine-tune it on x, y through ``trainer``."""
    import keras

    ctx = Context(model, config, x, y, validation_data, trainer, progress)
    macs0, flash0 = totals(ctx.model)
    sens = sensitivity(ctx) if (ctx.x is not None or validation_data is not None) else []
    if config.schedule in SEARCHES:
        target = SEARCHES[config.schedule](ctx)
        ctx.unit_sparsity = target
        oneshot(ctx, target)
    else:
        target = uniform(ctx, config.sparsity)
        SCHEDULE_FUNCS[config.schedule](ctx, target)
    ctx.reapply_masks()
    masked = ctx.model
    if ctx.structured:
        pruned = shrink(ctx.cg, masked, ctx.removed)
    else:
        pruned = keras.models.clone_model(masked)
        pruned.set_weights(masked.get_weights())
    macs1, flash1 = totals(pruned)
    return PruneResult(pruned, masked, achieved(ctx), _rows(ctx, pruned), sens, ctx.structured, config,
                       (macs0, macs1), (flash0, flash1), dict(target), getattr(ctx, "search_log", []),
                       ctx.notes)


def _rows(ctx, pruned) -> list[LayerRow]:
    rows = []
    if ctx.structured:
        cg = ctx.cg
        owner = {p: g for g, ps in ctx.groups.items() for p in ps}
        for p in cg.producers:
            before = len(cg.elements[p])
            after = sum(cg.cls(e) not in ctx.removed for e in cg.elements[p])
            g = owner[p]
            reason = cg.group_reason(ctx.groups[g])
            if reason is None and g not in ctx.units:
                reason = "not selected (PruneConfig.layers)"
            rows.append(LayerRow(p, layer_type(ctx.model.get_layer(p)), before, after, 1 - after / before,
                                 g, reason))
        return rows
    masked = {f"{a}/{b}" for a, b in ctx.emasks}
    for layer in ctx.model.layers:
        if layer_type(layer) not in PRODUCERS + DEPTHWISE:
            continue
        for v in layer.weights:
            if v.name not in ("kernel", "depthwise_kernel", "pointwise_kernel"):
                continue
            w = np.asarray(v.numpy())
            nz = int(np.count_nonzero(w))
            key = f"{layer.name}/{v.name}"
            rows.append(LayerRow(key, layer_type(layer), w.size, nz, 1 - nz / w.size, None,
                                 None if key in masked else "not selected (PruneConfig.layers)"))
    return rows


__all__ = ["LayerRow", "PruneConfig", "PruneResult", "prune_model", "layer_costs"]
