"""Pruning benchmark on Fashion-MNIST: per method, the achieved sparsity, top-1 after fine-tuning on
the labels alone and with distillation (float and mcc int8), MACs, compiled flash, arena and exact
QEMU instructions per inference on a Cortex-M core, against the unpruned int8 model measured in
the same run.

    .venv/bin/python benchmarks/bench_prune.py [--models cnn3,fashion,resnet8] [--methods l1,fpgm,...]
        [--schedule oneshot] [--sparsity 0.5] [--epochs 2] [--finetune-n 20000]
        [--trainers labels,distill] [--core cortex-m4]

Models (all for 28x28x1 raw pixels, Rescaling first): ``cnn3``, a plain three-convolution CNN
(32-64-64 channels, BatchNorm, ReLU, max pooling, global average pooling); ``fashion``, the
architecture of the test fixture tests/make_fashion_cnn.py (0.6 M MACs, depthwise, Add,
Concatenate: small enough to underfit); ``resnet8``, the MLPerf Tiny ResNet-8 topology
(examples/mlperf_tiny/ic/resnet8.h5). Each baseline is trained from scratch here (seed 1234, Adam,
cosine-decayed learning rate, batch 128) for --base-epochs on the first --train-n (--resnet-train-n)
training images and cached in --cache (shared with bench_prune_distill.py). The last --n-val
training images are a validation split, used by nothing but the pruners that ask for
validation data; 500 training images calibrate the PTQ.

Rows per model: the unpruned int8 model; the unpruned model fine-tuned on the labels for the same
--epochs (so fine-tuning is not mistaken for a pruning gain); then per method and per --trainers
entry the pruned model fine-tuned for --epochs on the first --finetune-n training images, either on
the labels alone or with response distillation (Hinton, offline; teacher = the unpruned baseline;
--temperature, --alpha). Accuracy is on the first --n-test test images (int8: mcc's TFLM-exact
numpy interpreter on the first --n-int8). Every model is quantized by mcc (PTQ minmax), compiled
with `mcc compile -t CORE` and run under QEMU with the exact instruction counter (`mcc run
--profile`). "flash" is the linked firmware's total (kernels, runtime and harness included);
"model flash" is the part the model owns (weights, the compiled graph: total minus `mcc size`'s
overhead). Goal column (structured rows): d int8 > -1 pp, whole-firmware flash and instructions <= 0.6x.
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
from make_fashion_cnn import build as fashion_cnn  # noqa: E402
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


def cnn3(channels=(32, 64, 64), name="cnn3"):
    """A plain Fashion-MNIST CNN: three 3x3 convolutions (``channels``) with BatchNorm and
    ReLU, 2x2 max pooling after the first two, global average pooling and a softmax classifier
    (about 5.7 M MACs, 56 k weights). Unlike the test-fixture CNN (about 0.6 M MACs; it underfits:
    84 % training accuracy), it has the capacity a 50 % channel cut can be asked to keep."""
    import keras
    from keras import layers

    inp = keras.Input((28, 28, 1), name="pixels")
    h = layers.Rescaling(1 / 255.0)(inp)
    for k, ch in enumerate(channels):
        h = layers.Conv2D(ch, 3, padding="same", use_bias=False)(h)
        h = layers.BatchNormalization(momentum=0.9)(h)
        h = layers.ReLU()(h)
        if k < 2:
            h = layers.MaxPooling2D(2)(h)
    h = layers.GlobalAveragePooling2D()(h)
    return keras.Model(inp, layers.Dense(10, activation="softmax")(h), name=name)


BUILDERS = {"cnn3": cnn3, "fashion": fashion_cnn, "resnet8": resnet8}


class EpochLog:
    """A Keras callback printing one line per epoch (for nohup logs)."""

    def __new__(cls, label):
        import keras

        class Log(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.t0 = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                logs = logs or {}
                console.print(f"  {label} epoch {epoch + 1}: loss {logs.get('loss', float('nan')):.4f} "
                              f"acc {logs.get('accuracy', float('nan')):.4f} ({time.perf_counter() - self.t0:.0f} s)")

        return Log()


def label_trainer(lr: float):
    """Fine-tuning on the labels alone, learning rate cosine-decayed from ``lr``."""
    from mcc.optimize.lr import CosineLR
    from mcc.optimize.trainer import LabelTrainer

    return CosineLR(LabelTrainer(lr), lr)


def distill_trainer(teacher, lr: float, temperature: float, alpha: float):
    """Response distillation (Hinton, offline) from ``teacher``, learning rate cosine-decayed from ``lr``."""
    from mcc.optimize.distill import DistillConfig, DistillTrainer
    from mcc.optimize.lr import CosineLR

    cfg = DistillConfig(kind="response", scheme="offline", temperature=temperature, alpha=alpha,
                        learning_rate=lr)
    return CosineLR(DistillTrainer(teacher, cfg), lr)


def baseline(which: str, x, y, args):
    """The unpruned model trained from scratch (cached by model, epochs, training size and rate)."""
    import keras

    cache = Path(args.cache) / f"{which}_e{args.base_epochs}_n{len(x)}_lr{args.base_lr}.keras"
    if cache.exists():
        console.print(f"{which}: baseline from {cache}")
        return keras.saving.load_model(cache, compile=False)
    keras.utils.set_random_seed(1234)
    m = BUILDERS[which]()
    t0 = time.perf_counter()
    label_trainer(args.base_lr).fit(m, x, y, epochs=args.base_epochs, batch_size=128,
                                    callbacks=[EpochLog(f"{which} baseline")])
    console.print(f"{which}: baseline trained in {time.perf_counter() - t0:.0f} s")
    cache.parent.mkdir(parents=True, exist_ok=True)
    m.save(cache)
    return keras.saving.load_model(cache, compile=False)


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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="cnn3,resnet8")
    ap.add_argument("--methods", default="l1,l2,fpgm,slim,apoz,mean_activation,taylor,level,movement,admm")
    ap.add_argument("--schedule", default="oneshot")
    ap.add_argument("--sparsity", type=float, default=0.5)
    ap.add_argument("--epochs", type=int, default=2, help="fine-tuning epochs after pruning")
    ap.add_argument("--trainers", default="labels,distill", help="fine-tuning losses, one row each per method")
    ap.add_argument("--temperature", type=float, default=2.0, help="distillation temperature")
    ap.add_argument("--alpha", type=float, default=0.5, help="weight of the distillation term")
    ap.add_argument("--lr", type=float, default=1e-3, help="fine-tuning learning rate (cosine-decayed)")
    ap.add_argument("--base-epochs", type=int, default=10)
    ap.add_argument("--base-lr", type=float, default=2e-3)
    ap.add_argument("--train-n", type=int, default=55000, help="baseline training images (cnn3, fashion)")
    ap.add_argument("--resnet-train-n", type=int, default=20000, help="ResNet-8 baseline training images")
    ap.add_argument("--finetune-n", type=int, default=20000, help="fine-tuning images (the first N)")
    ap.add_argument("--n-val", type=int, default=5000)
    ap.add_argument("--n-test", type=int, default=10000)
    ap.add_argument("--n-int8", type=int, default=2000)
    ap.add_argument("--core", default="cortex-m4")
    ap.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "mcc-bench-prune"))
    args = ap.parse_args()
    trainers = args.trainers.split(",")
    if set(trainers) - {"labels", "distill"}:
        raise SystemExit(f"--trainers: labels and/or distill, got {args.trainers!r}")
    if max(args.train_n, args.resnet_train_n, args.finetune_n) + args.n_val > 60000:
        raise SystemExit("training sizes + --n-val exceed the 60k training images")

    import keras
    from mcc.optimize.prune import PruneConfig, prune_model

    x, y = load_fashion_mnist("train")
    xt, yt = load_fashion_mnist("t10k")
    val = (x[-args.n_val:], y[-args.n_val:])
    tables = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        calib_path = tmp / "calib.npy"
        np.save(calib_path, x[:500])
        data = {"test": (xt[:args.n_test], yt[:args.n_test]), "calib_path": calib_path}
        xf, yf = x[:args.finetune_n], y[:args.finetune_n]
        for which in args.models.split(","):
            t0 = time.perf_counter()
            n = args.resnet_train_n if which == "resnet8" else args.train_n
            model = baseline(which, x[:n], y[:n], args)
            rows = [("unpruned int8", "", "", 0.0, measure(model, f"{which}-base", data, tmp, args.core, args.n_int8))]
            keras.utils.set_random_seed(0)
            peer = keras.models.clone_model(model)
            peer.set_weights(model.get_weights())
            label_trainer(args.lr).fit(peer, xf, yf, epochs=args.epochs, batch_size=64)
            rows.append((f"unpruned + {args.epochs} ep fine-tuning", "", "labels", 0.0,
                         measure(peer, f"{which}-peer", data, tmp, args.core, args.n_int8)))
            for method in args.methods.split(","):
                for how in trainers:
                    keras.utils.set_random_seed(0)
                    t1 = time.perf_counter()
                    cfg = PruneConfig(method=method, sparsity=args.sparsity, schedule=args.schedule,
                                      epochs=args.epochs, batch_size=64, sensitivity_levels=(), seed=0)
                    trainer = (label_trainer(args.lr) if how == "labels" else
                               distill_trainer(model, args.lr, args.temperature, args.alpha))
                    res = prune_model(model, cfg, xf, yf, validation_data=val, trainer=trainer, progress=True)
                    m = measure(res.model, f"{which}-{method}-{how}", data, tmp, args.core, args.n_int8)
                    kind = "structured" if res.structured else "unstructured"
                    rows.append((method, kind, how, res.sparsity, m))
                    console.print(f"{which} {method} {how}: float {m['acc_f']:.4f} int8 {m['acc_q']:.4f} "
                                  f"({time.perf_counter() - t1:.0f} s)")
            tables.append(report(which, rows, args))
            console.print(tables[-1])
            console.print(f"{which}: {time.perf_counter() - t0:.0f} s")
    for t in tables if len(tables) > 1 else ():
        console.print(t)


def report(which, rows, args) -> Table:
    base = rows[0][4]
    t = Table(title=f"{which}: {args.schedule} pruning at {args.sparsity:.0%}, {args.epochs} epoch(s) fine-tuning "
                    f"on {args.finetune_n} images (labels, or distillation T={args.temperature:g} "
                    f"alpha={args.alpha:g}); {args.core} under QEMU; ratios vs the unpruned int8 model")
    for c in ("method", "kind", "fine-tuning", "sparsity", "top-1 float", "top-1 int8", "d int8 (pp)", "MACs", "flash B",
              "flash ratio", "model flash B", "model ratio", "arena B", "instructions", "instr ratio", "goal"):
        t.add_column(c, justify="left" if c in ("method", "kind", "fine-tuning", "goal") else "right")
    for name, kind, how, sp, m in rows:
        d = 100 * (m["acc_q"] - base["acc_q"])
        fr, ir = m["flash"] / base["flash"], m["instr"] / base["instr"]
        mr = m["model_flash"] / base["model_flash"]
        goal = ""
        if kind == "structured":
            goal = "yes" if d > -1.0 and fr <= 0.6 and ir <= 0.6 else "no"
        t.add_row(name, kind, how, f"{100 * sp:.1f} %" if kind else "", f"{100 * m['acc_f']:.2f} %",
                  f"{100 * m['acc_q']:.2f} %", f"{d:+.2f}", f"{m['macs']:,}", f"{m['flash']:,}", f"{fr:.3f}",
                  f"{m['model_flash']:,}", f"{mr:.3f}", f"{m['arena']:,}", f"{m['instr']:,.0f}", f"{ir:.3f}", goal)
    return t


if __name__ == "__main__":
    main()
