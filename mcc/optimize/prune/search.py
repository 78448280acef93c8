"""Per-unit sparsity searches under a MAC or flash budget, evaluated on validation data (masks
only, no fine-tuning per candidate; few evaluations): simulated annealing, AutoCompress
(annealing, then ADMM training toward the found ratios) and AMC (a REINFORCE agent with a linear
Gaussian policy over layer features choosing each unit's ratio)."""

from __future__ import annotations

import numpy as np

from .costs import estimate
from .select import prune_to, scores, uniform

MAX_S = 0.9


def _cost(ctx, spars):
    return estimate(ctx, spars)[0 if ctx.config.budget == "macs" else 1]


def budget(ctx) -> float:
    cfg = ctx.config
    if cfg.budget_ratio is not None:
        return cfg.budget_ratio * _cost(ctx, uniform(ctx, 0.0))
    return _cost(ctx, uniform(ctx, cfg.sparsity))


def fit_budget(ctx, spars: dict[str, float], limit: float) -> dict[str, float]:
    """Shift all ratios up by the smallest delta (bisection) that meets the budget."""
    if _cost(ctx, spars) <= limit:
        return spars
    lo, hi = 0.0, 1.0
    for _ in range(14):
        mid = (lo + hi) / 2
        cand = {u: min(MAX_S, s + mid) for u, s in spars.items()}
        lo, hi = (lo, mid) if _cost(ctx, cand) <= limit else (mid, hi)
    return {u: min(MAX_S, s + hi) for u, s in spars.items()}


class Evaluator:
    """Accuracy / loss of ctx.model masked at candidate ratios; weights and masks restored after."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.sc = scores(ctx)
        self.history: list[tuple[dict, float, float]] = []

    def __call__(self, spars):
        ctx = self.ctx
        saved = ctx.model.get_weights(), set(ctx.removed), dict(ctx.emasks), list(ctx._masks)
        prune_to(ctx, spars, self.sc)
        acc, loss = ctx.evaluate()
        ctx.model.set_weights(saved[0])
        ctx.removed, ctx.emasks, ctx._masks = saved[1], saved[2], saved[3]
        self.history.append((dict(spars), acc, loss))
        return acc - 0.01 * loss       # accuracy first, loss breaks ties on small samples


def annealing(ctx) -> dict[str, float]:
    cfg = ctx.config
    rng = np.random.default_rng(cfg.seed)
    limit = budget(ctx)
    ev = Evaluator(ctx)
    cur = fit_budget(ctx, uniform(ctx, cfg.sparsity), limit)
    f_cur = ev(cur)
    best, f_best = cur, f_cur
    temp = 0.05
    with ctx.progress("simulated annealing", cfg.search_evals) as tick:
        for _ in range(max(0, cfg.search_evals - 1)):
            cand = {u: float(np.clip(s + rng.normal(0, 0.1), 0.0, MAX_S)) for u, s in cur.items()}
            cand = fit_budget(ctx, cand, limit)
            f = ev(cand)
            if f >= f_cur or rng.random() < np.exp((f - f_cur) / max(temp, 1e-6)):
                cur, f_cur = cand, f
            if f > f_best:
                best, f_best = cand, f
            temp *= 0.85
            tick()
    ctx.search_log = ev.history
    return best


def _features(ctx) -> np.ndarray:
    """Per unit: position, share of the model's MACs and of its flash (at 0 sparsity), bias."""
    base = uniform(ctx, 0.0)
    m0, f0 = estimate(ctx, base)
    rows = []
    for i, u in enumerate(ctx.units):
        m, f = estimate(ctx, {**base, u: 0.5})
        rows.append([i / max(1, len(ctx.units) - 1), 2 * (m0 - m) / m0, 2 * (f0 - f) / f0, 1.0])
    return np.array(rows)


def amc(ctx) -> dict[str, float]:
    """REINFORCE: a ~ N(MAX_S * sigmoid(theta . phi_u), sigma); the episode's action is fitted to the
    budget (as AMC constrains its actions) and rewarded with the validation objective."""
    cfg = ctx.config
    rng = np.random.default_rng(cfg.seed)
    limit = budget(ctx)
    ev = Evaluator(ctx)
    phi = _features(ctx)
    theta = np.zeros(phi.shape[1])
    theta[-1] = np.log(cfg.sparsity / (MAX_S - cfg.sparsity)) if 0 < cfg.sparsity < MAX_S else 0.0
    sigma, lr, baseline = 0.12, 0.5, None
    best, f_best = None, -np.inf
    with ctx.progress("AMC (REINFORCE)", cfg.search_evals) as tick:
        for _ in range(cfg.search_evals):
            z = phi @ theta
            mu = MAX_S / (1 + np.exp(-z))
            a = np.clip(mu + sigma * rng.normal(size=len(mu)), 0.0, MAX_S)
            spars = fit_budget(ctx, dict(zip(ctx.units, a.tolist())), limit)
            r = ev(spars)
            if r > f_best:
                best, f_best = spars, r
            baseline = r if baseline is None else 0.8 * baseline + 0.2 * r
            # d log N(a; mu, sigma) / d theta = (a - mu) / sigma^2 * dmu/dz * phi
            grad = (((a - mu) / sigma ** 2) * mu * (1 - mu / MAX_S))[:, None] * phi
            theta += lr * (r - baseline) * grad.sum(0)
            sigma = max(0.03, sigma * 0.95)
            tick()
    ctx.search_log = ev.history
    return best


def auto_compress(ctx) -> dict[str, float]:
    """Annealing for the ratios, then ADMM training toward them (pruned by the ADMM weights)."""
    from .criteria import METHODS

    spars = annealing(ctx)
    ctx.unit_sparsity = spars
    ctx.criterion = METHODS["admm"]
    return spars


SEARCHES = {"annealing": annealing, "amc": amc, "auto_compress": auto_compress}
