"""The Python API: pure functions returning result objects. The CLI is a thin layer over this."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import __version__
from .codegen import generate
from .errors import FitError, InputDataError, ModelFormatError, MccError
from .frontend import load_tflite
from .ir import Graph, verify
from .codegen.select import select_kernel
from .lower.packed import lower_packed, stored_weight_bytes
from .lower.scratch import scratch_for
from .lower.sparse_layers import sparse_layer_bytes, sparse_records, sparse_saved_bytes
from .options import CompileOptions
from .outdir import read_manifest, write_outdir
from .planner import ArenaPlan, plan_arena
from .report.analysis import LayerInfo, layer_table
from .sim import host
from .targets import get_target


KERAS_SUFFIXES = (".h5", ".keras", ".hdf5")


def is_keras(path: str | Path) -> bool:
    p = Path(path)
    return p.suffix.lower() in KERAS_SUFFIXES or p.is_dir()


def load_model(path: str | Path, options: CompileOptions = CompileOptions()) -> Graph:
    """Read a model into a verified int8 IR graph.

    An int8 ``.tflite`` is read as it is. A Keras model (``.keras``, ``.h5``, SavedModel directory)
    is quantized by mcc (post-training static quantization on ``options.calib``)."""
    p = Path(path)
    if not p.exists():
        raise ModelFormatError(f"{p}: no such file")
    if is_keras(p):
        g = quantize_keras(p, options)
    else:
        g = load_tflite(p)
    if len(g.inputs) != 1 or len(g.outputs) != 1:
        raise ModelFormatError(f"{p}: the model has {len(g.inputs)} inputs and {len(g.outputs)} outputs; "
                               "mcc supports exactly one of each")
    return verify(g)


def quantize_keras(path: str | Path, options: CompileOptions) -> Graph:
    from .frontend.keras import load_keras
    from .quantize_api import quantize_model

    if options.mode != "static":
        from .quantize_dynamic_api import quantize_keras_dynamic
        return quantize_keras_dynamic(path, options)
    if options.calib is None:
        raise InputDataError(f"{path} is a float Keras model: mcc quantizes it, and needs representative "
                             "inputs for that: pass --calib data.npy (N, *input_shape) or data.npz (array x)")
    g = load_keras(path)
    return quantize_model(g, options.calib, method=options.method, per_channel=options.per_channel,
                          symmetric=options.symmetric, io=options.io, progress=options.progress,
                          activation_bits=options.activation_bits, tflite_compat=options.tflite_compat)


def lower_graph(g: Graph) -> list:
    """Kernel parameter records, one per op (None for RESHAPE, which is a view)."""
    return [None if op.kind == "RESHAPE" else lower_packed(g, op) for op in g.ops]


def select_kernels(g: Graph, records: list, has_dsp: bool) -> list[str | None]:
    """The C function each op runs (shape-specialised DSP variants on DSP cores)."""
    return [None if r is None else select_kernel(op.kind, r, has_dsp)[0] for op, r in zip(g.ops, records)]


def plan_memory(g: Graph, records: list, has_dsp: bool = False, kernels: list | None = None) -> ArenaPlan:
    """Arena plan, with each op's kernel scratch from the one Python mirror of its C get_buffer_size
    (``kernels``: the functions from ``select_kernels``, computed here when not given)."""
    kernels = select_kernels(g, records, has_dsp) if kernels is None else kernels
    scratch = {i: scratch_for(k, r, has_dsp) for i, (k, r) in enumerate(zip(kernels, records)) if r is not None}
    return plan_arena(g, scratch)


NO_PATCH = "no patch"
AUTO_OVERHEADS = (NO_PATCH, 0.25, None)  # tried in turn until the board's SRAM fits: no patches, patches
                                        # recomputing at most 25 % of the MACs, patches without a limit


def _overheads(options: CompileOptions) -> tuple:
    """The patch recompute limits to try: the user's one, or (auto) no patches, then 25 %, then
    unlimited while the board's SRAM does not fit. Only optimized memory plans patch."""
    if options.patch_overhead is not None:
        return (None if options.patch_overhead < 0 else options.patch_overhead,)
    return AUTO_OVERHEADS if options.memory == "optimized" else (NO_PATCH,)




