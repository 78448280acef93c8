"""Bit allocation: choose 8, 4 or 2 bits per output channel to fit a flash budget at least loss.

The problem (``BitProblem``): layers of output channels; channel c of layer l stored at width b
costs ``bytes[l][c, b]`` of flash and adds ``sens[l][c, b]`` to the objective (its sensitivity,
from mcc.planner.sensitivity; 0 at 8 bits). Using width b < 8 anywhere in a layer that runs kernel
family f (e.g. the packed conv kernel) adds ``code[(f, b)]`` bytes once (the kernel's code); a key
``code[f]`` instead charges one cost for any width below 8 in the family (one packed kernel runs
s4, s2 and mixed widths). The
flash of a choice is ``fixed + sum of channel bytes + sum of the code of the families used``; it
must stay within ``budget``. Activations stay int8: main has no int16 convolution path yet, so
activation widths are not a choice (the SRAM budget is checked, not optimised: weights live in
flash and do not change the arena).

``allocate`` solves it exactly as a 0/1 integer program with scipy.optimize.milp (HiGHS):
one binary per (channel, width) with one-hot rows, one binary per (family, width) that every
channel using that width in the family forces on, and one knapsack row for flash. Above
``max_vars`` variables, or when the solver stops at its time limit without proving optimality, it
falls back to ``greedy``: the multiple-choice knapsack greedy on each channel's lower convex hull of
(bytes, sensitivity) points, taking steps in order of sensitivity added per byte saved until the
budget is met. Without code terms the greedy's objective is at most the LP relaxation's (hence the
optimum's) plus the largest single step it took (tested against brute force).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import MccError

WIDTHS = (8, 4, 2)


class NoFitError(MccError):
    """No choice of widths fits the budget."""


@dataclass(frozen=True)
class Layer:
    name: str                    # the weight tensor
    family: str                  # kernel family whose packed variant runs it (code size key)
    bytes: np.ndarray            # (channels, len(WIDTHS)) flash bytes of each channel at each width
    sens: np.ndarray             # (channels, len(WIDTHS)) sensitivity at each width (0 at 8 bits)

    @property
    def channels(self) -> int:
        return int(self.bytes.shape[0])


@dataclass(frozen=True)
class BitProblem:
    layers: tuple[Layer, ...]
    fixed: int                   # flash bytes that do not depend on the widths
    budget: int                  # flash budget (bytes)
    code: dict = field(default_factory=dict)   # (family, width) -> bytes of code when used

    @property
    def n_channels(self) -> int:
        return sum(layer.channels for layer in self.layers)


@dataclass(frozen=True)
class Allocation:
    widths: dict[str, tuple[int, ...]]   # weight tensor -> width per output channel
    objective: float                     # summed sensitivity
    flash: int                           # predicted flash of the choice (fixed + weights + code)
    method: str                          # "milp" (proven optimal), "milp-timeout", "greedy"
    optimal: bool


def flash_of(problem: BitProblem, widths: dict[str, tuple[int, ...]]) -> int:
    total = problem.fixed
    used = set()
    for layer in problem.layers:
        idx = np.array([WIDTHS.index(b) for b in widths[layer.name]])
        total += int(layer.bytes[np.arange(layer.channels), idx].sum())
        used |= {_code_key(problem, layer.family, b) for b in set(widths[layer.name]) if b != 8}
    return total + sum(int(problem.code.get(k, 0)) for k in used)


def _code_key(problem: BitProblem, family: str, b: int):
    return family if family in problem.code else (family, b)


def objective_of(problem: BitProblem, widths: dict[str, tuple[int, ...]]) -> float:
    return float(sum(layer.sens[np.arange(layer.channels), [WIDTHS.index(b) for b in widths[layer.name]]].sum()
                     for layer in problem.layers))


def _uniform(problem: BitProblem, b: int) -> dict[str, tuple[int, ...]]:
    return {layer.name: (b,) * layer.channels for layer in problem.layers}


def smallest_flash(problem: BitProblem) -> int:
    """The least flash any choice reaches (every channel at its cheapest width, or all 8 bits when the
    packed kernels' code outweighs what they save)."""
    best = min(flash_of(problem, _uniform(problem, b)) for b in WIDTHS)
    cheapest = {layer.name: tuple(WIDTHS[int(i)] for i in layer.bytes.argmin(axis=1)) for layer in problem.layers}
    return min(best, flash_of(problem, cheapest))


def no_fit_message(problem: BitProblem, what: str = "flash") -> str:
    low = smallest_flash(problem)
    lay = sorted(problem.layers, key=lambda layer: -int(layer.bytes.min(axis=1).sum()))[:3]
    dom = ", ".join(f"{layer.name} ({int(layer.bytes.min(axis=1).sum()):,} B at 2 bits)" for layer in lay)
    return (f"no choice of weight widths fits the {what} budget of {problem.budget:,} bytes: the smallest "
            f"{what} reachable is {low:,} bytes (all weights at 2 bits; {problem.fixed:,} bytes do not depend "
            f"on the widths); largest layers: {dom}")


def allocate(problem: BitProblem, method: str = "auto", max_vars: int = 30000,
             time_limit: float = 20.0) -> Allocation:
    """The allocation of least summed sensitivity within the budget (see the module doc)."""
    if method not in ("auto", "milp", "greedy"):
        raise ValueError(f"method must be auto, milp or greedy, got {method!r}")
    eight = _uniform(problem, 8)
    if flash_of(problem, eight) <= problem.budget:
        return Allocation(eight, objective_of(problem, eight), flash_of(problem, eight), "all-8", True)
    if smallest_flash(problem) > problem.budget:
        raise NoFitError(no_fit_message(problem))
    n_vars = problem.n_channels * len(WIDTHS) + len(problem.code)
    if method == "greedy" or (method == "auto" and n_vars > max_vars):
        return greedy(problem)
    res = _milp(problem, time_limit)
    if res is not None and res.optimal:
        return res
    g = greedy(problem)
    if res is not None and res.objective < g.objective:
        return res
    return g


def _milp(problem: BitProblem, time_limit: float) -> Allocation | None:
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import coo_matrix

    nw = len(WIDTHS)
    n = problem.n_channels
    fams = sorted({_code_key(problem, layer.family, b) for layer in problem.layers for b in WIDTHS[1:]}, key=str)
    fam_index = {k: n * nw + i for i, k in enumerate(fams)}
    nv = n * nw + len(fams)
    cost = np.zeros(nv)
    weight = np.zeros(nv)
    rows, cols, vals = [], [], []
    lo, hi = [], []
    r = 0
    base = 0
    for layer in problem.layers:
        for c in range(layer.channels):
            v = base + c * nw
            cost[v:v + nw] = layer.sens[c]
            weight[v:v + nw] = layer.bytes[c]
            rows += [r] * nw
            cols += list(range(v, v + nw))
            vals += [1.0] * nw
            lo.append(1)
            hi.append(1)
            r += 1
            for j, b in enumerate(WIDTHS[1:], start=1):  # x[c, b] <= y[family, b]
                rows += [r, r]
                cols += [v + j, fam_index[_code_key(problem, layer.family, b)]]
                vals += [1.0, -1.0]
                lo.append(-np.inf)
                hi.append(0)
                r += 1
        base += layer.channels * nw
    for k, i in fam_index.items():
        weight[i] = problem.code.get(k, 0)
        cost[i] = 0.0
    rows += [r] * nv
    cols += list(range(nv))
    vals += list(weight)
    lo.append(-np.inf)
    hi.append(problem.budget - problem.fixed)
    r += 1
    a = coo_matrix((vals, (rows, cols)), shape=(r, nv)).tocsr()
    # scale the objective to O(1): HiGHS's tolerances are absolute
    scale = float(np.abs(cost).max()) or 1.0
    res = milp(cost / scale, constraints=LinearConstraint(a, lo, hi), integrality=np.ones(nv),
               bounds=Bounds(0, 1), options={"time_limit": time_limit, "mip_rel_gap": 0.0})
    if res.x is None:
        return None
    x = np.round(res.x[:n * nw]).reshape(n, nw).astype(int)
    widths, at = {}, 0
    for layer in problem.layers:
        widths[layer.name] = tuple(WIDTHS[int(np.argmax(x[at + c]))] for c in range(layer.channels))
        at += layer.channels
    flash = flash_of(problem, widths)
    if flash > problem.budget:
        return None
    optimal = res.status == 0
    return Allocation(widths, objective_of(problem, widths), flash, "milp" if optimal else "milp-timeout", optimal)


def _hull(bytes_: np.ndarray, sens: np.ndarray) -> list[int]:
    """Indices into WIDTHS along the lower convex hull of (bytes, sens), from 8 bits down in bytes."""
    order = [0]  # 8 bits: the start
    cur = 0
    while True:
        best, best_ratio = None, None
        for j in range(len(WIDTHS)):
            saved = bytes_[cur] - bytes_[j]
            if saved <= 0:
                continue
            ratio = (sens[j] - sens[cur]) / saved
            if best is None or ratio < best_ratio - 1e-18 or (abs(ratio - best_ratio) <= 1e-18 and bytes_[j] < bytes_[best]):
                best, best_ratio = j, ratio
        if best is None:
            return order
        order.append(best)
        cur = best


def greedy(problem: BitProblem) -> Allocation:
    """Greedy by sensitivity added per byte saved, on each channel's convex hull of widths."""
    steps = []  # (ratio, layer index, channel, from index, to index)
    for li, layer in enumerate(problem.layers):
        for c in range(layer.channels):
            h = _hull(layer.bytes[c], layer.sens[c])
            for a, b in zip(h, h[1:]):
                saved = layer.bytes[c, a] - layer.bytes[c, b]
                steps.append(((layer.sens[c, b] - layer.sens[c, a]) / saved, li, c, a, b))
    steps.sort(key=lambda s: (s[0], s[1], s[2], s[4]))
    idx = [np.zeros(layer.channels, int) for layer in problem.layers]

    def current():
        return {layer.name: tuple(WIDTHS[i] for i in idx[li]) for li, layer in enumerate(problem.layers)}

    flash = flash_of(problem, current())
    for _, li, c, a, b in steps:
        if flash <= problem.budget:
            break
        if idx[li][c] != a:
            continue
        idx[li][c] = b
        flash = flash_of(problem, current()) if problem.code else flash - int(
            problem.layers[li].bytes[c, a] - problem.layers[li].bytes[c, b])
    widths = current()
    flash = flash_of(problem, widths)
    if flash > problem.budget:
        raise NoFitError(no_fit_message(problem))
    return Allocation(widths, objective_of(problem, widths), flash, "greedy", False)
