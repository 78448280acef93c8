"""`mcc plan`: choose weight widths per output channel so a model fits a board, and prove the fit.

    p = make_plan(g, "mps2-an386", flash=200_000, calib=x)   # g: the int8 IR graph
    p.widths                 # weight tensor -> width per output channel
    p.flash, p.sram          # predicted to the byte of the linker map (mcc.planner.cost)
    g2 = apply_plan(g, p)    # the graph `mcc compile --plan` compiles

Budgets are for the whole firmware image as `mcc size` reports it: flash = code + weights + the
model's parameters + the load image of .data; SRAM = arena + I/O buffers + statics + stack. Their
default is the board's flash and SRAM, that is the space left once the firmware and the stack are
counted, since the prediction includes them.

The flash each channel takes at each width is what the codegen stores: ``packing.packed_size``
bytes once it emits packed sub-byte arrays, and still the int8 bytes before it does (then narrower
widths save nothing and the planner says so: no plan can fit below the int8 size). Whether the
codegen packs is measured (the weight arrays generated for a 4-bit copy of the model), not assumed,
and so is the code the packed kernels add (one prediction per kernel family and width). The MILP's
byte model is linear; alignment fill (<= 15 bytes per weight array) is reserved in its budget and
the chosen plan's flash is then predicted exactly, re-solving with a tighter budget if needed.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputDataError, MccError
from ..ir import Graph
from ..lower.packing import row_bytes
from ..passes.weight_bits import WEIGHT_AXIS, set_weight_bits, weight_ops
from ..targets import get_target
from .bits import WIDTHS, Allocation, BitProblem, Layer, NoFitError, allocate, no_fit_message
from .cost import predict_graph

PLAN_VERSION = 1


@dataclass(frozen=True)
class LayerWidths:
    name: str                  # weight tensor
    kind: str                  # op kind
    channels: int
    counts: dict               # width -> number of channels ("8", "4", "2")
    int8_bytes: int
    bytes: int                 # flash of the weights at the chosen widths (as the codegen stores them)


@dataclass(frozen=True)
class Plan:
    model: str
    target: str
    flash_budget: int
    sram_budget: int
    flash: int
    sram: int
    int8_flash: int
    widths: dict[str, tuple[int, ...]]
    layers: list[LayerWidths]
    method: str
    objective: float
    packed: bool                          # the codegen stores sub-byte widths packed
    instructions: int | None = None
    accuracy: dict = field(default_factory=dict)
    activation_widths: dict = field(default_factory=dict)  # activations at 16 bits (mcc.planner.act_bits)
    activation_report: dict = field(default_factory=dict)  # arena / SRAM at all-8 and sensitivity gains

    def to_json(self) -> str:
        d = asdict(self)
        d["mcc_plan"] = PLAN_VERSION
        d["widths"] = {k: list(v) for k, v in self.widths.items()}
        return json.dumps(d, indent=2, sort_keys=True) + "\n"


def read_plan(path: str | Path) -> Plan:
    try:
        d = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise InputDataError(f"{path}: no such plan file") from None
    except ValueError as e:
        raise InputDataError(f"{path}: not a JSON plan ({e})") from None
    if not isinstance(d, dict) or d.get("mcc_plan") != PLAN_VERSION:
        raise InputDataError(f"{path}: not an mcc plan (write one with `mcc plan MODEL -t BOARD -o plan.json`)")
    d.pop("mcc_plan")
    d["widths"] = {k: tuple(v) for k, v in d["widths"].items()}
    d["layers"] = [LayerWidths(**x) for x in d["layers"]]
    return Plan(**d)


def apply_plan(g: Graph, plan: Plan, float_graph: Graph | None = None) -> Graph:
    """``g`` with the plan's widths (a clear error if the plan was made for another model)."""
    names = {g.ops[i].inputs[1]: g.ops[i] for i in weight_ops(g)}
    missing = sorted(set(plan.widths) - set(names))
    if missing:
        raise InputDataError(f"the plan does not match this model: it sets the widths of {missing[0]!r}, "
                             "which is not one of its weight tensors (make the plan for this model)")
    for name, ws in plan.widths.items():
        t = g.tensors[name]
        n = t.shape[WEIGHT_AXIS[names[name].kind]]
        if len(ws) != n:
            raise InputDataError(f"the plan does not match this model: {name} has {n} output channels, "
                                 f"the plan gives {len(ws)} widths")
    return set_weight_bits(g, plan.widths, float_graph)


