"""Packed sub-byte weight kernels (mcc_conv_packed, mcc_depthwise_conv_packed,
mcc_fully_connected_packed): pack/unpack round trip, and bit-exactness with the numpy reference
kernels over random shapes (odd depths and channel counts, strides, padding, dilation, depth
multipliers) for s4, s2 and mixed widths, on the host (portable and emulated DSP) and on QEMU
(Cortex-M3 portable, Cortex-M4 DSP); scratch sizes of C == Python."""

from __future__ import annotations

import numpy as np
import pytest

import qemu_kernels as qk
import subbyte_kernels as sk
from mcc.lower import scratch as S
from mcc.lower.packing import pack, pack_row, packed_size, row_bytes, unpack, unpack_row
from test_dsp_kernels import conv_case, depthwise_case, fc_case

MODES = ("s4", "s2", "mixed")
GEN = {"mcc_conv_packed": conv_case, "mcc_depthwise_conv_packed": depthwise_case,
       "mcc_fully_connected_packed": fc_case}


def _case(name: str, mode: str, seed: int):
    rng = np.random.default_rng([seed, sum(map(ord, name + mode)), 11])
    q, (x, w, b) = GEN[name](rng)
    return sk.make_packed(name, q, x, w, b, rng, mode)


def _check(got, case, what):
    _, p, x, w, _, b = case
    exp = sk.reference(p, x, w, b)
    bad = np.nonzero(np.asarray(got).ravel() != exp.ravel())[0]
    assert bad.size == 0, f"{what}: {bad.size} of {exp.size} differ, first at {bad[:5]}\n{p}"


# --- packing ---------------------------------------------------------------------------------------


def test_pack_row_layout_low_bits_first():
    assert pack_row(np.array([1, -1, 7]), 4).tolist() == [0xF1, 0x07]
    assert pack_row(np.array([1, -1, 0, 1, 1]), 2).tolist() == [0b01001101, 0b01]
    assert pack_row(np.array([-127, 5]), 8).tolist() == [129, 5]
    with pytest.raises(ValueError):
        pack_row(np.array([8]), 4)
    with pytest.raises(ValueError):
        pack_row(np.array([-2]), 2)


@pytest.mark.parametrize("seed", range(20))
def test_pack_unpack_round_trip(seed):
    rng = np.random.default_rng(seed)
    shape = tuple(int(v) for v in rng.integers(1, 6, int(rng.integers(2, 5))))
    axis = int(rng.integers(0, len(shape)))
    n = shape[axis]
    widths = tuple(int(v) for v in rng.choice([2, 4, 8], n))
    w = np.zeros(shape, np.int8)
    wm = np.moveaxis(w, axis, 0)
    for c, b in enumerate(widths):
        lim = (1 << (b - 1)) - 1
        wm[c] = rng.integers(-lim, lim + 1, wm[c].shape)
    data = pack(w, widths, axis)
    assert data.dtype == np.uint8 and data.size == packed_size(shape, widths, axis)
    assert np.array_equal(unpack(data, shape, widths, axis), w)
    k = w.size // n
    rows = np.moveaxis(w, axis, 0).reshape(n, k)
    at = 0
    for c, b in enumerate(widths):  # rows back to back, each on its own bytes
        assert np.array_equal(unpack_row(data[at:at + row_bytes(k, b)], k, b), rows[c])
        at += row_bytes(k, b)


# --- host ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("dsp", [False, True], ids=["portable", "emulated-dsp"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(GEN))
def test_packed_kernel_matches_reference(name, mode, dsp):
    for seed in range(25):
        case = _case(name, mode, seed)
        got = sk.run_host(name, case[1], case[2], case[4], case[5], dsp=dsp)
        _check(got, case, f"{name} {mode} seed {seed}")


def test_large_layers_use_several_weight_blocks():
    """Filters bigger than MCC_PACKED_WBLOCK unpack in several blocks of rows (DSP path)."""
    from mcc.lower import params as P
    from test_dsp_kernels import _mults
    rng = np.random.default_rng(5)
    m, s = _mults(rng, 37)
    q = P.ConvParams(input_n=1, input_h=6, input_w=5, input_c=67, filter_h=3, filter_w=3, output_h=6,
                     output_w=5, output_c=37, stride_h=1, stride_w=1, dilation_h=1, dilation_w=1,
                     pad_h=1, pad_w=1, input_offset=3, output_offset=-2, act_min=-128, act_max=127,
                     multiplier=m, shift=s)
    x = rng.integers(-128, 128, (1, 6, 5, 67)).astype(np.int8)
    w = np.zeros((37, 3, 3, 67), np.int8)
    b = rng.integers(-5000, 5000, 37).astype(np.int32)
    case = sk.make_packed("mcc_conv_packed", q, x, w, b, rng, "mixed")
    kp = (3 * 3 * 67 + 3) // 4 * 4
    assert S.packed_block_rows(kp, 37) < 37
    for dsp in (False, True):
        _check(sk.run_host("mcc_conv_packed", case[1], x, case[4], b, dsp=dsp), case, f"dsp={dsp}")


@pytest.mark.parametrize("name", sorted(GEN))
def test_buffer_size_matches_python(name):
    fn = S.SCRATCH[name]
    for seed in range(30):
        case = _case(name, "mixed", seed)
        for dsp in (False, True):
            assert sk.buffer_size(name, case[1], dsp) == fn(case[1], dsp), (seed, dsp)


@pytest.mark.parametrize("name", sorted(GEN))
def test_bad_arguments_are_rejected(name):
    _, p, x, _, packed, b = _case(name, "s4", 1)
    with pytest.raises(sk.ck.CKernelError):  # no scratch
        sk.run_host(name, p, x, packed, b, scratch_bytes=0)
    with pytest.raises(sk.ck.CKernelError):  # a width that is not 8, 4 or 2
        bad = p.weight_bits.copy()
        bad[0] = 3
        sk.run_host(name, type(p)(sk.inner(p), bad), x, packed, b)
    if name != "mcc_depthwise_conv_packed" or sk.inner(p).depth_multiplier == 1:
        with pytest.raises(sk.ck.CKernelError):  # the DSP paths need 4-byte aligned scratch
            sk.run_host(name, p, x, packed, b, dsp=True, misalign=2,
                        scratch_bytes=sk.buffer_size(name, p, True) + 2)


# --- QEMU ----------------------------------------------------------------------------------------

qemu = pytest.mark.skipif(not qk.available(), reason="arm-none-eabi-gcc / qemu-system-arm missing")


@qemu
@pytest.mark.slow
@pytest.mark.parametrize("board,dsp", [("mps2-an385", False), ("mps2-an386", True)],
                         ids=["m3-portable", "m4-dsp"])
def test_packed_kernels_on_qemu(board, dsp):
    cases = [_case(name, mode, seed) for name in sorted(GEN) for mode in MODES for seed in range(4)]
    results = sk.run_qemu(cases, board, dsp)
    for case, r in zip(cases, results):
        assert r.status == 0, case[0]
        _check(r.output, case, f"{board} {case[0]}")
