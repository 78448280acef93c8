"""Mixed activation widths benchmark (issue 6): the Fashion-MNIST CNN with every activation at 8
bits, with the activations the planner (mcc.planner.act_bits) widens to 16 bits at several arena
budgets, and with every activation at 16 bits (16x8), each compiled to host C and run on the test
images: arena bytes (memory planner), width conversions (QUANTIZE ops), top-1 accuracy and the mean
squared error of the output probabilities against the float model, measured in the same run.

    .venv/bin/python benchmarks/bench_act_widths.py [--n 2000] [--calib 64]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import track  # noqa: E402
from rich.table import Table  # noqa: E402

import mcc.api as api  # noqa: E402
from mcc.options import CompileOptions  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from make_fashion_cnn import load_fashion_mnist  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000, help="test images")
    ap.add_argument("--calib", type=int, default=64, help="calibration images (training split)")
    args = ap.parse_args()
    from mcc.frontend.keras import load_keras
    from mcc.passes.act_widths import quantize_mixed, widenable
    from mcc.passes.calibrate import calibrate
    from mcc.passes.pipeline import run_float_passes
    from mcc.planner.act_bits import arena_of, choose_activation_widths
    from mcc.reference import float_interp

    fg = run_float_passes(load_keras(ROOT / "tests/data/fashion_cnn.keras"))
    xc = load_fashion_mnist("train")[0][:args.calib]
    x, labels = load_fashion_mnist("t10k")
    x, labels = x[:args.n], labels[:args.n]
    ranges = calibrate(fg, xc, "minmax", progress=False)
    y_float = float_interp.run(fg, [x])[0].reshape(len(x), -1).astype(np.float64)
    a8 = arena_of(quantize_mixed(fg, ranges, {}), False)
    all16 = {n: 16 for n in widenable(fg)}
    a16 = arena_of(quantize_mixed(fg, ranges, all16), False)
    configs = [("all 8-bit", {})]
    for frac in (0.0, 0.25, 0.5, 1.0):
        budget = int(a8 + frac * (a16 - a8))
        p = choose_activation_widths(fg, ranges, xc, arena_budget=budget)
        configs.append((f"planner, arena <= {budget:,}", {n: 16 for n in p.wide}))
    configs.append(("all 16-bit", all16))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, (name, widths) in enumerate(track(configs, description="quantize + compile + run")):
            g = quantize_mixed(fg, ranges, widths)
            out = api.compile_graph(g, Path(tmp) / f"c{k}", CompileOptions(force=True, progress=False)).outdir
            y = api.run(out, x).reshape(len(x), -1).astype(np.float64)
            conv = sum(1 for op in g.ops if op.kind == "QUANTIZE" and g.tensors[op.inputs[0]].dtype != "float32")
            rows.append((name, len(widths), arena_of(g, False), conv, float(np.mean(y.argmax(1) == labels)),
                         float(np.mean((y - y_float) ** 2))))
    t = Table(title=f"Fashion CNN, activations at 8 / 16 bits ({args.n} test images, host C; "
                    f"float top-1 {np.mean(y_float.argmax(1) == labels):.4f})")
    for c in ("widths", "16-bit tensors", "arena B", "vs all-8", "conversions", "top-1", "output MSE vs float",
              "MSE vs all-8"):
        t.add_column(c, justify="left" if c == "widths" else "right")
    base = rows[0]
    for name, n16, arena, conv, acc, mse in rows:
        t.add_row(name, str(n16), f"{arena:,}", f"{arena / base[2]:.3f}", str(conv), f"{acc:.4f}", f"{mse:.3g}",
                  f"{mse / base[5]:.3f}")
    Console(width=160).print(t)


if __name__ == "__main__":
    main()
