import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from mcc.frontend import load_tflite
from mcc.planner import plan_arena
from mcc.planner.arena import Buffer, lower_bound, place_first_fit

from conftest import MLPERF


def _check_no_overlap(bufs):
    for a, b in itertools.combinations(bufs, 2):
        if a.overlaps(b):
            assert a.offset + a.size <= b.offset or b.offset + b.size <= a.offset, (a, b)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 5000), st.integers(0, 20), st.integers(0, 8)), min_size=1, max_size=30))
def test_first_fit_never_overlaps_live_buffers(specs):
    bufs = [Buffer(f"b{k}", (f"b{k}",), size, first, first + span) for k, (size, first, span) in enumerate(specs)]
    placed = place_first_fit(bufs)
    assert [b.name for b in placed] == [b.name for b in bufs]
    _check_no_overlap(placed)
    assert all(b.offset % 16 == 0 for b in placed)
    lb, _ = lower_bound(bufs, 30)
    assert max(b.offset + b.size for b in placed) >= lb


@pytest.mark.parametrize("name", sorted(MLPERF))
def test_mlperf_plans_are_valid_and_reach_the_lower_bound(name):
    g = load_tflite(MLPERF[name])
    plan = plan_arena(g)
    _check_no_overlap(plan.buffers)
    assert plan.lower_bound <= plan.arena_bytes
    # first fit reaches the bound on these chain-like models (ResNet-8's residuals included)
    assert plan.arena_bytes == plan.lower_bound
    # every activation tensor has a place; reshape outputs share their input's storage
    for op in g.ops:
        for t in op.outputs:
            assert plan.offset_of(t) >= 0
        if op.kind == "RESHAPE":
            assert plan.offset_of(op.inputs[0]) == plan.offset_of(op.outputs[0])


def test_scratch_gets_its_own_space():
    g = load_tflite(MLPERF["dscnn"])
    plan = plan_arena(g, {0: 1000})
    s = plan.scratch(0)
    assert s is not None and s.size == 1000 and s.first == s.last == 0
    _check_no_overlap(plan.buffers)
    assert plan.lower_bound >= plan_arena(g).lower_bound


def test_lower_bound_counts_simultaneously_live():
    bufs = [Buffer("a", ("a",), 100, 0, 1), Buffer("b", ("b",), 50, 1, 2), Buffer("c", ("c",), 70, 2, 3)]
    assert lower_bound(bufs, 3) == (150, 1)
    assert np.isclose(lower_bound(bufs[2:], 3)[0], 70)
