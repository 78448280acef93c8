"""Test helper: the packed sub-byte kernels (firmware/src/mcc_*_packed.c) on the host through ctypes
(portable, and DSP on the exact C emulations of the instructions) and on QEMU Cortex-M with the
instruction-counting plugin; random packed cases built from the int8 cases of test_dsp_kernels.

A case is (function, packed record, x, w_int8, packed_bytes, bias): ``w_int8`` holds the unpacked
values (what the numpy reference computes with), ``packed_bytes`` what the kernel reads.
"""

from __future__ import annotations

import ctypes
import dataclasses
import functools
import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np

import ckernels as ck
import dspkernels as dk
import qemu_kernels as qk
from mcc.codegen.cortexm import qemu_base_command, template_context
from mcc.codegen.cvalues import c_initializer
from mcc.codegen.emit import _env
from mcc.lower import params as P
from mcc.lower.packed import PACKED_OPS
from mcc.lower.packing import pack
from mcc.paths import FIRMWARE
from mcc.reference import kernels as ref
from mcc.sim.qemu import MARKER_SYMBOL, plugin_path, symbol_address
from mcc.targets_cm import get_board

KERNELS = {
    "mcc_conv_packed": (P.ConvPackedParams, "mcc_conv_packed_params", "CONV_2D"),
    "mcc_depthwise_conv_packed": (P.DepthwiseConvPackedParams, "mcc_depthwise_conv_packed_params",
                                  "DEPTHWISE_CONV_2D"),
    "mcc_fully_connected_packed": (P.FullyConnectedPackedParams, "mcc_fully_connected_packed_params",
                                   "FULLY_CONNECTED"),
}
BY_RECORD = {cls: name for name, (cls, _, _) in KERNELS.items()}


def inner(p):
    """The int8 record inside a packed one."""
    return p.fc if isinstance(p, P.FullyConnectedPackedParams) else p.conv


def reference(p, x, w, b) -> np.ndarray:
    q = inner(p)
    fn = {P.ConvParams: ref.conv_s8, P.DepthwiseConvParams: ref.depthwise_conv_s8,
          P.FullyConnectedParams: ref.fully_connected_s8}[type(q)]
    return fn(q, x, w, b)


# --- random cases --------------------------------------------------------------------------------


def widths_for(rng, n: int, mode: str) -> tuple[int, ...]:
    if mode in ("s4", "s2"):
        return (int(mode[1]),) * n
    w = tuple(int(v) for v in rng.choice([2, 4, 8], n))
    return w if any(b < 8 for b in w) else (4,) + w[1:]


def make_packed(name: str, q, x, w8, b, rng, mode: str):
    """(name, packed record, x, w, packed bytes, b): ``w8``'s values redrawn within each channel's
    width (the int8 case's shape and quantization kept)."""
    cls, _, kind = KERNELS[name]
    axis = PACKED_OPS[kind][0]
    n = w8.shape[axis]
    widths = widths_for(rng, n, mode)
    w = np.moveaxis(np.array(w8, dtype=np.int8), axis, 0).copy()
    for c, bits in enumerate(widths):
        lim = (1 << (bits - 1)) - 1
        w[c] = rng.integers(-lim, lim + 1, w[c].shape)
    w = np.ascontiguousarray(np.moveaxis(w, 0, axis))
    if isinstance(q, P.FullyConnectedParams):
        q = dataclasses.replace(q, filter_offset=0)
    p = cls(q, np.asarray(widths, dtype=np.uint8))
    return name, p, x, w, pack(w, widths, axis), b


# --- host ----------------------------------------------------------------------------------------


@functools.cache
def c_struct(cls):
    fields = [(f.name, ck.c_struct(f.type if isinstance(f.type, type) else
                                   getattr(P, f.type)) if f.name in ("conv", "fc") else ctypes.c_void_p)
              for f in dataclasses.fields(cls)]
    return type(f"c_{cls.__name__}", (ctypes.Structure,), {"_fields_": fields})


def to_c(p, keep: list):
    st = c_struct(type(p))()
    setattr(st, "fc" if isinstance(p, P.FullyConnectedPackedParams) else "conv", ck.to_c(inner(p), keep))
    bits = np.ascontiguousarray(p.weight_bits, dtype=np.uint8)
    keep.append(bits)
    st.weight_bits = bits.ctypes.data
    return st


