"""Mixed activation widths in the API: `mcc plan --act-widths` chooses which activations of a Keras
model run at 16 bits within the SRAM budget (mcc.planner.act_bits) and records them in the plan;
`mcc compile --plan` then builds the mixed-width graph (mcc.passes.act_widths).

Both need the float model and its calibration (the 16-bit parameters come from the calibrated
ranges): Keras models with --calib only. 16-bit ops take 8-bit weights (the 16x8 kernels), so
activation widths are planned only when the plan keeps every weight at 8 bits.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from .errors import InputDataError
from .ir import Graph
from .options import CompileOptions


def check_plannable(model: str | Path, options: CompileOptions) -> None:
    """A clear error, before any work, when activation widths cannot be planned for ``model``."""
    from .api import is_keras

    if not is_keras(model):
        raise InputDataError(f"{model}: activation widths are planned from the float model: pass a Keras "
                             "model (an int8 .tflite has only its 8-bit activations)")
    if options.calib is None:
        raise InputDataError("activation widths need representative inputs: pass --calib data.npy")


def _float_and_ranges(model: str | Path, options: CompileOptions) -> tuple[Graph, dict, np.ndarray]:
    check_plannable(model, options)
    from .frontend.keras import load_keras
    from .passes.calibrate import calibrate
    from .passes.pipeline import run_float_passes
    from .quant.data import load_calibration_data

    g = run_float_passes(load_keras(model))
    x = load_calibration_data(Path(options.calib), g.tensors[g.inputs[0]].shape)
    ranges = calibrate(g, x, options.method, progress=False)
    return g, ranges, x


def _io(options: CompileOptions) -> str:
    """The graph edges of a mixed-width graph: int8 when asked, else float."""
    return "int8" if options.io == "int8" else "float"


def mixed_graph(model: str | Path, options: CompileOptions, widths: dict[str, int]) -> Graph:
    """The mixed-width quantized graph of a Keras ``model`` (calibrated on ``options.calib``)."""
    from .passes.act_widths import quantize_mixed

    g, ranges, _ = _float_and_ranges(model, options)
    return quantize_mixed(g, ranges, widths, per_channel=options.per_channel, io=_io(options))


def plan_activations(plan, model: str | Path, options: CompileOptions, n_calib: int = 64):
    """``plan`` (a weight plan from mcc.planner.plan) with activation widths chosen within its SRAM
    budget, and its SRAM predicted for them."""
    from .planner.act_bits import choose_activation_widths

    if any(b != 8 for ws in plan.widths.values() for b in ws):
        raise InputDataError("activation widths are planned only when every weight stays 8 bits (the 16x8 "
                             "kernels take int8 weights): raise --flash or plan without --act-widths")
    g, ranges, x = _float_and_ranges(model, options)
    ap = choose_activation_widths(g, ranges, x[:n_calib], target=plan.target, sram=plan.sram_budget,
                                  per_channel=options.per_channel, io=_io(options))
    wide = {n: 16 for n in ap.wide}
    # the instruction model (mcc.planner.instructions) has no 16x8 kernels: no prediction for a mixed plan
    return dataclasses.replace(plan, activation_widths=wide, sram=ap.sram if ap.sram is not None else plan.sram,
                               instructions=None if wide else plan.instructions,
                               activation_report={"arena8": ap.arena8, "arena": ap.arena, "sram8": ap.sram8,
                                                  "gains": {n: float(v) for n, v in sorted(ap.gains.items())}})
