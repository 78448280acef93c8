"""Sensitivity per unit (group of tied layers, or kernel): each pruned alone at a few ratios with
the method's ranking, no fine-tuning, evaluated on the validation sample."""

from __future__ import annotations

from dataclasses import dataclass

from .search import Evaluator


@dataclass(frozen=True)
class SensitivityRow:
    unit: str                 # group id (its first layer) or layer/weight
    layers: tuple[str, ...]
    sparsity: float
    accuracy: float
    loss: float


def sensitivity(ctx) -> list[SensitivityRow]:
    levels = ctx.config.sensitivity_levels
    if not levels or not ctx.units:
        return []
    ev = Evaluator(ctx)
    acc0, loss0 = ctx.evaluate()
    rows = []
    with ctx.progress("sensitivity", len(ctx.units) * len(levels)) as tick:
        for u in ctx.units:
            members = tuple(ctx.unit_members[u]) if ctx.structured else (u.split("/")[0],)
            rows.append(SensitivityRow(u, members, 0.0, acc0, loss0))
            for s in levels:
                ev({u: s})
                _, acc, loss = ev.history[-1]
                rows.append(SensitivityRow(u, members, float(s), acc, loss))
                tick()
    return rows
