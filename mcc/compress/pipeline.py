"""``mcc compress``: one pipeline prune -> distill -> quantize -> compile, each stage optional per
the TOML (``mcc.compress.config``), with a summary row per stage (params, MACs, accuracy on the
validation data, int8 weight bytes and arena bytes once quantized/compiled).

Output directory: ``model.keras`` (the float model after pruning and distillation), ``c/`` (the
compiled C library, an ordinary ``mcc compile`` output directory) and ``summary.json``.
When a ``[distill]`` section is present its loss is also the prune stage's fine-tuning loss.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from rich.console import Console

from ..errors import MccError, OutputDirError
from .config import CompressConfig, QuantizeSection, to_config_distill

OUR_FILES = {"model.keras", "c", "summary.json"}


class CompressError(MccError):
    pass


@dataclass(frozen=True)
class StageRow:
    stage: str
    params: int
    macs: int
    accuracy: float | None = None        # float model (Keras) or int8 graph (reference interpreter)
    weight_bytes: int | None = None      # int8 weights (flash) once quantized
    arena_bytes: int | None = None       # planned arena once compiled
    seconds: float = 0.0
    note: str = ""


@dataclass(frozen=True)
class CompressResult:
    outdir: Path
    rows: tuple[StageRow, ...]
    model_path: Path
    c_dir: Path | None


def float_macs(model) -> int:
    """MACs of one inference of a Keras model (its float IR, after BN folding)."""
    from ..frontend.keras import load_keras
    from ..report.analysis import _macs

    g = load_keras(model)
    return int(sum(_macs(g, op) for op in g.ops))


def _check_outdir(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise OutputDirError(f"{out} exists and is not a directory")
    if out.exists() and not force:
        foreign = sorted(p.name for p in out.iterdir() if p.name not in OUR_FILES)
        if foreign:
            raise OutputDirError(f"{out} holds files mcc compress did not write (e.g. {foreign[0]}); "
                                 "choose another output directory or pass --force")


def _prune_api():
    try:
        from ..optimize.prune import PruneConfig, prune_model
    except ImportError as e:
        raise CompressError("the [prune] stage needs mcc.optimize.prune (pruning), which this build of mcc "
                            f"does not have ({e}); remove [prune] from the config") from None
    return PruneConfig, prune_model


def run_compress(model_path: str | Path, cfg: CompressConfig, outdir: str | Path, target: str | None = None,
                 force: bool = False, console: Console | None = None, progress: bool = True) -> CompressResult:
    from ..frontend.keras import read_model
    from ..optimize.distill import DistillTrainer, clone_model
    from ..optimize.distill.run import fit_input, read_labelled
    from ..optimize.progress import RichProgress
    from ..optimize.trainer import LabelTrainer

    console = console or Console()
    out = Path(outdir)
    _check_outdir(out, force)
    if target is not None:
        from ..targets import get_target
        get_target(target)  # an unknown target fails before any training
    if cfg.prune is not None:
        _prune_api()        # a missing prune module fails before any training
    original = read_model(model_path)
    x = y = xv = yv = None
    if cfg.data.train is not None:
        x, y = read_labelled(cfg.path(cfg.data.train))
        x = fit_input(original, x, cfg.data.train)
    if cfg.data.validation is not None:
        xv, yv = read_labelled(cfg.path(cfg.data.validation))
        xv = fit_input(original, xv, cfg.data.validation)

    def acc(m):
        return None if xv is None else float(np.mean(m.predict(xv, batch_size=256, verbose=0).argmax(1) == yv))

    def bar(what, n, bs, ep):
        return [RichProgress(what, n, bs, ep, console=console)] if progress else []

    rows = [StageRow("input", original.count_params(), float_macs(original), acc(original))]
    model = clone_model(original)
    dcfg = to_config_distill(cfg.distill) if cfg.distill is not None else None

    def distill_trainer():
        if dcfg.scheme == "self":
            return DistillTrainer(None, dcfg)
        teacher = original if cfg.distill.teacher == "self" else read_model(cfg.path(cfg.distill.teacher))
        return DistillTrainer(teacher, dcfg)

    if cfg.prune is not None:
        t0 = time.perf_counter()
        PruneConfig, prune_model = _prune_api()
        p = cfg.prune
        trainer = distill_trainer() if dcfg is not None else LabelTrainer()
        console.print(f"[bold]prune[/bold]: {p.method}, sparsity {p.sparsity}, {p.schedule}, {p.epochs} epoch(s)"
                      f" of fine-tuning ({'distillation' if dcfg is not None else 'labels'})")
        res = prune_model(model, PruneConfig(method=p.method, sparsity=p.sparsity, schedule=p.schedule,
                                             epochs=p.epochs, batch_size=p.batch_size), x, y,
                          validation_data=None, trainer=trainer, progress=progress)
        model = res.model
        rows.append(StageRow("prune", model.count_params(), float_macs(model), acc(model),
                             seconds=time.perf_counter() - t0, note=f"{p.method} {p.sparsity:g} {p.schedule}"))
    if cfg.distill is not None:
        t0 = time.perf_counter()
        d = cfg.distill
        console.print(f"[bold]distill[/bold]: {d.kind} ({d.scheme}), teacher {d.teacher}, {d.epochs} epoch(s)")
        if d.epochs > 0:
            distill_trainer().fit(model, x, y, epochs=d.epochs, batch_size=d.batch_size,
                                  callbacks=bar(f"distill ({d.kind})", len(x), d.batch_size, d.epochs))
        rows.append(StageRow("distill", model.count_params(), float_macs(model), acc(model),
                             seconds=time.perf_counter() - t0, note=f"{d.kind} {d.scheme} T={d.temperature:g} "
                                                                     f"alpha={d.alpha:g}"))
    out.mkdir(parents=True, exist_ok=True)
    model_out = out / "model.keras"
    model.save(model_out)
    c_dir = None
    if cfg.quantize is not None or cfg.compile is not None:
        from ..evaluate import predict_int8, top1
        from ..frontend.keras import load_keras
        from ..quantize_api import quantize_model

        t0 = time.perf_counter()
        q = cfg.quantize or QuantizeSection()
        calib = x[:q.n_calib] if q.calib == "train" else str(cfg.path(q.calib))
        console.print(f"[bold]quantize[/bold]: {q.method}, {'per-channel' if q.per_channel else 'per-tensor'}")
        g = quantize_model(load_keras(model), calib, method=q.method, per_channel=q.per_channel,
                           symmetric=q.symmetric, io=q.io, progress=progress)
        wbytes = sum(g.tensors[n].nbytes for n in g.constants())
        acc8 = top1(predict_int8(g, xv), yv) if xv is not None else None
        rows.append(StageRow("quantize", model.count_params(), rows[-1].macs, acc8, wbytes,
                             seconds=time.perf_counter() - t0,
                             note=f"int8 {q.method}" + ("" if cfg.quantize else " (defaults)")))
        if cfg.compile is not None:
            from .. import api
            from ..options import CompileOptions

            t0 = time.perf_counter()
            tgt = target or cfg.compile.target
            console.print(f"[bold]compile[/bold]: target {tgt}")
            c_dir = out / "c"
            r = api.compile_graph(g, c_dir, CompileOptions(target=tgt, model_name=cfg.compile.name, force=force),
                                  f"{Path(model_path).name} (compressed)")
            rows.append(StageRow("compile", model.count_params(), sum(la.macs for la in r.layers), acc8,
                                 r.weight_bytes, r.plan.arena_bytes, time.perf_counter() - t0, f"target {tgt}"))
    (out / "summary.json").write_text(json.dumps({"model": str(model_path), "stages": [asdict(r) for r in rows]},
                                                 indent=2) + "\n")
    return CompressResult(out, tuple(rows), model_out, c_dir)
