"""Firmware code size (mcc.codegen.fwsize): the build flags that leave out kernel paths no layer of an
image takes, and the kernels compiled -Os.

Host (always):
  * every flag together, on the emulated DSP kernels: the layers the Python predicates accept
    (rows_only / gemm_fast / dw3_fast_channels / depth_multiplier 1) are bit-exact with the numpy
    reference, the others are rejected with MCC_ERR_ARG (never a wrong result) -- over random shapes
    and multipliers inside and outside the fast requantization range, so the predicates are checked
    against the C they mirror;
  * MCC_NO_PORTABLE_FALLBACK: a NULL scratch is MCC_ERR_ARG;
  * the flags chosen for the MLPerf models, and none but MCC_NO_DSP for portable builds.
Cortex-M (arm-none-eabi-gcc): the firmware overhead (flash - weights - mcc_model.o, from the linker
map: kernels + startup/harness/semihosting + C library) of the three MLPerf models with the DSP
kernels on a Cortex-M4 is under 8 KiB.
"""

from __future__ import annotations

import shutil

import pytest

import ckernels as ck
import dspkernels as dk
import numpy as np

from conftest import MLPERF
from mcc import api
from mcc.codegen import fwsize
from mcc.lower import params as P
from mcc.options import CompileOptions
from mcc.sim import qemu
from test_dsp_kernels import CASES, _check, _rng

ALL_FLAGS = ("MCC_CONV_1X1_SHARED", "MCC_CONV_ROWS_ONLY", "MCC_DEPTHWISE_DM1_ONLY", "MCC_DW3_FAST_ONLY",
             "MCC_GEMM_FAST_ONLY", "MCC_NO_PORTABLE_FALLBACK")


def _supported(name: str, p, args, right_only: bool = False) -> bool:
    """Whether a kernel built with ALL_FLAGS (and MCC_RQ_RIGHT_ONLY when ``right_only``) runs layer
    p (else it must return MCC_ERR_ARG)."""
    if right_only and name != "mcc_depthwise_conv_s8" and np.any(np.asarray(p.shift) >= 0):
        return False  # no left form: the fast-only kernels refuse such a channel
    if name == "mcc_conv_s8":
        return fwsize._rows_only(p) and fwsize._gemm_fast(p, name)
    if name == "mcc_conv_1x1_s8":  # through mcc_conv_s8 (MCC_CONV_1X1_SHARED)
        return p.input_c % 4 == 0 and fwsize._gemm_fast(p, "mcc_conv_s8")
    if name == "mcc_fully_connected_s8":
        return fwsize._gemm_fast(p, name)
    if name == "mcc_depthwise_conv_3x3_s8":
        return fwsize.dw3_fast_channels(p, args[2], args[1])
    assert name == "mcc_depthwise_conv_s8"
    return p.depth_multiplier == 1


