"""Support sources of the DSP kernels (mcc/codegen/support.py): the int8 x int16 GEMM and its column
buffer fillers are compiled once per image (firmware/src/mcc_dsp_gemm_pair.c, mcc_cols_copy.c,
mcc_cols_zero.c) instead of a static copy in every kernel that calls them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

import mcc.api as api
from mcc.codegen.support import SUPPORT, support_sources, with_support
from mcc.options import CompileOptions
from mcc.paths import FIRMWARE
from mcc.targets_cm import get_board

from conftest import OPS_DIR

HAVE_ARM_GCC = all(shutil.which(t) for t in ("arm-none-eabi-gcc", "arm-none-eabi-nm", "make"))
needs_arm_gcc = pytest.mark.skipif(not HAVE_ARM_GCC, reason="arm-none-eabi-gcc is not installed")
CWARN = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"]
SUPPORT_FILES = sorted({s for deps in SUPPORT.values() for s in deps})


def test_support_table():
    assert support_sources(["mcc_conv_s8", "mcc_add_s8"], has_dsp=True) == [
        "mcc_conv_im2col", "mcc_dsp_gemm_pair", "mcc_rq_table"]
    assert support_sources(["mcc_fully_connected_s8"], has_dsp=True) == ["mcc_cols_copy", "mcc_dsp_gemm_pair",
                                                                         "mcc_rq_table"]
    assert support_sources(["mcc_conv_s8"], has_dsp=False) == []
    assert support_sources(["mcc_add_s8", "mcc_softmax_s8"], has_dsp=True) == []
    assert with_support(["mcc_conv_1x1_s8", "mcc_add_s8"], True) == [
        "mcc_add_s8", "mcc_cols_copy", "mcc_conv_1x1_s8", "mcc_dsp_gemm_pair", "mcc_rq_table"]
    for deps in SUPPORT.values():
        for s in deps:
            assert (FIRMWARE / "src" / f"{s}.c").is_file()


def _nm(obj: Path) -> list[tuple[str, str]]:
    out = subprocess.run(["arm-none-eabi-nm", str(obj)], capture_output=True, text=True, check=True).stdout
    return [(p[-2], p[-1]) for p in (ln.split() for ln in out.splitlines()) if len(p) >= 2]


def _compile_m4(src: Path, obj: Path) -> None:
    cmd = ["arm-none-eabi-gcc", *get_board("mps2-an386").cflags, *CWARN, "-O2", f"-I{FIRMWARE / 'include'}",
           "-c", str(src), "-o", str(obj)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]


@needs_arm_gcc
@pytest.mark.slow
def test_table_lists_what_each_dsp_kernel_calls(tmp_path):
    """Every kernel's DSP object (Cortex-M4) calls exactly the support functions the table lists for it,
    and each support object defines its one public function and needs no other support source."""
    for src in sorted((FIRMWARE / "src").glob("*.c")):
        obj = tmp_path / f"{src.stem}.o"
        _compile_m4(src, obj)
        syms = _nm(obj)
        undefined = {n for t, n in syms if t == "U" and n in SUPPORT_FILES}
        if src.stem in SUPPORT_FILES:
            assert undefined == set(), src.stem
            assert [n for t, n in syms if t == "T"] == [src.stem]
        else:
            assert undefined == set(SUPPORT.get(src.stem, ())), src.stem
            # no private copy of the shared GEMM left in a kernel
            assert not [n for _, n in syms if "gemm_rows_general" in n or "gemm_pairs_fast" in n], src.stem


def test_host_build_has_no_support_sources(tmp_path):
    r = api.compile(OPS_DIR / "add_residual.tflite", tmp_path / "out")
    assert not [f for f in r.files if any(f.endswith(f"/{s}.c") for s in SUPPORT_FILES)]


@needs_arm_gcc
@pytest.mark.slow
@pytest.mark.parametrize("dsp", [True, False])
def test_m4_image_links_one_gemm(tmp_path, dsp):
    """A Cortex-M4 build of a model with CONV_2D copies and compiles the support sources (DSP only);
    the linked image holds one GEMM, shared by the kernels."""
    out = tmp_path / "out"
    r = api.compile(OPS_DIR / "add_residual.tflite", out, CompileOptions(target="cortex-m4", dsp=dsp))
    sources = sorted(Path(f).stem for f in r.files if f.startswith("mcc_nn/src/"))
    kernels = [k for k in sources if k not in SUPPORT_FILES]
    copied = [k for k in sources if k in SUPPORT_FILES]
    assert any(k in SUPPORT for k in kernels), kernels
    assert copied == support_sources(kernels, dsp) and (copied != []) == dsp
    makefile = (out / "Makefile").read_text()
    for s in copied:
        assert f"mcc_nn/src/{s}.c" in makefile
        assert (out / "mcc_nn/src" / f"{s}.c").read_bytes() == (FIRMWARE / "src" / f"{s}.c").read_bytes()
    proc = subprocess.run(["make", "all"], cwd=out, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "warning" not in (proc.stdout + proc.stderr).lower()
    names = [n for _, n in _nm(out / "build/firmware.elf")]
    assert names.count("mcc_dsp_gemm_pair") == (1 if dsp else 0)
    assert len([n for n in names if "gemm_rows_general" in n]) <= 1
