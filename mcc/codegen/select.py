"""Which C kernel variant runs an op: the shape-specialised DSP kernels are chosen here, at compile
time, so that a firmware image contains only the kernels it calls.

    select_kernel(op_kind, record, has_dsp) -> (C function name, needs_scratch)

``has_dsp``: the target core has the DSP extension (``Target.has_dsp``; Cortex-M4/M7/M33/M55).
``needs_scratch``: the kernel, built for that core, asks for a scratch buffer of
``mcc.lower.scratch.scratch_for(function, record, has_dsp)`` bytes (> 0); every conv-like kernel
still takes a scratch pointer argument (NULL when not needed).

CONV_2D
    mcc_conv_1x1_s8            DSP core, 1x1 filter, no padding (any stride): the pixel's channels
                               are widened in place of an im2col
    mcc_conv_s8                otherwise (im2col + SMLAD GEMM on a DSP core, portable loops elsewhere)
DEPTHWISE_CONV_2D
    mcc_depthwise_conv_3x3_s8  DSP core, 3x3 filter, depth_multiplier 1, dilation 1 (any stride,
                               any padding)
    mcc_depthwise_conv_s8      otherwise
FULLY_CONNECTED
    mcc_fully_connected_s8     always (the DSP branch is inside)
CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED with weights below 8 bits (mcc.lower.packed)
    mcc_conv_packed, mcc_depthwise_conv_packed, mcc_fully_connected_packed: one kernel per op for
                               s4, s2 and mixed widths (a per-channel width table), always with
                               scratch (the unpacked rows; DSP branch inside)
FULLY_CONNECTED / 1x1 CONV_2D whose record mcc.lower.sparse_layers re-typed (unstructured-sparse
int8 weights, where the encoding cuts flash or predicted instructions on this core)
    mcc_fully_connected_sparse_s8, mcc_conv_1x1_sparse_s8: no scratch
other kinds
    the kernel of ``mcc.codegen.calls`` for the record, without scratch

Without DSP the generic kernels are kept: their portable loops are the reference implementations
(the specialised files' portable fallbacks exist so that every file builds on every core, but are
not faster).
"""

from __future__ import annotations

from ..lower import params as P
from ..lower.scratch import scratch_for
from .calls import KERNELS, POOL_KERNELS


def _is_conv_1x1(p: P.ConvParams) -> bool:
    return (p.filter_h == 1 and p.filter_w == 1 and p.pad_h == 0 and p.pad_w == 0
            and (p.output_h - 1) * p.stride_h < p.input_h and (p.output_w - 1) * p.stride_w < p.input_w)


def _is_depthwise_3x3(p: P.DepthwiseConvParams) -> bool:
    return (p.filter_h == 3 and p.filter_w == 3 and p.depth_multiplier == 1
            and p.dilation_h == 1 and p.dilation_w == 1 and p.output_c == p.input_c)


def select_kernel(op_kind: str, record, has_dsp: bool) -> tuple[str, bool]:
    """(C function, needs_scratch) for an op of kind ``op_kind`` lowered to ``record``."""
    from .calls16 import kernel16_for  # 16x8: portable kernels, no scratch
    spec16 = kernel16_for(op_kind, record)
    if spec16 is not None:
        return spec16.function, False
    from .hybrid import hybrid_kernel  # float / hybrid (PTQ dynamic) kernels: no scratch
    spec = hybrid_kernel(op_kind, record)
    if spec is not None:
        return spec.function, False
    from ..lower.sparse_layers import SPARSE_RECORDS  # chosen by mcc.lower.sparse_layers; no scratch
    if type(record) in SPARSE_RECORDS:
        return SPARSE_RECORDS[type(record)], False
    if isinstance(record, P.ConvParams):
        fn = "mcc_conv_1x1_s8" if has_dsp and _is_conv_1x1(record) else "mcc_conv_s8"
    elif isinstance(record, P.DepthwiseConvParams):
        fn = ("mcc_depthwise_conv_3x3_s8" if has_dsp and _is_depthwise_3x3(record)
              else "mcc_depthwise_conv_s8")
    elif isinstance(record, P.FullyConnectedParams):
        fn = "mcc_fully_connected_s8"
    elif isinstance(record, P.PoolParams):
        if op_kind not in POOL_KERNELS:
            raise ValueError(f"no pooling kernel for operator {op_kind}")
        return POOL_KERNELS[op_kind].function, False
    elif isinstance(record, (P.ConvPackedParams, P.DepthwiseConvPackedParams,
                             P.FullyConnectedPackedParams)):
        fn = KERNELS[type(record)].function  # packed sub-byte weights: always with scratch
    elif type(record) in KERNELS:
        return KERNELS[type(record)].function, False
    else:
        raise ValueError(f"no kernel for operator {op_kind} (record {type(record).__name__})")
    return fn, scratch_for(fn, record, has_dsp) > 0


def select_sparse(op_kind: str, record, weights, has_dsp: bool) -> str | None:
    """The unstructured-sparse kernel for a FULLY_CONNECTED or 1x1 CONV_2D layer (``weights``: its
    int8 weight tensor) when ``mcc.lower.sparse.choose`` finds it smaller in flash or cheaper in
    executed instructions than the dense kernel, else None (the dense kernel of select_kernel)."""
    from ..lower import sparse
    if isinstance(record, P.ConvParams):
        if not _is_conv_1x1(record):
            return None
    elif not (isinstance(record, P.FullyConnectedParams) and record.filter_offset == 0):
        return None
    choice = sparse.choose(op_kind, record, weights, has_dsp)
    return sparse.sparse_function(op_kind) if choice.use_sparse else None
