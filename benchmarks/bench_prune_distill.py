"""50 % structured pruning + distillation on Fashion-MNIST, end to end to the compiled C.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_prune_distill.py [--models cnn3,fashion,resnet8]
        [--sparsity 0.5] [--candidates l1:oneshot,fpgm:agp,...] [--epochs 4] [--core cortex-m4]

Per model (bench_prune.py's: ``cnn3``, a plain 32-64-64 channel CNN; ``fashion``, the architecture
of the test fixture tests/make_fashion_cnn.py, which underfits; ``resnet8``, the MLPerf Tiny
ResNet-8 topology; all for 28x28x1 raw pixels):

1. Baseline: trained from scratch (seed 1234) for --base-epochs on the first --train-n images of the
   60k training split (Adam, cosine-decayed learning rate, batch 128); cached in --cache (shared
   with bench_prune.py).
   The last --n-val training images are a validation split used by nothing but step 2.
2. Selection: every --candidates criterion:schedule prunes --sparsity of the channels structurally
   and fine-tunes --select-epochs on the first --select-n training images (labels); the one with
   the best float top-1 on the validation split is chosen (never the test set).
3. Final rows, all from the same baseline, seed, data and epochs: the chosen pruner with --epochs of
   fine-tuning on the labels alone, and the same with the distillation trainer as the fine-tuning
   loss (mcc.optimize.distill, response / offline, teacher = the unpruned baseline; temperature and
   alpha chosen among --distill-candidates on the validation split after the same short fine-tuning);
   both with a cosine-decayed learning rate from --lr (mcc.optimize.lr.CosineLR).
4. Each model is quantized by mcc (PTQ minmax, 500 training images), compiled with
   `mcc compile -t CORE`, run under QEMU with the exact instruction counter; top-1 float (Keras) and
   int8 (mcc's TFLM-exact numpy interpreter) on the 10k test images; ratios vs the unpruned int8
   model. "flash" is the whole linked firmware (kernels, runtime, harness: 8-11 KB no pruning
   removes); "model flash" is what the model owns (total minus `mcc size`'s overhead). The goal
   column: d int8 > -1 pp, whole-firmware flash and instructions <= 0.6x.

The runs behind the figures reported for issue 5 (2 cores, about 75 and 40 minutes):

    ... --models cnn3 --base-epochs 12 --epochs 12 --candidates taylor:oneshot --distill-candidates 2:0.5,4:0.9
    ... --models resnet8 --base-epochs 10 --resnet-train-n 20000 --epochs 12 --candidates taylor:oneshot \
        --distill-candidates 2:0.5,4:0.9
"""

from __future__ import annotations

import argparse
import json
import os
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
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_prune import baseline, distill_trainer, label_trainer, measure  # noqa: E402
from make_fashion_cnn import load_fashion_mnist  # noqa: E402

console = Console(width=220)


def float_top1(model, x, y) -> float:
    p = np.concatenate([np.asarray(model(x[i:i + 500], training=False)) for i in range(0, len(x), 500)])
    return float(np.mean(p.reshape(len(x), -1).argmax(1) == y))


def prune(model, method, schedule, x, y, val, trainer, args, epochs):
    import keras
    from mcc.optimize.prune import PruneConfig, prune_model

    keras.utils.set_random_seed(args.seed)
    cfg = PruneConfig(method=method, sparsity=args.sparsity, schedule=schedule, epochs=epochs, batch_size=64,
                      sensitivity_levels=(), seed=args.seed)
    return prune_model(model, cfg, x, y, validation_data=val, trainer=trainer, progress=True)


def select(which, model, x, y, val, args) -> tuple[str, str, list]:
    """The criterion:schedule with the best validation top-1 after a short fine-tuning."""
    xs, ys = x[:args.select_n], y[:args.select_n]
    scores = []
    for cand in args.candidates.split(","):
        method, schedule = cand.split(":")
        t0 = time.perf_counter()
        res = prune(model, method, schedule, xs, ys, val, label_trainer(args.lr), args, args.select_epochs)
        acc = float_top1(res.model, *val)
        scores.append((method, schedule, res.sparsity, acc))
        console.print(f"{which} select {cand}: sparsity {res.sparsity:.3f}, val top-1 {acc:.4f} "
                      f"({time.perf_counter() - t0:.0f} s)")
    best = max(scores, key=lambda s: s[3])
    return best[0], best[1], scores


