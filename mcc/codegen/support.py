"""Support sources of the kernels: C files (firmware/src/<name>.c) that a kernel calls but that are
not kernels themselves -- code shared by several kernels, compiled once per image instead of a static
copy in each kernel's object file.

The table is by kernel function name (what mcc/codegen/select.py chooses); the support sources
matter only when the DSP paths are compiled (each support file is empty without MCC_HAS_DSP).
"""

from __future__ import annotations

from collections.abc import Iterable

# the int8 x int16 GEMM (mcc_dsp_gemm.h) and its column buffer fillers
_GEMM = ("mcc_dsp_gemm_pair", "mcc_rq_table")
_IM2COL = ("mcc_cols_copy", "mcc_cols_zero")

SUPPORT: dict[str, tuple[str, ...]] = {
    "mcc_conv_s8": _GEMM + ("mcc_conv_im2col",),
    "mcc_conv_1x1_s8": _GEMM + ("mcc_cols_copy",),
    "mcc_fully_connected_s8": _GEMM + ("mcc_cols_copy",),
    "mcc_conv_packed": _GEMM + _IM2COL,
}


def support_sources(kernels: Iterable[str], has_dsp: bool) -> list[str]:
    """The support sources the ``kernels`` need (sorted, each once); none without DSP kernels."""
    if not has_dsp:
        return []
    return sorted({s for k in kernels for s in SUPPORT.get(k, ())})


def with_support(kernels: Iterable[str], has_dsp: bool) -> list[str]:
    """``kernels`` and their support sources: every mcc_nn/src file the image compiles (sorted)."""
    ks = set(kernels)
    return sorted(ks | set(support_sources(ks, has_dsp)))
