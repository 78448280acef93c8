"""PTQ accuracy benchmark: mcc's post-training static quantization (every calibrator, per-tensor
and per-channel weights) against the float model and against the TFLite converter's own PTQ on
the same calibration data, on Fashion-MNIST (10k test images) and the 45 real SWW windows.

    .venv/bin/python benchmarks/bench_ptq.py [--n-test 10000] [--n-calib 500] [--only fashion,sww,resnet8]
                                             [--qat-train 10000] [--qat-epochs 2] [--n-resnet8 1000]

Also: mcc's PTQ dynamic (int8 / int16 per-channel weights, float32 activations: run by the float64
reference of the hybrid IR, which the generated C follows within float32 rounding); QAT at 8 and 4
bits on Fashion-MNIST (--qat-epochs epochs on the first --qat-train training images, from min/max
ranges, starting from tests/data/fashion_cnn.keras);
and the top-1 agreement of mcc's per-channel MinMax PTQ with the converter's int8 model on
ResNet-8 (no CIFAR-10 here: Fashion-MNIST test images padded to 32x32 and repeated over 3 channels,
calibrated on 200 training images) and on SWW.

Every int8 model (mcc's and the converter's) is compiled by mcc to C and run on the host (the numpy
reference interpreter, bit-exact with TFLM, is too slow for 10k images x 20 models on a shared
machine); the generated C is checked identical to the reference interpreter on the first
--n-check inputs of every model (the run stops otherwise). The converter is
tf.lite.TFLiteConverter (full int8, float I/O, representative dataset = the calibration set);
"per-tensor" disables per-channel weights in both. Models: tests/data/fashion_cnn.keras (trained
by tests/make_fashion_cnn.py, calibrated on the first N training images) and
examples/mlperf_tiny/sww/sww_dscnn.h5 (calibrated on the 45 windows themselves: they are the only
real data; the shipped MLPerf int8 model is listed for reference).
"""

from __future__ import annotations

import argparse
import gzip
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
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: E402
from rich.table import Table  # noqa: E402

from mcc.frontend import load_tflite  # noqa: E402
from mcc.frontend.keras import load_keras, read_model  # noqa: E402
from mcc.quantize_api import quantize_model  # noqa: E402
from mcc import api  # noqa: E402
from mcc.evaluate import predict_int8  # noqa: E402
from mcc.options import CompileOptions  # noqa: E402
from mcc.reference import float_interp  # noqa: E402
from mcc.quantize_dynamic_api import quantize_dynamic_model  # noqa: E402
from mcc.quantize_dynamic_cli import predict_hybrid  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
METHODS = ("minmax", "ema", "percentile", "kl", "mse")
console = Console(width=150)
progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console)
notes: list[str] = []
N_CHECK = 100
_builds = [0]


def predict_c(g, x: np.ndarray, tmp: Path) -> np.ndarray:
    """Float outputs (N, classes) of int8 graph ``g`` from mcc's generated C on the host (quantized
    / dequantized at the edges as ``predict_int8`` does for int8 I/O), checked identical to the
    reference interpreter on the first N_CHECK inputs."""
    _builds[0] += 1
    out = api.compile_graph(g, tmp / f"c{_builds[0]}", CompileOptions(target="host", force=True)).outdir
    t_in, t_out = g.tensors[g.inputs[0]], g.tensors[g.outputs[0]]
    xin = x.astype(np.float32)
    if t_in.dtype == "int8":
        xin = np.clip(np.round(xin / t_in.quant.s) + t_in.quant.zp, -128, 127).astype(np.int8)
    y = np.asarray(api.run(out, xin)).reshape(len(x), -1)
    if t_out.dtype == "int8":
        y = t_out.quant.s * (y.astype(np.float32) - t_out.quant.zp)
    ref = predict_int8(g, x[:N_CHECK])
    if not np.array_equal(y[:N_CHECK], ref):
        raise SystemExit(f"the generated C differs from the reference interpreter on {g.meta.get('source')}")
    return y


