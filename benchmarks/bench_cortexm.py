"""Cortex-M benchmark: exact executed instructions per inference under QEMU (TCG plugin), per MAC,
portable C vs DSP kernels, and flash / SRAM from the linked ELF, for the MLPerf Tiny int8 models.

    .venv/bin/python benchmarks/bench_cortexm.py [--cores cortex-m3,cortex-m4,...] [--n 2]

Reference points (not measured here): MLPerf Tiny v1.0 best Cortex-M4 results at 120 MHz are about
1.6 cycles/MAC on ResNet-8 and 2.0 on DS-CNN; TFLM + CMSIS-NN executes about 2.4 instructions/MAC
on ResNet-8 and 2.9 on DS-CNN on a DSP core under QEMU.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

import mcc.api as api  # noqa: E402
from mcc.options import CompileOptions  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MODELS = {
    "ResNet-8": ROOT / "examples/mlperf_tiny/ic/resnet8_int8.tflite",
    "DS-CNN": ROOT / "examples/mlperf_tiny/kws/dscnn_int8.tflite",
    "SWW DS-CNN": ROOT / "examples/mlperf_tiny/sww/sww_dscnn_int8.tflite",
}
CORES = ["cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55"]


def measure(model: Path, core: str, dsp: bool, x: np.ndarray, tmp: Path) -> dict:
    out = tmp / f"{model.stem}-{core}-{'dsp' if dsp else 'portable'}"
    r = api.compile(model, out, CompileOptions(target=core, dsp=dsp, force=True))
    y, prof = api.run(out, x, profile=True)
    ref = api.run(api.compile(model, tmp / f"{model.stem}-host", CompileOptions(force=True)).outdir, x)
    s = api.size(out)
    macs = sum(layer.macs for layer in r.layers)
    return {"instructions": float(np.mean(prof.instructions)), "macs": macs, "exact": bool(np.array_equal(y, ref)),
            "flash": s.flash, "sram": s.sram, "overhead": s.overhead}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cores", default=",".join(CORES))
    ap.add_argument("--n", type=int, default=2, help="random inputs per measurement")
    args = ap.parse_args()
    cores = args.cores.split(",")
    t = Table(title="executed instructions per inference under QEMU (exact, mean over inputs)")
    for c in ("model", "core", "kernels", "instructions", "instr/MAC", "portable/DSP", "= host C",
              "flash total", "weights", "overhead", "SRAM total", "arena"):
        t.add_column(c, justify="left" if c in ("model", "core", "kernels") else "right")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, model in MODELS.items():
            g = api.load_model(model)
            x = api.random_inputs(g, args.n, seed=0)
            for core in cores:
                dsp_core = api.get_target(core).has_dsp
                variants = [False, True] if dsp_core else [False]
                res = {d: measure(model, core, d, x, tmp) for d in variants}
                for d, m in res.items():
                    ratio = (f"{res[False]['instructions'] / m['instructions']:.2f}x" if d else "")
                    t.add_row(name, core, "DSP" if d else "portable", f"{m['instructions']:,.0f}",
                              f"{m['instructions'] / m['macs']:.2f}", ratio, "yes" if m["exact"] else "NO",
                              f"{m['flash'].get('total', sum(m['flash'].values())):,}",
                              f"{m['flash'].get('weights', 0):,}", f"{m['overhead']:,}",
                              f"{m['sram'].get('total', sum(m['sram'].values())):,}", f"{m['sram'].get('arena', 0):,}")
    Console(width=220).print(t)


if __name__ == "__main__":
    main()