def _plan_and_generate(g: Graph, records: list, options: CompileOptions, target, has_dsp: bool, source: str,
                       overhead: float | None):
    """(graph run, records, kernels, plan, memory result or None, files) for one patch limit."""
    memory = None
    g_run = g
    if options.memory == "optimized":  # order search, in-place and patch-based execution
        from .planner.optimize import plan_optimized
        memory = plan_optimized(g, records, has_dsp, patch=overhead != NO_PATCH,
                                max_overhead=None if overhead == NO_PATCH else overhead)
        g_run, records, kernels, plan = (memory.program.graph, list(memory.program.records),
                                         list(memory.kernels), memory.plan)
    elif options.memory == "firstfit":
        kernels = select_kernels(g, records, has_dsp)
        plan = plan_memory(g, records, has_dsp, kernels)
    else:
        raise MccError(f"unknown memory plan {options.memory!r}; choose firstfit or optimized")
    files = generate(g_run, plan, records, options.model_name, source, target, has_dsp)
    if memory is not None:
        from .planner.picture import memory_svg
        files["mcc_memory.svg"] = memory_svg(g_run, plan, options.model_name)
    return g_run, records, kernels, plan, memory, files


@dataclass(frozen=True)
class CompileResult:
    outdir: Path
    graph: Graph
    plan: ArenaPlan
    weight_bytes: int
    files: tuple[str, ...]
    seconds: float
    layers: list[LayerInfo] = field(default_factory=list)
    memory: object = None  # mcc.planner.optimize.MemoryResult with --memory optimized


def compile(model: str | Path, outdir: str | Path, options: CompileOptions = CompileOptions()) -> CompileResult:
    """Compile ``model`` into a C library (and host runner or Cortex-M project) in ``outdir``."""
    t0 = time.perf_counter()
    get_target(options.target)  # an unknown target fails before any work
    g = load_model(model, options)
    if options.plan is not None or options.flash_budget is not None or options.sram_budget is not None:
        g = planned_graph(g, model, options)
    return compile_graph(g, outdir, options, Path(model).name, t0)


def compile_graph(g: Graph, outdir: str | Path, options: CompileOptions = CompileOptions(),
                  source: str = "model", t0: float | None = None) -> CompileResult:
    """Compile an int8 IR graph (from ``load_model``) into ``outdir``."""
    t0 = time.perf_counter() if t0 is None else t0
    target = get_target(options.target)
    if g.meta.get("quantized") == "dynamic":  # float activations need an FPU
        from .passes.quantize_dynamic import check_fpu
        check_fpu(target)
    has_dsp = target.has_dsp and options.dsp
    records = lower_graph(g)
    if options.sparse:  # unstructured-sparse FC / 1x1 conv where they pay (mcc.lower.sparse_layers)
        records = sparse_records(g, records, has_dsp)
    *smaller, last = _overheads(options)
    for overhead in smaller:  # a plan that does not fit the board: try the next patch limit
        try:
            result = _plan_and_generate(g, records, options, target, has_dsp, source, overhead)
            break
        except FitError:
            pass
    else:
        result = _plan_and_generate(g, records, options, target, has_dsp, source, last)
    g_run, records, kernels, plan, memory, files = result
    x, y = g.tensors[g.inputs[0]], g.tensors[g.outputs[0]]
    weight_bytes = stored_weight_bytes(g) - sparse_saved_bytes(g_run, records)
    layers = sparse_layer_bytes(layer_table(g_run, plan), g_run, records)
    manifest = {
        "mcc_version": __version__, "model": source, "target": target.name,
        "input": {"shape": list(x.shape), "dtype": x.dtype},
        "output": {"shape": list(y.shape), "dtype": y.dtype},
        "arena_bytes": plan.arena_bytes, "arena_lower_bound": plan.lower_bound,
        "weight_bytes": weight_bytes, "dsp": has_dsp,
        "kernels": kernels,
        "layers": [layer.as_dict() for layer in layers],
    }
    if memory is not None:
        from .planner.report import memory_summary
        manifest["memory"] = memory_summary(memory)
    out = write_outdir(outdir, files, manifest, force=options.force)
    return CompileResult(out, g, plan, weight_bytes, tuple(sorted(files)), time.perf_counter() - t0, layers,
                         memory)


