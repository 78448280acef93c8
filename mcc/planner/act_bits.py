"""Activation widths: which activation tensors to widen from 8 to 16 bits within an SRAM budget.

    ap = choose_activation_widths(float_graph, ranges, calib, target="mps2-an386", sram=120_000)
    ap.widths            # activation tensor -> 8 or 16 (mcc.passes.act_widths.quantize_mixed)
    ap.arena, ap.sram    # the arena of the chosen mixed graph; its predicted SRAM (mcc.planner.cost)

Sensitivity (per candidate tensor, on calibration data): the float model is run with only that
tensor fake-quantized -- at the 8-bit parameters mcc.passes.quantize gives it, then at the 16-bit
ones of mcc.passes.quantize16 -- and the mean squared error of the model output against the float
output is measured; the gain of widening the tensor is err8 - err16 (> 0 where 16 bits help).

Cost: bytes of arena from the memory planner (mcc.planner.arena through api.plan_memory) of the
whole mixed graph, conversions (QUANTIZE copies) and kernel scratch included. Widening is not
additive in arena bytes (the peak moves), so the choice is greedy on exact plans: each round
every remaining candidate with a positive gain is planned with the current set, and the one
with the largest gain per extra arena byte that keeps the predicted SRAM within the budget is
added (ties: no extra bytes first), until none fits. The SRAM of a choice is the all-8 model's
predicted SRAM (linker-exact, mcc.planner.cost) plus the arena difference; the final choice is
predicted exactly again and the last widening is undone while it does not fit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import MccError
from ..ir import Graph
from ..passes.act_widths import quantize_mixed, quantized_pair, widenable
from ..quant import params as Q
from ..reference import float_interp as F


@dataclass(frozen=True)
class ActPlan:
    widths: dict[str, int]          # every activation -> 8 or 16
    arena: int                      # arena bytes of the mixed graph
    arena8: int                     # ... of the all-8 graph
    sram: int | None                # predicted SRAM of the mixed graph (None without a board)
    sram8: int | None
    sram_budget: int | None
    gains: dict[str, float] = field(default_factory=dict)  # candidate -> err8 - err16
    errors: dict[str, tuple[float, float]] = field(default_factory=dict)  # candidate -> (err8, err16)

    @property
    def wide(self) -> list[str]:
        return [n for n, b in self.widths.items() if b == 16]


def _fake(x: np.ndarray, q, bits: int) -> np.ndarray:
    """Quantize-dequantize ``x`` with parameters ``q`` at ``bits`` (round half away, saturating)."""
    lo, hi = (-128, 127) if bits == 8 else (-32768, 32767)
    v = np.clip(Q.round_half_away(x.astype(np.float64) / q.s) + q.zp, lo, hi)
    return ((v - q.zp) * q.s).astype(np.float32)


def act_sensitivity(float_graph: Graph, ranges: dict, calib: np.ndarray, candidates: list[str] | None = None,
                    per_channel: bool = True, pair: dict[int, Graph] | None = None) -> dict[str, tuple[float, float]]:
    """candidate -> (output MSE with it at 8 bits, at 16 bits); the rest of the model float.
    ``pair``: the graph's ``quantized_pair`` (mcc.passes.act_widths), when the caller has it."""
    g = float_graph
    if pair is None:
        pair = quantized_pair(g, ranges, per_channel)
    cands = widenable(g) if candidates is None else list(candidates)
    (x,), batch = F.check_batch(g, [calib])
    env0 = F.run(g, [x], keep_all=True)
    y0 = env0[g.outputs[0]].astype(np.float64)
    producer = {op.outputs[0]: i for i, op in enumerate(g.ops)}
    out: dict[str, tuple[float, float]] = {}
    for n in cands:
        errs = []
        for bits in (8, 16):
            env = dict(env0)
            env[n] = _fake(env0[n], pair[bits].tensors[n].quant, bits)
            for op in g.ops[producer.get(n, -1) + 1:]:
                args = [None if a is None else env[a] if a in env else F._constant(g, a) for a in op.inputs]
                if args and args[-1] is None:
                    args = args[:-1]
                env[op.outputs[0]] = F.run_op(g, op, args, batch)
            errs.append(float(np.mean((env[g.outputs[0]].astype(np.float64) - y0) ** 2)))
        out[n] = (errs[0], errs[1])
    return out


def arena_of(g: Graph, has_dsp: bool) -> int:
    from .. import api
    records = api.lower_graph(g)
    return int(api.plan_memory(g, records, has_dsp).arena_bytes)


def choose_activation_widths(float_graph: Graph, ranges: dict, calib: np.ndarray, target: str | None = None,
                             sram: int | None = None, arena_budget: int | None = None,
                             per_channel: bool = True, io: str = "float",
                             max_wide: int | None = None) -> ActPlan:
    """The greedy choice of 16-bit activations (see the module doc).

    Budget: ``sram`` (whole-firmware SRAM on the board ``target``, default the board's SRAM), or
    ``arena_budget`` (arena bytes alone; no board needed).
    """
    from ..targets import get_target

    has_dsp, board = False, None
    if target is not None:
        t = get_target(target)
        has_dsp = t.has_dsp
        board = None if t.is_host else t.board
    if arena_budget is None and board is None:
        raise MccError("activation widths need a budget: an SRAM budget on a board (-t BOARD) or an arena budget")
    pair = quantized_pair(float_graph, ranges, per_channel)
    mixed = lambda w: quantize_mixed(float_graph, ranges, w, per_channel=per_channel, io=io, pair=pair)  # noqa: E731
    g8 = mixed({})
    arena8 = arena_of(g8, has_dsp)
    sram8 = sram_budget = None
    if board is not None:
        from .cost import predict_graph
        sram8 = predict_graph(g8, target).sram
        sram_budget = board.sram_size if sram is None else int(sram)
    limit = arena_budget if arena_budget is not None else arena8 + (sram_budget - sram8)
    if arena8 > limit:
        raise MccError(f"the model needs {arena8:,} bytes of arena with every activation at 8 bits, over the "
                       f"budget ({limit:,} bytes of arena): no activation can be widened")
    errors = act_sensitivity(float_graph, ranges, calib, per_channel=per_channel, pair=pair)
    gains = {n: e8 - e16 for n, (e8, e16) in errors.items()}
    chosen: dict[str, int] = {}
    arena = arena8
    order: list[str] = []
    while max_wide is None or len(order) < max_wide:
        best = None
        for n, gain in gains.items():
            if n in chosen or gain <= 0:
                continue
            a = arena_of(mixed({**chosen, n: 16}), has_dsp)
            if a > limit:
                continue
            key = (gain / max(a - arena, 1), -(a - arena))
            if best is None or key > best[0]:
                best = (key, n, a)
        if best is None:
            break
        _, n, arena = best
        chosen[n] = 16
        order.append(n)
    sram_p = None
    if board is not None:
        from .cost import predict_graph
        while True:
            sram_p = predict_graph(mixed(chosen), target).sram
            if sram_p <= sram_budget or not order:
                break
            chosen.pop(order.pop())
            arena = arena_of(mixed(chosen), has_dsp)
    widths = dict(sorted({n: chosen.get(n, 8) for n in float_graph.activations()}.items()))
    return ActPlan(widths, arena, arena8, sram_p, sram8, sram_budget, gains, errors)
