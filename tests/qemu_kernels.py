"""Test helper: run kernel calls on a QEMU Cortex-M machine with the real instructions, and count
the instructions each call executes.

``run_cases(cases, board="mps2-an386")`` writes a bare-metal harness (firmware/cortexm/startup.c,
the board's linker script from templates/linker.ld.j2, a generated main.c holding every case's
parameters and data as constants), builds it with arm-none-eabi-gcc -O2 for the board's core
together with every firmware/src/*.c, runs it under QEMU with the instruction-counting plugin of
mcc/sim/qemu.py (firmware/qemu_plugin/insn_count.c), and returns per case the kernel's status,
output and instruction count.

Each case: (C function, params record, inputs x, w, b). The harness brackets every kernel call with
``mcc_profile_mark()``; a call's count is the difference of the two marks less the cost of one
mark (measured by two back-to-back marks at start-up), so it includes the few instructions that
set up the call's arguments. Outputs (status word, then the output bytes) go to a host file through
semihosting, outside the counted regions.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import ckernels as ck
import dspkernels as dk
from mcc.codegen.cortexm import qemu_base_command, template_context
from mcc.codegen.emit import _env
from mcc.paths import FIRMWARE
from mcc.sim.qemu import MARKER_SYMBOL, plugin_path, symbol_address
from mcc.targets_cm import get_board

ARM_GCC = "arm-none-eabi-gcc"
CWARN = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"]


def available() -> bool:
    return all(shutil.which(t) for t in (ARM_GCC, "qemu-system-arm", "arm-none-eabi-nm", "cc"))


@dataclass
class Result:
    status: int
    output: np.ndarray
    instructions: int


def _c_array(name: str, a: np.ndarray, ctype: str) -> str:
    a = np.ascontiguousarray(a).ravel()
    body = ", ".join(str(int(v)) for v in a) or "0"
    return (f"static const {ctype} {name}[{max(a.size, 1)}] __attribute__((aligned(4))) = "
            f"{{{body}}};")


def _c_params(p, prefix: str, decls: list[str]) -> str:
    import dataclasses
    parts = []
    for f in dataclasses.fields(p):
        v = getattr(p, f.name)
        if isinstance(v, np.ndarray):
            decls.append(_c_array(f"{prefix}_{f.name}", np.asarray(v, dtype=np.int64), "int32_t"))
            parts.append(f".{f.name} = {prefix}_{f.name}")
        else:
            parts.append(f".{f.name} = {int(v)}")
    return "{" + ", ".join(parts) + "}"


STRUCT = {"ConvParams": "mcc_conv_params", "DepthwiseConvParams": "mcc_depthwise_conv_params",
          "FullyConnectedParams": "mcc_fully_connected_params"}


def harness_source(cases) -> tuple[str, list[int]]:
    decls: list[str] = []
    body: list[str] = []
    sizes = []
    max_scratch, max_out = 16, 16
    for i, (fn, p, x, w, b) in enumerate(cases):
        c = f"c{i}"
        decls.append(f"static const {STRUCT[type(p).__name__]} {c}_p = {_c_params(p, c, decls)};")
        decls.append(_c_array(f"{c}_x", np.asarray(x, np.int8), "int8_t"))
        decls.append(_c_array(f"{c}_w", np.asarray(w, np.int8), "int8_t"))
        if b is not None:
            decls.append(_c_array(f"{c}_b", np.asarray(b, np.int32), "int32_t"))
        n_out = int(np.prod(dk.out_shape(p)))
        sizes.append(n_out)
        max_out = max(max_out, n_out)
        if fn in dk.CONV_LIKE:  # the sparse kernels take no scratch
            max_scratch = max(max_scratch, dk.buffer_size(fn, p, dsp=True))
        bias = f"{c}_b" if b is not None else "NULL"
        body.append(f"    mcc_profile_mark();\n"
                    f"    st = (int32_t){fn}(&{c}_p, {c}_x, {c}_w, {bias}, s_out, s_scratch);\n"
                    f"    mcc_profile_mark();\n"
                    f"    emit(f, st, {n_out});")
    protos = sorted({f"mcc_status {fn}(const {STRUCT[type(p).__name__]} *p, const int8_t *input, "
                     f"const int8_t *filter, const int32_t *bias, int8_t *output, int8_t *scratch);"
                     for fn, p, *_ in cases})
    src = "\n".join([
        "#include <stdint.h>", "#include <stdio.h>", "#include <string.h>", '#include "mcc_nn.h"',
        *protos,
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


def build(cases, board: str, workdir: Path, extra_cflags=()) -> tuple[Path, list[int]]:
    b = get_board(board)
    src, sizes = harness_source(cases)
    (workdir / "main.c").write_text(src)
    ctx = template_context(b, {"kernels": [], "stack_bytes": 16 * 1024, "heap_bytes": 16 * 1024})
    (workdir / "linker.ld").write_text(_env().get_template("linker.ld.j2").render(ctx))
    elf = workdir / "firmware.elf"
    cmd = [ARM_GCC, *b.cflags, *CWARN, "-O2", "-ffunction-sections", "-fdata-sections",
           *extra_cflags, f"-I{ck.INCLUDE}", str(FIRMWARE / "cortexm" / "startup.c"),
           str(workdir / "main.c"), *map(str, ck.kernel_sources()), "-nostartfiles",
           "--specs=nano.specs", "--specs=rdimon.specs", "-T", str(workdir / "linker.ld"),
           "-Wl,--gc-sections", "-o", str(elf), "-lm"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"firmware build failed:\n{proc.stderr[-4000:]}")
    return elf, sizes


def run_cases(cases, board: str = "mps2-an386", extra_cflags=(), timeout: float = 600) -> list[Result]:
    """cases: [(function, params, x, w, b)] -> [Result] (see the module docstring)."""
    b = get_board(board)
    with tempfile.TemporaryDirectory(prefix="mcc-dsp-qemu-") as tmp:
        tmp = Path(tmp)
        elf, sizes = build(cases, board, tmp, extra_cflags)
        marker = symbol_address(elf, MARKER_SYMBOL)
        cmd = qemu_base_command(b) + [
            "-kernel", str(elf), "-semihosting-config", "enable=on,target=native,arg=firmware",
            "-plugin", f"{plugin_path()},marker={marker:#x},out={tmp / 'counts.txt'}"]
        proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"QEMU exited with {proc.returncode}: {proc.stderr[-2000:]}")
        counts = [int(v) for v in re.findall(r"^mark (\d+)$", (tmp / "counts.txt").read_text(), re.M)]
        data = (tmp / "out.bin").read_bytes()
    assert len(counts) == 2 + 2 * len(cases), counts
    mark_cost = counts[1] - counts[0]
    return [Result(status, out, counts[3 + 2 * i] - counts[2 + 2 * i] - mark_cost)
            for i, (status, out) in enumerate(parse_outputs(data, cases, sizes))]


def parse_outputs(data: bytes, cases, sizes) -> list[tuple[int, np.ndarray]]:
    """The harness's out.bin: per case a status word, then the output bytes."""
    results, pos = [], 0
    for (fn, p, *_), n in zip(cases, sizes):
        status = int(np.frombuffer(data[pos:pos + 4], np.int32)[0])
        out = np.frombuffer(data[pos + 4:pos + 4 + n], np.int8).reshape(dk.out_shape(p)).copy()
        pos += 4 + n
        results.append((status, out))
    assert pos == len(data), (pos, len(data))
    return results