def check_inputs(x: np.ndarray, shape: tuple, dtype: str, what: str = "input") -> np.ndarray:
    """Return ``x`` as (N, *shape); accept (N, *shape[1:]) when the model's batch is 1."""
    shape = tuple(shape)
    if x.dtype != np.dtype(dtype):
        raise InputDataError(f"{what} has dtype {x.dtype}; the model takes {dtype} "
                             f"(shape (N, {', '.join(map(str, shape))}))")
    if x.shape[1:] == shape:
        return x
    if shape and shape[0] == 1 and x.shape[1:] == shape[1:]:
        return x.reshape((x.shape[0],) + shape)
    raise InputDataError(f"{what} has shape {x.shape}; expected (N, {', '.join(map(str, shape))})")


def run(outdir: str | Path, x: np.ndarray, profile: bool = False, emulator: str | None = None):
    """Build (if needed) and run the generated C on a batch; returns (N, *output_shape).

    Host projects run natively; Cortex-M projects run under QEMU (or Renode with
    ``emulator="renode"``). With ``profile`` (QEMU only) returns (outputs, QemuProfile) with exact
    instruction counts per inference and per operator."""
    m = read_manifest(outdir)
    x = check_inputs(x, m["input"]["shape"], m["input"]["dtype"])
    out_shape, out_dtype = tuple(m["output"]["shape"]), m["output"]["dtype"]
    target = get_target(m["target"])
    emulator = emulator or target.emulator
    if emulator == "host":
        if not target.is_host:
            raise MccError(f"{outdir} was compiled for {target.name}; it cannot run on the host")
        if profile:
            raise MccError("--profile counts instructions under QEMU; compile for a QEMU target "
                           "(e.g. -t mps2-an386)")
        return host.run(outdir, x, out_shape, out_dtype)
    if emulator == "qemu":
        from .sim.qemu import run_qemu
        return run_qemu(outdir, target.board, x, out_shape, out_dtype, profile=profile)
    if emulator == "renode":
        from .sim.renode import run_renode
        log = run_renode(outdir, target.board)  # raises "Renode is not installed" where it is absent
        raise MccError("Renode ran the firmware, but the harness reports outputs over semihosting, which "
                       f"Renode does not provide; its UART log follows:\n{log[-2000:]}")
    raise MccError(f"{target.name} has no emulator; flash it to the board with `mcc flash {outdir}`")


@dataclass(frozen=True)
class SizeResult:
    board: str
    flash: dict[str, int]   # bytes by component (weights, model, kernels, harness, runtime ...)
    sram: dict[str, int]    # bytes by component (arena, io_buffers, stack, runtime ...)
    flash_budget: int
    sram_budget: int
    overhead: int           # flash except weights and the model's own parameters and call sequence


def size(outdir: str | Path) -> SizeResult:
    """Build a Cortex-M project (if needed) and read flash/SRAM use from its linker map."""
    from .sim.qemu import build_firmware, firmware_size

    m = read_manifest(outdir)
    target = get_target(m["target"])
    if target.is_host:
        raise MccError(f"{outdir} was compiled for the host; `mcc size` reads Cortex-M firmware "
                       "(compile with -t BOARD)")
    build_firmware(outdir)
    s = firmware_size(outdir)
    return SizeResult(target.board.name, s["flash_by_component"], s["sram_by_component"],
                      target.board.flash_size, target.board.sram_size, s["overhead"])


@dataclass(frozen=True)
class AnalyzeResult:
    model: str
    layers: list[LayerInfo]
    weight_bytes: int
    arena_bytes: int
    lower_bound: int
    macs: int
    memory: object = None  # mcc.planner.optimize.MemoryResult with the optimized memory plan


def analyze(model: str | Path, target: str = "host", options: CompileOptions | None = None) -> AnalyzeResult:
    t = get_target(target)
    options = options or CompileOptions(target=target)
    g = load_model(model, options)
    records = lower_graph(g)
    if options.sparse:
        records = sparse_records(g, records, t.has_dsp and options.dsp)
    plan = plan_memory(g, records, t.has_dsp and options.dsp)
    layers = sparse_layer_bytes(layer_table(g, plan), g, records)
    memory = None
    if options.memory == "optimized":
        from .planner.optimize import plan_optimized
        ov = _overheads(options)[0]
        memory = plan_optimized(g, records, t.has_dsp and options.dsp, patch=ov != NO_PATCH,
                                max_overhead=None if ov == NO_PATCH else ov)
        plan = memory.plan
    return AnalyzeResult(str(model), layers, stored_weight_bytes(g) - sparse_saved_bytes(g, records),
                         plan.arena_bytes, plan.lower_bound, sum(layer.macs for layer in layers), memory)


