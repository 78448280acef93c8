"""Calibrate and check the per-kernel instruction model (mcc.planner.instructions) against the exact
QEMU plugin counts: every MLPerf Tiny model and the Fashion-MNIST CNN on every QEMU board.

    .venv/bin/python benchmarks/bench_instructions.py [--write] [--boards mps2-an386,...]

For each (model, board): compile, run one input under QEMU with --profile (exact per-operator
instruction counts), and take the features of each operator. The table shows, per model and board,
the measured instructions per inference, the prediction of a model fitted on the *other* models
only (leave-one-model-out: the honest error for a new model), and the in-sample prediction (fitted
on all). ``--write`` stores the all-model fit in mcc/planner/data/instructions.json (what `mcc
plan` uses).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from mcc import api  # noqa: E402
from mcc.options import CompileOptions  # noqa: E402
from mcc.planner import instructions as I  # noqa: E402
from mcc.targets import get_target  # noqa: E402
from mcc.targets_cm import qemu_boards  # noqa: E402

console = Console(width=150)
MODELS = {
    "resnet8": ROOT / "examples/mlperf_tiny/ic/resnet8_int8.tflite",
    "dscnn": ROOT / "examples/mlperf_tiny/kws/dscnn_int8.tflite",
    "sww": ROOT / "examples/mlperf_tiny/sww/sww_dscnn_int8.tflite",
}


def fashion_graph():
    from bench_ptq import fashion
    from mcc.frontend.keras import load_keras
    from mcc.quantize_api import quantize_model

    return quantize_model(load_keras(ROOT / "tests/data/fashion_cnn.keras"), fashion("train")[0][:64], progress=False)


def measure(name, g, board, tmp: Path):
    out = tmp / f"{name}-{board}"
    api.compile_graph(g, out, CompileOptions(target=board, force=True, memory="firstfit", sparse=False), name)
    x = api.random_inputs(g, 1)
    _, prof = api.run(out, x, profile=True)
    t = get_target(board)
    feats = I.features(g, t.has_dsp)
    return [(k, f, prof.layers[0].get(i, 0)) for i, k, f in feats], prof.instructions[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--cache", default=None, help="Keep the measured counts in this .json (re-fit without QEMU).")
    ap.add_argument("--boards", default=",".join(b for b in qemu_boards() if b.startswith("mps")))
    args = ap.parse_args()
    boards = args.boards.split(",")
    graphs = {n: api.load_model(p) for n, p in MODELS.items()}
    graphs["fashion"] = fashion_graph()
    data = {}  # (model, board) -> (rows, total)
    if args.cache and Path(args.cache).exists():
        for d in json.loads(Path(args.cache).read_text()):
            data[(d["model"], d["board"])] = ([(k, np.array(f[:3]), v) for k, f, v in d["rows"]], d["total"])
    with tempfile.TemporaryDirectory(prefix="mcc-instr-") as tmp:
        for board in boards:
            for name, g in graphs.items():
                if (name, board) in data:
                    continue
                console.print(f"profiling {name} on {board} ...")
                data[(name, board)] = measure(name, g, board, Path(tmp))
    if args.cache:
        Path(args.cache).write_text(json.dumps([{"model": m, "board": b, "total": t, "rows": [
            [k, [float(v) for v in f], int(c)] for k, f, c in rows]} for (m, b), (rows, t) in data.items()]))

    def table_for(models):
        out = {}
        for board in boards:
            core = get_target(board).board.core.name
            samples: dict[str, list] = {}
            for m in models:
                for k, f, v in data[(m, board)][0]:
                    samples.setdefault(k, []).append((f, v))
            out.setdefault(core, {}).update(I.fit(samples))
        return out

    full = table_for(list(graphs))
    t = Table(title="instructions per inference: measured (QEMU plugin, exact) vs the per-kernel model")
    for c in ("model", "board", "measured", "predicted (left out)", "error", "predicted (in sample)", "error "):
        t.add_column(c, justify="left" if c in ("model", "board") else "right")
    errs, errs_in = [], []
    for (name, board), (rows, total) in data.items():
        loo = table_for([m for m in graphs if m != name])
        p_loo = I.predict(graphs[name], board, loo)
        p_in = I.predict(graphs[name], board, full)
        e1 = (p_loo - total) / total if p_loo is not None else float("nan")
        e2 = (p_in - total) / total
        errs.append(abs(e1))
        errs_in.append(abs(e2))
        t.add_row(name, board, f"{total:,}", f"{p_loo:,}" if p_loo is not None else "-", f"{100 * e1:+.1f} %",
                  f"{p_in:,}", f"{100 * e2:+.1f} %")
    console.print(t)
    console.print(f"mean |error|: left-out {100 * np.nanmean(errs):.1f} % (max {100 * np.nanmax(errs):.1f} %), "
                  f"in-sample {100 * np.mean(errs_in):.1f} % (max {100 * np.max(errs_in):.1f} %)")
    if args.write:
        I.DATA.parent.mkdir(parents=True, exist_ok=True)
        I.DATA.write_text(json.dumps(full, indent=1, sort_keys=True) + "\n")
        console.print(f"wrote {I.DATA}")


if __name__ == "__main__":
    main()
