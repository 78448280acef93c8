"""The `mcc` command line: a thin layer over mcc.api. User errors print one line and exit 2."""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import click  # noqa: E402
import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from . import __version__, api  # noqa: E402
from .errors import InputDataError, MccError  # noqa: E402
from .options import CALIBRATION_METHODS, CompileOptions  # noqa: E402

console = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)


def _user_errors(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except MccError as e:
            click.echo(f"mcc: error: {e}", err=True)
            sys.exit(2)
    return wrapper


def _load_npy(path: str) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise InputDataError(f"{path}: no such file") from None
    except (ValueError, OSError) as e:
        raise InputDataError(f"{path}: not a readable .npy array ({e})") from None


def _quant_options(fn):
    """Options of mcc's own quantization of Keras models (ignored for int8 .tflite models)."""
    opts = [
        click.option("--calib", type=click.Path(), default=None,
                     help="Keras models: representative inputs, .npy (N, *input_shape) or .npz with array x."),
        click.option("--method", type=click.Choice(CALIBRATION_METHODS), default="minmax", show_default=True,
                     help="Keras models: calibrator for activation ranges."),
        click.option("--per-tensor", is_flag=True, help="Keras models: one weight scale per tensor (default: per channel)."),
        click.option("--symmetric", is_flag=True, help="Keras models: symmetric activations (zero point 0)."),
        click.option("--io", type=click.Choice(["float", "int8"]), default="float", show_default=True,
                     help="Keras models: float32 in/out quantized in C, or raw int8 in/out."),
        click.option("--dynamic", is_flag=True,
                     help="Keras models: PTQ dynamic (int8/int16 weights, float32 activations; FPU targets, no --calib)."),
        click.option("--weight-bits", type=click.Choice(["8", "16"]), default="8", show_default=True,
                     help="Keras models with --dynamic: weight width."),
        click.option("--activation-bits", type=click.Choice(["8", "16"]), default="8", show_default=True,
                     callback=lambda ctx, param, v: int(v),
                     help="Keras models: 16 = int16 activations with int8 weights (16x8; "
                          "--io int8 then means raw int16 I/O)."),
        click.option("--tflite-compat", is_flag=True,
                     help="Keras models: calibrate in-place ADD inputs as the TFLite converter does (their "
                          "range also covers the ADD output), so the int8 parameters match the converter's."),
    ]
    for o in reversed(opts):
        fn = o(fn)
    return fn


def _options(target, calib, method, per_tensor, symmetric, io, dynamic=False, weight_bits="8",
             **kw) -> CompileOptions:
    return CompileOptions(target=target, calib=calib, method=method, per_channel=not per_tensor,
                          symmetric=symmetric, io=io, mode="dynamic" if dynamic else "static",
                          weight_bits=int(weight_bits), **kw)


def _kb(n: int) -> str:
    return f"{n:,} B ({n / 1024:.1f} KiB)"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mcc")
def main():
    """mcc: compile int8 models into interpreter-free C for microcontrollers."""


@main.command("compile")
@click.argument("model", type=click.Path())
@click.option("-t", "--target", default="host", show_default=True, help="Target to build for.")
@click.option("-o", "--output", "outdir", required=True, type=click.Path(), help="Output directory.")
@click.option("--force", is_flag=True, help="Replace an output directory that holds files mcc did not write.")
@click.option("--name", "model_name", default="model", show_default=True, help="Model name in comments.")
@click.option("--no-dsp", is_flag=True, help="Portable C kernels even on cores with the DSP extension.")
@click.option("--memory", type=click.Choice(["firstfit", "optimized"]), default="optimized", show_default=True,
              help="Arena plan: first fit in the model's op order, or order search + in-place + patches.")
@click.option("--patch-overhead", type=float, default=None,
              help="Optimized memory: the most MACs patch-based execution may recompute, as a fraction of "
                   "the model's MACs (negative: no limit, smallest arena). Default: no recompute, unless the "
                   "board's SRAM needs it (then up to 0.25, then no limit).")
@click.option("--flash", "flash_budget", default=None, help="Flash budget (bytes, k/M suffixes): choose weight widths to fit.")
@click.option("--sram", "sram_budget", default=None, help="SRAM budget (bytes, k/M suffixes) the plan must fit.")
@click.option("--plan", "plan_path", type=click.Path(), default=None, help="A plan.json from `mcc plan`: compile with its widths.")
@click.option("--no-sparse", is_flag=True,
              help="Dense kernels only (no unstructured-sparse fully connected / 1x1 conv weights).")
@_quant_options
@_user_errors
def compile_cmd(model, target, outdir, force, model_name, no_dsp, memory, patch_overhead, flash_budget, sram_budget,
                plan_path, no_sparse=False, **quant):
    """Compile MODEL (an int8 .tflite, or a Keras model with --calib) into a C library with a static arena."""
    r = api.compile(model, outdir, _options(target, model_name=model_name, force=force, dsp=not no_dsp,
                                            memory=memory, patch_overhead=patch_overhead,
                                            flash_budget=parse_bytes(flash_budget, "--flash"),
                                            sram_budget=parse_bytes(sram_budget, "--sram"), plan=plan_path,
                                            sparse=not no_sparse, **quant))
    console.print(f"[bold]mcc[/bold]: wrote {len(r.files) + 1} files to {r.outdir} in {r.seconds:.2f} s")
    _memory_table(r.weight_bytes, r.plan.arena_bytes, r.plan.lower_bound)
    if r.memory is not None:
        _memory_plan(r.memory, len(r.memory.program.graph.ops), r.plan)
        console.print(f"arena picture: {r.outdir / 'mcc_memory.svg'}")


def _memory_plan(mem, n_ops, plan):
    from .planner.picture import memory_ascii
    from .planner.report import plan_lines, steps_table

    console.print(steps_table(mem))
    for line in plan_lines(mem):
        console.print(line)
    console.print(memory_ascii(plan, n_ops))


def _memory_table(weights: int, arena: int, lower: int):
    t = Table(title="memory", show_header=True)
    t.add_column("what")
    t.add_column("bytes", justify="right")
    t.add_row("weights (flash)", _kb(weights))
    t.add_row("arena (SRAM)", _kb(arena))
    t.add_row("arena lower bound", _kb(lower))
    t.add_row("arena / lower bound", f"{arena / lower:.3f}" if lower else "-")
    console.print(t)


@main.command("run")
@click.argument("outdir", type=click.Path())
@click.option("-i", "--input", "inp", required=True, type=click.Path(), help="Inputs (N, *input_shape) .npy.")
@click.option("-o", "--output", "outp", required=True, type=click.Path(), help="Where to write outputs .npy.")
@click.option("--profile", is_flag=True, help="QEMU targets: exact instruction counts per inference and per layer.")
@click.option("--emulator", type=click.Choice(["qemu", "renode"]), default=None,
              help="Emulator for a Cortex-M project (default: the board's own).")
@_user_errors
def run_cmd(outdir, inp, outp, profile, emulator):
    """Build (if needed) and run a compiled model on a batch of inputs (host, or Cortex-M under QEMU)."""
    result = api.run(outdir, _load_npy(inp), profile=profile, emulator=emulator)
    y, prof = result if profile else (result, None)
    np.save(outp, y)
    console.print(f"mcc: ran {y.shape[0]} inputs; outputs {y.shape} {y.dtype} -> {outp}")
    if prof is not None:
        _profile_table(outdir, prof)


def _profile_table(outdir, prof):
    from .outdir import read_manifest

    layers = read_manifest(outdir).get("layers", [])
    t = Table(title=f"instructions on {prof.board} (exact, QEMU TCG plugin)")
    for c in ("#", "op", "MACs", "instructions", "instr/MAC"):
        t.add_column(c, justify="left" if c == "op" else "right")
    first = prof.layers[0]
    for i in sorted(first):
        info = layers[i] if i < len(layers) else {"op": "?", "macs": 0}
        macs = info["macs"]
        t.add_row(str(i), info["op"], f"{macs:,}", f"{first[i]:,}", f"{first[i] / macs:.2f}" if macs else "-")
    total_macs = sum(x["macs"] for x in layers)
    inst = prof.instructions[0]
    t.add_row("", "whole inference", f"{total_macs:,}", f"{inst:,}",
              f"{inst / total_macs:.2f}" if total_macs else "-")
    console.print(t)


@main.command("quantize")
@click.argument("model", type=click.Path())
@click.option("--calib", type=click.Path(), default=None,
              help="Representative inputs: .npy (N, *input_shape) or .npz with array x (not with --dynamic).")
@click.option("--method", type=click.Choice(CALIBRATION_METHODS), default="minmax", show_default=True)
@click.option("--per-tensor", is_flag=True, help="One weight scale per tensor (default: per channel).")
@click.option("--symmetric", is_flag=True, help="Symmetric activations (zero point 0).")
@click.option("--io", type=click.Choice(["float", "int8"]), default="float", show_default=True)
@click.option("--eval", "eval_path", type=click.Path(), default=None,
              help="Labelled data .npz (x, y): top-1 of the float model and of the quantized one.")
@click.option("--dynamic", is_flag=True, help="PTQ dynamic: int8/int16 weights, float32 activations (no --calib).")
@click.option("--weight-bits", type=click.Choice(["8", "16"]), default="8", show_default=True,
              help="With --dynamic: weight width.")
@click.option("--activation-bits", type=click.Choice(["8", "16"]), default="8", show_default=True,
              callback=lambda ctx, param, v: int(v),
              help="16: int16 activations with int8 weights (16x8).")
@click.option("--tflite-compat", is_flag=True,
              help="Calibrate in-place ADD inputs as the TFLite converter does (their range also covers the "
                   "ADD output), so the int8 parameters match the converter's.")
@_user_errors
def quantize_cmd(model, calib, method, per_tensor, symmetric, io, eval_path, dynamic, weight_bits,
                 activation_bits=8, tflite_compat=False):
    """Quantize a Keras MODEL (post-training static) and show every activation's range, scale and
    zero point; with --eval, the accuracy before and after. `mcc compile` takes the same options."""
    from .evaluate import predict_float, predict_int8, top1
    from .frontend.keras import load_keras
    from .quantize_api import quantize_model

    if not api.is_keras(model):
        raise MccError(f"{model}: `mcc quantize` takes a float Keras model (.keras, .h5, SavedModel); "
                       "an int8 .tflite is already quantized")
    if dynamic:
        from .quantize_dynamic_cli import quantize_dynamic_cmd
        return quantize_dynamic_cmd(model, int(weight_bits), io, eval_path, console)
    if calib is None:
        raise InputDataError("static quantization needs representative inputs: pass --calib data.npy "
                             "(or --dynamic for weights-only quantization)")
    g = load_keras(model)
    q, ranges = quantize_model(g, calib, method=method, per_channel=not per_tensor, symmetric=symmetric,
                               io=io, return_ranges=True, activation_bits=activation_bits,
                               tflite_compat=tflite_compat)
    t = Table(title=f"{model}: {method} calibration, {'per-tensor' if per_tensor else 'per-channel'} weights")
    for c in ("tensor", "min", "max", "scale", "zero point"):
        t.add_column(c, justify="left" if c == "tensor" else "right")
    for name in q.activations():
        tq = q.tensors[name].quant
        if tq is None or len(tq.scale) != 1:
            continue
        info = np.iinfo(q.tensors[name].dtype)
        lo, hi = tq.s * (info.min - tq.zp), tq.s * (info.max - tq.zp)
        t.add_row(name[:60], f"{lo:.5g}", f"{hi:.5g}", f"{tq.s:.6g}", str(tq.zp))
    console.print(t)
    if eval_path:
        x, y = _labelled(eval_path)
        x = x.reshape((len(x),) + tuple(g.tensors[g.inputs[0]].shape[1:]))
        acc_f, acc_q = top1(predict_float(g, x), y), top1(predict_int8(q, x), y)
        qname = "16x8" if activation_bits == 16 else "int8"
        console.print(f"top-1 on {len(x)} labelled inputs: float {100 * acc_f:.2f} %, {qname} {100 * acc_q:.2f} % "
                      f"({100 * (acc_q - acc_f):+.2f} pp)")


@main.command("qat")
@click.argument("model", type=click.Path())
@click.option("--train", "train_path", type=click.Path(), required=True, help="Training data .npz with arrays x and y.")
@click.option("--epochs", default=1, show_default=True)
@click.option("--bits", type=click.IntRange(2, 8), default=8, show_default=True, help="Weight bits (2..8).")
@click.option("--lr", "learning_rate", default=5e-4, show_default=True)
@click.option("--eval", "eval_path", type=click.Path(), default=None, help="Labelled data .npz (x, y) to report top-1.")
@click.option("--io", type=click.Choice(["float", "int8"]), default="float", show_default=True)
@click.option("-t", "--target", default="host", show_default=True)
@click.option("-o", "--output", "outdir", required=True, type=click.Path(), help="Output directory of the compiled C.")
@click.option("--force", is_flag=True)
@click.option("--freeze-bn-epoch", "freeze_bn_epoch", type=int, default=0, show_default=True,
              help="Train conv+BatchNorm folded with batch statistics until this epoch, then freeze them (0: frozen from the start).")
@click.option("--plan", "plan_path", type=click.Path(), default=None,
              help="A plan.json from `mcc plan`: train at its per-channel weight widths (instead of --bits) and export with them.")
@_user_errors
def qat_cmd(model, train_path, epochs, bits, learning_rate, eval_path, io, target, outdir, force, freeze_bn_epoch=0,
            plan_path=None):
    """Quantization-aware training of a Keras MODEL (fake-quantized weights with a straight-through
    estimator, EMA activation ranges), then export and compile the result like `mcc compile`."""
    from .evaluate import predict_float, predict_int8, top1
    from .frontend.keras import load_keras
    from .optimize.qat import export, fine_tune, qat_model

    if not api.is_keras(model):
        raise MccError(f"{model}: `mcc qat` trains a float Keras model (.keras, .h5, SavedModel)")
    x, y = _labelled(train_path)
    g_float = load_keras(model)
    x = x.reshape((len(x),) + tuple(g_float.tensors[g_float.inputs[0]].shape[1:]))
    if plan_path:
        from .optimize.qat_widths import plan_qat
        g, bits = plan_qat(g_float, plan_path, x, y, epochs, learning_rate, io, target, freeze_bn_epoch), "plan"
    else:
        qat = qat_model(model if freeze_bn_epoch else g_float, bits=bits, freeze_bn_epoch=freeze_bn_epoch)
        fine_tune(qat, x, y, epochs=epochs, learning_rate=learning_rate)
        g = export(qat, io=io)
    r = api.compile_graph(g, outdir, CompileOptions(target=target, force=force), f"{model} (QAT {bits}-bit)")
    console.print(f"mcc: QAT {bits}-bit, {epochs} epoch(s) on {len(x)} examples; wrote {r.outdir}")
    if eval_path:
        xe, ye = _labelled(eval_path)
        xe = xe.reshape((len(xe),) + tuple(g_float.tensors[g_float.inputs[0]].shape[1:]))
        console.print(f"top-1 on {len(xe)} labelled inputs: float {100 * top1(predict_float(g_float, xe), ye):.2f} %, "
                      f"QAT int8 ({bits}-bit weights) {100 * top1(predict_int8(g, xe), ye):.2f} %")
    _memory_table(r.weight_bytes, r.plan.arena_bytes, r.plan.lower_bound)


def _labelled(path: str):
    try:
        with np.load(path, allow_pickle=False) as d:
            if "x" not in d.files or "y" not in d.files:
                raise InputDataError(f"{path}: needs an .npz with arrays x and y (found: {', '.join(d.files)})")
            return d["x"].astype(np.float32), d["y"]
    except FileNotFoundError:
        raise InputDataError(f"{path}: no such file") from None
    except (ValueError, OSError) as e:
        raise InputDataError(f"{path}: not a readable .npz ({e})") from None


@main.command("size")
@click.argument("outdir", type=click.Path())
@_user_errors
def size_cmd(outdir):
    """Flash (code, weights) and SRAM (arena, stack, static) of a built Cortex-M firmware vs the board."""
    r = api.size(outdir)
    t = Table(title=f"{r.board}: firmware sizes from the linker map (bytes)")
    for c in ("memory", "component", "bytes", "budget", "used"):
        t.add_column(c, justify="left" if c in ("memory", "component") else "right")
    for mem, parts, budget in (("flash", r.flash, r.flash_budget), ("SRAM", r.sram, r.sram_budget)):
        for name, n in sorted(parts.items()):
            if name != "total":
                t.add_row(mem, name, f"{n:,}", "", "")
        total = parts.get("total", sum(parts.values()))
        t.add_row(mem, "[bold]total[/bold]", f"{total:,}", f"{budget:,}", f"{100 * total / budget:.1f} %")
    console.print(t)
    console.print(f"firmware overhead (flash except weights and the compiled graph, mcc_model.o): {r.overhead:,} B")


def parse_bytes(text: str | None, what: str = "size") -> int | None:
    """'200000', '64k', '64K' (x1024), '1M' (x1024^2) -> bytes."""
    if text is None:
        return None
    t = str(text).strip()
    mult = {"k": 1024, "K": 1024, "m": 1024 ** 2, "M": 1024 ** 2}.get(t[-1:], 1)
    num = t[:-1] if mult != 1 else t
    try:
        v = float(num) * mult
    except ValueError:
        v = -1
    if not num or v <= 0 or v != int(v):
        raise InputDataError(f"{what} {text!r} is not a size in bytes (e.g. 200000, 256k, 1M)")
    return int(v)


@main.command("plan")
@click.argument("model", type=click.Path())
@click.option("-t", "--target", required=True, help="Board (or core) to plan for.")
@click.option("--flash", default=None, help="Flash budget of the whole image (bytes, k/M suffixes); default: the board's.")
@click.option("--sram", default=None, help="SRAM budget (bytes, k/M suffixes); default: the board's.")
@click.option("--eval", "eval_path", type=click.Path(), default=None,
              help="Labelled data .npz (x, y): expected top-1 (else agreement with the int8 model on --calib).")
@click.option("-o", "--output", "out", type=click.Path(), default=None, help="Write the plan to this JSON file.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@click.option("--act-widths", "act_widths", is_flag=True,
              help="Also choose activations at 8 or 16 bits per tensor within the SRAM budget (Keras + --calib).")
@click.option("--sensitivity", type=click.Choice(["output", "logits", "kl", "fisher", "check"]), default="check",
              show_default=True, help="Per-channel sensitivity: model-output error (at the output, the logits, "
              "their KL), Fisher (gradients of the float model), or check: the allocation of each, and the "
              "uniform widths that fit, run on calibration data and the best kept.")
@click.option("--check", "check_path", type=click.Path(), default=None,
              help="Labelled calibration data .npz (x, y) for --sensitivity check (never the test set).")
@_quant_options
@_user_errors
def plan_cmd(model, target, flash, sram, eval_path, out, as_json, act_widths=False, sensitivity="check",
             check_path=None, **quant):
    """Choose 8/4/2-bit weights per output channel so MODEL fits the board's (or the given) flash and
    SRAM at least loss; print widths per layer and the predicted flash, SRAM, instructions, accuracy."""
    labelled = _labelled(eval_path) if eval_path else None
    p = api.plan(model, target, parse_bytes(flash, "--flash"), parse_bytes(sram, "--sram"),
                 _options(target, progress=not as_json, plan_activations=act_widths, **quant), labelled=labelled,
                 sensitivity=sensitivity, check=_labelled(check_path) if check_path else None)
    if out:
        Path(out).write_text(p.to_json())
    if as_json:
        click.echo(p.to_json(), nl=False)
        return
    t = Table(title=f"{p.model} on {p.target}: weight widths per layer ({p.method})")
    for c in ("weights", "op", "channels", "8-bit", "4-bit", "2-bit", "int8 B", "planned B"):
        t.add_column(c, justify="left" if c in ("weights", "op") else "right")
    for x in p.layers:
        t.add_row(x.name[-48:], x.kind, str(x.channels), str(x.counts["8"]), str(x.counts["4"]),
                  str(x.counts["2"]), f"{x.int8_bytes:,}", f"{x.bytes:,}")
    console.print(t)
    s = Table(title="predicted (linker-exact sizes)")
    for c in ("what", "predicted", "budget", "used"):
        s.add_column(c, justify="left" if c == "what" else "right")
    s.add_row("flash (image)", f"{p.flash:,}", f"{p.flash_budget:,}", f"{100 * p.flash / p.flash_budget:.1f} %")
    s.add_row("flash at int8", f"{p.int8_flash:,}", "", "")
    s.add_row("SRAM (arena, buffers, stack)", f"{p.sram:,}", f"{p.sram_budget:,}", f"{100 * p.sram / p.sram_budget:.1f} %")
    if p.instructions is not None:
        s.add_row("instructions / inference", f"{p.instructions:,}", "", "")
    console.print(s)
    if p.accuracy:
        a = p.accuracy
        console.print(f"expected accuracy ({a['metric']}, {a['n']} inputs): int8 {100 * a['int8']:.2f} %, "
                      f"plan {100 * a['plan']:.2f} %")
    if act_widths:
        from .act_report import activation_table
        console.print(activation_table(p))
    if not p.packed:
        console.print("note: the codegen stores sub-byte widths as int8 for now: narrower weights save no flash")
    if out:
        console.print(f"plan written to {out}; compile with `mcc compile {model} -t {target} --plan {out}`")


@main.command("targets")
def targets_cmd():
    """List the targets mcc compiles for."""
    from .targets import all_targets

    t = Table(title="targets")
    for c in ("id", "core", "flash", "SRAM", "emulator", "description"):
        t.add_column(c)
    for x in all_targets():
        b = x.board
        t.add_row(x.name, b.core.name if b else "host", f"{b.flash_size // 1024} KiB" if b else "-",
                  f"{b.sram_size // 1024} KiB" if b else "-", x.emulator, x.description)
    console.print(t)


@main.command("flash")
@click.argument("outdir", type=click.Path())
@click.option("--probe", default=None, help="Debug probe unique id (default: the only one attached).")
@click.option("--dry-run", is_flag=True, help="Print what would be done, touch nothing.")
@_user_errors
def flash_cmd(outdir, probe, dry_run):
    """Program a compiled Cortex-M project onto its board with pyOCD."""
    from .flash import flash

    plan = flash(outdir, probe=probe, dry_run=dry_run)
    console.print(("would flash:\n" if dry_run else "flashed:\n") + plan.describe())


@main.command("analyze")
@click.argument("model", type=click.Path())
@click.option("-t", "--target", default="host", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--patch-overhead", type=float, default=None,
              help="Plan patch-based execution recomputing at most this fraction of the MACs (negative: no "
                   "limit). Default: no patches.")
@_quant_options
@_user_errors
def analyze_cmd(model, target, as_json, patch_overhead, **quant):
    """Per-layer ops, shapes, MACs, weight and activation bytes, and memory totals."""
    r = api.analyze(model, target, _options(target, progress=not as_json, patch_overhead=patch_overhead, **quant))
    if as_json:
        d = {"model": r.model, "layers": [x.as_dict() for x in r.layers],
             "totals": {"macs": r.macs, "weight_bytes": r.weight_bytes,
                        "arena_bytes": r.arena_bytes, "arena_lower_bound": r.lower_bound}}
        if r.memory is not None:
            from .planner.report import memory_summary
            d["memory"] = memory_summary(r.memory)
        click.echo(json.dumps(d, indent=2))
        return
    t = Table(title=f"{r.model}")
    for col in ("#", "op", "input", "output", "MACs", "weights B", "activations B", "live B"):
        t.add_column(col, justify="right" if col not in ("op", "input", "output") else "left")
    for x in r.layers:
        t.add_row(str(x.index), x.kind, " ".join("x".join(map(str, s)) for s in x.input_shapes),
                  "x".join(map(str, x.output_shape)), f"{x.macs:,}", f"{x.weight_bytes:,}",
                  f"{x.activation_bytes:,}", f"{x.live_bytes:,}")
    console.print(t)
    console.print(f"total MACs: {r.macs:,}")
    _memory_table(r.weight_bytes, r.arena_bytes, r.lower_bound)
    if r.memory is not None:
        _memory_plan(r.memory, len(r.memory.program.graph.ops), r.memory.plan)


@main.command("validate")
@click.argument("model", type=click.Path())
@click.option("-t", "--target", default="host", show_default=True)
@click.option("-n", "n", default=100, show_default=True, help="Number of random inputs.")
@click.option("-i", "--input", "inp", type=click.Path(), help="Extra real inputs (N, *input_shape) .npy.")
@click.option("--seed", default=0, show_default=True)
@_quant_options
@_user_errors
def validate_cmd(model, target, n, inp, seed, **quant):
    """Run the generated C and the reference (TFLM; for Keras models mcc's TFLM-exact numpy
    interpreter) on the same inputs and compare."""
    x = _load_npy(inp) if inp else None
    r = api.validate(model, target=target, n=n, inputs=x, seed=seed, options=_options(target, **quant))
    console.print(f"{r.model}: {r.exact}/{r.n} outputs {r.criterion} {r.reference} "
                  f"({100 * r.exact_fraction:.1f} %), max |diff| {r.max_abs_diff:g}")
    if r.first_difference is not None:
        f = r.first_difference
        console.print(f"first differing layer: op {f.op_index} ({f.kind}), max |diff| {f.max_abs_diff:g} "
                      f"on input {f.item}")
    sys.exit(0 if r.exact == r.n else 1)


@main.command("distill")
@click.option("--teacher", type=click.Path(), default=None, help="Teacher Keras model (not for --scheme self).")
@click.option("--student", type=click.Path(), required=True, help="Student Keras model (a copy is trained).")
@click.option("--train", "train_path", type=click.Path(), required=True, help="Training data .npz with arrays x and y.")
@click.option("--kind", type=click.Choice(["response", "feature", "relation"]), default="response", show_default=True)
@click.option("--scheme", type=click.Choice(["offline", "online", "self"]), default="offline", show_default=True)
@click.option("--temperature", default=4.0, show_default=True)
@click.option("--alpha", default=0.9, show_default=True, help="Weight of the distillation term (1 - alpha: labels).")
@click.option("--hint", "hints", default="", help="Feature/relation layers TEACHER:STUDENT[,TEACHER:STUDENT...].")
@click.option("--heads", default="", help="Self-distillation: student layers for auxiliary heads (comma-separated).")
@click.option("--epochs", default=1, show_default=True)
@click.option("--batch-size", default=64, show_default=True)
@click.option("--lr", "learning_rate", default=1e-3, show_default=True)
@click.option("--eval", "eval_path", type=click.Path(), default=None, help="Labelled data .npz (x, y) to report top-1.")
@click.option("-o", "--output", required=True, type=click.Path(), help="Where to save the student (.keras).")
@_user_errors
def distill_cmd(teacher, student, train_path, kind, scheme, temperature, alpha, hints, heads, epochs, batch_size,
                learning_rate, eval_path, output):
    """Knowledge distillation: train a copy of the STUDENT on --train with a loss that learns from the
    teacher (response: Hinton soft targets; feature: hint layers with learned adapters; relation:
    RKD distances and angles) and save it."""
    from .optimize.distill import DistillConfig
    from .optimize.distill.run import distill_files

    cfg = DistillConfig(kind=kind, scheme=scheme, temperature=temperature, alpha=alpha,
                        hints=DistillConfig.parse_hints(hints), learning_rate=learning_rate,
                        heads=tuple(h.strip() for h in heads.split(",") if h.strip()))
    r = distill_files(teacher, student, train_path, cfg, output, epochs=epochs, batch_size=batch_size,
                      eval_path=eval_path, progress=True)
    console.print(f"mcc: distilled ({kind}, {scheme}) {epochs} epoch(s) on {r.n_train} examples, "
                  f"final loss {r.final_loss:.4f}; wrote {r.output}")
    if r.student_acc_after is not None:
        t = Table(title=f"top-1 on {eval_path}")
        t.add_column("model")
        t.add_column("accuracy", justify="right")
        if r.teacher_acc is not None:
            t.add_row("teacher", f"{100 * r.teacher_acc:.2f} %")
        t.add_row("student before", f"{100 * r.student_acc_before:.2f} %")
        t.add_row("student distilled", f"{100 * r.student_acc_after:.2f} %")
        console.print(t)


@main.command("compress")
@click.argument("model", type=click.Path())
@click.option("--config", "config_path", required=True, type=click.Path(), help="Pipeline configuration (TOML).")
@click.option("-t", "--target", default=None, help="Target (overrides [compile] target).")
@click.option("-o", "--output", "outdir", required=True, type=click.Path(), help="Output directory.")
@click.option("--force", is_flag=True, help="Write into a directory that holds other files.")
@_user_errors
def compress_cmd(model, config_path, target, outdir, force):
    """Prune -> distill -> quantize -> compile a Keras MODEL as --config says (each stage optional),
    then print a summary per stage."""
    from .compress.config import load_config
    from .compress.pipeline import run_compress

    if not api.is_keras(model):
        raise MccError(f"{model}: `mcc compress` takes a float Keras model (.keras, .h5, SavedModel)")
    r = run_compress(model, load_config(config_path), outdir, target=target, force=force, console=console)
    t = Table(title=f"mcc compress {model}")
    for c in ("stage", "params", "MACs", "accuracy", "int8 weights B", "arena B", "s", "note"):
        t.add_column(c, justify="left" if c in ("stage", "note") else "right")
    for x in r.rows:
        t.add_row(x.stage, f"{x.params:,}", f"{x.macs:,}", "-" if x.accuracy is None else f"{100 * x.accuracy:.2f} %",
                  "-" if x.weight_bytes is None else f"{x.weight_bytes:,}",
                  "-" if x.arena_bytes is None else f"{x.arena_bytes:,}", f"{x.seconds:.1f}", x.note)
    console.print(t)
    console.print(f"mcc: wrote {r.model_path}" + (f" and the C library {r.c_dir}" if r.c_dir else ""))


@main.command("prune")
@click.argument("model", type=click.Path())
@click.option("--method", default="l1", show_default=True,
              help="Criterion: level, l1, l2, fpgm, slim, apoz, mean_activation, taylor, admm, movement.")
@click.option("--sparsity", type=float, default=0.5, show_default=True,
              help="Fraction of channels (structured) or weights (unstructured) to remove, in [0, 1).")
@click.option("--schedule", default="oneshot", show_default=True,
              help="oneshot, linear, agp, lottery, annealing, auto_compress or amc.")
@click.option("--train", "train_path", type=click.Path(), required=True, help="Training data .npz with arrays x and y.")
@click.option("--epochs", default=1, show_default=True, help="Fine-tuning epochs.")
@click.option("--batch-size", default=64, show_default=True)
@click.option("--structured/--unstructured", default=None, help="Default: as the method ranks (channels or weights).")
@click.option("--layers", default=None, help="Comma-separated layer names to prune (default: every prunable one).")
@click.option("--budget", type=click.Choice(["macs", "flash"]), default="macs", show_default=True,
              help="Searches (annealing, auto_compress, amc): the budget they meet.")
@click.option("--eval", "eval_path", type=click.Path(), default=None, help="Labelled .npz (x, y): validation data.")
@click.option("-o", "--output", "output", required=True, type=click.Path(), help="Pruned Keras model (.keras).")
@_user_errors
def prune_cmd(model, output, train_path, eval_path, **kw):
    """Prune a Keras MODEL, fine-tune it on --train and write the pruned Keras model (-o)."""
    from .optimize.prune.cli import run_prune

    run_prune(console, model, output, _labelled(train_path), _labelled(eval_path) if eval_path else None, **kw)


if __name__ == "__main__":
    main()
