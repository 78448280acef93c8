"""Kernel scratch sizes in bytes: one function per C kernel, mirroring its ``*_get_buffer_size``.

The portable kernels need no scratch. The DSP paths (cores with ``__ARM_FEATURE_DSP``: Cortex-M4,
M7, M33, M55) do; the sizes below are exactly what the C functions return when built for such a
core (``tests/test_dsp_kernels.py`` compares them, with and without ``MCC_EMULATE_DSP``, over random
shapes). The scratch buffer handed to a DSP kernel must be 4-byte aligned (the arena aligns to 16).

    conv_s8             4 * Kp                               im2col column pair (2 x Kp int16)
                        + 20 * output_c                      per-channel bias + requantization table
                        + output_c * Kp  if K % 4 != 0 and output_c * Kp <= 4096:
                                                             the filters zero-padded to depth Kp
                        (K = filter_h * filter_w * input_c, Kp = K rounded up to a multiple of 4)
    conv_1x1_s8         4 * input_c + 20 * output_c          widened pixel pair + table
    depthwise_conv_s8   8 * filter_h * filter_w              sign-extended weights of 4 channels
                        (0 when depth_multiplier != 1: the portable loop runs)
    depthwise_conv_3x3_s8
                        152 + 4 * W * R                      one channel group's state + a padded copy
                        W = (output_w - 1) * stride_w + 3    of the input (4 channels per word):
                        R = (output_h - 1) * stride_h + 3    the whole plane if 4 * W * R <= 8192,
                            if 4 * W * R <= 8192, else 3     else 3 rows reused round-robin
    fully_connected_s8  4 * accum_depth + 20 * output_size   widened batch pair + table
"""

from __future__ import annotations

from typing import Callable

from . import params as P

RQ_ENTRY_BYTES = 20        # mcc_rq_entry (mcc_dsp_gemm.h)
DW3_GROUP_BYTES = 152      # mcc_dw3_group (mcc_dsp_depthwise.h)
DW3_PLANE_MAX = 8192       # MCC_DW3_PLANE_MAX
CONV_WPAD_MAX = 4096       # MCC_CONV_WPAD_MAX


def conv_s8(p: P.ConvParams, has_dsp: bool) -> int:
    if not has_dsp or p.filter_h < 1 or p.filter_w < 1 or p.input_c < 1 or p.output_c < 1:
        return 0
    k = p.filter_h * p.filter_w * p.input_c
    kp = (k + 3) // 4 * 4
    wpad = p.output_c * kp if k % 4 and p.output_c * kp <= CONV_WPAD_MAX else 0
    return 4 * kp + RQ_ENTRY_BYTES * p.output_c + wpad


def conv_1x1_s8(p: P.ConvParams, has_dsp: bool) -> int:
    if not has_dsp or p.input_c < 1:
        return 0
    return 4 * p.input_c + RQ_ENTRY_BYTES * p.output_c


def depthwise_conv_s8(p: P.DepthwiseConvParams, has_dsp: bool) -> int:
    if not has_dsp or p.depth_multiplier != 1 or p.filter_h < 1 or p.filter_w < 1:
        return 0
    return 8 * p.filter_h * p.filter_w


def depthwise_conv_3x3_s8(p: P.DepthwiseConvParams, has_dsp: bool) -> int:
    if not has_dsp or p.output_w < 1 or p.stride_w < 1:
        return 0
    width = (p.output_w - 1) * p.stride_w + 3
    rows = (p.output_h - 1) * p.stride_h + 3
    if 4 * width * rows > DW3_PLANE_MAX:
        rows = 3
    return DW3_GROUP_BYTES + 4 * width * rows


def fully_connected_s8(p: P.FullyConnectedParams, has_dsp: bool) -> int:
    if not has_dsp or p.accum_depth < 1:
        return 0
    return 4 * p.accum_depth + RQ_ENTRY_BYTES * p.output_size


# C kernel function -> its scratch size function
SCRATCH: dict[str, Callable] = {
    "mcc_conv_s8": conv_s8,
    "mcc_conv_1x1_s8": conv_1x1_s8,
    "mcc_depthwise_conv_s8": depthwise_conv_s8,
    "mcc_depthwise_conv_3x3_s8": depthwise_conv_3x3_s8,
    "mcc_fully_connected_s8": fully_connected_s8,
}


def scratch_for(function: str, p, has_dsp: bool) -> int:
    """Scratch bytes of C kernel ``function`` for record ``p`` (0 for kernels without scratch)."""
    fn = SCRATCH.get(function)
    return 0 if fn is None else fn(p, has_dsp)


# --- packed sub-byte weights (firmware/src/mcc_*_packed.c, firmware/include/mcc_packed.h) -----
#
#   conv_packed             portable: K (one unpacked row)
#                           DSP: 4 * Kp + 20 * output_c + B * Kp, B = packed_block_rows(Kp, output_c)
#   depthwise_conv_packed   DSP and depth_multiplier 1: align4(taps * output_c) + 8 * taps
#                           (the unpacked 1HWC filter + the int8 path's scratch); else taps
#   fully_connected_packed  portable: accum_depth; DSP: as conv_packed with K = accum_depth
# The packed kernels always take scratch (also on the portable path).

PACKED_WBLOCK = 8192       # MCC_PACKED_WBLOCK


def packed_block_rows(kp: int, rows: int) -> int:
    """Rows of unpacked weights per block on the DSP paths (mcc_packed_block_rows)."""
    r = (PACKED_WBLOCK // kp) & ~1
    return min(max(r, 2), rows)


def _gemm_packed(k: int, rows: int, has_dsp: bool) -> int:
    if k < 1 or rows < 1:
        return 0
    if not has_dsp:
        return k
    kp = (k + 3) // 4 * 4
    return 4 * kp + RQ_ENTRY_BYTES * rows + packed_block_rows(kp, rows) * kp


def conv_packed(p: P.ConvPackedParams, has_dsp: bool) -> int:
    c = p.conv
    if c.filter_h < 1 or c.filter_w < 1 or c.input_c < 1:
        return 0
    return _gemm_packed(c.filter_h * c.filter_w * c.input_c, c.output_c, has_dsp)


def depthwise_conv_packed(p: P.DepthwiseConvPackedParams, has_dsp: bool) -> int:
    c = p.conv
    if c.filter_h < 1 or c.filter_w < 1 or c.output_c < 1:
        return 0
    taps = c.filter_h * c.filter_w
    if has_dsp and c.depth_multiplier == 1:
        return (taps * c.output_c + 3) // 4 * 4 + 8 * taps
    return taps


def fully_connected_packed(p: P.FullyConnectedPackedParams, has_dsp: bool) -> int:
    return _gemm_packed(p.fc.accum_depth, p.fc.output_size, has_dsp)


SCRATCH.update({
    "mcc_conv_packed": conv_packed,
    "mcc_depthwise_conv_packed": depthwise_conv_packed,
    "mcc_fully_connected_packed": fully_connected_packed,
})
