"""Bit allocation benchmark: Fashion-MNIST CNN accuracy at flash budgets of 75 %, 50 % and 30 % of
its int8 weight size, the planner's mixed 8/4/2-bit allocation against uniform 4-bit and uniform
2-bit weights, measured in the same run.

    .venv/bin/python benchmarks/bench_bits.py [--n-test 10000] [--n-calib 500] [--n-sens 256]
                                              [--n-check 3000] [--qat-epochs 1 --n-qat 5000] [--all-test]

(measured: --n-sens 256 --n-check 3000 --qat-epochs 1 --n-qat 5000, 16 min wall on a loaded 2-core
machine, 5 min CPU; the rows without --qat-epochs are identical.)

Model: tests/data/fashion_cnn.keras (trained on the first 30 000 training images), quantized by mcc
(minmax PTQ on the first --n-calib training images). Weight bytes are the packed storage of
mcc.lower.packing.packed_size (ceil(K * b / 8) bytes per output channel row), the conv / depthwise
/ dense filters only (the int32 biases are the same in every row). Uniform b-bit: every channel at b
bits (scale max|w| / (2^(b-1)-1) per channel from the float weights, the same requantization as the
planner's).

The planner (mcc.planner): per-channel sensitivities on --n-sens calibration images (training
images 30 000.., not used to train the model): model-output error at the output (the previous
default), at the logits, the KL of the logits, and the Fisher estimate (mcc.planner.fisher); the
MILP (mcc.planner.bits) solved for each; then the check (mcc.planner.candidates): every MILP
solution and the uniform widths that fit run on --n-check labelled calibration images (training
images 40 000..; never the test set) and the best top-1 there is the planner's allocation.
Every candidate's test top-1 is shown for transparency, but nothing is selected on the test set.
Models run in mcc's numpy reference interpreter (bit-exact with TFLM); the planner's and the
uniform models are also compiled to C and their outputs checked equal on a few test images.

QAT (--qat-epochs N > 0): mcc.optimize.qat_widths fine-tunes the float model N epochs on the
first --n-qat training images with the weights fake-quantized at the allocation's widths, then
exports with those widths; the same for uniform 4-bit and 2-bit.
"""

from __future__ import annotations

import argparse
import hashlib
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
from mcc.lower.packing import packed_size, row_bytes  # noqa: E402
from mcc.passes.weight_bits import WEIGHT_AXIS, set_weight_bits, weight_ops  # noqa: E402
from mcc.planner.bits import WIDTHS, BitProblem, Layer  # noqa: E402
from mcc.planner.candidates import candidate_allocations, pick  # noqa: E402
from mcc.planner.fisher import fisher_sensitivity  # noqa: E402
from mcc.planner.sensitivity import sensitivities  # noqa: E402
from mcc.quantize_api import quantize_model  # noqa: E402

console = Console(width=190)
BUDGETS = (0.75, 0.50, 0.30)
MODEL = ROOT / "tests/data/fashion_cnn.keras"


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


