"""The optimized memory plan: operator order search, in-place execution, patch-based execution.

    plan_optimized(g, records, has_dsp) -> MemoryResult

Each step is measured with the same placement (``mcc.planner.schedule.plan_program``), so the
report can show what each one buys: first fit in the model's order (the spine), + order search,
+ in-place, + patches. Patching picks the stage end k and the band count n with the smallest
arena (ties: fewer MACs) among those recomputing at most ``max_overhead`` of the model's MACs
(default 25 %; ``CompileOptions.patch_overhead``), and is kept only when it lowers the arena.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..codegen.select import select_kernel
from ..ir import Graph
from ..lower.scratch import scratch_for
from .order import OrderResult, order_peak, search_order
from .patch import PatchInfo, _macs, patch_program, stage_ends
from .schedule import MemoryPlan, Program, apply_inplace, plan_program, program_of, reorder

MEMORY_MODES = ("firstfit", "optimized")
DEFAULT_MAX_OVERHEAD = 0.25  # patches may recompute up to 25 % of the model's MACs


def kernels_of(prog: Program, has_dsp: bool) -> list:
    return [None if r is None else select_kernel(op.kind, r, has_dsp)[0]
            for op, r in zip(prog.graph.ops, prog.records)]


def scratch_of(prog: Program, has_dsp: bool, kernels=None) -> dict[int, int]:
    kernels = kernels_of(prog, has_dsp) if kernels is None else kernels
    return {i: scratch_for(k, r, has_dsp) for i, (k, r) in enumerate(zip(kernels, prog.records))
            if r is not None}


@dataclass(frozen=True)
class MemoryResult:
    program: Program          # what the code generator runs
    plan: MemoryPlan          # its arena
    kernels: tuple            # C function per op of the program (None for views)
    order: OrderResult
    patch: PatchInfo | None
    steps: dict = field(default_factory=dict)  # step name -> MemoryPlan (cumulative)


def _plan(prog: Program, has_dsp: bool) -> MemoryPlan:
    return plan_program(prog, scratch_of(prog, has_dsp))


def model_macs(prog: Program) -> int:
    return sum(_macs(r) for r in prog.records if r is not None)


def best_patch(prog: Program, has_dsp: bool, inplace: bool = True, max_overhead: float | None = None):
    """(patched program, plan, PatchInfo) with the smallest arena over stage ends and band counts
    (ties: fewer MACs), among those whose recomputed MACs stay within ``max_overhead`` x the
    model's MACs (None: no limit); None when no stage qualifies."""
    best = None
    budget = None if max_overhead is None else max_overhead * model_macs(prog)
    for e in stage_ends(prog):
        height = prog.graph.tensors[prog.graph.ops[e].outputs[0]].shape[1]
        steps = sorted({math.ceil(height / n) for n in range(2, height + 1)}, reverse=True)
        for step in steps:
            bands = math.ceil(height / step)
            patched, info = patch_program(prog, e, bands)
            if budget is not None and info.macs - info.stage_macs > budget:
                continue
            if inplace:
                patched = apply_inplace(patched)
            plan = _plan(patched, has_dsp)
            key = (plan.arena_bytes, info.macs, e)
            if best is None or key < best[0]:
                best = (key, patched, plan, info)
    return None if best is None else best[1:]


def plan_optimized(g: Graph, records, has_dsp: bool = False, reorder_ops: bool = True,
                   inplace: bool = True, patch: bool = True,
                   max_overhead: float | None = DEFAULT_MAX_OVERHEAD) -> MemoryResult:
    """The optimized plan of ``g``; ``max_overhead``: the most MACs patch-based execution may
    recompute, as a fraction of the model's MACs (None: no limit, the smallest arena)."""
    base = program_of(g, records)
    steps = {"first fit": _plan(base, has_dsp)}
    scratch = scratch_of(base, has_dsp)
    if reorder_ops:
        order = search_order(base, scratch, inplace=inplace)
        model_order = tuple(range(len(g.ops)))
        if not order.exact:  # a beam search may lose to the model's own order: keep the better
            own = order_peak(base, model_order, scratch, inplace)
            if own <= order.peak:
                order = OrderResult(model_order, own, order.states, False)
    else:
        order = OrderResult(tuple(range(len(g.ops))), 0, 0, True)
    prog = reorder(base, list(order.order))
    steps["order search"] = _plan(prog, has_dsp)
    final = apply_inplace(prog) if inplace else prog
    steps["+ in-place"] = _plan(final, has_dsp)
    plan, info = steps["+ in-place"], None
    if patch:
        found = best_patch(prog, has_dsp, inplace, max_overhead)
        if found is not None and found[1].arena_bytes < plan.arena_bytes:
            final, plan, info = found
        steps["+ patches"] = plan
    return MemoryResult(final, plan, tuple(kernels_of(final, has_dsp)), order, info, steps)