def select_distill(which, model, method, schedule, x, y, val, args) -> tuple[float, float, list]:
    """The (temperature, alpha) of --distill-candidates with the best validation top-1 after the
    same short fine-tuning as the pruner selection, now through the distillation trainer."""
    cands = [tuple(float(v) for v in c.split(":")) for c in args.distill_candidates.split(",")]
    if len(cands) == 1:
        return cands[0][0], cands[0][1], []
    xs, ys = x[:args.select_n], y[:args.select_n]
    scores = []
    for temperature, alpha in cands:
        t0 = time.perf_counter()
        res = prune(model, method, schedule, xs, ys, val, distill_trainer(model, args.lr, temperature, alpha), args,
                    args.select_epochs)
        acc = float_top1(res.model, *val)
        scores.append((f"T={temperature:g}", f"alpha={alpha:g}", res.sparsity, acc))
        console.print(f"{which} select distillation T={temperature:g} alpha={alpha:g}: val top-1 {acc:.4f} "
                      f"({time.perf_counter() - t0:.0f} s)")
    i = max(range(len(cands)), key=lambda k: scores[k][3])
    return cands[i][0], cands[i][1], scores


def run_model(which, data, args, tmp) -> dict:
    x, y = data["train"]
    val = data["val"]
    n = args.resnet_train_n if which == "resnet8" else args.train_n
    xb, yb = x[:n], y[:n]
    model = baseline(which, xb, yb, args)
    out = {"model": which, "train_n": n, "rows": []}
    t0 = time.perf_counter()
    if ":" in args.candidates and "," not in args.candidates:
        method, schedule = args.candidates.split(":")
        out["selection"] = []
    else:
        method, schedule, out["selection"] = select(which, model, xb, yb, val, args)
    out["chosen"] = f"{method}:{schedule}" + (", chosen on validation" if out["selection"] else ", given")
    console.print(f"{which}: {out['chosen']} ({time.perf_counter() - t0:.0f} s)")
    temperature, alpha, dsel = select_distill(which, model, method, schedule, xb, yb, val, args)
    out["selection"] = out["selection"] + dsel
    out["distill"] = f"T={temperature:g}, alpha={alpha:g}"  # chosen on validation if several
    out["rows"].append(("unpruned", "", 0.0, measure(model, f"{which}-base", data, tmp, args.core, args.n_int8)))
    trainers = (("labels", label_trainer(args.lr)), ("distill", distill_trainer(model, args.lr, temperature, alpha)))
    for label, trainer in trainers:
        t1 = time.perf_counter()
        res = prune(model, method, schedule, xb, yb, val, trainer, args, args.epochs)
        m = measure(res.model, f"{which}-{label}", data, tmp, args.core, args.n_int8)
        name = f"{method}/{schedule} + {args.epochs} ep " + (f"distillation ({out['distill']})" if label == "distill"
                                                              else "labels")
        out["rows"].append((name, "structured" if res.structured else "unstructured", res.sparsity, m))
        console.print(f"{which} {name}: float {m['acc_f']:.4f} int8 {m['acc_q']:.4f} "
                      f"({time.perf_counter() - t1:.0f} s)")
    return out


def report(res, args) -> Table:
    rows = res["rows"]
    base = rows[0][3]
    t = Table(title=f"{res['model']}: {args.sparsity:.0%} structured pruning ({res['chosen']}), {args.epochs} ep fine-tuning on {res['train_n']} train images; "
                    f"{args.core} under QEMU; top-1 on {args.n_test} test images; ratios vs the unpruned int8 model")
    for c in ("model", "sparsity", "top-1 float", "top-1 int8", "d int8 (pp)", "MACs", "flash B", "flash ratio",
              "model flash B", "model ratio", "arena B", "instructions", "instr ratio", "goal"):
        t.add_column(c, justify="left" if c in ("model", "goal") else "right")
    for name, kind, sp, m in rows:
        d = 100 * (m["acc_q"] - base["acc_q"])
        fr, ir, mr = m["flash"] / base["flash"], m["instr"] / base["instr"], m["model_flash"] / base["model_flash"]
        goal = ("yes" if d > -1.0 and fr <= 0.6 and ir <= 0.6 else "no") if kind else ""
        t.add_row(name, f"{100 * sp:.1f} %" if kind else "", f"{100 * m['acc_f']:.2f} %", f"{100 * m['acc_q']:.2f} %",
                  f"{d:+.2f}", f"{m['macs']:,}", f"{m['flash']:,}", f"{fr:.3f}", f"{m['model_flash']:,}",
                  f"{mr:.3f}", f"{m['arena']:,}", f"{m['instr']:,.0f}", f"{ir:.3f}", goal)
    return t


