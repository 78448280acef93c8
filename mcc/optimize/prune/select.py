"""From scores to masks: which channel classes (structured) or weights (unstructured) go, given a
sparsity per unit (a group of tied producers, or one kernel). Pruned things stay pruned."""

from __future__ import annotations

import numpy as np


def scores(ctx) -> dict:
    """Structured: {producer: score per output channel}; unstructured: {unit: score per weight}."""
    crit = ctx.criterion
    if ctx.structured:
        return crit.channel_scores(ctx, ctx.producers())
    raw = crit.element_scores(ctx, ctx.targets())
    return {f"{layer}/{w}": s for (layer, w), s in raw.items()}


def class_scores(ctx, unit: str, sc: dict) -> dict[int, float]:
    """Score per prunable class of a group: each producer's channel scores normalized by their mean
    (so tied layers weigh alike), summed over the producers sharing the class."""
    cg = ctx.cg
    out = {c: 0.0 for c in cg.prunable_classes(ctx.unit_members[unit])}
    for p in ctx.unit_members[unit]:
        s = np.asarray(sc[p], np.float64)
        s = s / (np.abs(s).mean() + 1e-12)
        for e, v in zip(cg.elements[p], s):
            c = cg.cls(e)
            if c in out:
                out[c] += float(v)
    return out


def choose_structured(ctx, sc: dict, sparsity: dict[str, float], base: set[int]) -> set[int]:
    removed = set(base)
    for u in ctx.units:
        cs = class_scores(ctx, u, sc)
        n = len(cs)
        k = min(int(round(sparsity.get(u, 0.0) * n)), n - 1)
        order = sorted(cs, key=lambda c: (c not in base, cs[c], c))
        removed |= set(order[:k])
    return removed


def choose_unstructured(ctx, sc: dict, sparsity: dict[str, float], base: dict) -> dict:
    out = {}
    for u in ctx.units:
        s = np.asarray(sc[u], np.float64).copy()
        key = tuple(u.split("/", 1))
        if key in base:
            s[~base[key]] = -np.inf
        k = int(round(sparsity.get(u, 0.0) * s.size))
        keep = np.ones(s.size, bool)
        if k:
            keep[np.argsort(s.reshape(-1), kind="stable")[:k]] = False
        out[key] = keep.reshape(s.shape)
    return out


def uniform(ctx, s: float) -> dict[str, float]:
    return {u: float(s) for u in ctx.units}


def prune_to(ctx, sparsity: dict[str, float], sc: dict | None = None, monotonic: bool = True):
    """Score (unless given), choose and apply masks on ctx.model."""
    sc = scores(ctx) if sc is None else sc
    if ctx.structured:
        ctx.removed = choose_structured(ctx, sc, sparsity, ctx.removed if monotonic else set())
    else:
        ctx.emasks = choose_unstructured(ctx, sc, sparsity, ctx.emasks if monotonic else {})
    ctx.set_masks()
    return sc


def achieved(ctx) -> float:
    """Structured: removed / prunable channel classes over the pruned units; unstructured: zero
    fraction of the pruned kernels."""
    if ctx.structured:
        total = sum(len(ctx.cg.prunable_classes(ctx.unit_members[u])) for u in ctx.units)
        return len(ctx.removed) / total if total else 0.0
    sizes = [np.asarray(v.numpy()) for _, v in ctx.targets()]
    n = sum(w.size for w in sizes)
    return float(sum((w == 0).sum() for w in sizes) / n) if n else 0.0