def run_c_main(source: str, board: str = "mps2-an386", timeout: float = 300,
               sources: tuple = ()) -> np.ndarray:
    """Build a C program (its main() writes out.bin through semihosting), with the firmware
    ``sources`` it calls, for `board`, run it on QEMU, and return out.bin as int32 words."""
    b = get_board(board)
    with tempfile.TemporaryDirectory(prefix="mcc-dsp-qemu-") as tmp:
        tmp = Path(tmp)
        (tmp / "main.c").write_text(source)
        ctx = template_context(b, {"kernels": [], "stack_bytes": 16 * 1024, "heap_bytes": 16 * 1024})
        (tmp / "linker.ld").write_text(_env().get_template("linker.ld.j2").render(ctx))
        elf = tmp / "firmware.elf"
        cmd = [ARM_GCC, *b.cflags, *CWARN, "-O2", f"-I{ck.INCLUDE}",
               str(FIRMWARE / "cortexm" / "startup.c"), str(tmp / "main.c"), *map(str, sources),
               "-nostartfiles",
               "--specs=nano.specs", "--specs=rdimon.specs", "-T", str(tmp / "linker.ld"), "-o",
               str(elf), "-lm"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"build failed:\n{proc.stderr[-4000:]}")
        proc = subprocess.run(qemu_base_command(b) + ["-kernel", str(elf), "-semihosting-config",
                                                      "enable=on,target=native,arg=firmware"],
                              cwd=tmp, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"QEMU exited with {proc.returncode}: {proc.stderr[-2000:]}")
        return np.frombuffer((tmp / "out.bin").read_bytes(), np.int32).copy()


def shim_main(shim: str, a, b, c, acc, m, s, off) -> str:
    """main() for the primitives / requantization shim of test_dsp_kernels: writes the primitive
    results, then exact, fast and ok of the requantization, as int32 words."""
    def arr(name, v):
        v = np.asarray(v, np.int64).ravel()
        return f"static const int32_t {name}[{v.size}] = {{{', '.join(str(int(e)) for e in v)}}};"

    n, k = len(a), len(acc)
    return "\n".join([
        "#include <stdio.h>", shim, arr("A", a), arr("B", b), arr("C", c), arr("ACC", acc),
        arr("M", m), arr("S", s), arr("OFF", off),
        f"static int32_t r[{n * 24}];", f"static int32_t e[{k}], f[{k}], o[{k}];",
        "int main(void)", "{",
        '    FILE *fp = fopen("out.bin", "wb");', "    if (fp == NULL) { return 2; }",
        f"    shim_primitives(A, B, C, {n}, r);",
        f"    shim_requant(ACC, M, S, OFF, {k}, e, f, o);",
        "    fwrite(r, sizeof r, 1, fp); fwrite(e, sizeof e, 1, fp); fwrite(f, sizeof f, 1, fp);",
        "    fwrite(o, sizeof o, 1, fp);", "    fclose(fp);", "    return 0;", "}", ""])