def selection_table(res) -> Table:
    t = Table(title=f"{res['model']}: selection on the validation split (short fine-tuning; pruners with labels, "
                    f"then the distillation settings with the chosen pruner)")
    for c in ("criterion / T", "schedule / alpha", "sparsity", "val top-1 float"):
        t.add_column(c, justify="left" if "/" in c else "right")
    for method, schedule, sp, acc in res["selection"]:
        t.add_row(method, schedule, f"{100 * sp:.1f} %", f"{100 * acc:.2f} %")
    return t


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="cnn3,resnet8")
    ap.add_argument("--sparsity", type=float, default=0.5)
    ap.add_argument("--candidates", default="l1:oneshot,fpgm:oneshot,taylor:oneshot,l1:agp,fpgm:agp,taylor:agp",
                    help="criterion:schedule pairs to select from on the validation split (one pair: no selection)")
    ap.add_argument("--select-epochs", type=int, default=1)
    ap.add_argument("--select-n", type=int, default=10000)
    ap.add_argument("--epochs", type=int, default=4, help="fine-tuning epochs of the final rows")
    ap.add_argument("--base-epochs", type=int, default=8)
    ap.add_argument("--base-lr", type=float, default=2e-3)
    ap.add_argument("--lr", type=float, default=1e-3, help="fine-tuning learning rate (cosine-decayed)")
    ap.add_argument("--distill-candidates", default="4:0.9,4:0.5,2:0.5",
                    help="temperature:alpha pairs of the response distillation, selected on validation")
    ap.add_argument("--train-n", type=int, default=55000, help="Fashion CNN training images")
    ap.add_argument("--resnet-train-n", type=int, default=20000, help="ResNet-8 training images")
    ap.add_argument("--n-val", type=int, default=5000)
    ap.add_argument("--n-test", type=int, default=10000)
    ap.add_argument("--n-int8", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--core", default="cortex-m4")
    ap.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "mcc-bench-prune"))
    ap.add_argument("--json", default="", help="also write the measured rows to this JSON file")
    ap.add_argument("--base-only", action="store_true", help="train (and cache) the baselines, then stop")
    args = ap.parse_args()
    if args.train_n + args.n_val > 60000 or args.resnet_train_n + args.n_val > 60000:
        raise SystemExit("--train-n / --resnet-train-n + --n-val exceed the 60k training images")

    x, y = load_fashion_mnist("train")
    xt, yt = load_fashion_mnist("t10k")
    val = (x[-args.n_val:], y[-args.n_val:])
    if args.base_only:
        for which in args.models.split(","):
            n = args.resnet_train_n if which == "resnet8" else args.train_n
            m = baseline(which, x[:n], y[:n], args)
            console.print(f"{which}: val top-1 {float_top1(m, *val):.4f}")
        return
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        calib_path = tmp / "calib.npy"
        np.save(calib_path, x[:500])
        data = {"train": (x[:-args.n_val], y[:-args.n_val]), "val": val,
                "test": (xt[:args.n_test], yt[:args.n_test]), "calib_path": calib_path}
        for which in args.models.split(","):
            t0 = time.perf_counter()
            res = run_model(which, data, args, tmp)
            results.append(res)
            if res["selection"]:
                console.print(selection_table(res))
            console.print(report(res, args))
            console.print(f"{which}: {time.perf_counter() - t0:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=float))
    for res in results if len(results) > 1 else ():     # all tables again at the end
        if res["selection"]:
            console.print(selection_table(res))
        console.print(report(res, args))


if __name__ == "__main__":
    main()
