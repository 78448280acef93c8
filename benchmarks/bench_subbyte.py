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
    .venv/bin/python benchmarks/bench_subbyte.py --kernels

``--kernels``: single layers instead (fully connected 256x128 and 640x128, a 3x3 conv 32->32 on
16x16, a 15x1 depthwise on 128 channels), int8 kernel vs the packed kernel at 4 and 2 bits on the
same values, instructions per call and per MAC on the M4 (DSP and portable builds).
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


def kernel_table():
    import subbyte_kernels as sk
    from mcc.lower import params as P
    from mcc.reference import kernels as ref
    REF8 = {P.ConvParams: ref.conv_s8, P.DepthwiseConvParams: ref.depthwise_conv_s8,
            P.FullyConnectedParams: ref.fully_connected_s8}
    rng = np.random.default_rng(0)
    layers = []

    def rq(n):
        return np.full(n, 1 << 30, np.int32), np.full(n, -8, np.int32)
    for depth, out in ((256, 128), (640, 128)):
        m, s = rq(out)
        q = P.FullyConnectedParams(batches=1, accum_depth=depth, output_size=out, input_offset=3,
                                   filter_offset=0, output_offset=1, act_min=-128, act_max=127,
                                   per_channel=1, multiplier=m, shift=s)
        layers.append((f"FC {depth}x{out}", "mcc_fully_connected_s8", "mcc_fully_connected_packed", q,
                       rng.integers(-128, 128, (1, depth)), (out, depth), out * depth))
    m, s = rq(32)
    q = P.ConvParams(input_n=1, input_h=16, input_w=16, input_c=32, filter_h=3, filter_w=3, output_h=16,
                     output_w=16, output_c=32, stride_h=1, stride_w=1, dilation_h=1, dilation_w=1, pad_h=1,
                     pad_w=1, input_offset=3, output_offset=1, act_min=-128, act_max=127, multiplier=m, shift=s)
    layers.append(("conv 3x3 32->32 16x16", "mcc_conv_s8", "mcc_conv_packed", q,
                   rng.integers(-128, 128, (1, 16, 16, 32)), (32, 3, 3, 32), 16 * 16 * 9 * 32 * 32))
    m, s = rq(128)
    q = P.DepthwiseConvParams(input_n=1, input_h=22, input_w=1, input_c=128, filter_h=15, filter_w=1,
                              output_h=8, output_w=1, output_c=128, depth_multiplier=1, stride_h=1,
                              stride_w=1, dilation_h=1, dilation_w=1, pad_h=0, pad_w=0, input_offset=3,
                              output_offset=1, act_min=-128, act_max=127, multiplier=m, shift=s)
    layers.append(("depthwise 15x1 x128, 8 px", "mcc_depthwise_conv_s8", "mcc_depthwise_conv_packed", q,
                   rng.integers(-128, 128, (1, 22, 1, 128)), (1, 15, 1, 128), 8 * 15 * 128))
    cases, rows = [], []
    for name, f8, fp, q, x, wshape, macs in layers:
        x = x.astype(np.int8)
        w = rng.integers(-1, 2, wshape).astype(np.int8)
        b = rng.integers(-100, 100, wshape[3] if fp == "mcc_depthwise_conv_packed" else wshape[0]).astype(np.int32)
        cases.append((f8, q, x, w, None, b))
        rows.append((name, "int8", macs))
        for mode in ("s4", "s2"):
            cases.append(sk.make_packed(fp, q, x, w, b, rng, mode))
            rows.append((name, mode, macs))
    t = Table(title="single layers on cortex-m4 (QEMU, exact instructions per call; the same weight "
                    "values, int8 kernel vs packed)")
    for c in ("layer", "weights", "kernels", "instructions", "instr/MAC", "vs int8", "= reference"):
        t.add_column(c, justify="left" if c in ("layer", "weights", "kernels") else "right")
    for dsp in (True, False):
        res = sk.run_qemu(cases, "mps2-an386", dsp)
        base = None
        for (name, mode, macs), case, r in zip(rows, cases, res):
            if mode == "int8":
                base = r.instructions
                exp = REF8[type(case[1])](case[1], case[2], case[3], case[5])
            else:
                exp = sk.reference(case[1], case[2], case[3], case[5])
            ok = r.status == 0 and np.array_equal(r.output.ravel(), exp.ravel())
            t.add_row(name, mode, "DSP" if dsp else "portable", f"{r.instructions:,}",
                      f"{r.instructions / macs:.2f}", f"{r.instructions / base:.3f}", "yes" if ok else "NO")
    Console(width=160).print(t)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--bits", default="8,4,2")
    ap.add_argument("--core", default="cortex-m4")
    ap.add_argument("--n", type=int, default=1, help="random inputs per measurement")
    ap.add_argument("--kernels", action="store_true", help="single layers instead of the models")
    args = ap.parse_args()
    if args.kernels:
        return kernel_table()
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