@functools.cache
def lib(dsp: bool) -> ctypes.CDLL:
    so = dk.lib(dsp)
    for name, (cls, _, _) in KERNELS.items():
        fn = getattr(so, name)
        fn.restype = ctypes.c_int
        fn.argtypes = [ctypes.POINTER(c_struct(cls))] + [ctypes.c_void_p] * 5
        gb = getattr(so, name + "_get_buffer_size")
        gb.restype = ctypes.c_int32
        gb.argtypes = [ctypes.POINTER(c_struct(cls))]
    return so


def buffer_size(name: str, p, dsp: bool) -> int:
    keep: list = []
    return int(getattr(lib(dsp), name + "_get_buffer_size")(ctypes.byref(to_c(p, keep))))


def run_host(name: str, p, x, packed, b=None, dsp: bool = False, misalign: int = 0,
             scratch_bytes: int | None = None) -> np.ndarray:
    """Call a packed kernel with exactly its scratch (plus guard bytes that must stay untouched)."""
    keep: list = []
    st = to_c(p, keep)
    size = buffer_size(name, p, dsp) if scratch_bytes is None else scratch_bytes
    raw = np.full(size + dk.GUARD + 32, dk.GUARD_BYTE, dtype=np.uint8)
    start = (-raw.ctypes.data) % 16 + misalign
    scratch = raw[start:start + size + dk.GUARD]
    x = np.ascontiguousarray(x, dtype=np.int8)
    packed = np.ascontiguousarray(packed, dtype=np.uint8)
    b = None if b is None else np.ascontiguousarray(b, dtype=np.int32)
    shape = dk.out_shape(inner(p))
    n_out = int(np.prod(shape))
    out_raw = np.full(n_out + 2 * dk.GUARD, dk.GUARD_BYTE, dtype=np.uint8)
    out = out_raw[dk.GUARD:dk.GUARD + n_out]
    status = getattr(lib(dsp), name)(ctypes.byref(st), x.ctypes.data, packed.ctypes.data,
                                     None if b is None else b.ctypes.data, out.ctypes.data,
                                     scratch.ctypes.data if size > 0 else None)
    if status != ck.MCC_OK:
        raise ck.CKernelError(name, status)
    assert (scratch[size:] == dk.GUARD_BYTE).all(), f"{name} wrote past its {size}-byte scratch"
    assert (out_raw[:dk.GUARD] == dk.GUARD_BYTE).all() and \
        (out_raw[dk.GUARD + n_out:] == dk.GUARD_BYTE).all(), f"{name} wrote outside its output"
    return out.view(np.int8).reshape(shape).copy()


# --- QEMU ----------------------------------------------------------------------------------------


def harness_source(cases, scratch_dsp: bool) -> tuple[str, list[int]]:
    """main.c calling every case between two profile marks. cases: (function, record, x, w,
    packed, b) -- the packed kernels, or the int8 kernels with (function, record, x, w, None, b)."""
    from mcc.codegen.cvalues import c_array_body
    decls: list[str] = []
    body: list[str] = []
    sizes = []
    max_scratch, max_out = 16, 16
    for i, (fn, p, x, w, packed, b) in enumerate(cases):
        c = f"c{i}"
        arrays: list = []
        init = c_initializer(p, f"{c}_p", arrays)
        for a in arrays:
            decls.append(f"static const {a.ctype} {a.name}[{max(a.values.size, 1)}] = {{\n{a.body}\n}};")
        struct = KERNELS[fn][1] if fn in KERNELS else qk.STRUCT[type(p).__name__]
        decls.append(f"static const {struct} {c}_p = {init};")
        decls.append(qk._c_array(f"{c}_x", np.asarray(x, np.int8), "int8_t"))
        if packed is not None:
            decls.append(qk._c_array(f"{c}_w", np.asarray(packed, np.uint8), "uint8_t"))
        else:
            decls.append(qk._c_array(f"{c}_w", np.asarray(w, np.int8), "int8_t"))
        if b is not None:
            decls.append(qk._c_array(f"{c}_b", np.asarray(b, np.int32), "int32_t"))
        n_out = int(np.prod(dk.out_shape(inner(p) if fn in KERNELS else p)))
        sizes.append(n_out)
        max_out = max(max_out, n_out)
        sb = buffer_size(fn, p, scratch_dsp) if fn in KERNELS else dk.buffer_size(fn, p, scratch_dsp)
        max_scratch = max(max_scratch, sb)
        bias = f"{c}_b" if b is not None else "NULL"
        scratch = "s_scratch" if fn in KERNELS or sb > 0 else "NULL"
        body.append(f"    mcc_profile_mark();\n"
                    f"    st = (int32_t){fn}(&{c}_p, {c}_x, {c}_w, {bias}, s_out, {scratch});\n"
                    f"    mcc_profile_mark();\n"
                    f"    emit(f, st, {n_out});")
    src = "\n".join([
        "#include <stdint.h>", "#include <stdio.h>", "#include <string.h>", '#include "mcc_nn.h"',
        "void mcc_profile_mark(void) __attribute__((noinline, noclone, used));",
        'void mcc_profile_mark(void) { __asm__ volatile("nop" ::: "memory"); }',
        f"static int8_t s_scratch[{max_scratch}] __attribute__((aligned(16)));",
        f"static int8_t s_out[{max_out}] __attribute__((aligned(16)));",
        "static void emit(FILE *f, int32_t st, size_t n)",
        "{ fwrite(&st, sizeof st, 1, f); fwrite(s_out, 1, n, f); memset(s_out, 0x5A, n); }",
        *decls,
        "int main(void)", "{", "    int32_t st;",
        '    FILE *f = fopen("out.bin", "wb");', "    if (f == NULL) { return 2; }",
        "    memset(s_out, 0x5A, sizeof s_out);",
        "    mcc_profile_mark();", "    mcc_profile_mark();",
        *body,
        "    fclose(f);", "    return 0;", "}", ""])
    return src, sizes


