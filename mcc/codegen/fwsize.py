"""Firmware code size: the build choices that keep the code of a Cortex-M image small, made in Python
at compile time from the layers the model has (mcc/codegen/emit.py passes them to the Cortex-M
Makefile and CMakeLists). A kernel built with one of these flags leaves out a path no layer of the
image takes; a layer that would need it gets MCC_ERR_ARG, never a wrong result.

``firmware_defines(g, records, has_dsp)`` -- preprocessor names defined for every file of the image:

``MCC_NO_DSP``
    a core without the DSP extension (or ``--no-dsp``): the portable kernels.
``MCC_NO_PORTABLE_FALLBACK``
    a DSP core: the generated code always passes the scratch buffer, so the DSP kernels leave out
    the portable loops they would run without one (mcc_dsp.h, ``MCC_WITH_FALLBACK``).
``MCC_CONV_ROWS_ONLY``
    a DSP core where every ``mcc_conv_s8`` layer has filter rows of whole groups of four bytes
    (``filter_w * input_c % 4 == 0``, ``dilation_w == 1``): mcc_conv_s8 does not call the general
    im2col (mcc_conv_im2col, entry by entry: odd row lengths, horizontal dilation), which
    --gc-sections then drops.
``MCC_CONV_1X1_SHARED``
    a DSP core where the image has ``mcc_conv_s8`` and every ``mcc_conv_1x1_s8`` layer has
    input_c % 4 == 0: mcc_conv_1x1_s8's DSP path calls mcc_conv_s8 (which runs such a layer the
    same way, with the same scratch) instead of keeping its own copy of the loop.
``MCC_GEMM_FAST_ONLY``
    a DSP core where every call of the shared GEMM (mcc_dsp_gemm_pair, from mcc_conv_s8,
    mcc_conv_1x1_s8 and mcc_fully_connected_s8; no packed kernels) takes its 2 x 2 fast path
    (``_gemm_fast``: depth % 4 == 0, two output channels or more, every channel in the fast
    requantization range, no filter offset): its general path is left out. A lone last batch of a
    FULLY_CONNECTED layer then fills both columns (computed twice), so the flag is set only when
    those layers are at most 5 % of the GEMM's MACs.
``MCC_DEPTHWISE_DM1_ONLY``
    a DSP core where every ``mcc_depthwise_conv_s8`` layer has depth_multiplier 1 (its DSP path):
    with MCC_NO_PORTABLE_FALLBACK the kernel leaves out its portable loop.
``MCC_DW3_FAST_ONLY``
    a DSP core where every ``mcc_depthwise_conv_3x3_s8`` layer has ``input_c % 4 == 0`` and every
    channel inside the range of its one-instruction requantization (``dw3_fast_channels``, the
    test of mcc_dsp_depthwise.h ``mcc_dw3_rq_prep``): the exact per-channel loop is left out.

``size_optimized_kernels(kernels, has_dsp)`` -- in a DSP image, the kernel sources compiled for
size (``-Os``) instead of the Makefile's ``OPT`` (-O2): code that runs once per layer or on few values
(softmax, fully connected, the requantization table, the column helpers), and the drivers whose
inner loops are inline assembly (mcc_conv_s8's pixel loop around mcc_cols_rows and the GEMM,
mcc_depthwise_conv_3x3_s8's set-up around its plane loops). Measured on Cortex-M4: about -1.1 KB on
DS-CNN for +0.002 executed instructions per MAC, +0.006 on ResNet-8. The general im2col
(mcc_conv_im2col, per column entry) and average pooling (-Os: +0.004 instructions per MAC on DS-CNN)
keep ``OPT``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..ir import Graph
from ..lower import params as P

# kernel sources compiled -Os: once-per-layer code, measured on the MLPerf models on Cortex-M4
SIZE_OPTIMIZED = frozenset({"mcc_softmax_s8", "mcc_fully_connected_s8", "mcc_cols_copy", "mcc_cols_zero",
                            "mcc_rq_table", "mcc_depthwise_conv_3x3_s8", "mcc_conv_s8"})


def dw3_fast_channels(p: P.DepthwiseConvParams, bias: np.ndarray | None,
                      weights: np.ndarray) -> bool:
    """Whether mcc_depthwise_conv_3x3_s8's DSP path runs every channel of ``p`` in its fast loop
    (mcc_dsp_depthwise.h: input_c % 4 == 0, at least one plane column, and per channel
    ``mcc_dw3_rq_prep``: right shifts: multiplier > 2^30, -24 <= shift <= -1, |bias| <= 2^29 and
    |2^(r-1) + output_offset * 2^r| < 2^30 with r = -shift; left shifts: 0 <= shift <= 14,
    multiplier >= 2^30, max |w| * 2^(shift+1) <= 32767 and (|bias| + 255 sum |w|) * 2^(shift+1)
    < 2^31). ``weights``: the 3x3 filter, channels last."""
    if p.input_c % 4 != 0:
        return False
    if min(p.input_w, (p.output_w - 1) * p.stride_w + 3 - p.pad_w) < 1:
        return False
    b = np.zeros(p.output_c, dtype=np.int64) if bias is None else np.asarray(bias, dtype=np.int64)
    w = np.abs(np.asarray(weights, dtype=np.int64).reshape(9, -1))
    for m, s, bb, wc in zip(np.asarray(p.multiplier, np.int64), np.asarray(p.shift, np.int64), b, w.T):
        m, s, bb = int(m), int(s), abs(int(bb))
        if 0 <= s <= 14 and m >= 1 << 30:
            if int(wc.max()) << (s + 1) > 32767 or (bb + 255 * int(wc.sum())) << (s + 1) >= 1 << 31:
                return False
            continue
        if m <= 1 << 30 or s > -1 or s < -24 or bb > 1 << 29:
            return False
        r = -s
        ra = (1 << (r - 1)) + int(p.output_offset) * (1 << r)
        if abs(ra) >= 1 << 30:
            return False
    return True


GEMM_KERNELS = ("mcc_conv_s8", "mcc_conv_1x1_s8", "mcc_fully_connected_s8")


def _rq_fast(multiplier, shift) -> bool:
    """mcc_dsp.h mcc_rq_ok for every channel: the right form (-24 <= shift <= -1, multiplier >
    2^30) or the left form (0 <= shift <= 30, multiplier >= 2^30)."""
    m, s = np.asarray(multiplier, np.int64), np.asarray(shift, np.int64)
    right = (s <= -1) & (s >= -24) & (m > 1 << 30)
    left = (s >= 0) & (s <= 30) & (m >= 1 << 30)
    return bool(np.all(right | left))


def _left_shifts(calls) -> bool:
    """Whether some layer requantizes with a left shift (shift >= 0): the DSP kernels then need
    the left form of the fast requantization (mcc_rq_fast_left); else MCC_RQ_RIGHT_ONLY leaves
    it out."""
    for _, rec, _ in calls:
        shift = getattr(rec, "shift", None)
        if shift is not None and np.any(np.asarray(shift, np.int64) >= 0):
            return True
    return False


def _gemm_depth(p, fn: str) -> int:
    """The depth mcc_dsp_gemm_pair runs at for a layer (mcc_conv_s8: K, or K rounded up to a
    multiple of four when the zero-padded filters fit MCC_CONV_WPAD_MAX = 4096 bytes)."""
    if fn == "mcc_fully_connected_s8":
        return p.accum_depth
    if fn == "mcc_conv_1x1_s8":
        return p.input_c
    k = p.filter_h * p.filter_w * p.input_c
    kp = (k + 3) & ~3
    return kp if k % 4 and p.output_c * kp <= 4096 else k


def _gemm_fast(p, fn: str) -> bool:
    """Every mcc_dsp_gemm_pair call of the layer takes the 2 x 2 fast path: depth % 4 == 0, at least
    two output channels (an odd last one is paired with the one before), every channel in the fast
    requantization range, no per-column constant (FULLY_CONNECTED: filter_offset 0). Lone last
    pixels / batches fill both columns."""
    rows = p.output_size if fn == "mcc_fully_connected_s8" else p.output_c
    if fn == "mcc_fully_connected_s8" and p.filter_offset != 0:
        return False
    return _gemm_depth(p, fn) % 4 == 0 and rows >= 2 and _rq_fast(p.multiplier, p.shift)


def _macs(gemm) -> int:
    total = 0
    for p, fn in gemm:
        if fn == "mcc_fully_connected_s8":
            total += p.batches * p.accum_depth * p.output_size
        else:
            total += p.input_n * p.output_h * p.output_w * p.output_c * p.filter_h * p.filter_w * p.input_c
    return total


def _lone_fc_macs(gemm) -> int:
    """MACs of FULLY_CONNECTED lone last batches, which MCC_GEMM_FAST_ONLY computes twice."""
    return sum(p.accum_depth * p.output_size for p, fn in gemm
               if fn == "mcc_fully_connected_s8" and p.batches % 2)


def _rows_only(p: P.ConvParams) -> bool:
    return (p.filter_w * p.input_c) % 4 == 0 and p.dilation_w == 1


def firmware_defines(g: Graph, records: list, has_dsp: bool) -> list[str]:
    """Preprocessor names defined for every source of the Cortex-M image of ``g`` (its lowered
    ``records``, one per op, None for views), sorted."""
    if not has_dsp:
        return ["MCC_NO_DSP"]
    from .select import select_kernel
    calls = [(op, rec, select_kernel(op.kind, rec, True)[0])
             for op, rec in zip(g.ops, records) if rec is not None]
    functions = {fn for _, _, fn in calls}
    defines = ["MCC_NO_PORTABLE_FALLBACK"]
    convs = [rec for _, rec, fn in calls if fn == "mcc_conv_s8"]
    if convs and all(_rows_only(p) for p in convs):
        defines.append("MCC_CONV_ROWS_ONLY")

    def bias(op):
        return g.tensors[op.inputs[2]].data if len(op.inputs) > 2 and op.inputs[2] else None

    gemm = [(rec, fn) for _, rec, fn in calls if fn in GEMM_KERNELS]
    if gemm and not functions & {"mcc_conv_packed", "mcc_fully_connected_packed"} and all(
            _gemm_fast(rec, fn) for rec, fn in gemm) and _lone_fc_macs(gemm) <= 0.05 * _macs(gemm):
        defines.append("MCC_GEMM_FAST_ONLY")
    ones = [rec for _, rec, fn in calls if fn == "mcc_conv_1x1_s8"]
    if convs and ones and all(p.input_c % 4 == 0 for p in ones):
        defines.append("MCC_CONV_1X1_SHARED")
    dws = [rec for _, rec, fn in calls if fn == "mcc_depthwise_conv_s8"]
    if dws and all(p.depth_multiplier == 1 for p in dws):
        defines.append("MCC_DEPTHWISE_DM1_ONLY")
    dw3 = [(op, rec) for op, rec, fn in calls if fn == "mcc_depthwise_conv_3x3_s8"]
    if dw3 and "mcc_depthwise_conv_packed" not in functions and all(
            dw3_fast_channels(rec, bias(op), g.tensors[op.inputs[1]].data) for op, rec in dw3):
        defines.append("MCC_DW3_FAST_ONLY")
    if not _left_shifts(calls):
        defines.append("MCC_RQ_RIGHT_ONLY")
    return sorted(defines)


def size_optimized_kernels(kernels: Iterable[str], has_dsp: bool = True) -> list[str]:
    """The sources among ``kernels`` compiled for size (-Os), sorted; none in a portable image (its
    kernels keep one optimisation level)."""
    return sorted(set(kernels) & SIZE_OPTIMIZED) if has_dsp else []