def random_inputs(g: Graph, n: int, seed: int = 0) -> np.ndarray:
    """Random inputs covering the input type's range (float inputs: the quantized real range)."""
    rng = np.random.default_rng(seed)
    t = g.tensors[g.inputs[0]]
    if t.dtype == "float32":
        consumer = next(op for op in g.ops if t.name in op.inputs)
        q = g.tensors[consumer.outputs[0]].quant
        if q is None:  # a float (PTQ dynamic) graph: no quantized range, inputs in [-1, 1]
            return rng.uniform(-1.0, 1.0, size=(n,) + t.shape).astype(np.float32)
        qi = np.iinfo(g.tensors[consumer.outputs[0]].dtype)  # int8, or int16 for 16x8
        lo, hi = q.s * (qi.min - q.zp), q.s * (qi.max - q.zp)
        return rng.uniform(lo, hi, size=(n,) + t.shape).astype(np.float32)
    info = np.iinfo(t.dtype)
    return rng.integers(info.min, info.max + 1, size=(n,) + t.shape, dtype=t.dtype)


def _float_graph(model: str | Path) -> Graph | None:
    if not is_keras(model):
        return None
    from .frontend.keras import load_keras
    return load_keras(model)


def calibration_inputs(path: str | Path | None, g: Graph) -> np.ndarray | None:
    """Inputs for the planner's sensitivity: int8 arrays as they are (an int8-input model's raw
    inputs), anything else as float32 real values."""
    if path is None:
        return None
    from .quant.data import load_calibration_data
    p = Path(path)
    if p.suffix == ".npy" and p.exists():
        try:
            raw = np.load(p, allow_pickle=False)
        except (ValueError, OSError) as e:
            raise InputDataError(f"{p}: not a readable .npy array ({e})") from None
        if raw.dtype == np.int8:
            return check_inputs(raw, g.tensors[g.inputs[0]].shape, "int8", str(p))
    return load_calibration_data(p, g.tensors[g.inputs[0]].shape)


def plan(model: str | Path, target: str, flash: int | None = None, sram: int | None = None,
         options: CompileOptions | None = None, labelled: tuple | None = None, n_calib: int = 64,
         sensitivity: str = "check", check: tuple | None = None):
    """Choose per-channel weight widths for ``model`` on ``target`` (see mcc.planner.plan)."""
    from .planner.plan import make_plan

    options = options or CompileOptions(target=target)
    get_target(target)
    if options.plan_activations:
        from .act_api import check_plannable
        check_plannable(model, options)
    g = load_model(model, options)
    calib = calibration_inputs(options.calib, g)
    p = make_plan(g, target, flash, sram, calib=calib, labelled=labelled, float_graph=_float_graph(model),
                  model=Path(model).name, n_calib=n_calib, progress=options.progress,
                  sensitivity=sensitivity, check=check)
    if options.plan_activations:
        from .act_api import plan_activations
        p = plan_activations(p, model, options, n_calib=n_calib)
    return p


def planned_graph(g: Graph, model: str | Path, options: CompileOptions) -> Graph:
    """``g`` with the weight widths of ``options.plan`` or of a plan for the budgets."""
    from .planner.plan import apply_plan, make_plan, read_plan

    if options.plan is not None:
        p = read_plan(options.plan)
        if p.target != options.target:
            raise InputDataError(f"{options.plan} was planned for {p.target}; compile with -t {p.target} "
                                 f"or plan again for {options.target}")
        if p.activation_widths:  # mixed activation widths (weights all 8 bits)
            from .act_api import mixed_graph
            return mixed_graph(model, options, p.activation_widths)
        return apply_plan(g, p, _float_graph(model))
    p = make_plan(g, options.target, options.flash_budget, options.sram_budget,
                  calib=calibration_inputs(options.calib, g), float_graph=_float_graph(model),
                  model=Path(model).name, progress=options.progress)
    if options.plan_activations:
        from .act_api import mixed_graph, plan_activations
        p = plan_activations(p, model, options)
        if p.activation_widths:
            return mixed_graph(model, options, p.activation_widths)
    return apply_plan(g, p, _float_graph(model))


def __getattr__(name):  # validate lives in its own module (it needs the TFLM oracle)
    if name == "validate":
        from .validate import validate
        return validate
    raise AttributeError(name)


__all__ = ["load_model", "compile", "run", "analyze", "random_inputs", "check_inputs", "MccError"]
