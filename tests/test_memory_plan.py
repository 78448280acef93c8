"""Memory planning beyond first fit: plans are valid (checked independently of the planner), the
order search is optimal against brute force, in-place and patch-based plans compute the same
outputs as the numpy reference interpreter when simulated on a byte arena."""

import numpy as np
import pytest

import mcc.api as api
from mcc.frontend import load_tflite
from mcc.ir import Graph, Op, QuantParams, Tensor
from mcc.ir.attrs import NoAttrs
from mcc.planner.arena import lifetimes, lower_bound
from mcc.planner.optimize import plan_optimized
from mcc.planner.order import order_peak, search_order
from mcc.planner.patch import patch_program, stage_ends
from mcc.planner.report import inplace_ops
from mcc.planner.schedule import apply_inplace, plan_program, program_of, reorder
from mcc.reference.interp import run as interp_run

from conftest import MLPERF, OPS_DIR
from memsim import overlaps, scratch_overlaps, simulate


def _topological_orders(g):
    prod = g.producers()
    deps = [{prod[t] for t in op.inputs if t is not None and t in prod} for op in g.ops]

    def rec(done, order):
        if len(order) == len(g.ops):
            yield tuple(order)
            return
        for v in range(len(g.ops)):
            if v not in done and deps[v] <= done:
                yield from rec(done | {v}, order + [v])
    yield from rec(frozenset(), [])


def _spine_peak(g, order):
    g2 = g.replace(ops=tuple(g.ops[i] for i in order))
    return lower_bound(lifetimes(g2, {}), len(g2.ops))[0]


def _random_dag(seed, n_ops=7):
    """A random branched graph of unary and binary ops on tensors of random sizes."""
    rng = np.random.default_rng(seed)
    q = QuantParams((0.1,), (0,))
    tensors = {"x": Tensor("x", (1, int(rng.integers(1, 64))), "int8", q)}
    avail = ["x"]
    ops = []
    for i in range(n_ops):
        k = 2 if len(avail) > 1 and rng.random() < 0.4 else 1
        ins = tuple(rng.choice(avail, size=k, replace=False).tolist())
        out = f"t{i}"
        tensors[out] = Tensor(out, (1, int(rng.integers(1, 64))), "int8", q)
        ops.append(Op("ADD" if k == 2 else "LOGISTIC", ins, (out,), NoAttrs(), f"op{i}"))
        avail.append(out)
    consumed = {t for op in ops for t in op.inputs}
    sinks = [op.outputs[0] for op in ops if op.outputs[0] not in consumed]
    while len(sinks) > 1:  # join the sinks so the graph has one output
        a, b = sinks.pop(), sinks.pop()
        out = f"j{len(ops)}"
        tensors[out] = Tensor(out, (1, 8), "int8", q)
        ops.append(Op("ADD", (a, b), (out,), NoAttrs(), f"op{len(ops)}"))
        sinks.append(out)
    return Graph(tensors, tuple(ops), ("x",), (sinks[0],))


@pytest.mark.parametrize("seed", range(12))
def test_order_search_is_optimal_on_small_graphs(seed):
    g = _random_dag(seed)
    prog = program_of(g, [None] * len(g.ops))
    res = search_order(prog, {}, inplace=False)
    orders = list(_topological_orders(g))
    assert res.order in orders  # a valid topological order
    brute = min(_spine_peak(g, o) for o in orders)
    assert res.exact and res.peak == brute == _spine_peak(g, res.order)


def test_order_search_resnet8_matches_brute_force():
    g = load_tflite(MLPERF["resnet8"])
    prog = program_of(g, api.lower_graph(g))
    res = search_order(prog, {}, inplace=True)
    orders = list(_topological_orders(g))
    assert len(orders) > 1 and res.order in orders
    assert res.peak == min(order_peak(prog, o, {}, inplace=True) for o in orders)
    # and the placed plan of that order (with in-place ADDs) reaches its own lower bound
    plan = plan_program(apply_inplace(reorder(prog, list(res.order))), {})
    assert plan.lower_bound == res.peak


@pytest.mark.parametrize("name,dsp", [("resnet8", True), ("dscnn", False), ("sww", True)])
def test_optimized_plans_are_valid_and_exact(name, dsp):
    g = load_tflite(MLPERF[name])
    mem = plan_optimized(g, api.lower_graph(g), has_dsp=dsp, max_overhead=None)
    x = api.random_inputs(g, 3, seed=7)
    for step, plan in mem.steps.items():
        assert plan.arena_bytes >= plan.lower_bound
    assert mem.plan.arena_bytes <= mem.steps["first fit"].arena_bytes
    assert scratch_overlaps(mem.program.graph, mem.plan) == []
    for xi in x:
        ref = interp_run(g, [xi])[0]
        assert np.array_equal(simulate(mem.program, mem.plan, xi), ref)


