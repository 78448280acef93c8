"""Pruning benchmark on Fashion-MNIST: per method, the achieved sparsity, top-1 after fine-tuning
(float and mcc int8), MACs, compiled flash, arena and exact QEMU instructions per inference on a
Cortex-M core, against the unpruned int8 model measured in the same run.

    .venv/bin/python benchmarks/bench_prune.py [--models fashion,resnet8] [--methods l1,fpgm,...]
        [--schedule oneshot] [--sparsity 0.5] [--epochs 2] [--train-n 20000] [--core cortex-m4]
        [--distill]

Models: tests/data/fashion_cnn.keras (trained by tests/make_fashion_cnn.py) and the ResNet-8
topology of examples/mlperf_tiny/ic/resnet8.h5 rebuilt for 28x28x1 inputs (Rescaling first) and
trained here for --base-epochs on the first --train-n training images (cached in --cache).
Peers: the unpruned int8 model, and the unpruned model fine-tuned for the same --epochs (so the
pruned models' fine-tuning is not mistaken for a pruning gain). Fine-tuning uses the first
--train-n training images; accuracy is on the first --n-test test images (int8: mcc's TFLM-exact
numpy interpreter on the first --n-int8). Every model is quantized by mcc (PTQ minmax, 500
training images), compiled with `mcc compile -t CORE` and run under QEMU with the exact
instruction counter (`mcc run --profile`). "flash" is the linked firmware's total (kernels, runtime
and harness included: about 26 KB that no pruning removes); "model flash" is the part the model
owns (weights, the compiled graph: total minus `mcc size`'s overhead), on which the goal column
(d int8 > -1 pp, model flash and instructions <= 0.6x) is judged.

--distill: fine-tune through the distillation trainer with the unpruned model as the teacher
(the hook ``make_trainer``; the integrator wires it to mcc.optimize.distill).
"""

from __future__ import annotations

import argparse
import os
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

import mcc.api as api  # noqa: E402
from mcc.evaluate import predict_int8, top1  # noqa: E402
from mcc.options import CompileOptions  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
import sys  # noqa: E402

sys.path.insert(0, str(ROOT / "tests"))
from make_fashion_cnn import load_fashion_mnist  # noqa: E402

STRUCTURED = ("l1", "l2", "fpgm", "slim", "apoz", "mean_activation", "taylor")
console = Console(width=200)


def resnet8(input_shape=(28, 28, 1), classes=10):
    """The MLPerf Tiny ResNet-8 topology (examples/mlperf_tiny/ic/resnet8.h5) for Fashion-MNIST."""
    import keras
    from keras import layers, regularizers

    reg = regularizers.l2(1e-4)

    def conv(f, k, s=1):
        return layers.Conv2D(f, k, strides=s, padding="same", kernel_initializer="he_normal",
                             kernel_regularizer=reg)

    inp = keras.Input(input_shape, name="pixels")
    x = layers.Rescaling(1 / 255.0)(inp)
    def bn():     # momentum 0.9: with few training steps the default 0.99 leaves stale moving statistics
        return layers.BatchNormalization(momentum=0.9)

    x = layers.Activation("relu")(bn()(conv(16, 3)(x)))
    y = layers.Activation("relu")(bn()(conv(16, 3)(x)))
    y = bn()(conv(16, 3)(y))
    x = layers.Activation("relu")(layers.Add()([x, y]))
    for f in (32, 64):
        y = layers.Activation("relu")(bn()(conv(f, 3, 2)(x)))
        y = bn()(conv(f, 3)(y))
        x = layers.Activation("relu")(layers.Add()([conv(f, 1, 2)(x), y]))
    x = layers.AveragePooling2D(pool_size=x.shape[1])(x)
    x = layers.Flatten()(x)
    out = layers.Dense(classes, activation="softmax", kernel_initializer="he_normal")(x)
    return keras.Model(inp, out, name="resnet8_fashion")


def make_trainer(distill: bool, teacher):
    """The fine-tuning trainer: labels alone, or (--distill) the distillation trainer with
    ``teacher``. Integration hook: mcc.optimize.distill is built on another branch."""
    from mcc.optimize.trainer import LabelTrainer

    if not distill:
        return LabelTrainer()
    try:
        from mcc.optimize import distill as D
    except ImportError:
        raise SystemExit("--distill: mcc.optimize.distill is not in this tree yet (integration hook)") from None
    factory = getattr(D, "DistillTrainer", None) or getattr(D, "ResponseTrainer", None)
    if factory is None:
        raise SystemExit("--distill: wire make_trainer() to the distillation trainer of mcc.optimize.distill")
    return factory(teacher)


def measure(model, name: str, data: dict, tmp: Path, core: str, n_int8: int) -> dict:
    """Float top-1, then mcc PTQ + compile for ``core`` + QEMU: int8 top-1, MACs, flash, arena, instructions."""
    xt, yt = data["test"]
    p = np.concatenate([np.asarray(model(xt[i:i + 500], training=False)) for i in range(0, len(xt), 500)])
    acc_f = top1(p.reshape(len(xt), -1), yt)
    path = tmp / f"{name}.keras"
    model.save(path)
    opts = CompileOptions(target=core, calib=str(data["calib_path"]), force=True, progress=False)
    r = api.compile(path, tmp / f"{name}-{core}", opts)
    acc_q = top1(predict_int8(r.graph, xt[:n_int8]), yt[:n_int8])
    _, prof = api.run(r.outdir, xt[:1], profile=True)
    s = api.size(r.outdir)
    return {"acc_f": acc_f, "acc_q": acc_q, "macs": sum(layer.macs for layer in r.layers),
            "flash": s.flash.get("total", sum(s.flash.values())), "weights": r.weight_bytes,
            "model_flash": s.flash.get("total", sum(s.flash.values())) - s.overhead,
            "arena": r.plan.arena_bytes, "instr": float(np.mean(prof.instructions))}


