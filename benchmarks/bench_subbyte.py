"""Sub-byte weights benchmark: each MLPerf Tiny model with every weighted layer at 8, 4 or 2 bits
(uniform; weights requantized per channel as tests/subbyte_models.py does, s_b = max|w| / (2^(b-1)-1)),
compiled for a Cortex-M4 board with the portable and the DSP kernels: flash bytes of the weights
and of the whole firmware (from the linker map), and exact executed instructions per inference
under QEMU (TCG plugin), against two peers measured in the same run: the int8 model, and the
same sub-byte values stored as int8 and run by the int8 kernels ("int8 storage": isolates what the
packed kernels cost; the int8 model differs also by its requantization constants, which decide
whether the DSP kernels' fast requantization applies). Every QEMU output is checked against the
numpy reference interpreter of the same graph.

    .venv/bin/python benchmarks/bench_subbyte.py [--models resnet8,dscnn,sww] [--bits 8,4,2] [--n 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import track  # noqa: E402
from rich.table import Table  # noqa: E402

import mcc.api as api  # noqa: E402
from mcc.options import CompileOptions  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from subbyte_models import as_int8_storage, reference_outputs, requantize_weights, uniform  # noqa: E402

MODELS = {
    "resnet8": ROOT / "examples/mlperf_tiny/ic/resnet8_int8.tflite",
    "dscnn": ROOT / "examples/mlperf_tiny/kws/dscnn_int8.tflite",
    "sww": ROOT / "examples/mlperf_tiny/sww/sww_dscnn_int8.tflite",
}


def measure(g, core: str, dsp: bool, x: np.ndarray, out: Path) -> dict:
    r = api.compile_graph(g, out, CompileOptions(target=core, dsp=dsp, force=True))
    y, prof = api.run(out, x, profile=True)
    exact = np.array_equal(y.reshape(len(x), -1), reference_outputs(g, x).reshape(len(x), -1))
    s = api.size(out)
    return {"instructions": float(np.mean(prof.instructions)), "exact": exact,
            "weights": r.weight_bytes, "flash_weights": s.flash.get("weights", 0),
            "flash": s.flash.get("total", sum(s.flash.values()))}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--bits", default="8,4,2")
    ap.add_argument("--core", default="cortex-m4")
    ap.add_argument("--n", type=int, default=1, help="random inputs per measurement")
    args = ap.parse_args()
    bits = [int(b) for b in args.bits.split(",")]
    if 8 not in bits:
        bits = [8] + bits
    jobs = [(m, b, d, s) for m in args.models.split(",") for b in bits for d in (False, True)
            for s in ((False, True) if b < 8 else (False,))]
    res = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        graphs = {}
        for m, b, d, s in track(jobs, description="compile + QEMU"):
            if (m, b) not in graphs:
                g8 = api.load_model(MODELS[m])
                graphs[(m, b)] = requantize_weights(g8, uniform(b))
            g = as_int8_storage(graphs[(m, b)]) if s else graphs[(m, b)]
            x = api.random_inputs(g, args.n, seed=0)
            res[(m, b, d, s)] = measure(g, args.core, d, x, tmp / f"{m}-{b}-{int(d)}-{int(s)}")
    t = Table(title=f"uniform sub-byte weights on {args.core} (QEMU, exact instructions per inference; "
                    "ratios against the int8 build of the same kernels)")
    for c in ("model", "weights", "kernels", "weight bytes", "vs int8", "firmware flash", "vs int8",
              "instructions", "vs int8", "vs int8 storage", "= reference"):
        t.add_column(c, justify="left" if c in ("model", "weights", "kernels") else "right")
    for (m, b, d, s), r in res.items():
        if s:
            continue
        base = res[(m, 8, d, False)]
        peer = res.get((m, b, d, True), r)
        t.add_row(m, f"{b}-bit", "DSP" if d else "portable", f"{r['weights']:,}",
                  f"{r['weights'] / base['weights']:.3f}", f"{r['flash']:,}", f"{r['flash'] / base['flash']:.3f}",
                  f"{r['instructions']:,.0f}", f"{r['instructions'] / base['instructions']:.3f}",
                  f"{r['instructions'] / peer['instructions']:.3f}",
                  "yes" if r["exact"] and peer["exact"] else "NO")
    Console(width=200).print(t)


if __name__ == "__main__":
    main()