@pytest.mark.parametrize("right_only", [False, True], ids=["left+right", "right_only"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_size_specialised_kernels_are_exact_or_refuse(name, right_only):
    flags = ALL_FLAGS + (("MCC_RQ_RIGHT_ONLY",) if right_only else ())
    ran = refused = 0
    for seed in range(80):
        p, args = CASES[name](_rng(name, 9000 + seed))
        if _supported(name, p, args, right_only):
            _check(dk.run(name, p, *args, defines=flags), p, args, f"{name} seed {seed}")
            ran += 1
        else:
            with pytest.raises(ck.CKernelError) as e:
                dk.run(name, p, *args, defines=flags)
            assert e.value.status == 1
            refused += 1
    assert ran >= 10 and refused >= 3, (ran, refused)


@pytest.mark.parametrize("name", ["mcc_conv_s8", "mcc_conv_1x1_s8", "mcc_depthwise_conv_3x3_s8",
                                  "mcc_fully_connected_s8"])
def test_no_portable_fallback_needs_scratch(name):
    flags = ("MCC_NO_PORTABLE_FALLBACK",)
    for seed in range(10):
        p, args = CASES[name](_rng(name, 9500 + seed))
        _check(dk.run(name, p, *args, defines=flags), p, args, f"{name} seed {seed}")
        with pytest.raises(ck.CKernelError) as e:
            dk.run(name, p, *args, defines=flags, scratch_bytes=0)
        assert e.value.status == 1


@pytest.fixture(scope="module")
def graphs():
    return {name: api.load_model(path) for name, path in MLPERF.items()}


def test_flags_of_the_mlperf_models(graphs):
    got = {name: fwsize.firmware_defines(g, api.lower_graph(g), True) for name, g in graphs.items()}
    assert got == {
        "dscnn": ["MCC_CONV_1X1_SHARED", "MCC_CONV_ROWS_ONLY", "MCC_DW3_FAST_ONLY", "MCC_GEMM_FAST_ONLY",
                  "MCC_NO_PORTABLE_FALLBACK", "MCC_RQ_RIGHT_ONLY"],
        # the first convolution (3x3x3 filters: rows of 9 bytes) needs the general im2col
        "resnet8": ["MCC_CONV_1X1_SHARED", "MCC_GEMM_FAST_ONLY", "MCC_NO_PORTABLE_FALLBACK",
                    "MCC_RQ_RIGHT_ONLY"],
        # 3x1 / 5x1 / ... depthwise filters: the generic depthwise kernel, depth_multiplier 1
        "sww": ["MCC_DEPTHWISE_DM1_ONLY", "MCC_GEMM_FAST_ONLY", "MCC_NO_PORTABLE_FALLBACK",
                "MCC_RQ_RIGHT_ONLY"],
    }, got
    for g in graphs.values():
        assert fwsize.firmware_defines(g, api.lower_graph(g), False) == ["MCC_NO_DSP"]


def test_left_shift_layers_keep_the_left_form(graphs):
    """A layer requantizing with a left shift (e.g. 2-bit weights) keeps mcc_rq_fast_left in the
    image: no MCC_RQ_RIGHT_ONLY."""
    import dataclasses
    g = graphs["dscnn"]
    records = api.lower_graph(g)
    i = next(k for k, r in enumerate(records) if r is not None and getattr(r, "shift", None) is not None)
    shift = np.array(records[i].shift, np.int32).copy()
    shift.flat[0] = 0
    records[i] = dataclasses.replace(records[i], shift=shift)
    assert "MCC_RQ_RIGHT_ONLY" not in fwsize.firmware_defines(g, records, True)


def test_predicates_on_edge_values():
    base = dict(input_n=1, input_h=5, input_w=5, input_c=4, filter_h=3, filter_w=3, output_h=5,
                output_w=5, output_c=4, depth_multiplier=1, stride_h=1, stride_w=1, dilation_h=1,
                dilation_w=1, pad_h=1, pad_w=1, input_offset=0, output_offset=0, act_min=-128,
                act_max=127)
    m = [(1 << 30) + 1] * 4

    def dw(shift, bias=None, mult=m, wmax=127, **kw):
        p = P.DepthwiseConvParams(**{**base, **kw}, multiplier=np.array(mult, np.int32),
                                  shift=np.array([shift] * 4, np.int32))
        w = np.zeros((1, 3, 3, p.input_c), np.int8)
        w[0, 1, 1] = wmax
        return fwsize.dw3_fast_channels(p, None if bias is None else np.array([bias] * 4, np.int32), w)

    assert dw(-1) and dw(-24) and not dw(-25)
    # left shifts: weights scaled by 2^(shift + 1) must fit int16, the accumulator int32
    assert dw(0) and dw(7) and not dw(8) and dw(13, wmax=1) and not dw(14, wmax=1)
    assert dw(14, wmax=0) and not dw(15, wmax=0)
    assert not dw(0, mult=[(1 << 30) - 1] * 4)
    assert dw(0, bias=(1 << 30) - 1 - 255 * 127) and not dw(0, bias=(1 << 30) - 255 * 127)
    assert not dw(-5, mult=[1 << 30] * 4)
    assert dw(-5, bias=1 << 29) and not dw(-5, bias=(1 << 29) + 1)
    assert not dw(-5, input_c=5, output_c=5)
    # |2^(r-1) + output_offset * 2^r| < 2^30
    assert dw(-24, output_offset=63) and not dw(-24, output_offset=64)


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("arm-none-eabi-gcc"), reason="no arm-none-eabi-gcc")
@pytest.mark.parametrize("model", sorted(MLPERF))
def test_dsp_firmware_overhead_under_8k_on_m4(graphs, model, tmp_path):
    """The firmware beyond the model -- kernels (DSP paths), startup, harness, semihosting and the C
    library's memcpy / memset: flash minus mcc_weights.o minus mcc_model.o, from the linker map --
    is under 8 KiB on a Cortex-M4 (mps2-an386) for each MLPerf model."""
    r = api.compile_graph(graphs[model], tmp_path / "out", CompileOptions(target="mps2-an386", force=True))
    qemu.build_firmware(r.outdir)
    size = qemu.firmware_size(r.outdir)
    flash = size["flash_by_component"]
    assert size["overhead"] == size["flash"] - flash["weights"] - flash["model"]
    assert set(size["overhead_by_component"]) <= {"kernels", "harness", "runtime", "padding"}
    assert size["overhead_by_component"]["harness"] > 1000  # startup + harness + semihosting are counted
    makefile = (r.outdir / "Makefile").read_text()
    assert "-DMCC_NO_PORTABLE_FALLBACK" in makefile and "SIZE_SRCS =" in makefile
    assert size["overhead"] < 8 * 1024, size
