"""Unstructured-sparse kernels against the dense ones: exact executed instructions under QEMU (TCG
plugin) and weight flash bytes, per sparsity, for an MLPerf-Tiny-like FULLY_CONNECTED (640 -> 128,
the anomaly-detection autoencoder's widest layer) and 1x1 CONV_2D (DS-CNN: 64 -> 64 on 25 x 5),
and the sparsity at which each sparse kernel starts paying in flash and in instructions.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_sparse.py [--board mps2-an386] [--fit]
    PYTHONPATH=. .venv/bin/python benchmarks/bench_sparse.py --fashion [--board mps2-an386]
        [--sparsities 0.5,0.8,0.9] [--epochs 1] [--train-n 5000] [--n-test 1000]

--fashion: the compiled model instead of single layers: the Fashion-MNIST CNN level-pruned by
mcc's pruner, linked flash and exact QEMU instructions with vs without the sparse kernels (see
``fashion_rows``).

Dense: mcc_fully_connected_s8 / mcc_conv_1x1_s8 (DSP paths on a DSP core; on mps2-an385, a
Cortex-M3, the portable mcc_fully_connected_s8 / mcc_conv_s8). --fit also fits the count models of
mcc/lower/sparse.py (least squares over random shapes) and prints their coefficients.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import dspkernels as dk  # noqa: E402
import qemu_kernels as qk  # noqa: E402
from mcc.lower import params as P  # noqa: E402
from mcc.lower import sparse as SP  # noqa: E402
from mcc.reference.fixed_point import quantize_multipliers  # noqa: E402

SPARSITIES = (0.0, 0.3, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)


def fc_params(rng, batches, depth, out):
    m, s = quantize_multipliers(np.exp(rng.uniform(math.log(2e-3), math.log(2e-2), out)))
    return P.FullyConnectedParams(batches=batches, accum_depth=depth, output_size=out, input_offset=128,
                                  filter_offset=0, output_offset=-128, act_min=-128, act_max=127,
                                  per_channel=1, multiplier=m, shift=s)


def conv_params(rng, h, w, cin, cout):
    m, s = quantize_multipliers(np.exp(rng.uniform(math.log(2e-3), math.log(2e-2), cout)))
    return P.ConvParams(input_n=1, input_h=h, input_w=w, input_c=cin, filter_h=1, filter_w=1,
                        output_h=h, output_w=w, output_c=cout, stride_h=1, stride_w=1, dilation_h=1,
                        dilation_w=1, pad_h=0, pad_w=0, input_offset=128, output_offset=-128,
                        act_min=-128, act_max=127, multiplier=m, shift=s)


def layer(rng, p, sparsity):
    if isinstance(p, P.FullyConnectedParams):
        x = rng.integers(-128, 128, (p.batches, p.accum_depth)).astype(np.int8)
        w = rng.integers(-127, 128, (p.output_size, p.accum_depth)).astype(np.int8)
    else:
        x = rng.integers(-128, 128, (1, p.input_h, p.input_w, p.input_c)).astype(np.int8)
        w = rng.integers(-127, 128, (p.output_c, 1, 1, p.input_c)).astype(np.int8)
    w = np.where(rng.random(w.shape) < sparsity, 0, w).astype(np.int8)
    b = rng.integers(-5000, 5000, w.shape[0]).astype(np.int32)
    return x, w, b


def dense_fn(p, board):
    dsp = board != "mps2-an385"
    if isinstance(p, P.FullyConnectedParams):
        return "mcc_fully_connected_s8"
    return "mcc_conv_1x1_s8" if dsp else "mcc_conv_s8"


def sparse_fn(p):
    return "mcc_fully_connected_sparse_s8" if isinstance(p, P.FullyConnectedParams) else "mcc_conv_1x1_sparse_s8"


def measure(layers, board):
    """[(p, sparsity, x, w, b)] -> [(dense instructions, sparse instructions)], outputs checked equal."""
    cases = []
    for p, _, x, w, b in layers:
        cases.append((dense_fn(p, board), p, x, w, b))
        cases.append((sparse_fn(p), p, x, SP.encode(w).data, SP.folded_bias(b, w, p.input_offset)))
    res = qk.run_cases(cases, board)
    out = []
    for i in range(len(layers)):
        d, s = res[2 * i], res[2 * i + 1]
        assert d.status == 0 and s.status == 0 and np.array_equal(d.output, s.output), "sparse != dense"
        out.append((d.instructions, s.instructions))
    return out


def fit(board):
    rng = np.random.default_rng(0)
    layers = []
    for _ in range(24):
        s = float(rng.uniform(0.3, 0.97))
        if rng.random() < 0.5:
            p = fc_params(rng, int(rng.integers(1, 4)), int(rng.integers(16, 700)), int(rng.integers(4, 80)))
        else:
            h, w = int(rng.integers(1, 9)), int(rng.integers(1, 9))
            p = conv_params(rng, h, w, int(rng.integers(8, 300)), int(rng.integers(4, 64)))
        layers.append((p, s, *layer(rng, p, s)))
    counts = measure(layers, board)
    for kind in (P.FullyConnectedParams, P.ConvParams):
        rows, ys = [], []
        for (p, _, x, w, b), (_, n) in zip(layers, counts):
            if isinstance(p, kind):
                e = SP.encode(w)
                k = SP.passes(p)
                rows.append([e.entries * k, e.rows * k, k, 1.0])
                ys.append(n)
        coef, *_ = np.linalg.lstsq(np.array(rows, float), np.array(ys, float), rcond=None)
        pred = np.array(rows) @ coef
        err = np.max(np.abs(pred - ys) / np.array(ys))
        print(f"{kind.__name__}: CountModel({', '.join(f'{c:.2f}' for c in coef)})  max rel. error {err:.3%}")


def fashion_rows(board: str, sparsities, epochs: int, train_n: int, n_test: int) -> Table:
    """The Fashion-MNIST CNN (tests/data/fashion_cnn.keras) pruned by mcc's level (unstructured)
    pruner to each sparsity (one shot, ``epochs`` of fine-tuning on ``train_n`` images), PTQ by mcc
    (500 training images), compiled for ``board`` with and without the sparse kernels: linked flash
    (`mcc size`), weight bytes, exact QEMU instructions per inference, outputs equal between the two
    builds and the numpy reference interpreter, and the int8 top-1 on ``n_test`` test images."""
    import os
    import re
    import tempfile
    import warnings

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    warnings.filterwarnings("ignore")
    import keras

    import mcc.api as api
    from make_fashion_cnn import load_fashion_mnist
    from mcc.evaluate import predict_int8, top1
    from mcc.optimize.prune import PruneConfig, prune_model
    from mcc.options import CompileOptions

    base = keras.saving.load_model(ROOT / "tests/data/fashion_cnn.keras", compile=False)
    x, y = load_fashion_mnist("train")
    xt, yt = load_fashion_mnist("t10k")
    tmp = Path(tempfile.mkdtemp(prefix="bench_sparse_"))
    calib = tmp / "calib.npy"
    np.save(calib, x[:500])
    models = {"unpruned": base}
    for s in sparsities:
        cfg = PruneConfig(method="level", sparsity=s, schedule="oneshot", epochs=epochs)
        models[f"level {s:.0%}"] = prune_model(base, cfg, x[:train_n], y[:train_n], progress=False).model
    t = Table(title=f"Fashion-MNIST CNN, level-pruned, on {board}: dense kernels vs sparse where they pay "
                    "(flash: linked firmware; instructions: exact QEMU count per inference)")
    for c in ("model", "int8 top-1", "sparse layers", "weights dense", "weights sparse", "ratio",
              "flash dense", "flash sparse", "ratio", "instr dense", "instr sparse", "ratio", "bit-exact"):
        t.add_column(c, justify="left" if c == "model" else "right")
    for name, m in models.items():
        path = tmp / f"{name.replace(' ', '_').replace('%', '')}.keras"
        m.save(path)
        got = {}
        for sparse in (False, True):
            out = tmp / f"{path.stem}-{'sparse' if sparse else 'dense'}"
            r = api.compile(path, out, CompileOptions(target=board, calib=str(calib), force=True,
                                                      progress=False, sparse=sparse))
            yq, prof = api.run(r.outdir, xt[:2], profile=True)
            n_sparse = len(re.findall(r"status = mcc_\w+_sparse_s8\(", (r.outdir / "mcc_model.c").read_text()))
            s = api.size(r.outdir)
            got[sparse] = dict(r=r, y=yq, instr=float(np.mean(prof.instructions)), n=n_sparse,
                               flash=s.flash.get("total", sum(s.flash.values())))
        d, sp = got[False], got[True]
        ref = predict_int8(d["r"].graph, xt[:2])
        exact = np.array_equal(d["y"].reshape(ref.shape), ref) and np.array_equal(sp["y"].reshape(ref.shape), ref)
        acc = top1(predict_int8(d["r"].graph, xt[:n_test]), yt[:n_test])
        t.add_row(name, f"{acc:.3f}", str(sp["n"]), f"{d['r'].weight_bytes:,}", f"{sp['r'].weight_bytes:,}",
                  f"{sp['r'].weight_bytes / d['r'].weight_bytes:.2f}", f"{d['flash']:,}", f"{sp['flash']:,}",
                  f"{sp['flash'] / d['flash']:.3f}", f"{d['instr']:,.0f}", f"{sp['instr']:,.0f}",
                  f"{sp['instr'] / d['instr']:.3f}", "yes" if exact else "NO")
    return t


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--board", default="mps2-an386")
    ap.add_argument("--fit", action="store_true")
    ap.add_argument("--fashion", action="store_true",
                    help="only the compiled level-pruned Fashion-MNIST CNN, with vs without sparse kernels")
    ap.add_argument("--sparsities", default="0.5,0.8,0.9")
    ap.add_argument("--epochs", type=int, default=1, help="--fashion: fine-tuning epochs after pruning")
    ap.add_argument("--train-n", type=int, default=5000, help="--fashion: fine-tuning images")
    ap.add_argument("--n-test", type=int, default=1000, help="--fashion: test images for the int8 top-1")
    args = ap.parse_args()
    if args.fashion:
        Console(width=220).print(fashion_rows(args.board, [float(s) for s in args.sparsities.split(",")],
                                              args.epochs, args.train_n, args.n_test))
        return
    if args.fit:
        fit(args.board)
    rng = np.random.default_rng(1)
    shapes = {"FC 640->128": fc_params(rng, 1, 640, 128), "1x1 conv 64->64 25x5": conv_params(rng, 25, 5, 64, 64)}
    t = Table(title=f"sparse vs dense on {args.board} (exact QEMU instructions; weight flash bytes)")
    for c in ("layer", "sparsity", "dense instr", "sparse instr", "model", "sparse/dense instr",
              "dense bytes", "sparse bytes", "sparse/dense bytes"):
        t.add_column(c, justify="left" if c == "layer" else "right")
    for label, p in shapes.items():
        layers = [(p, s, *layer(rng, p, s)) for s in SPARSITIES]
        counts = measure(layers, args.board)
        first_i = first_b = None
        for (p_, s, x, w, b), (d, n) in zip(layers, counts):
            e = SP.encode(w)
            model = SP.SPARSE_MODELS[sparse_fn(p_), args.board != "mps2-an385"](e.entries, e.rows, SP.passes(p_))
            t.add_row(label, f"{s:.2f}", f"{d:,}", f"{n:,}", f"{model:,.0f}", f"{n / d:.2f}", f"{w.size:,}",
                      f"{e.nbytes:,}", f"{e.nbytes / w.size:.2f}")
            if first_i is None and n < d:
                first_i = s
            if first_b is None and e.nbytes < w.size:
                first_b = s
        t.add_row(label, "pays from", "", f"instr: {first_i}", "", "", "", f"flash: {first_b}", "", end_section=True)
    Console(width=200).print(t)


if __name__ == "__main__":
    main()