def base_model(which: str, data: dict, args) -> object:
    import keras

    if which == "fashion":
        return keras.saving.load_model(ROOT / "tests/data/fashion_cnn.keras", compile=False)
    cache = Path(args.cache) / f"resnet8_fashion_bn09_e{args.base_epochs}_n{args.train_n}.keras"
    if cache.exists():
        return keras.saving.load_model(cache, compile=False)
    keras.utils.set_random_seed(1234)
    m = resnet8()
    m.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = data["train"]
    m.fit(x, y, batch_size=128, epochs=args.base_epochs, verbose=2)
    cache.parent.mkdir(parents=True, exist_ok=True)
    m.save(cache)
    return m


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="fashion,resnet8")
    ap.add_argument("--methods", default="l1,l2,fpgm,slim,apoz,mean_activation,taylor,level,movement,admm")
    ap.add_argument("--schedule", default="oneshot")
    ap.add_argument("--sparsity", type=float, default=0.5)
    ap.add_argument("--epochs", type=int, default=2, help="fine-tuning epochs after pruning")
    ap.add_argument("--base-epochs", type=int, default=4, help="ResNet-8 training epochs")
    ap.add_argument("--train-n", type=int, default=20000)
    ap.add_argument("--n-test", type=int, default=10000)
    ap.add_argument("--n-int8", type=int, default=2000)
    ap.add_argument("--core", default="cortex-m4")
    ap.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "mcc-bench-prune"))
    ap.add_argument("--distill", action="store_true", help="fine-tune with the distillation trainer (hook)")
    args = ap.parse_args()

    import keras
    from mcc.optimize.prune import PruneConfig, prune_model

    x, y = load_fashion_mnist("train")
    xt, yt = load_fashion_mnist("t10k")
    tables = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        calib_path = tmp / "calib.npy"
        np.save(calib_path, x[-500:])
        data = {"train": (x[:args.train_n], y[:args.train_n]), "test": (xt[:args.n_test], yt[:args.n_test]),
                "calib_path": calib_path}
        val = (x[-3000:-500], y[-3000:-500])      # held out from fine-tuning and calibration
        for which in args.models.split(","):
            t0 = time.perf_counter()
            model = base_model(which, data, args)
            rows = [("unpruned int8", "", 0.0, measure(model, f"{which}-base", data, tmp, args.core, args.n_int8))]
            keras.utils.set_random_seed(0)
            peer = keras.models.clone_model(model)
            peer.set_weights(model.get_weights())
            make_trainer(args.distill, model).fit(peer, *data["train"], epochs=args.epochs, batch_size=64)
            rows.append((f"unpruned + {args.epochs} ep fine-tuning", "", 0.0,
                         measure(peer, f"{which}-peer", data, tmp, args.core, args.n_int8)))
            for method in args.methods.split(","):
                keras.utils.set_random_seed(0)
                t1 = time.perf_counter()
                cfg = PruneConfig(method=method, sparsity=args.sparsity, schedule=args.schedule,
                                  epochs=args.epochs, batch_size=64, sensitivity_levels=())
                res = prune_model(model, cfg, *data["train"], validation_data=val,
                                  trainer=make_trainer(args.distill, model), progress=True)
                m = measure(res.model, f"{which}-{method}", data, tmp, args.core, args.n_int8)
                kind = "structured" if res.structured else "unstructured"
                rows.append((method, kind, res.sparsity, m))
                console.print(f"{which} {method}: {time.perf_counter() - t1:.0f} s")
            tables.append(report(which, rows, args))
            console.print(f"{which}: {time.perf_counter() - t0:.0f} s")
    for t in tables:
        console.print(t)


def report(which, rows, args) -> Table:
    base = rows[0][3]
    t = Table(title=f"{which}: {args.schedule} pruning at {args.sparsity:.0%}, {args.epochs} epoch(s) fine-tuning"
                    f"{' with distillation' if args.distill else ''}; {args.core} under QEMU; "
                    f"ratios vs the unpruned int8 model")
    for c in ("method", "kind", "sparsity", "top-1 float", "top-1 int8", "d int8 (pp)", "MACs", "flash B",
              "flash ratio", "model flash B", "model ratio", "arena B", "instructions", "instr ratio", "goal"):
        t.add_column(c, justify="left" if c in ("method", "kind", "goal") else "right")
    for name, kind, sp, m in rows:
        d = 100 * (m["acc_q"] - base["acc_q"])
        fr, ir = m["flash"] / base["flash"], m["instr"] / base["instr"]
        mr = m["model_flash"] / base["model_flash"]
        goal = ""
        if kind == "structured":
            goal = "yes" if d > -1.0 and mr <= 0.6 and ir <= 0.6 else "no"
        t.add_row(name, kind, f"{100 * sp:.1f} %" if kind else "", f"{100 * m['acc_f']:.2f} %",
                  f"{100 * m['acc_q']:.2f} %", f"{d:+.2f}", f"{m['macs']:,}", f"{m['flash']:,}", f"{fr:.3f}",
                  f"{m['model_flash']:,}", f"{mr:.3f}", f"{m['arena']:,}", f"{m['instr']:,.0f}", f"{ir:.3f}", goal)
    return t


if __name__ == "__main__":
    main()