def fashion(split: str):
    img = np.frombuffer(gzip.open(FASHION_DIR / f"{split}-images-idx3-ubyte.gz").read(), np.uint8, offset=16)
    lab = np.frombuffer(gzip.open(FASHION_DIR / f"{split}-labels-idx1-ubyte.gz").read(), np.uint8, offset=8)
    return img.reshape(-1, 28, 28, 1).astype(np.float32), lab.astype(np.int64)


def tflite_ptq(model, calib: np.ndarray, per_channel: bool, path: Path):
    import keras
    import tensorflow as tf

    shape = (1,) + tuple(model.inputs[0].shape[1:])
    inp = keras.Input(batch_shape=shape)
    clone = keras.models.clone_model(model, input_tensors=[inp] if isinstance(model.input, list) else inp)
    clone.set_weights(model.get_weights())
    conv = tf.lite.TFLiteConverter.from_keras_model(clone)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([calib[i:i + 1]] for i in range(len(calib)))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if not per_channel:
        conv._experimental_disable_per_channel = True
    path.write_bytes(conv.convert())
    return load_tflite(path)


def evaluate(name: str, model_path: Path, calib: np.ndarray, x: np.ndarray, y: np.ndarray,
             extra: dict, tmp: Path, qat_train=None, ptq: bool = True,
             parts: tuple = ("per-tensor", "per-channel", "compat", "converter", "dynamic")) -> list[tuple]:
    model = read_model(model_path)
    g = load_keras(model)
    t0 = time.perf_counter()
    probs_f = float_interp.run(g, [x])[0].reshape(len(x), -1)
    p_float = probs_f.argmax(1)
    rows = [(name, "float (mcc float interpreter)", np.mean(p_float == y), None, 1.0, 0.0,
             time.perf_counter() - t0)]
    acc_f = rows[0][2]

    outputs = {}
    if not ptq:
        parts = ()
    sides = [pc for pc, part in ((False, "per-tensor"), (True, "per-channel")) if part in parts]
    total = len(sides) * len(METHODS) + ("compat" in parts) + (2 + len(extra) if "converter" in parts else 0) \
        + (2 if "dynamic" in parts else 0) + (len(qat_train[3]) if qat_train is not None else 0)
    task = progress.add_task(f"{name}: models", total=total)

    def row(label, probs, seconds):
        outputs[label] = probs
        pred = probs.argmax(1)
        acc = np.mean(pred == y)
        dp = float(np.mean(np.abs(probs - probs_f).max(axis=1)))
        rows.append((name, label, acc, acc - acc_f, np.mean(pred == p_float), dp, seconds))
        progress.console.print(f"  {name:8s} {label:44s} {100 * acc:6.2f} %  ({seconds:.1f} s)")
        progress.advance(task)

    for per_channel in sides:
        for method in METHODS:
            t0 = time.perf_counter()
            q = quantize_model(g, calib, method=method, per_channel=per_channel, progress=False)
            t = time.perf_counter() - t0
            row(f"mcc {method:10s} {'per-channel' if per_channel else 'per-tensor'}", predict_c(q, x, tmp), t)
    if "compat" in parts:
        t0 = time.perf_counter()
        q = quantize_model(g, calib, tflite_compat=True, progress=False)
        t = time.perf_counter() - t0
        row("mcc minmax     per-channel, tflite_compat", predict_c(q, x, tmp), t)
    for per_channel in ((False, True) if "converter" in parts else ()):
        t0 = time.perf_counter()
        tg = tflite_ptq(model, calib, per_channel, tmp / f"{name}-{per_channel}.tflite")
        t = time.perf_counter() - t0
        row(f"TFLite converter {'per-channel' if per_channel else 'per-tensor'}", predict_c(tg, x, tmp), t)
    for label, path in (extra.items() if "converter" in parts else ()):
        row(label, predict_c(load_tflite(path), x, tmp), 0.0)
    for bits in ((8, 16) if "dynamic" in parts else ()):
        t0 = time.perf_counter()
        h = quantize_dynamic_model(g, bits)
        t = time.perf_counter() - t0
        row(f"mcc PTQ dynamic int{bits} weights, float32 act.", predict_hybrid(h, x), t)
    if qat_train is not None:
        import keras
        from mcc.optimize import export, fine_tune, qat_model

        xq, yq, epochs, qat_bits = qat_train
        for bits in qat_bits:
            keras.utils.set_random_seed(0)
            t0 = time.perf_counter()
            q = qat_model(model, bits=bits, calib_data=xq)
            fine_tune(q, xq, yq, epochs=epochs, batch_size=64, verbose=0)
            qg = export(q)
            t = time.perf_counter() - t0
            label = f"mcc QAT {bits}-bit weights ({epochs} ep., {len(xq)} images)"
            c = predict_c(qg, x, tmp)
            row(label, c, t)
            fq = q.predict(x, batch_size=500, verbose=0)  # the Keras QAT model's quantized forward pass
            d = np.abs(fq - c).max(axis=1) * 256  # softmax output: 1 LSB = 1/256
            notes.append(f"{name}: {label}: Keras QAT forward pass vs compiled C on {len(x)} inputs: "
                         f"top-1 {100 * np.mean(fq.argmax(1) == y):.2f} % vs {100 * np.mean(c.argmax(1) == y):.2f} %, "
                         f"identical outputs {100 * np.mean(d < 1e-3):.2f} %, within 1 LSB {100 * np.mean(d <= 1.001):.2f} %, "
                         f"max {d.max():.0f} LSB")
    for kind, mine_label in (("per-tensor", "per-tensor"), ("per-channel", "per-channel"),
                             ("per-channel", "per-channel, tflite_compat")):
        mine = outputs.get(f"mcc {'minmax':10s} {mine_label}")
        peer = outputs.get(f"TFLite converter {kind}")
        if mine is None or peer is None:
            continue
        same = np.mean(np.all(mine == peer, axis=1))
        notes.append(f"{name}: mcc minmax {mine_label} vs TFLite converter {kind}: identical outputs on "
                     f"{100 * same:.2f} % of inputs, same top-1 on {100 * np.mean(mine.argmax(1) == peer.argmax(1)):.2f} %")
    return rows