@pytest.mark.parametrize("name", sorted(MLPERF))
def test_reordered_inplace_plans_have_no_overlap(name):
    g = load_tflite(MLPERF[name])
    mem = plan_optimized(g, api.lower_graph(g), patch=False)
    assert overlaps(mem.program.graph, mem.plan) == []
    assert scratch_overlaps(mem.program.graph, mem.plan) == []


def test_checker_catches_a_bad_plan():
    """The independent checks fail on a plan that puts every tensor at offset 0."""
    g = load_tflite(MLPERF["resnet8"])
    mem = plan_optimized(g, api.lower_graph(g), patch=False)
    from dataclasses import replace
    bad = replace(mem.plan, tensor_offsets={t: 0 for t in mem.plan.tensor_offsets})
    assert overlaps(mem.program.graph, bad) != []
    x = api.random_inputs(g, 1, seed=1)[0]
    assert not np.array_equal(simulate(mem.program, bad, x), interp_run(g, [x])[0])


def test_inplace_add_on_resnet8():
    g = load_tflite(MLPERF["resnet8"])
    mem = plan_optimized(g, api.lower_graph(g), patch=False)
    done = inplace_ops(mem.program)
    assert done and all(n.endswith("_add") for n in done)
    g2, plan = mem.program.graph, mem.plan
    for op in g2.ops:
        if op.name in done:
            assert plan.offset_of(op.outputs[0]) in {plan.offset_of(t) for t in op.inputs}


def test_broadcast_add_is_not_inplace():
    from mcc.planner.schedule import inplace_candidates
    from mcc.lower import params as P
    shape = P.BroadcastShape((1, 2, 2, 4), (16, 8, 4, 1), (0, 0, 0, 1))
    rec = P.AddParams(shape, 0, 0, 0, 20, 1 << 30, 0, 1 << 30, 0, 1 << 30, 0, -128, 127)
    assert inplace_candidates(None, rec) == ()
    full = P.BroadcastShape((1, 2, 2, 4), (16, 8, 4, 1), (16, 8, 4, 1))
    from dataclasses import replace
    assert inplace_candidates(None, replace(rec, shape=full)) == (0, 1)


@pytest.mark.parametrize("bands", [3, 32])
def test_patch_every_stage_and_band_count_is_exact(bands):
    """ResNet-8: each patchable prefix in several band counts (incl. uneven and 1-row bands)."""
    g = load_tflite(MLPERF["resnet8"])
    prog = program_of(g, api.lower_graph(g))
    ends = stage_ends(prog)
    assert ends  # the stem and the first residual blocks can be patched
    x = api.random_inputs(g, 1, seed=bands)[0]
    ref = interp_run(g, [x])[0]
    for e in ends:
        patched, info = patch_program(prog, e, bands)
        patched = apply_inplace(patched)
        plan = plan_program(patched, {})
        assert info.macs >= info.stage_macs
        assert np.array_equal(simulate(patched, plan, x), ref), (e, bands)


def test_patch_cuts_resnet8_peak():
    g = load_tflite(MLPERF["resnet8"])
    mem = plan_optimized(g, api.lower_graph(g), max_overhead=None)
    assert mem.patch is not None
    assert mem.plan.arena_bytes < mem.steps["+ in-place"].arena_bytes
    assert mem.steps["+ in-place"].arena_bytes / mem.plan.arena_bytes > 1.9


def test_op_models_compile_and_simulate():
    from mcc.errors import MccError
    checked = 0
    for path in sorted(OPS_DIR.glob("*.tflite")):
        try:
            g = api.load_model(path)
        except MccError:  # models with several inputs: not compiled by mcc
            continue
        checked += 1
        mem = plan_optimized(g, api.lower_graph(g))
        x = api.random_inputs(g, 1, seed=2)[0]
        assert np.array_equal(simulate(mem.program, mem.plan, x), interp_run(g, [x])[0]), path.name
    assert checked >= 5


def test_order_beam_on_a_wide_graph_is_valid():
    g = _random_dag(1, 20)
    prog = program_of(g, [None] * len(g.ops))
    res = search_order(prog, {}, inplace=False, beam=8)
    prod = g.producers()
    pos = {v: k for k, v in enumerate(res.order)}
    assert sorted(res.order) == list(range(len(g.ops)))
    assert all(pos[prod[t]] < pos[i] for i, op in enumerate(g.ops) for t in op.inputs if t in prod)
    assert not res.exact and res.peak == _spine_peak(g, res.order)