def _layers(g: Graph):
    out = []
    for i in weight_ops(g):
        op = g.ops[i]
        w = g.tensors[op.inputs[1]]
        axis = WEIGHT_AXIS[op.kind]
        if any(layer[0] == w.name for layer in out):
            continue
        out.append((w.name, op.kind, w.shape[axis], w.size // w.shape[axis]))
    return out


def _uniform(g: Graph, b: int, kinds=None) -> dict:
    return {name: b for name, kind, _, _ in _layers(g) if kinds is None or kind in kinds}


def codegen_packs(g: Graph, target: str) -> bool:
    """Whether the codegen stores 4-bit weights in fewer bytes than int8 (measured)."""
    return _weight_bytes(set_weight_bits(g, _uniform(g, 4)), target) < _weight_bytes(g, target)


def _weight_bytes(g: Graph, target: str) -> int:
    from .. import api
    from ..codegen import generate
    from .cost import weight_arrays

    t = get_target(target)
    records = api.lower_graph(g)
    plan = api.plan_memory(g, records, t.has_dsp)
    return sum(weight_arrays(generate(g, plan, records, "m", "m", t, t.has_dsp)["mcc_weights.c"]).values())


def build_problem(g: Graph, target: str, budget: int, sens: dict[str, np.ndarray] | None,
                  packed: bool, int8_flash: int) -> BitProblem:
    """The allocation problem: per channel bytes (as stored) and sensitivity at 8/4/2 bits."""
    layers = []
    int8_weights = 0
    for name, kind, n, k in _layers(g):
        b = np.array([[row_bytes(k, w) if packed else k for w in WIDTHS]] * n, dtype=np.int64)
        s = sens[name] if sens is not None else np.zeros((n, len(WIDTHS)))
        layers.append(Layer(name, kind, b, s))
        int8_weights += n * k
    code = {}
    if packed:  # the code a family's packed kernel adds (one kernel for s4, s2 and mixed), measured
        for kind in sorted({layer.family for layer in layers}):
            gw = set_weight_bits(g, _uniform(g, 4, {kind}))
            saved = sum(int(layer.bytes[:, 0].sum() - layer.bytes[:, 1].sum()) for layer in layers
                        if layer.family == kind)
            code[kind] = max(0, predict_graph(gw, target).flash - int8_flash + saved)
    slack = 16 * len(layers)
    return BitProblem(tuple(layers), int8_flash - int8_weights, budget - slack, code)


def _counts(ws) -> dict:
    return {str(b): int(sum(1 for x in ws if x == b)) for b in WIDTHS}


def make_plan(g: Graph, target: str, flash: int | None = None, sram: int | None = None,
              calib: np.ndarray | None = None, labelled: tuple | None = None,
              float_graph: Graph | None = None, model: str = "model", n_calib: int = 64,
              method: str = "auto", progress: bool = False, sensitivity: str = "check",
              check: tuple | None = None) -> Plan:
    """Choose widths for int8 graph ``g`` on ``target`` within the budgets (see the module doc).

    ``sensitivity`` (``SENSITIVITIES``): "output" (model-output error, mcc.planner.sensitivity),
    "logits" / "kl" (the same measured at the logits), "fisher" (mcc.planner.fisher; needs the float
    model), or "check": the allocations of every measure plus the uniform widths that fit, run on
    calibration data (``check`` = (x, labels) when given, else the calibration inputs against the
    float model's top-1) and the best kept (mcc.planner.candidates)."""
    if sensitivity not in SENSITIVITIES:
        raise MccError(f"unknown sensitivity {sensitivity!r}; choose one of {', '.join(SENSITIVITIES)}")
    t = get_target(target)
    if t.is_host:
        raise MccError("mcc plan needs a board with flash and SRAM sizes: pass -t BOARD (see `mcc targets`)")
    flash_budget = t.board.flash_size if flash is None else int(flash)
    sram_budget = t.board.sram_size if sram is None else int(sram)
    p8 = predict_graph(g, target)
    if p8.sram > sram_budget:
        from ..report.analysis import layer_table
        from .. import api
        records = api.lower_graph(g)
        arena = api.plan_memory(g, records, t.has_dsp)
        top = sorted(layer_table(g, arena), key=lambda x: -x.live_bytes)[:3]
        dom = ", ".join(f"op {x.index} {x.kind} ({x.live_bytes:,} B live)" for x in top)
        raise NoFitError(f"the model needs {p8.sram:,} bytes of SRAM on {t.board.name} (arena {arena.arena_bytes:,}, "
                         f"stack and buffers included), over the budget of {sram_budget:,}: the smallest SRAM "
                         f"reachable is {p8.sram:,} bytes (weight widths do not change SRAM and activations "
                         f"stay int8); the largest live sets are at {dom}")
    packed = codegen_packs(g, target)
    if p8.flash <= flash_budget:
        widths = {name: (8,) * n for name, _, n, _ in _layers(g)}
        alloc = Allocation(widths, 0.0, p8.flash, "all-8", True)
        g2, p2 = g, p8
    else:
        if calib is None:
            from .. import api
            calib = api.random_inputs(g, n_calib)
        problem = build_problem(g, target, flash_budget, None, packed, p8.flash)
        if problem.fixed + sum(int(layer.bytes.min(axis=1).sum()) for layer in problem.layers) > flash_budget:
            raise NoFitError(no_fit_message(BitProblem(problem.layers, problem.fixed, flash_budget, problem.code))
                             + ("" if packed else " (the codegen still stores narrower weights as int8: sub-byte "
                                "widths save no flash yet)"))
        by_measure = measure_sensitivities(g, calib, float_graph, n_calib, sensitivity, progress)
        problem = build_problem(g, target, flash_budget, next(iter(by_measure.values())), packed, p8.flash)
        for _ in range(4):
            if len(by_measure) > 1:
                from .candidates import candidate_allocations, pick
                x_check, y_check = (calib, None) if check is None else check
                x_check = np.asarray(x_check).reshape((len(x_check),) + tuple(g.tensors[g.inputs[0]].shape[1:]))
                alloc = pick(g, candidate_allocations(problem, by_measure, method), x_check, y_check,
                             float_graph)[0].allocation
            else:
                alloc = allocate(problem, method=method)
            g2 = set_weight_bits(g, alloc.widths, float_graph)
            p2 = predict_graph(g2, target)
            if p2.flash <= flash_budget:
                break
            problem = BitProblem(problem.layers, problem.fixed, problem.budget - (p2.flash - flash_budget),
                                 problem.code)
        else:
            raise NoFitError(no_fit_message(problem))
        if p2.sram > sram_budget:
            raise NoFitError(f"the widths that fit the flash budget need {p2.sram:,} bytes of SRAM on {t.board.name} "
                             f"(the packed kernels' scratch), over the budget of {sram_budget:,}: the smallest SRAM "
                             f"reachable is {p8.sram:,} bytes (all weights at 8 bits, which needs {p8.flash:,} "
                             "bytes of flash)")
    layers = []
    for name, kind, n, k in _layers(g):
        ws = alloc.widths[name]
        layers.append(LayerWidths(name, kind, n, _counts(ws), n * k,
                                  sum(row_bytes(k, b) if packed else k for b in ws)))
    acc = expected_accuracy(g, g2, calib, labelled)
    return Plan(model, target, flash_budget, sram_budget, p2.flash, p2.sram, p8.flash, alloc.widths, layers,
                alloc.method, alloc.objective, packed, predict_instructions(g2, target), acc)


SENSITIVITIES = ("output", "logits", "kl", "fisher", "check")


def measure_sensitivities(g: Graph, calib: np.ndarray, float_graph: Graph | None, n: int, which: str,
                          progress: bool = False, labels=None) -> dict[str, dict[str, np.ndarray]]:
    """{measure: {weight tensor: (channels, 3)}} for ``which`` (every measure for "check"; Fisher only
    with the float model)."""
    from .sensitivity import MEASURES, sensitivities

    fisher = None
    if which == "fisher" or (which == "check" and float_graph is not None):
        from .fisher import FisherError, fisher_sensitivity
        try:
            fisher = fisher_sensitivity(g, calib, float_graph, n=n, progress=progress,
                                        labels=None if labels is None else np.asarray(labels)[:n])
        except FisherError:
            if which == "fisher":
                raise
            fisher = None  # check: a model the Keras runner cannot differentiate goes without it
        if which == "fisher":
            return {"fisher": fisher}
    out = sensitivities(g, calib, float_graph, n, progress, MEASURES if which == "check" else (which,))
    if fisher is not None:
        out["fisher"] = fisher
    return out


def expected_accuracy(g8: Graph, g: Graph, calib: np.ndarray | None, labelled: tuple | None) -> dict:
    """Top-1 of the int8 and planned models on labelled data, else their output agreement."""
    from ..evaluate import predict_int8, top1

    shape = tuple(g8.tensors[g8.inputs[0]].shape[1:])
    if labelled is not None:
        x, y = labelled
        x = np.asarray(x, np.float32).reshape((len(x),) + shape)
        a8 = top1(predict_int8(g8, x), y)
        ap = a8 if g is g8 else top1(predict_int8(g, x), y)
        return {"metric": "top-1", "n": int(len(x)), "int8": a8, "plan": ap}
    if calib is None:
        return {}
    x = np.asarray(calib)
    if x.dtype != np.int8:
        x = x.astype(np.float32)
    x = x.reshape((len(x),) + shape)
    from .sensitivity import graph_inputs, model_output
    xi = graph_inputs(g8, x)
    y8 = model_output(g8, xi)
    yp = y8 if g is g8 else model_output(g, xi)
    return {"metric": "agreement with int8 (top-1 of outputs)", "n": int(len(x)),
            "int8": 1.0, "plan": float(np.mean(y8.argmax(1) == yp.argmax(1)))}


def predict_instructions(g: Graph, target: str) -> int | None:
    """Predicted instructions per inference (mcc.planner.instructions), None without a calibration."""
    try:
        from .instructions import predict
    except ImportError:
        return None
    return predict(g, target)
