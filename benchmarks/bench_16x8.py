"""16x8 benchmark: int16 activations with int8 weights against int8, on the Fashion-MNIST CNN.

    .venv/bin/python benchmarks/bench_16x8.py [--n-test 10000] [--n-calib 500] [--n-latency 2000] [--qemu]

Rows, all calibrated on the same first N training images:
  float            the Keras model in mcc's float interpreter;
  mcc int8         mcc's PTQ (minmax, per-channel), compiled by mcc, run as host C;
  mcc 16x8         mcc's PTQ with activation_bits=16, compiled by mcc, run as host C;
  converter int8   tf.lite.TFLiteConverter full-int8 PTQ (float I/O), run by TFLM (the peer);
  converter 16x8   the converter's EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
                   mode (float I/O), run by TFLM, and compiled by mcc (host C, bit-exact with TFLM).
Columns: top-1 on the test images, its difference to float, agreement of top-1 with the float
model, the planned arena and weight bytes of mcc's build, and host latency per inference of the
generated C (the Makefile's flags; CPU time of one runner process over n-latency inputs minus a
run over a tenth of them, so process start-up cancels; best of 3), with ratios to mcc int8
measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import track  # noqa: E402
from rich.table import Table  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import mcc.api as api  # noqa: E402
from bench_ptq import fashion  # noqa: E402
from mcc.frontend.keras import load_keras, read_model  # noqa: E402
from mcc.options import CompileOptions  # noqa: E402
from mcc.oracle.tflm import run_tflm  # noqa: E402
from mcc.reference import float_interp  # noqa: E402
from mcc.sim import host  # noqa: E402

console = Console(width=150)


def converter(model, calib: np.ndarray, bits: int, path: Path) -> Path:
    """The TFLite converter's full-integer PTQ (int8 or 16x8) with float I/O, batch 1."""
    import keras
    import tensorflow as tf
    from make_op_models import _quiet

    inp = keras.Input(batch_shape=(1,) + tuple(model.inputs[0].shape[1:]))
    clone = keras.models.clone_model(model, input_tensors=inp)
    clone.set_weights(model.get_weights())
    conv = tf.lite.TFLiteConverter.from_keras_model(clone)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([calib[i:i + 1]] for i in range(len(calib)))
    conv.target_spec.supported_ops = [
        tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8 if bits == 16
        else tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    with _quiet():
        path.write_bytes(conv.convert())
    return path


def latency_us(outdir: Path, x: np.ndarray, out_shape, out_dtype) -> float:
    """Host C microseconds per inference: (time(n) - time(n / 10)) / (0.9 n)."""
    binary = host.build(outdir).resolve()
    n = len(x)
    times = {}
    with tempfile.TemporaryDirectory() as tmp:
        for k in (n // 10, n):
            tin, tout = Path(tmp, f"in{k}.bin"), Path(tmp, f"out{k}.bin")
            np.ascontiguousarray(x[:k]).tofile(tin)
            best = float("inf")
            for _ in range(3):  # CPU time of the child (the machine is shared: wall time is noisy)
                r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                subprocess.run([str(binary), str(tin), str(tout), str(k)], check=True)
                r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                best = min(best, (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime))
            times[k] = best
    return 1e6 * (times[n] - times[n // 10]) / (n - n // 10)


def qemu_table(model_path: Path, tmp: Path, x: np.ndarray):
    """Instructions per inference on Cortex-M4 (QEMU, exact counts): int8 with and without the DSP
    kernels, 16x8 (portable kernels only)."""
    calib = str(tmp / "calib.npy")
    rows = []
    for label, bits, dsp in (("mcc int8, DSP kernels", 8, True), ("mcc int8, portable kernels", 8, False),
                             ("mcc 16x8, portable kernels", 16, False)):
        opts = CompileOptions(target="mps2-an386", calib=calib, activation_bits=bits, dsp=dsp,
                              progress=False)
        r = api.compile(model_path, tmp / f"m4_{bits}_{dsp}", opts)
        _, prof = api.run(r.outdir, x, profile=True)
        rows.append((label, prof.instructions[0], r.plan.arena_bytes))
    base = rows[1][1]
    t = Table(title="Cortex-M4 (mps2-an386 under QEMU): instructions per inference")
    for c in ("build", "instructions", "vs int8 portable", "arena B"):
        t.add_column(c, justify="left" if c == "build" else "right")
    for label, n, arena in rows:
        t.add_row(label, f"{n:,}", f"{n / base:.2f}", f"{arena:,}")
    console.print(t)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-test", type=int, default=10000)
    ap.add_argument("--n-calib", type=int, default=500)
    ap.add_argument("--n-latency", type=int, default=2000)
    ap.add_argument("--qemu", action="store_true",
                    help="also count Cortex-M4 instructions per inference under QEMU (mps2-an386)")
    args = ap.parse_args()
    xt, yt = fashion("t10k")
    xt, yt = xt[:args.n_test], yt[:args.n_test]
    xc = fashion("train")[0][:args.n_calib]
    model_path = ROOT / "tests/data/fashion_cnn.keras"
    model = read_model(model_path)
    g = load_keras(model)
    console.print(f"Fashion-MNIST CNN: {len(xt)} test images, {len(xc)} calibration images")
    rows = []
    p_float = np.concatenate([float_interp.run(g, [xt[i:i + 500]])[0].reshape(-1, 10)
                              for i in track(range(0, len(xt), 500), description="float")]).argmax(1)
    acc_float = float(np.mean(p_float == yt))
    rows.append(("float (mcc float interpreter)", acc_float, None, None, None, None))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        np.save(tmp / "calib.npy", xc)
        builds = {}
        for label, bits in (("mcc int8", 8), ("mcc 16x8", 16)):
            opts = CompileOptions(calib=str(tmp / "calib.npy"), activation_bits=bits, progress=False)
            builds[label] = api.compile(model_path, tmp / label.replace(" ", "_"), opts)
        for bits in (8, 16):
            name = "converter int8" if bits == 8 else "converter 16x8"
            path = converter(model, xc, bits, tmp / f"conv{bits}.tflite")
            probs = run_tflm(path, xt.reshape(len(xt), 1, 28, 28, 1)).outputs.reshape(len(xt), -1)
            rows.append((f"{name} (TFLM)", float(np.mean(probs.argmax(1) == yt)),
                         float(np.mean(probs.argmax(1) == p_float)), None, None, None))
            if bits == 16:
                builds["converter 16x8 compiled by mcc"] = api.compile(path, tmp / "conv16_c", CompileOptions())
        lat_x = np.concatenate([xt] * (args.n_latency // len(xt) + 1))[:args.n_latency]
        for label, r in builds.items():
            m = r.graph
            x_in = xt if m.tensors[m.inputs[0]].dtype == "float32" else None
            if x_in is None:  # converter model: float I/O too (QUANTIZE / DEQUANTIZE at the edges)
                raise SystemExit(f"{label}: expected float I/O")
            y = api.run(r.outdir, x_in).reshape(len(xt), -1)
            out = m.tensors[m.outputs[0]]
            us = latency_us(r.outdir, lat_x.reshape((len(lat_x),) + m.tensors[m.inputs[0]].shape),
                            out.shape, out.dtype)
            rows.append((f"{label} (host C)", float(np.mean(y.argmax(1) == yt)),
                         float(np.mean(y.argmax(1) == p_float)), r.plan.arena_bytes, r.weight_bytes, us))
        if args.qemu:
            qemu_table(model_path, tmp, xt[:1])
    base = next(r for r in rows if r[0].startswith("mcc int8"))
    t = Table(title="16x8 vs int8 on Fashion-MNIST (same calibration images for every quantizer)")
    for c in ("model", "top-1 %", "vs float pp", "same top-1 as float %", "arena B", "arena / int8",
              "weights B", "host us/inf", "latency / int8"):
        t.add_column(c, justify="left" if c == "model" else "right")
    for name, acc, agree, arena, wbytes, us in rows:
        t.add_row(name, f"{100 * acc:.2f}", "" if name.startswith("float") else f"{100 * (acc - acc_float):+.2f}",
                  "" if agree is None else f"{100 * agree:.2f}",
                  "" if arena is None else f"{arena:,}", "" if arena is None else f"{arena / base[3]:.2f}",
                  "" if wbytes is None else f"{wbytes:,}", "" if us is None else f"{us:.1f}",
                  "" if us is None else f"{us / base[5]:.2f}")
    console.print(t)
    return 0


if __name__ == "__main__":
    sys.exit(main())
