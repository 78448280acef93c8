"""Distillation benchmark on Fashion-MNIST: a small student trained on the labels alone against the
same student (same initialization, data, epochs, optimizer) distilled from a larger teacher, for
every kind (response / feature / relation) and scheme (offline / online / self), mean and std over
seeds, float accuracy and int8 accuracy after mcc's post-training quantization.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_distill.py [--n-train 10000] [--n-test 2000]
        [--epochs 3] [--seeds 3] [--teacher-epochs 3] [--only response-offline,...]

The teacher (a CNN with about 0.2 M parameters) is trained in the script on the same training subset
(fixed seed), or with --teacher-n on the first N training images (the students still see only
--n-train: a teacher that knows more than the student, the setting distillation is for).
Student: two 3x3 convolutions (8 and 16 channels) with max pooling, a 1x1
squeeze to 8 channels and a dense classifier (5,314 parameters). int8 accuracy: mcc's
quantize_model (minmax, per-channel, calibrated on 500 training images) run by mcc's TFLM-exact
numpy interpreter. "wins" counts the
seeds where the distilled student beats the labels-only student of the same seed (float).

--teacher PATH --student cnn3-half: the pruning setting instead. The teacher is a trained .keras
model (e.g. bench_prune.py's cnn3 baseline from its cache), the student the same architecture at
half the channels (bench_prune.cnn3 with 16-32-32 channels, what 50 % structured pruning leaves),
trained from scratch. The feature and self configs name the default models' layers: leave them
out with --only.
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import track  # noqa: E402
from rich.table import Table  # noqa: E402

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
console = Console(width=150)


def fashion(split: str):
    img = np.frombuffer(gzip.open(FASHION_DIR / f"{split}-images-idx3-ubyte.gz").read(), np.uint8, offset=16)
    lab = np.frombuffer(gzip.open(FASHION_DIR / f"{split}-labels-idx1-ubyte.gz").read(), np.uint8, offset=8)
    return img.reshape(-1, 28, 28, 1).astype(np.float32), lab.astype(np.int64)


def teacher_model():
    import keras
    from keras import layers

    i = keras.Input((28, 28, 1))
    h = layers.Rescaling(1 / 255.0)(i)
    h = layers.Conv2D(32, 3, padding="same", activation="relu", name="t_conv1")(h)
    h = layers.MaxPooling2D(2)(h)
    h = layers.Conv2D(64, 3, padding="same", activation="relu", name="t_conv2")(h)
    h = layers.MaxPooling2D(2)(h)
    h = layers.Flatten()(h)
    h = layers.Dense(64, activation="relu", name="t_embed")(h)
    return keras.Model(i, layers.Dense(10, name="t_logits")(h), name="teacher")


def student_model():
    import keras
    from keras import layers

    i = keras.Input((28, 28, 1))
    h = layers.Rescaling(1 / 255.0)(i)
    h = layers.Conv2D(8, 3, padding="same", activation="relu", name="s_conv1")(h)
    h = layers.MaxPooling2D(2)(h)
    h = layers.Conv2D(16, 3, padding="same", activation="relu", name="s_conv2")(h)
    h = layers.MaxPooling2D(2)(h)
    h = layers.Conv2D(8, 1, activation="relu", name="s_squeeze")(h)
    h = layers.Flatten()(h)
    return keras.Model(i, layers.Dense(10, name="s_logits")(h), name="student")


def configs():
    from mcc.optimize.distill import DistillConfig

    return {
        "response-offline": DistillConfig(kind="response", scheme="offline", temperature=4.0, alpha=0.9),
        "response-offline-a0.5": DistillConfig(kind="response", scheme="offline", temperature=4.0, alpha=0.5),
        "response-offline-T2-a0.5": DistillConfig(kind="response", scheme="offline", temperature=2.0, alpha=0.5),
        "response-offline-T1-a0.5": DistillConfig(kind="response", scheme="offline", temperature=1.0, alpha=0.5),
        "feature-offline": DistillConfig(kind="feature", scheme="offline", alpha=0.5,
                                         hints=(("t_conv2", "s_conv2"),)),
        "relation-offline": DistillConfig(kind="relation", scheme="offline", alpha=0.5),
        "response-online": DistillConfig(kind="response", scheme="online", temperature=4.0, alpha=0.5),
        "response-self": DistillConfig(kind="response", scheme="self", temperature=4.0, alpha=0.5,
                                       heads=("s_conv1", "s_conv2")),
    }


def acc(model, x, y) -> float:
    return float(np.mean(model.predict(x, batch_size=500, verbose=0).argmax(1) == y))


def int8_acc(model, calib, x, y) -> float:
    from mcc.evaluate import predict_int8, top1
    from mcc.frontend.keras import load_keras
    from mcc.quantize_api import quantize_model

    q = quantize_model(load_keras(model), calib, progress=False)
    return top1(predict_int8(q, x), y)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-train", type=int, default=10000)
    ap.add_argument("--n-test", type=int, default=2000)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--teacher-epochs", type=int, default=3)
    ap.add_argument("--teacher-n", type=int, default=0,
                    help="train the teacher on the first N training images (default: the students' --n-train)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--only", default="", help="comma-separated subset of the distillation configs")
    ap.add_argument("--teacher", default="", help="a trained .keras teacher instead of training one here")
    ap.add_argument("--student", default="tiny", choices=("tiny", "cnn3-half"),
                    help="tiny: the 5,314-parameter CNN; cnn3-half: bench_prune's cnn3 at 16-32-32 channels")
    args = ap.parse_args()

    import keras

    from mcc.optimize.distill import DistillTrainer
    from mcc.optimize.trainer import LabelTrainer

    x, y = fashion("train")
    xt, yt = fashion("t10k")
    tx, ty = x[:args.teacher_n or args.n_train], y[:args.teacher_n or args.n_train]
    x, y, xt, yt = x[:args.n_train], y[:args.n_train], xt[:args.n_test], yt[:args.n_test]
    calib = x[:500]
    t0 = time.perf_counter()
    if args.teacher:
        teacher = keras.saving.load_model(args.teacher, compile=False)
        t_acc = acc(teacher, xt, yt)
        tx = ()
        console.print(f"teacher: {args.teacher}, {teacher.count_params():,} params, test accuracy {t_acc:.4f}")
    else:
        keras.utils.set_random_seed(1234)
        teacher = teacher_model()
        LabelTrainer(1e-3).fit(teacher, tx, ty, epochs=args.teacher_epochs, batch_size=args.batch_size)
        t_acc = acc(teacher, xt, yt)
        console.print(f"teacher: {teacher.count_params():,} params, test accuracy {t_acc:.4f} "
                      f"({args.teacher_epochs} epochs on {len(tx)} images, {time.perf_counter() - t0:.0f} s)")
    if args.student == "cnn3-half":
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from bench_prune import cnn3

        def student_model():
            return cnn3((16, 32, 32), name="cnn3_half")
    else:
        student_model = globals()["student_model"]

    cfgs = configs()
    if args.only:
        cfgs = {k: v for k, v in cfgs.items() if k in args.only.split(",")}
    runs = ["labels"] + list(cfgs)
    res: dict[str, list[tuple[float, float]]] = {r: [] for r in runs}
    jobs = [(r, s) for s in range(args.seeds) for r in runs]
    for run, seed in track(jobs, description="training students", console=console):
        keras.utils.set_random_seed(seed)
        s = student_model()
        keras.utils.set_random_seed(100 + seed)  # the same data order for every method of a seed
        if run == "labels":
            LabelTrainer(1e-3).fit(s, x, y, epochs=args.epochs, batch_size=args.batch_size)
        else:
            cfg = cfgs[run]
            DistillTrainer(None if cfg.scheme == "self" else teacher, cfg).fit(
                s, x, y, epochs=args.epochs, batch_size=args.batch_size)
        res[run].append((acc(s, xt, yt), int8_acc(s, calib, xt, yt)))
        console.print(f"  seed {seed} {run:18s} float {res[run][-1][0]:.4f} int8 {res[run][-1][1]:.4f}")

    base = np.array(res["labels"])
    tab = Table(title=f"Fashion-MNIST distillation: student {student_model().count_params():,} params, "
                      f"teacher {teacher.count_params():,} params (float {t_acc:.4f}"
                      f"{f', {len(tx)} train images' if len(tx) else ''}); "
                      f"{len(x)} train / "
                      f"{len(xt)} test images, {args.epochs} epochs, {args.seeds} seeds")
    for c in ("student trained with", "float acc mean", "std", "int8 acc mean", "std", "float vs labels",
              "int8 vs labels", "wins"):
        tab.add_column(c, justify="left" if c == "student trained with" else "right")
    for run in runs:
        a = np.array(res[run])
        wins = "-" if run == "labels" else f"{int(np.sum(a[:, 0] > base[:, 0]))}/{len(a)}"
        d = "-" if run == "labels" else f"{100 * (a[:, 0].mean() - base[:, 0].mean()):+.2f} pp"
        d8 = "-" if run == "labels" else f"{100 * (a[:, 1].mean() - base[:, 1].mean()):+.2f} pp"
        tab.add_row("labels alone" if run == "labels" else run, f"{a[:, 0].mean():.4f}", f"{a[:, 0].std():.4f}",
                    f"{a[:, 1].mean():.4f}", f"{a[:, 1].std():.4f}", d, d8, wins)
    console.print(tab)
    console.print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
