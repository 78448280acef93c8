"""Memory benchmark: mcc's arena plans vs TFLM's arena on the MLPerf Tiny models and a
MobileNetV2-style 96x96 model (tests/data/mobilenet_v2_96_int8.tflite).

Per model, in one run: TFLM's arena (RecordingMicroAllocator total = head + tail), mcc's first-fit
plan in the model's op order (the spine), + operator order search, + in-place ADD, + patch-based
execution with the default recompute budget (25 % of the model's MACs) and without a budget, the
lower bound of the final plan, and ratios against TFLM and first fit.

    .venv/bin/python benchmarks/bench_memory.py [--dsp]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

from rich.console import Console  # noqa: E402
from rich.progress import track  # noqa: E402
from rich.table import Table  # noqa: E402

import mcc.api as api  # noqa: E402
from mcc.oracle.tflm import tflm_arena_report  # noqa: E402
from mcc.planner.optimize import DEFAULT_MAX_OVERHEAD, model_macs, plan_optimized  # noqa: E402
from mcc.planner.schedule import program_of  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MODELS = {
    "ResNet-8": ROOT / "examples/mlperf_tiny/ic/resnet8_int8.tflite",
    "DS-CNN": ROOT / "examples/mlperf_tiny/kws/dscnn_int8.tflite",
    "SWW DS-CNN": ROOT / "examples/mlperf_tiny/sww/sww_dscnn_int8.tflite",
    "MobileNetV2-96 (test)": ROOT / "tests/data/mobilenet_v2_96_int8.tflite",
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dsp", action="store_true", help="plan with the DSP kernels' scratch (Cortex-M4 and up)")
    args = ap.parse_args()
    t = Table(title=f"peak arena bytes: mcc plans vs TFLM ({'DSP' if args.dsp else 'portable'} kernels' scratch)")
    for c in ("model", "TFLM", "first fit", "order search", "+ in-place", "+ patches (<=25% MACs)",
              "lower bound", "/TFLM", "/first fit", "+ patches (no limit)", "/TFLM ", "/first fit ",
              "extra MACs (default / no limit)"):
        t.add_column(c, justify="left" if c == "model" else "right")
    for name, path in track(list(MODELS.items()), description="planning", transient=True, console=Console(stderr=True)):
        g = api.load_model(path)
        records = api.lower_graph(g)
        tflm = tflm_arena_report(path).total
        mem = plan_optimized(g, records, args.dsp, max_overhead=DEFAULT_MAX_OVERHEAD)
        free = plan_optimized(g, records, args.dsp, max_overhead=None)
        s = mem.steps
        ff = s["first fit"].arena_bytes
        total = model_macs(program_of(g, records))

        def extra(m):
            return "-" if m.patch is None else f"{(m.patch.macs - m.patch.stage_macs) / total:+.1%}"
        t.add_row(name, f"{tflm:,}", f"{ff:,}", f"{s['order search'].arena_bytes:,}",
                  f"{s['+ in-place'].arena_bytes:,}", f"{mem.plan.arena_bytes:,}", f"{mem.plan.lower_bound:,}",
                  f"{mem.plan.arena_bytes / tflm:.3f}", f"{mem.plan.arena_bytes / ff:.3f}",
                  f"{free.plan.arena_bytes:,}", f"{free.plan.arena_bytes / tflm:.3f}",
                  f"{free.plan.arena_bytes / ff:.3f}", f"{extra(mem)} / {extra(free)}")
    Console(width=None if sys.stdout.isatty() else 220).print(t)


if __name__ == "__main__":
    main()
