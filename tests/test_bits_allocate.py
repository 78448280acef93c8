"""Bit allocation: the MILP optimum equals brute force on tiny instances; the greedy stays within
its bound; the no-fit error names the smallest flash and the dominating layers."""

import itertools

import numpy as np
import pytest

from mcc.errors import MccError
from mcc.lower.packing import row_bytes
from mcc.planner.bits import (WIDTHS, BitProblem, Layer, NoFitError, _hull, allocate, flash_of, greedy,
                              objective_of, smallest_flash)


def _problem(rng, n_layers=2, max_ch=3, code=False, budget_frac=0.5, fixed=100):
    layers = []
    for i in range(n_layers):
        n = int(rng.integers(1, max_ch + 1))
        k = int(rng.integers(3, 40))
        b = np.array([[row_bytes(k, w) for w in WIDTHS]] * n)
        s4 = rng.exponential(1.0, n) * k
        s2 = s4 + rng.exponential(4.0, n) * k
        sens = np.stack([np.zeros(n), s4, s2], axis=1)
        layers.append(Layer(f"w{i}", ["conv", "fc"][i % 2], b, sens))
    full = sum(int(layer.bytes[:, 0].sum()) for layer in layers)
    low = sum(int(layer.bytes[:, 2].sum()) for layer in layers)
    codes = {}
    if code == "width":
        codes = {(f, w): int(rng.integers(0, 30)) for f in ("conv", "fc") for w in (4, 2)}
    elif code == "family":
        codes = {f: int(rng.integers(0, 40)) for f in ("conv", "fc")}
    budget = fixed + low + int(budget_frac * (full - low)) + (max(codes.values()) if code else 0)
    return BitProblem(tuple(layers), fixed, budget, codes)


def _brute(p):
    best = None
    choices = [itertools.product(WIDTHS, repeat=layer.channels) for layer in p.layers]
    for combo in itertools.product(*[list(c) for c in choices]):
        widths = {layer.name: w for layer, w in zip(p.layers, combo)}
        if flash_of(p, widths) > p.budget:
            continue
        obj = objective_of(p, widths)
        if best is None or obj < best - 1e-12:
            best = obj
    return best


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("code", [None, "width", "family"])
def test_milp_equals_brute_force(seed, code):
    rng = np.random.default_rng(seed)
    p = _problem(rng, n_layers=int(rng.integers(1, 4)), max_ch=3, code=code,
                 budget_frac=float(rng.uniform(0.05, 0.9)))
    opt = _brute(p)
    if opt is None:
        with pytest.raises(NoFitError):
            allocate(p, method="milp")
        return
    a = allocate(p, method="milp")
    assert a.flash <= p.budget and a.flash == flash_of(p, a.widths)
    assert a.objective == pytest.approx(opt, rel=1e-9, abs=1e-9)
    if a.method != "all-8":
        assert a.method == "milp" and a.optimal


@pytest.mark.parametrize("seed", range(12))
def test_greedy_within_bound(seed):
    rng = np.random.default_rng(100 + seed)
    p = _problem(rng, n_layers=3, max_ch=3, budget_frac=float(rng.uniform(0.05, 0.9)))
    opt = _brute(p)
    g = greedy(p)
    assert g.flash <= p.budget
    assert g.objective >= opt - 1e-9
    # bound: LP relaxation + the largest hull step of any channel
    max_step = max(float(layer.sens[c, b] - layer.sens[c, a]) for layer in p.layers for c in range(layer.channels)
                   for a, b in zip(_hull(layer.bytes[c], layer.sens[c]), _hull(layer.bytes[c], layer.sens[c])[1:]))
    assert g.objective <= opt + max_step + 1e-9


def test_hull_skips_non_convex_middle():
    # 4 bits saves half but costs nearly as much as 2 bits: the hull goes 8 -> 2 directly
    assert _hull(np.array([8, 4, 2]), np.array([0.0, 9.0, 10.0])) == [0, 2]
    assert _hull(np.array([8, 4, 2]), np.array([0.0, 1.0, 10.0])) == [0, 1, 2]


def test_large_problem_uses_greedy_and_fits():
    rng = np.random.default_rng(7)
    layers = []
    for i in range(20):
        n, k = 64, 72
        b = np.array([[row_bytes(k, w) for w in WIDTHS]] * n)
        s4 = rng.exponential(1.0, n)
        layers.append(Layer(f"w{i}", "conv", b, np.stack([np.zeros(n), s4, s4 + rng.exponential(3.0, n)], 1)))
    full = sum(int(layer.bytes[:, 0].sum()) for layer in layers)
    p = BitProblem(tuple(layers), 0, int(0.5 * full))
    a = allocate(p, max_vars=1000)
    assert a.method == "greedy" and a.flash <= p.budget
    m = allocate(p, method="milp")
    assert m.objective <= a.objective + 1e-9


def test_all_eight_when_it_fits_and_no_fit_error():
    rng = np.random.default_rng(3)
    p = _problem(rng, n_layers=2)
    roomy = BitProblem(p.layers, p.fixed, 10 ** 9, p.code)
    a = allocate(roomy)
    assert a.method == "all-8" and all(set(w) == {8} for w in a.widths.values())
    tight = BitProblem(p.layers, p.fixed, smallest_flash(p) - 1, p.code)
    with pytest.raises(NoFitError) as e:
        allocate(tight)
    assert isinstance(e.value, MccError)
    msg = str(e.value)
    assert f"{smallest_flash(p):,} bytes" in msg and "w0" in msg and "largest layers" in msg
