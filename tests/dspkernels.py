"""Test helper: the kernel library built for the host twice -- portable, and with the DSP paths
(``-DMCC_EMULATE_DSP``: the SMLAD / SXTB16 / ... algorithms of ``firmware/include/mcc_dsp.h`` run on
their exact C emulations) -- and called through ctypes.

Builds reuse ``ckernels.build_shared`` (cached by content hash). Every conv-like call gets a scratch
buffer of exactly ``*_get_buffer_size`` bytes (16-byte aligned, or deliberately misaligned), followed
by guard bytes that must come back untouched, so a kernel writing past its declared scratch fails.
"""

from __future__ import annotations

import ctypes
import functools

import numpy as np

import ckernels as ck
from mcc.lower import params as P

EMULATE_FLAGS = ("-std=c99", "-O1", "-fPIC", "-shared", "-DMCC_EMULATE_DSP")
GUARD = 64
GUARD_BYTE = 0xA5

# C kernel function -> params record (each has <name>_get_buffer_size and the conv-like signature)
CONV_LIKE = {
    "mcc_conv_s8": P.ConvParams,
    "mcc_conv_1x1_s8": P.ConvParams,
    "mcc_depthwise_conv_s8": P.DepthwiseConvParams,
    "mcc_depthwise_conv_3x3_s8": P.DepthwiseConvParams,
    "mcc_fully_connected_s8": P.FullyConnectedParams,
}


def lib(dsp: bool, defines: tuple[str, ...] = ()) -> ctypes.CDLL:
    """The library; ``defines``: extra preprocessor names (mcc.codegen.fwsize's build flags). One
    CDLL object per (dsp, defines) however it is called: callers set argtypes on its functions."""
    return _lib(bool(dsp), tuple(defines))


@functools.cache
def _lib(dsp: bool, defines: tuple[str, ...]) -> ctypes.CDLL:
    flags = (EMULATE_FLAGS if dsp else ck.LIB_FLAGS) + tuple(f"-D{d}" for d in defines)
    name = ("libmcc_dsp" if dsp else "libmcc") + "".join(f"_{d.lower()}" for d in defines)
    so = ctypes.CDLL(str(ck.build_shared(ck.kernel_sources(), flags, name=name)))
    for name, cls in CONV_LIKE.items():
        fn = getattr(so, name)
        fn.restype = ctypes.c_int
        fn.argtypes = [ctypes.POINTER(ck.c_struct(cls))] + [ctypes.c_void_p] * 5
        gb = getattr(so, name + "_get_buffer_size")
        gb.restype = ctypes.c_int32
        gb.argtypes = [ctypes.POINTER(ck.c_struct(cls))]
    return so


def buffer_size(name: str, p, dsp: bool, defines: tuple[str, ...] = ()) -> int:
    keep: list = []
    st = ck.to_c(p, keep)
    return int(getattr(lib(dsp, defines), name + "_get_buffer_size")(ctypes.byref(st)))


def out_shape(p) -> tuple:
    if isinstance(p, P.FullyConnectedParams):
        return (p.batches, p.output_size)
    return (p.input_n, p.output_h, p.output_w, p.output_c)


def run(name: str, p, x, w, b=None, dsp: bool = True, misalign: int = 0,
        scratch_bytes: int | None = None, defines: tuple[str, ...] = ()) -> np.ndarray:
    """Call kernel ``name``; returns the output. Raises CKernelError on a nonzero status and
    AssertionError if the kernel wrote outside its output or past its scratch."""
    keep: list = []
    st = ck.to_c(p, keep)
    size = buffer_size(name, p, dsp, defines) if scratch_bytes is None else scratch_bytes
    raw = np.full(size + GUARD + 32, GUARD_BYTE, dtype=np.uint8)
    start = (-raw.ctypes.data) % 16 + misalign
    scratch = raw[start:start + size + GUARD]
    x = np.ascontiguousarray(x, dtype=np.int8)
    w = np.ascontiguousarray(w, dtype=np.int8)
    b = None if b is None else np.ascontiguousarray(b, dtype=np.int32)
    shape = out_shape(p)
    n_out = int(np.prod(shape))
    out_raw = np.full(n_out + 2 * GUARD, GUARD_BYTE, dtype=np.uint8)
    out = out_raw[GUARD:GUARD + n_out]
    status = getattr(lib(dsp, defines), name)(ctypes.byref(st), x.ctypes.data, w.ctypes.data,
                                     None if b is None else b.ctypes.data, out.ctypes.data,
                                     scratch.ctypes.data if size > 0 else None)
    if status != ck.MCC_OK:
        raise ck.CKernelError(name, status)
    assert (scratch[size:] == GUARD_BYTE).all(), f"{name} wrote past its {size}-byte scratch"
    assert (out_raw[:GUARD] == GUARD_BYTE).all() and (out_raw[GUARD + n_out:] == GUARD_BYTE).all(), \
        f"{name} wrote outside its output"
    return out.view(np.int8).reshape(shape).copy()
