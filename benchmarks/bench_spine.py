"""Spine benchmark: mcc vs TFLM (tflite_micro's reference interpreter) on the MLPerf Tiny int8 models.

Prints, per model, in one run:
  * arena bytes: mcc's static plan vs TFLM's arena (RecordingMicroAllocator total = head + tail),
  * weights and code bytes of the generated library (objects built with arm-none-eabi-gcc -Os for a
    Cortex-M4 when available, else with the host gcc -Os),
  * host latency per inference: the generated C (gcc -O2) vs the tflite_micro interpreter.

    .venv/bin/python benchmarks/bench_spine.py [--n 200]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

import mcc.api as api  # noqa: E402
from mcc.oracle.tflm import tflm_arena_report  # noqa: E402
from mcc.sim import host  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MODELS = {
    "ResNet-8": ROOT / "examples/mlperf_tiny/ic/resnet8_int8.tflite",
    "DS-CNN": ROOT / "examples/mlperf_tiny/kws/dscnn_int8.tflite",
    "SWW DS-CNN": ROOT / "examples/mlperf_tiny/sww/sww_dscnn_int8.tflite",
}

_TFLM_TIMER = r"""
import sys, time, numpy as np
from tflite_micro.python.tflite_micro import runtime
it = runtime.Interpreter.from_file(sys.argv[1])
x = np.load(sys.argv[2])
shape = tuple(it.get_input_details(0)["shape"])
it.set_input(x[0].reshape(shape), 0); it.invoke()  # warm up
t0 = time.perf_counter()
for k in range(len(x)):
    it.set_input(x[k].reshape(shape), 0)
    it.invoke()
    it.get_output(0)
print((time.perf_counter() - t0) / len(x))
"""


def code_sizes(outdir: Path, files) -> tuple[int, int, str]:
    """(code + parameter bytes, weight bytes, compiler) from object files of the generated C."""
    cc = shutil.which("arm-none-eabi-gcc")
    flags = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=soft"] if cc else []
    size = shutil.which("arm-none-eabi-size") if cc else shutil.which("size")
    cc = cc or "gcc"
    code = weights = 0
    with tempfile.TemporaryDirectory() as tmp:
        for f in files:
            if not f.endswith(".c") or f == "main.c":
                continue
            obj = Path(tmp) / (Path(f).stem + ".o")
            subprocess.run([cc, *flags, "-std=c99", "-Os", "-ffunction-sections", "-I", str(outdir),
                            "-I", str(outdir / "mcc_nn/include"), "-c", str(outdir / f), "-o", str(obj)],
                           check=True)
            text, data, _bss = (int(v) for v in
                                subprocess.run([size, str(obj)], capture_output=True, text=True,
                                               check=True).stdout.splitlines()[1].split()[:3])
            if f == "mcc_weights.c":
                weights += text + data
            else:
                code += text + data
    return code, weights, "arm-none-eabi-gcc -Os (M4)" if "arm" in cc else "gcc -Os (host)"


def mcc_latency(outdir: Path, x: np.ndarray, out_shape, out_dtype) -> float:
    host.build(outdir)
    host.run(outdir, x[:1], out_shape, out_dtype)  # warm caches
    t0 = time.perf_counter()
    host.run(outdir, x[:1], out_shape, out_dtype)
    t1 = time.perf_counter()
    host.run(outdir, x, out_shape, out_dtype)
    t2 = time.perf_counter()
    return max((t2 - t1) - (t1 - t0), 0.0) / (len(x) - 1)  # subtract process start and file I/O


def tflm_latency(model: Path, x: np.ndarray) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "x.npy", x)
        out = subprocess.run([sys.executable, "-c", _TFLM_TIMER, str(model), str(Path(tmp) / "x.npy")],
                             capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200, help="inferences per latency measurement")
    args = ap.parse_args()
    mem = Table(title="memory: mcc vs TFLM (bytes)")
    for c in ("model", "mcc arena", "lower bound", "TFLM arena", "(TFLM head)", "mcc/TFLM",
              "mcc weights", "mcc code+params", "compiled with", "compile s"):
        mem.add_column(c, justify="right")
    lat = Table(title=f"host latency per inference ({args.n} inferences)")
    for c in ("model", "MACs", "mcc C (ms)", "TFLM (ms)", "mcc/TFLM"):
        lat.add_column(c, justify="right")
    with tempfile.TemporaryDirectory() as tmp:
        for name, model in MODELS.items():
            r = api.compile(model, Path(tmp) / name.replace(" ", "_"))
            g = r.graph
            tflm = tflm_arena_report(model)
            code, weights, how = code_sizes(r.outdir, r.files)
            mem.add_row(name, f"{r.plan.arena_bytes:,}", f"{r.plan.lower_bound:,}", f"{tflm.total:,}",
                        f"{tflm.head:,}", f"{r.plan.arena_bytes / tflm.total:.3f}", f"{weights:,}",
                        f"{code:,}", how, f"{r.seconds:.2f}")
            x = api.random_inputs(g, args.n, seed=0)
            y = g.tensors[g.outputs[0]]
            t_mcc = mcc_latency(r.outdir, x, y.shape, y.dtype)
            t_tflm = tflm_latency(model, x)
            macs = sum(layer.macs for layer in r.layers)
            lat.add_row(name, f"{macs:,}", f"{1e3 * t_mcc:.3f}", f"{1e3 * t_tflm:.3f}", f"{t_mcc / t_tflm:.3f}")
    console = Console(width=200)
    console.print(mem)
    console.print("TFLM arena = head (activations + scratch) + tail (persistent: tensor structs, per-channel "
                  "multipliers); mcc keeps all parameters in flash, so only activations use the arena.")
    console.print(lat)


if __name__ == "__main__":
    main()