def resnet8_agreement(n: int, tmp: Path) -> None:
    """ResNet-8: top-1 agreement of mcc's per-channel MinMax PTQ with the converter's int8 model."""

    def rgb32(a):
        return np.repeat(np.pad(a, ((0, 0), (2, 2), (2, 2), (0, 0))), 3, axis=3).astype(np.float32)

    x, xc = rgb32(fashion("t10k")[0][:n]), rgb32(fashion("train")[0][:200])
    model = read_model(ROOT / "examples/mlperf_tiny/ic/resnet8.h5")
    g = load_keras(model)
    pf = float_interp.run(g, [x])[0].reshape(len(x), -1)
    peer = predict_c(tflite_ptq(model, xc, True, tmp / "resnet8.tflite"), x, tmp)
    t = Table(title=f"ResNet-8, {n} Fashion-MNIST-derived 32x32x3 images: mcc per-channel MinMax vs the converter")
    for c in ("mcc configuration", "same top-1 as converter", "identical outputs", "same top-1 as float"):
        t.add_column(c, justify="left" if c == "mcc configuration" else "right")
    t.add_row("TFLite converter (peer)", "100.00 %", "100.00 %", f"{100 * np.mean(peer.argmax(1) == pf.argmax(1)):.2f} %")
    for label, kw in (("minmax (measured ranges)", {}),
                      ("minmax, tflite_compat (converter's in-place ADD ranges)", {"tflite_compat": True})):
        mine = predict_c(quantize_model(g, xc, progress=False, **kw), x, tmp)
        t.add_row(label, f"{100 * np.mean(mine.argmax(1) == peer.argmax(1)):.2f} %",
                  f"{100 * np.mean(np.all(mine == peer, axis=1)):.2f} %",
                  f"{100 * np.mean(mine.argmax(1) == pf.argmax(1)):.2f} %")
    console.print(t)