def run_qemu(cases, board: str = "mps2-an386", dsp: bool = True, timeout: float = 600) -> list[qk.Result]:
    """Run cases on QEMU (``dsp`` False: built with -U__ARM_FEATURE_DSP, or an M3 board)."""
    bd = get_board(board)
    has_dsp = dsp and bd.core.has_dsp
    src, sizes = harness_source(cases, has_dsp)
    with tempfile.TemporaryDirectory(prefix="mcc-subbyte-qemu-") as tmp:
        tmp = Path(tmp)
        (tmp / "main.c").write_text(src)
        ctx = template_context(bd, {"kernels": [], "stack_bytes": 16 * 1024, "heap_bytes": 16 * 1024})
        (tmp / "linker.ld").write_text(_env().get_template("linker.ld.j2").render(ctx))
        elf = tmp / "firmware.elf"
        cmd = [qk.ARM_GCC, *bd.cflags, *qk.CWARN, "-O2", "-ffunction-sections", "-fdata-sections",
               *(() if dsp else ("-U__ARM_FEATURE_DSP",)), f"-I{ck.INCLUDE}",
               str(FIRMWARE / "cortexm" / "startup.c"), str(tmp / "main.c"),
               *map(str, ck.kernel_sources()), "-nostartfiles", "--specs=nano.specs",
               "--specs=rdimon.specs", "-T", str(tmp / "linker.ld"), "-Wl,--gc-sections", "-o",
               str(elf), "-lm"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"firmware build failed:\n{proc.stderr[-4000:]}")
        marker = symbol_address(elf, MARKER_SYMBOL)
        qcmd = qemu_base_command(bd) + [
            "-kernel", str(elf), "-semihosting-config", "enable=on,target=native,arg=firmware",
            "-plugin", f"{plugin_path()},marker={marker:#x},out={tmp / 'counts.txt'}"]
        proc = subprocess.run(qcmd, cwd=tmp, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"QEMU exited with {proc.returncode}: {proc.stderr[-2000:]}")
        counts = [int(v) for v in re.findall(r"^mark (\d+)$", (tmp / "counts.txt").read_text(), re.M)]
        data = (tmp / "out.bin").read_bytes()
    assert len(counts) == 2 + 2 * len(cases), counts
    mark_cost = counts[1] - counts[0]
    results, pos = [], 0
    for i, ((fn, p, *_), n) in enumerate(zip(cases, sizes)):
        status = int(np.frombuffer(data[pos:pos + 4], np.int32)[0])
        shape = dk.out_shape(inner(p) if fn in KERNELS else p)
        out = np.frombuffer(data[pos + 4:pos + 4 + n], np.int8).reshape(shape).copy()
        pos += 4 + n
        results.append(qk.Result(status, out, counts[3 + 2 * i] - counts[2 + 2 * i] - mark_cost))
    assert pos == len(data)
    return results