def counts(widths) -> str:
    return "/".join(str(sum(w.count(b) for w in widths.values())) for b in WIDTHS)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-test", type=int, default=10000)
    ap.add_argument("--n-calib", type=int, default=500)
    ap.add_argument("--n-sens", type=int, default=256)
    ap.add_argument("--n-check", type=int, default=3000)
    ap.add_argument("--all-test", action="store_true", help="test top-1 of every candidate, not only the chosen")
    ap.add_argument("--qat-epochs", type=int, default=0)
    ap.add_argument("--n-qat", type=int, default=10000)
    args = ap.parse_args()
    x_train, y_train = fashion("train")
    x_test, y_test = fashion("t10k")
    x_test, y_test = x_test[:args.n_test], y_test[:args.n_test]
    x_sens = x_train[30000:30000 + args.n_sens]
    x_check, y_check = x_train[40000:40000 + args.n_check], y_train[40000:40000 + args.n_check]
    f = load_keras(MODEL)
    q = quantize_model(f, x_train[:args.n_calib], progress=False)
    layers = weight_layers(q)
    int8 = stored_bytes(q)
    t0 = time.perf_counter()
    sens = sensitivities(q, x_sens, float_graph=f, n=args.n_sens, progress=True)
    t_sens = time.perf_counter() - t0
    t0 = time.perf_counter()
    sens["fisher"] = fisher_sensitivity(q, x_sens, f, n=args.n_sens, progress=True)
    t_fisher = time.perf_counter() - t0
    problem_layers = tuple(Layer(name, kind, np.array([[row_bytes(k, b) for b in WIDTHS]] * n, np.int64),
                                 sens["output"][name]) for name, kind, n, k, _, _ in layers)
    tmp = Path(tempfile.mkdtemp(prefix="mcc-bench-bits-"))
    acc: dict[str, float] = {}
    built: dict[str, Path] = {}

    def predict_c(g, x):
        """Outputs of the compiled C (checked equal to the numpy reference on the first 4 inputs)."""
        h = hashlib.sha1()
        for name, *_ in layers:
            h.update(g.tensors[name].data.tobytes() + np.asarray(g.tensors[name].quant.scale).tobytes())
        for op in g.ops:  # biases and activation parameters (QAT exports differ there too)
            for n in op.inputs[2:3] + op.outputs:
                if n is not None and g.tensors[n].quant is not None:
                    h.update(np.asarray(g.tensors[n].quant.scale).tobytes())
        key = h.hexdigest()[:16]
        if key not in built:
            built[key] = api.compile_graph(g, tmp / key, CompileOptions(target="host", force=True), key).outdir
            assert np.array_equal(api.run(built[key], x[:4]).reshape(4, -1), predict_int8(g, x[:4])), key
        return api.run(built[key], x).reshape(len(x), -1)

    def test_top1(key, g):
        if key not in acc:
            acc[key] = top1(predict_c(g, x_test), y_test)
        return acc[key]

    qat_acc: dict[str, float] = {}

    def qat_top1(key, widths):
        if args.qat_epochs <= 0:
            return None
        if key not in qat_acc:
            import keras

            from mcc.optimize.qat import fine_tune
            from mcc.optimize.qat_widths import export_widths, qat_widths_model
            keras.utils.set_random_seed(0)
            m = qat_widths_model(f, widths, calib_data=x_train[:args.n_calib])
            fine_tune(m, x_train[:args.n_qat], y_train[:args.n_qat], epochs=args.qat_epochs, verbose=0)
            g = export_widths(m)
            assert stored_bytes(g) == stored_bytes(set_weight_bits(q, widths, float_graph=f))
            qat_acc[key] = test_top1(f"qat-{key}", g)
        return qat_acc[key]

    import keras
    acc_float = top1(keras.saving.load_model(MODEL).predict(x_test, batch_size=500, verbose=0), y_test)
    acc_int8 = test_top1("int8", q)
    u_widths = {b: {name: (b,) * n for name, _, n, *_ in layers} for b in (4, 2)}
    uniform = {b: set_weight_bits(q, u_widths[b], float_graph=f) for b in (4, 2)}
    size = {b: stored_bytes(g) for b, g in uniform.items()}
    acc_u = {b: test_top1(f"uniform {b}-bit", g) for b, g in uniform.items()}

    t = Table(title=f"Fashion-MNIST CNN, {len(x_test)} test images: top-1 at flash budgets of the int8 weight "
                    f"size ({int8:,} B of filters); planner = best of the candidates on {len(x_check)} labelled "
                    "calibration images")
    cols = ("budget", "allocation", "weights B", "of int8", "8/4/2-bit ch", "calib top-1", "test top-1",
            "vs uniform") + (("test top-1 + QAT", "QAT vs uniform+QAT") if args.qat_epochs > 0 else ())
    for c in cols:
        t.add_column(c, justify="left" if c in ("allocation", "8/4/2-bit ch") else "right")
    n_ch = sum(n for _, _, n, *_ in layers)
    pad = ("", "") if args.qat_epochs > 0 else ()
    t.add_row("-", "float (Keras weights)", "-", "-", "-", "", f"{100 * acc_float:.2f} %", "", *pad)
    t.add_row("-", "int8 (mcc PTQ)", f"{int8:,}", "100.0 %", f"{n_ch}/0/0", "", f"{100 * acc_int8:.2f} %", "", *pad)
    summary = []
    for frac in BUDGETS:
        budget = int(frac * int8)
        cands = candidate_allocations(BitProblem(problem_layers, 0, budget), sens, method="milp")
        best, scored = pick(q, cands, x_check, y_check, f, predict=predict_c)
        peer = 4 if size[4] <= budget else 2
        t.add_section()
        for c in scored:
            w = c.allocation.widths
            g = set_weight_bits(q, w, float_graph=f)
            sz = stored_bytes(g)
            assert sz == c.allocation.flash <= budget, (sz, c.allocation.flash, budget)
            chosen = c.label == best.label
            if c.label.startswith("uniform"):
                a = acc_u[int(c.label.split()[1][0])]
            elif chosen or c.label == "milp:output" or args.all_test:
                a = test_top1(f"{frac}-{c.label}", g)
            else:
                a = None
            name = ("planner: " if chosen else "  candidate ") + c.label + (" (previous default)" if c.label ==
                                                                              "milp:output" else "")
            row = [f"{100 * frac:.0f} %", name, f"{sz:,}", f"{100 * sz / int8:.1f} %", counts(w),
                   f"{100 * c.score[0]:.2f} %", "-" if a is None else f"{100 * a:.2f} %",
                   f"{100 * (a - acc_u[peer]):+.2f} pp vs {peer}-bit" if chosen or c.label == "milp:output" else ""]
            if args.qat_epochs > 0:
                if chosen:
                    aq = qat_top1(f"{frac}-{c.label}", w)
                    uq = qat_top1(f"uniform {peer}-bit", u_widths[peer])
                    row += [f"{100 * aq:.2f} %", f"{100 * (aq - uq):+.2f} pp vs {peer}-bit+QAT"]
                else:
                    row += ["", ""]
            t.add_row(*row)
            if chosen:
                summary.append((frac, c.label, a, peer, acc_u[peer]))
        for b in (4, 2):
            if size[b] > budget:
                extra = ""
                if args.qat_epochs > 0:
                    extra = qat_top1(f"uniform {b}-bit", u_widths[b])
                t.add_row("", f"  uniform {b}-bit (over budget)", f"{size[b]:,}", f"{100 * size[b] / int8:.1f} %",
                          "/".join(str(n_ch if w == b else 0) for w in WIDTHS), "", f"{100 * acc_u[b]:.2f} %", "",
                          *((f"{100 * extra:.2f} %", "") if args.qat_epochs > 0 else ()))
    if args.qat_epochs > 0:
        for b in (4, 2):
            qat_top1(f"uniform {b}-bit", u_widths[b])
        t.add_section()
        for b in (4, 2):
            t.add_row("", f"uniform {b}-bit + QAT", f"{size[b]:,}", "", "", "", "", "",
                      f"{100 * qat_acc[f'uniform {b}-bit']:.2f} %", "")
    shutil.rmtree(tmp, ignore_errors=True)
    console.print(t)
    for frac, label, a, peer, au in summary:
        console.print(f"{100 * frac:.0f} %: planner ({label}) {100 * a:.2f} % vs uniform {peer}-bit {100 * au:.2f} % "
                      f"({'beats' if a > au else 'does NOT beat'} it)")
    console.print(f"sensitivities: {args.n_sens} calibration images; output/logits/KL from {2 * len(layers) + 1} "
                  f"reference runs, {t_sens:.1f} s; Fisher {t_fisher:.1f} s. Uniform 4-bit takes "
                  f"{100 * size[4] / int8:.1f} % of the int8 bytes (rows of 9 weights round up to 5 bytes), so it "
                  "does not fit a 50 % budget; 'vs uniform' compares with uniform 4-bit where it fits, else 2-bit."
                  + (f" QAT: {args.qat_epochs} epoch(s) on {args.n_qat} training images." if args.qat_epochs else ""))


if __name__ == "__main__":
    main()