def macs(fn: str, p) -> int:
    """Multiply-accumulates of a call (valid taps only, as the reference counts them)."""
    from mcc.lower import params as P
    if isinstance(p, P.FullyConnectedParams):
        return p.batches * p.output_size * p.accum_depth
    taps = _valid_taps(p)
    if isinstance(p, P.ConvParams):
        return taps * p.input_c * p.output_c
    return taps * p.output_c


def _valid_taps(p) -> int:
    """Sum over output pixels of the number of filter taps inside the input."""
    def axis(out, stride, pad, filt, dil, size):
        total = 0
        for o in range(out):
            start = o * stride - pad
            total += sum(1 for k in range(filt) if 0 <= start + k * dil < size)
        return total
    return p.input_n * axis(p.output_h, p.stride_h, p.pad_h, p.filter_h, p.dilation_h, p.input_h) * \
        axis(p.output_w, p.stride_w, p.pad_w, p.filter_w, p.dilation_w, p.input_w)


# --- the MLPerf Tiny models' weighted layers, for instruction counts ----------------------------

MODELS = {
    "resnet8": ck.ROOT / "examples/mlperf_tiny/ic/resnet8_int8.tflite",
    "dscnn": ck.ROOT / "examples/mlperf_tiny/kws/dscnn_int8.tflite",
}


def nominal_macs(p) -> int:
    """MACs of a layer as usually counted (every filter tap, padding included)."""
    from mcc.lower import params as P
    if isinstance(p, P.FullyConnectedParams):
        return p.batches * p.output_size * p.accum_depth
    taps = p.input_n * p.output_h * p.output_w * p.filter_h * p.filter_w
    if isinstance(p, P.ConvParams):
        return taps * p.input_c * p.output_c
    return taps * p.output_c


def model_cases(path, has_dsp: bool = True, seed: int = 0):
    """[(function, params, x, w, b)] for the CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED layers of
    a .tflite model: its own weights and quantization, random int8 inputs, and the kernel
    mcc.codegen.select picks."""
    from mcc.codegen.select import select_kernel
    from mcc.frontend.tflite import load_tflite
    from mcc.lower.lowering import lower_op
    g = load_tflite(path)
    rng = np.random.default_rng(seed)
    cases = []
    for op in g.ops:
        if op.kind not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            continue
        rec = lower_op(g, op)
        fn, _ = select_kernel(op.kind, rec, has_dsp)
        x = rng.integers(-128, 128, g.tensors[op.inputs[0]].shape).astype(np.int8)
        w = np.asarray(g.tensors[op.inputs[1]].data)
        b = None
        if len(op.inputs) > 2 and op.inputs[2] is not None:
            b = np.asarray(g.tensors[op.inputs[2]].data).astype(np.int32)
        cases.append((fn, rec, x, w, b))
    return cases


def report(board: str = "mps2-an386") -> dict:
    """Instructions per MAC of the models' weighted layers, DSP kernels vs the portable ones on the
    same core (built with -U__ARM_FEATURE_DSP); checks every output against the reference."""
    from mcc.lower import params as P
    from mcc.reference import kernels as ref
    refs = {P.ConvParams: ref.conv_s8, P.DepthwiseConvParams: ref.depthwise_conv_s8,
            P.FullyConnectedParams: ref.fully_connected_s8}
    summary = {}
    for name, path in MODELS.items():
        for dsp in (True, False):
            cases = model_cases(path, dsp)
            res = run_cases(cases, board, () if dsp else ("-U__ARM_FEATURE_DSP",))
            total_i = total_m = 0
            rows = []
            for (fn, p, x, w, b), r in zip(cases, res):
                exp = refs[type(p)](p, x, w, b)
                assert r.status == 0 and np.array_equal(r.output.ravel(), exp.ravel()), (name, fn)
                m = nominal_macs(p)
                total_i += r.instructions
                total_m += m
                rows.append((fn, m, r.instructions))
            summary[(name, dsp)] = (total_i, total_m, rows)
    return summary


if __name__ == "__main__":
    s = report()
    for (name, dsp), (ti, tm, rows) in s.items():
        print(f"{name} ({'DSP' if dsp else 'portable'}): {ti / tm:.3f} instructions / MAC "
              f"({ti} instructions, {tm} MACs)")
        for fn, m, i in rows:
            print(f"    {fn:28s} {m:9d} MACs {i:10d} instr  {i / m:6.3f}")
