"""Bit allocation benchmark: Fashion-MNIST CNN accuracy at flash budgets of 75 %, 50 % and 30 % of
its int8 weight size, the planner's mixed 8/4/2-bit allocation against uniform 4-bit and uniform
2-bit weights, measured in the same run.

    .venv/bin/python benchmarks/bench_bits.py [--n-test 10000] [--n-calib 500] [--n-sens 128]

Model: tests/data/fashion_cnn.keras, quantized by mcc (minmax PTQ on the first N training images).
Weight bytes are the packed storage of mcc.lower.packing.packed_size (ceil(K * b / 8) bytes per
output channel row), the conv / depthwise / dense filters only (the int32 biases are the same in
every row). The planner's allocation: per-channel output-error sensitivity
(mcc.planner.sensitivity, on the first --n-sens training images), solved exactly with the MILP
(mcc.planner.bits). Uniform b-bit: every channel at b bits (scale max|w| / (2^(b-1)-1) per channel
from the float weights, the same requantization as the planner's). Every model runs in mcc's numpy
reference interpreter (bit-exact with TFLM and with the generated C) on the 10k test images.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
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

from bench_ptq import fashion  # noqa: E402
from mcc import api  # noqa: E402
from mcc.evaluate import predict_int8, top1  # noqa: E402
from mcc.options import CompileOptions  # noqa: E402
from mcc.frontend.keras import load_keras  # noqa: E402
from mcc.lower.packing import packed_size  # noqa: E402
from mcc.passes.weight_bits import WEIGHT_AXIS, set_weight_bits, weight_ops  # noqa: E402
from mcc.planner.bits import WIDTHS, BitProblem, Layer, allocate  # noqa: E402
from mcc.planner.sensitivity import sensitivity  # noqa: E402
from mcc.lower.packing import row_bytes  # noqa: E402
from mcc.quantize_api import quantize_model  # noqa: E402

console = Console(width=150)
BUDGETS = (0.75, 0.50, 0.30)


def weight_layers(g):
    out = []
    for i in weight_ops(g):
        op = g.ops[i]
        w = g.tensors[op.inputs[1]]
        n = w.shape[WEIGHT_AXIS[op.kind]]
        out.append((w.name, op.kind, n, w.size // n, w.shape, WEIGHT_AXIS[op.kind]))
    return out


def stored_bytes(g) -> int:
    return sum(packed_size(shape, g.tensors[name].quant.widths(n), axis)
               for name, _, n, _, shape, axis in weight_layers(g))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-test", type=int, default=10000)
    ap.add_argument("--n-calib", type=int, default=500)
    ap.add_argument("--n-sens", type=int, default=64)
    args = ap.parse_args()
    x_train, _ = fashion("train")
    x_test, y_test = fashion("t10k")
    x_test, y_test = x_test[:args.n_test], y_test[:args.n_test]
    f = load_keras(ROOT / "tests/data/fashion_cnn.keras")
    q = quantize_model(f, x_train[:args.n_calib], progress=False)
    layers = weight_layers(q)
    int8 = stored_bytes(q)
    t0 = time.perf_counter()
    sens = sensitivity(q, x_train[:args.n_sens], float_graph=f, n=args.n_sens, progress=True)
    t_sens = time.perf_counter() - t0
    problem_layers = tuple(Layer(name, kind, np.array([[row_bytes(k, b) for b in WIDTHS]] * n, np.int64),
                                 sens[name]) for name, kind, n, k, _, _ in layers)
    acc = {}

    tmp = Path(tempfile.mkdtemp(prefix="mcc-bench-bits-"))

    def evaluate(label, g):
        if label not in acc:
            out = api.compile_graph(g, tmp / label, CompileOptions(target="host", force=True), label).outdir
            y = api.run(out, x_test).reshape(len(x_test), -1)
            # the C equals the numpy reference interpreter (checked here on a few images)
            assert np.array_equal(y[:10], predict_int8(g, x_test[:10])), label
            acc[label] = top1(y, y_test)
        return acc[label]

    import keras
    acc_float = top1(keras.saving.load_model(ROOT / "tests/data/fashion_cnn.keras").predict(x_test, batch_size=500,
                                                                                          verbose=0), y_test)
    acc_int8 = evaluate("int8", q)
    uniform = {b: set_weight_bits(q, {name: b for name, *_ in layers}, float_graph=f) for b in (4, 2)}
    size = {b: stored_bytes(g) for b, g in uniform.items()}
    acc_u = {b: evaluate(f"u{b}", g) for b, g in uniform.items()}

    t = Table(title=f"Fashion-MNIST CNN, {len(x_test)} test images: top-1 at flash budgets of the int8 weight "
                    f"size ({int8:,} B of filters)")
    for c in ("budget", "budget B", "allocation", "weights B", "of int8", "8/4/2-bit channels", "top-1",
              "vs uniform", "solver"):
        t.add_column(c, justify="left" if c in ("allocation", "8/4/2-bit channels", "solver") else "right")
    n_ch = sum(n for _, _, n, _, _, _ in layers)
    t.add_row("-", "-", "float (Keras weights)", "-", "-", "-", f"{100 * acc_float:.2f} %", "", "")
    t.add_row("-", "-", "int8 (mcc PTQ)", f"{int8:,}", "100.0 %", f"{n_ch}/0/0", f"{100 * acc_int8:.2f} %", "", "")
    for frac in BUDGETS:
        budget = int(frac * int8)
        t0 = time.perf_counter()
        a = allocate(BitProblem(problem_layers, 0, budget), method="milp")
        t_solve = time.perf_counter() - t0
        g = set_weight_bits(q, a.widths, float_graph=f)
        sz = stored_bytes(g)
        assert sz == a.flash <= budget, (sz, a.flash, budget)
        counts = [sum(w.count(b) for w in a.widths.values()) for b in WIDTHS]
        am = evaluate(f"mixed{frac}", g)
        peer = 4 if size[4] <= budget else 2
        t.add_row(f"{100 * frac:.0f} %", f"{budget:,}", "planner: mixed (MILP)", f"{sz:,}", f"{100 * sz / int8:.1f} %",
                  "/".join(map(str, counts)), f"{100 * am:.2f} %",
                  f"{100 * (am - acc_u[peer]):+.2f} pp vs {peer}-bit", f"{a.method}, {t_solve:.2f} s")
        for b in (4, 2):
            fits = size[b] <= budget
            t.add_row("", "", f"uniform {b}-bit" + ("" if fits else " (over budget)"), f"{size[b]:,}",
                      f"{100 * size[b] / int8:.1f} %", "/".join(str(n_ch if w == b else 0) for w in WIDTHS),
                      f"{100 * acc_u[b]:.2f} %", "", "")
    shutil.rmtree(tmp, ignore_errors=True)
    console.print(t)
    console.print(f"sensitivity: {args.n_sens} calibration images, {2 * len(layers) + 1} reference runs, "
                  f"{t_sens:.1f} s; uniform 4-bit takes {100 * size[4] / int8:.1f} % of the int8 bytes "
                  "(rows of 9 weights round up to 5 bytes), so it does not fit a 50 % budget; "
                  "'vs uniform' compares with uniform 4-bit where it fits the budget, else uniform 2-bit.")


if __name__ == "__main__":
    main()