def main():
    global N_CHECK
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-test", type=int, default=10000, help="Fashion-MNIST test images")
    ap.add_argument("--n-calib", type=int, default=500, help="Fashion-MNIST calibration images (train split)")
    ap.add_argument("--only", default="fashion,sww,resnet8")
    ap.add_argument("--qat-train", type=int, default=10000, help="Fashion-MNIST training images for QAT (0: no QAT)")
    ap.add_argument("--qat-epochs", type=int, default=2, help="QAT fine-tuning epochs")
    ap.add_argument("--qat-only", action="store_true", help="Fashion-MNIST: float and QAT rows only")
    ap.add_argument("--qat-bits", default="8,4", help="QAT weight widths")
    ap.add_argument("--parts", default="per-tensor,per-channel,compat,converter,dynamic",
                    help="PTQ rows: mcc per-tensor / per-channel calibrators, tflite_compat, converter, dynamic")
    ap.add_argument("--n-check", type=int, default=N_CHECK,
                    help="inputs on which the generated C is checked against the reference interpreter")
    ap.add_argument("--n-resnet8", type=int, default=1000, help="images for the ResNet-8 agreement")
    args = ap.parse_args()
    N_CHECK = args.n_check
    rows = []
    with tempfile.TemporaryDirectory() as tmp, progress:
        tmp = Path(tmp)
        if "fashion" in args.only:
            xt, yt = fashion("t10k")
            xtr, ytr = fashion("train")
            xc = xtr[:args.n_calib]
            console.print(f"Fashion-MNIST CNN: {args.n_test} test images, {len(xc)} calibration images")
            qat = (xtr[:args.qat_train], ytr[:args.qat_train], args.qat_epochs,
                   tuple(int(b) for b in args.qat_bits.split(","))) if args.qat_train > 0 else None
            rows += evaluate("fashion", ROOT / "tests/data/fashion_cnn.keras", xc, xt[:args.n_test],
                             yt[:args.n_test], {}, tmp, qat, ptq=not args.qat_only,
                             parts=tuple(args.parts.split(",")))
        if "sww" in args.only:
            d = np.load(ROOT / "examples/mlperf_tiny/sww/labelled_windows.npz")
            xs, ys = d["specs"].astype(np.float32), d["labels"].astype(np.int64)
            console.print("SWW DS-CNN: 45 labelled windows (also the calibration set)")
            rows += evaluate("sww", ROOT / "examples/mlperf_tiny/sww/sww_dscnn.h5", xs, xs, ys,
                             {"MLPerf shipped int8 model": ROOT / "examples/mlperf_tiny/sww/sww_dscnn_int8.tflite"},
                             tmp)
        if "resnet8" in args.only:
            resnet8_agreement(args.n_resnet8, tmp)
    t = Table(title="top-1 accuracy (int8 models compiled by mcc to C, run on the host, checked identical to "
                    "the TFLM-exact reference interpreter; PTQ dynamic by the float64 hybrid reference)")
    for c in ("model", "configuration", "accuracy", "vs float", "top-1 = float", "mean max|p - p_float|",
              "quantize time"):
        t.add_column(c, justify="left" if c in ("model", "configuration") else "right")
    for name, label, acc, delta, agree, dp, secs in rows:
        t.add_row(name, label, f"{100 * acc:.2f} %", "" if delta is None else f"{100 * delta:+.2f} pp",
                  f"{100 * agree:.2f} %", f"{dp:.4f}", f"{secs:.1f} s")
    console.print(t)
    for n in notes:
        console.print(n)


if __name__ == "__main__":
    main()
