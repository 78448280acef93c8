"""The DSP (Cortex-M4/M7/M33) kernel paths: bit-exact with the numpy reference, on the host through
exact C emulations of the SIMD instructions (-DMCC_EMULATE_DSP) and on QEMU with the real ones.

Host (always):
  * every DSP kernel (mcc_conv_s8, mcc_conv_1x1_s8, mcc_depthwise_conv_s8,
    mcc_depthwise_conv_3x3_s8, mcc_fully_connected_s8), emulated and portable, == reference over
    random shapes: odd channel counts, channels not multiples of 2/4, strides 1-3, SAME / VALID /
    arbitrary padding, dilation, depth multipliers 1-3, batches, per-tensor / per-channel FC,
    filter offsets, activation ranges, multipliers inside and outside the fast requantization
    range; with guard bytes after the declared scratch and around the output;
  * *_get_buffer_size (portable and emulated builds) == mcc.lower.scratch, over random shapes;
  * the fast requantization (one SMLAL) == mcc_requantize on edge and random values;
  * the emulated primitives == a Python model of the instructions;
  * misaligned / missing scratch and unsupported shapes are rejected;
  * mcc.codegen.select picks the specialised kernels exactly when they apply;
  * every kernel source compiles warning-free for Cortex-M4/M7/M33 (DSP) and M3/M0+ (portable),
    at several optimisation levels, and on the host with and without the emulation;
  * the emulated kernels run clean under ASan + UBSan.
QEMU (when qemu-system-arm and arm-none-eabi-gcc are installed):
  * random cases on mps2-an386 (Cortex-M4), and fewer on mps2-an500 (M7), mps2-an505 (M33) and
    mps2-an385 (M3, portable path), == reference; the real SIMD instructions == the emulations;
  * instructions per MAC of a ResNet-8-like 3x3 conv and DS-CNN-like 1x1 conv and 3x3 depthwise
    stay under regression bounds (printed with -s).
"""

from __future__ import annotations

import ctypes
import dataclasses
import math
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import ckernels as ck
import dspkernels as dk
import qemu_kernels as qk
from mcc.codegen.select import select_kernel
from mcc.lower import params as P
from mcc.lower import scratch as S
from mcc.lower.lowering import conv_padding
from mcc.reference import kernels as ref
from mcc.reference.fixed_point import quantize_multipliers

STRICT = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"]
SEEDS = range(60)
REF = {P.ConvParams: ref.conv_s8, P.DepthwiseConvParams: ref.depthwise_conv_s8,
       P.FullyConnectedParams: ref.fully_connected_s8}


# --- random cases -------------------------------------------------------------------------------


def _zp(rng) -> int:
    return int(rng.integers(-128, 128))


def _act(rng, zp_out):
    kind = int(rng.integers(0, 4))
    if kind == 0:
        return -128, 127
    if kind == 1:
        return max(-128, zp_out), 127
    lo = int(rng.integers(-128, 100))
    return lo, int(rng.integers(lo, 128))


def _mults(rng, n):
    """Mostly in the fast requantization range; sometimes shifts >= -1, < -24, or m == 2^30."""
    scales = np.exp(rng.uniform(math.log(2.0 ** -12), math.log(0.2), n))
    mode = rng.integers(0, 6)
    if mode == 0:   # some real multipliers >= 0.25 (shift -1 .. 1)
        scales = np.where(rng.random(n) < 0.4, np.exp(rng.uniform(math.log(0.25), math.log(2.5), n)),
                          scales)
    elif mode == 1:  # tiny ones (shift < -24)
        scales = np.where(rng.random(n) < 0.3, 2.0 ** -26 * rng.uniform(1, 2, n), scales)
    elif mode == 2:  # exact powers of two (multiplier 2^30)
        scales = np.where(rng.random(n) < 0.3, 2.0 ** -rng.integers(2, 12, n).astype(float), scales)
    return quantize_multipliers(scales)


def _window(rng, size, filt, dilation, stride=None):
    stride = int(rng.integers(1, 4)) if stride is None else stride
    mode = int(rng.integers(0, 3))
    if mode < 2:
        out, pad = conv_padding("SAME" if mode == 0 else "VALID", size, filt, stride, dilation)
    else:
        eff = (filt - 1) * dilation + 1
        pad = int(rng.integers(0, eff))
        total = size + pad + int(rng.integers(0, eff))
        out = (total - eff) // stride + 1 if total >= eff else 0
    return (stride, out, pad) if out > 0 else None


def _bias(rng, n):
    return None if rng.random() < 0.15 else rng.integers(-(1 << 17), 1 << 17, n).astype(np.int32)


def conv_case(rng, one_by_one: bool = False):
    while True:
        n, h, w = int(rng.integers(1, 3)), int(rng.integers(1, 12)), int(rng.integers(1, 12))
        cin = int(rng.choice([1, 2, 3, 4, 5, 7, 8, 12, 16, 17, 32]))
        cout = int(rng.integers(1, 14))
        if one_by_one:
            fh = fw = dh = dw = 1
            sh, sw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
            wy = (sh, (h - 1) // sh + 1, 0)
            wx = (sw, (w - 1) // sw + 1, 0)
        else:
            fh, fw = int(rng.choice([1, 2, 3, 3, 4, 5])), int(rng.choice([1, 2, 3, 3, 4, 5]))
            dh, dw = int(rng.choice([1, 1, 1, 2])), int(rng.choice([1, 1, 1, 2]))
            wy, wx = _window(rng, h, fh, dh), _window(rng, w, fw, dw)
        if wy and wx:
            break
    zp_out = _zp(rng)
    lo, hi = _act(rng, zp_out)
    m, s = _mults(rng, cout)
    p = P.ConvParams(input_n=n, input_h=h, input_w=w, input_c=cin, filter_h=fh, filter_w=fw,
                     output_h=wy[1], output_w=wx[1], output_c=cout, stride_h=wy[0], stride_w=wx[0],
                     dilation_h=dh, dilation_w=dw, pad_h=wy[2], pad_w=wx[2], input_offset=-_zp(rng),
                     output_offset=zp_out, act_min=lo, act_max=hi, multiplier=m, shift=s)
    x = rng.integers(-128, 128, (n, h, w, cin)).astype(np.int8)
    wt = rng.integers(-127, 128, (cout, fh, fw, cin)).astype(np.int8)
    return p, (x, wt, _bias(rng, cout))


def depthwise_case(rng, three: bool = False):
    while True:
        n, h, w = int(rng.integers(1, 3)), int(rng.integers(1, 13)), int(rng.integers(1, 13))
        cin = int(rng.choice([1, 2, 3, 4, 5, 7, 8, 9, 12, 16, 33]))
        if three:
            dm, fh, fw, dh, dw = 1, 3, 3, 1, 1
        else:
            dm = int(rng.choice([1, 1, 2, 3]))
            fh, fw = int(rng.integers(1, 6)), int(rng.integers(1, 6))
            dh, dw = int(rng.choice([1, 1, 2])), int(rng.choice([1, 1, 2, 3]))
        wy, wx = _window(rng, h, fh, dh), _window(rng, w, fw, dw)
        if wy and wx:
            break
    cout = cin * dm
    zp_out = _zp(rng)
    lo, hi = _act(rng, zp_out)
    m, s = _mults(rng, cout)
    p = P.DepthwiseConvParams(
        input_n=n, input_h=h, input_w=w, input_c=cin, filter_h=fh, filter_w=fw, output_h=wy[1],
        output_w=wx[1], output_c=cout, depth_multiplier=dm, stride_h=wy[0], stride_w=wx[0],
        dilation_h=dh, dilation_w=dw, pad_h=wy[2], pad_w=wx[2], input_offset=-_zp(rng),
        output_offset=zp_out, act_min=lo, act_max=hi, multiplier=m, shift=s)
    x = rng.integers(-128, 128, (n, h, w, cin)).astype(np.int8)
    wt = rng.integers(-127, 128, (1, fh, fw, cout)).astype(np.int8)
    return p, (x, wt, _bias(rng, cout))


def fc_case(rng):
    batches = int(rng.integers(1, 6))
    depth = int(rng.choice([1, 2, 3, 4, 5, 8, 17, 64, 250]))
    out = int(rng.integers(1, 40))
    per_channel = int(rng.random() < 0.5)
    m, s = _mults(rng, out if per_channel else 1)
    zp_out = _zp(rng)
    lo, hi = _act(rng, zp_out)
    p = P.FullyConnectedParams(
        batches=batches, accum_depth=depth, output_size=out, input_offset=-_zp(rng),
        filter_offset=0 if rng.random() < 0.7 else int(rng.integers(-20, 21)), output_offset=zp_out,
        act_min=lo, act_max=hi, per_channel=per_channel, multiplier=m, shift=s)
    x = rng.integers(-128, 128, (batches, depth)).astype(np.int8)
    wt = rng.integers(-127, 128, (out, depth)).astype(np.int8)
    return p, (x, wt, _bias(rng, out))


CASES = {
    "mcc_conv_s8": conv_case,
    "mcc_conv_1x1_s8": lambda rng: conv_case(rng, one_by_one=True),
    "mcc_depthwise_conv_s8": depthwise_case,
    "mcc_depthwise_conv_3x3_s8": lambda rng: depthwise_case(rng, three=True),
    "mcc_fully_connected_s8": fc_case,
}


def _rng(name: str, seed: int):
    return np.random.default_rng([seed, sum(map(ord, name)), 7])


def _check(got, p, args, what):
    exp = REF[type(p)](p, *args)
    got, exp = np.asarray(got).ravel(), np.asarray(exp).ravel()
    bad = np.nonzero(got != exp)[0]
    assert bad.size == 0, f"{what}: {bad.size} of {exp.size} differ, first at {bad[:5]}: " \
                          f"C {got[bad[:5]]} vs reference {exp[bad[:5]]}\n{p}"


# --- host: bit-exactness ---------------------------------------------------------------------------


@pytest.mark.parametrize("dsp", [True, False], ids=["emulated-dsp", "portable"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_kernel_matches_reference(name, dsp):
    for seed in SEEDS:
        p, args = CASES[name](_rng(name, seed))
        _check(dk.run(name, p, *args, dsp=dsp), p, args, f"{name} seed {seed}")


def test_larger_layers_match_reference():
    """Wide channels (the 2 x 2 GEMM's 4-group loop and its remainders), stride 2, SAME."""
    rng = np.random.default_rng(11)
    for cin, cout, f, stride in ((24, 48, 3, 2), (64, 64, 1, 1), (36, 17, 3, 1), (64, 10, 5, 1)):
        h = w = 11
        out, pad = conv_padding("SAME", h, f, stride)
        m, s = _mults(rng, cout)
        p = P.ConvParams(input_n=1, input_h=h, input_w=w, input_c=cin, filter_h=f, filter_w=f,
                         output_h=out, output_w=out, output_c=cout, stride_h=stride, stride_w=stride,
                         dilation_h=1, dilation_w=1, pad_h=pad, pad_w=pad, input_offset=128,
                         output_offset=-128, act_min=-128, act_max=127, multiplier=m, shift=s)
        args = (rng.integers(-128, 128, (1, h, w, cin)).astype(np.int8),
                rng.integers(-127, 128, (cout, f, f, cin)).astype(np.int8),
                rng.integers(-9000, 9000, cout).astype(np.int32))
        fns = ["mcc_conv_s8"] + (["mcc_conv_1x1_s8"] if f == 1 else [])
        for fn in fns:
            _check(dk.run(fn, p, *args), p, args, fn)


def large_depthwise_cases():
    """3x3 depthwise inputs whose padded plane exceeds 8 KiB (the kernel then copies three rows
    per output row instead of the plane)."""
    rng = np.random.default_rng(12)
    cases = []
    for h, w, c, stride, pad in ((50, 47, 8, 1, "SAME"), (49, 52, 5, 2, "SAME"), (45, 60, 4, 1, "VALID")):
        out_h, ph = conv_padding(pad, h, 3, stride)
        out_w, pw = conv_padding(pad, w, 3, stride)
        m, s = _mults(rng, c)
        p = P.DepthwiseConvParams(
            input_n=2, input_h=h, input_w=w, input_c=c, filter_h=3, filter_w=3, output_h=out_h,
            output_w=out_w, output_c=c, depth_multiplier=1, stride_h=stride, stride_w=stride,
            dilation_h=1, dilation_w=1, pad_h=ph, pad_w=pw, input_offset=-_zp(rng),
            output_offset=_zp(rng), act_min=-100, act_max=120, multiplier=m, shift=s)
        assert S.depthwise_conv_3x3_s8(p, True) == S.DW3_GROUP_BYTES + 16 + 16 * 3 * ((out_w - 1) * stride + 4)
        cases.append(("mcc_depthwise_conv_3x3_s8", p,
                      rng.integers(-128, 128, (2, h, w, c)).astype(np.int8),
                      rng.integers(-127, 128, (1, 3, 3, c)).astype(np.int8), _bias(rng, c)))
    return cases


def test_large_depthwise_3x3_uses_row_strips():
    for name, p, *args in large_depthwise_cases():
        _check(dk.run(name, p, *args), p, args, f"dw3x3 {p.input_h}x{p.input_w} s{p.stride_w}")


def test_extreme_values():
    """Saturating inputs and weights, accumulators near the int32 range of the requantization."""
    rng = np.random.default_rng(5)
    for name in sorted(CASES):
        for fill in (-128, 127):
            p, (x, w, b) = CASES[name](_rng(name, 1000 + fill))
            x = np.full_like(x, fill)
            w = np.where(rng.random(w.shape) < 0.5, -127, 127).astype(np.int8)
            n = len(p.multiplier)
            p = dataclasses.replace(p, multiplier=np.full(n, (1 << 31) - 1, np.int32),
                                    shift=np.full(n, -1 if fill < 0 else -24, np.int32))
            _check(dk.run(name, p, x, w, b), p, (x, w, b), f"{name} extreme {fill}")


# --- host: scratch sizes, argument checks, selection ---------------------------------------------


@pytest.mark.parametrize("name", sorted(CASES))
def test_buffer_size_matches_python(name):
    fn = S.SCRATCH[name]
    for seed in range(200):
        p, _ = CASES[name](_rng(name, 5000 + seed))
        for dsp in (True, False):
            assert dk.buffer_size(name, p, dsp) == fn(p, dsp) == S.scratch_for(name, p, dsp), \
                (name, dsp, p)
    assert S.scratch_for("mcc_add_s8", None, True) == 0


@pytest.mark.parametrize("name", sorted(CASES))
def test_scratch_must_be_aligned_or_absent(name):
    p, args = CASES[name](_rng(name, 3))
    if name == "mcc_depthwise_conv_s8":
        p, args = depthwise_case(np.random.default_rng(4), three=True)  # depth_multiplier 1
    size = dk.buffer_size(name, p, True)
    assert size > 0
    for misalign in (1, 2, 3):
        with pytest.raises(ck.CKernelError) as e:
            dk.run(name, p, *args, misalign=misalign)
        assert e.value.status == 1
    # NULL scratch: the portable loops, same results
    _check(dk.run(name, p, *args, scratch_bytes=0), p, args, "DSP build without scratch")
    _check(dk.run(name, p, *args, dsp=False, scratch_bytes=0), p, args, "portable without scratch")


def test_specialised_kernels_reject_other_shapes():
    p, args = conv_case(np.random.default_rng(1))
    p = dataclasses.replace(p, filter_h=3, filter_w=3)
    for dsp in (True, False):
        with pytest.raises(ck.CKernelError):
            dk.run("mcc_conv_1x1_s8", p, *args, dsp=dsp, scratch_bytes=4096)
        q, qargs = depthwise_case(np.random.default_rng(2), three=True)
        for bad in (dict(depth_multiplier=2, output_c=2 * q.input_c), dict(dilation_w=2),
                    dict(filter_h=2)):
            with pytest.raises(ck.CKernelError):
                dk.run("mcc_depthwise_conv_3x3_s8", dataclasses.replace(q, **bad), *qargs, dsp=dsp,
                       scratch_bytes=4096)


def test_select_kernel():
    rng = np.random.default_rng(0)
    p, _ = conv_case(rng, one_by_one=True)
    assert select_kernel("CONV_2D", p, True) == ("mcc_conv_1x1_s8", True)
    assert select_kernel("CONV_2D", p, False) == ("mcc_conv_s8", False)
    assert select_kernel("CONV_2D", dataclasses.replace(p, pad_h=1), True)[0] == "mcc_conv_s8"
    assert select_kernel("CONV_2D", dataclasses.replace(p, filter_w=3), True)[0] == "mcc_conv_s8"
    q, _ = depthwise_case(rng, three=True)
    assert select_kernel("DEPTHWISE_CONV_2D", q, True) == ("mcc_depthwise_conv_3x3_s8", True)
    assert select_kernel("DEPTHWISE_CONV_2D", q, False) == ("mcc_depthwise_conv_s8", False)
    for bad in (dict(depth_multiplier=2, output_c=2 * q.input_c), dict(dilation_h=2),
                dict(filter_w=5)):
        assert select_kernel("DEPTHWISE_CONV_2D", dataclasses.replace(q, **bad),
                             True)[0] == "mcc_depthwise_conv_s8"
    f, _ = fc_case(rng)
    assert select_kernel("FULLY_CONNECTED", f, True) == ("mcc_fully_connected_s8", True)
    assert select_kernel("FULLY_CONNECTED", f, False) == ("mcc_fully_connected_s8", False)
    pool = P.PoolParams(1, 4, 4, 3, 2, 2, 2, 2, 2, 2, 0, 0, -128, 127)
    assert select_kernel("MAX_POOL_2D", pool, True) == ("mcc_max_pool_s8", False)
    assert select_kernel("SOFTMAX", P.SoftmaxParams(1, 4, 1, 1, -1, -128), True) == \
        ("mcc_softmax_s8", False)
    with pytest.raises(ValueError):
        select_kernel("CONV_2D", object(), True)
    # every selected kernel builds and agrees with the reference
    for kind, make in (("CONV_2D", conv_case), ("DEPTHWISE_CONV_2D", depthwise_case),
                       ("FULLY_CONNECTED", fc_case)):
        for seed in range(20):
            p, args = make(np.random.default_rng(seed))
            fn, needs = select_kernel(kind, p, True)
            assert needs == (dk.buffer_size(fn, p, True) > 0)
            _check(dk.run(fn, p, *args), p, args, f"{kind} -> {fn}")


# --- host: the requantization formula and the primitives -----------------------------------------

SHIM = r"""
#include <stdint.h>
#include "mcc_dsp.h"

/* out[i] = mcc_requantize(acc[i], m[i], s[i]) + off[i] and the fast formula (0 when not ok) */
void shim_requant(const int32_t *acc, const int32_t *m, const int32_t *s, const int32_t *off,
                  int32_t n, int32_t *exact, int32_t *fast, int32_t *ok)
{
    int32_t i;
    for (i = 0; i < n; ++i) {
        mcc_rq q;
        exact[i] = mcc_requantize(acc[i], m[i], s[i]) + off[i];
        ok[i] = mcc_rq_ok(m[i], s[i]);
        mcc_rq_init(&q, m[i], s[i], off[i]);
        fast[i] = ok[i] ? mcc_rq_apply(&q, acc[i]) : 0;
    }
}

/* every primitive on (a[i], b[i], c[i]): 24 results per input */
void shim_primitives(const int32_t *a, const int32_t *b, const int32_t *c, int32_t n, int32_t *r)
{
    int32_t i;
    for (i = 0; i < n; ++i, r += 24) {
        r[0] = mcc_smlad(a[i], b[i], c[i]);
        r[1] = mcc_smuad(a[i], b[i]);
        r[2] = mcc_smlabb(a[i], b[i], c[i]);
        r[3] = mcc_smlabt(a[i], b[i], c[i]);
        r[4] = mcc_smlatb(a[i], b[i], c[i]);
        r[5] = mcc_smlatt(a[i], b[i], c[i]);
        r[6] = mcc_sxtb16(a[i]);
        r[7] = mcc_sxtb16_ror8(a[i]);
        r[8] = mcc_sxtab16(a[i], b[i]);
        r[9] = mcc_sxtab16_ror8(a[i], b[i]);
        r[10] = mcc_pkhbt(a[i], b[i]);
        r[11] = mcc_pkhtb(a[i], b[i]);
        r[12] = mcc_qadd(a[i], b[i]);
        r[13] = mcc_qsub(a[i], b[i]);
        r[14] = mcc_sadd16(a[i], b[i]);
        r[15] = mcc_qadd16(a[i], b[i]);
        r[16] = mcc_ssat8(a[i] >> (c[i] & 31));
        r[17] = mcc_ssat16(a[i] >> (c[i] & 31));
        r[18] = mcc_max16x2(a[i], b[i]);
        r[19] = mcc_min16x2(a[i], b[i]);
        r[20] = mcc_max8x4(a[i], b[i]);
        r[21] = mcc_min8x4(a[i], b[i]);
        r[22] = mcc_bfi8_16(a[i], b[i]);
        r[23] = mcc_bfi8_8(mcc_bfi8_24(a[i], c[i]), b[i]);
    }
}
"""


@pytest.fixture(scope="module")
def shim(tmp_path_factory):
    src = tmp_path_factory.mktemp("shim") / "mcc_dsp_shim.c"
    src.write_text(SHIM)
    so = ctypes.CDLL(str(ck.build_shared([src], dk.EMULATE_FLAGS, name="libmcc_dsp_shim")))
    return so


def _i32(a):
    return np.ascontiguousarray(np.asarray(a, dtype=np.int64).astype(np.uint32).view(np.int32))


def _ptr(a):
    return a.ctypes.data_as(ctypes.c_void_p)


def requant_inputs(rng, n=200000):
    acc = rng.integers(-(1 << 31), 1 << 31, n, dtype=np.int64)
    small = rng.integers(-(1 << 20), 1 << 20, n)
    acc = np.where(rng.random(n) < 0.6, small, acc)
    m = rng.integers(1 << 30, 1 << 31, n, dtype=np.int64)
    s = rng.integers(-31, 3, n)
    off = rng.integers(-128, 128, n)
    # ties of the rounding divide: acc * m lands exactly on a half of 2^(31 + r)
    k = n // 4
    r = -s[:k]
    r = np.clip(r, 1, 24)
    s[:k] = -r
    m[:k] = 1 << 30
    half = np.left_shift(1, 29 - r)
    odd = (rng.integers(0, 1 << 30, k) % half - half // 2) * 2 + 1
    acc[:k] = odd << r  # acc * 2^30 / 2^31 = odd * 2^(r - 1): exactly half way at the divide
    edges = np.array([0, 1, -1, 2, -2, (1 << 31) - 1, -(1 << 31), (1 << 30), -(1 << 30)])
    acc[k:k + edges.size] = edges
    m[k:k + 4] = [(1 << 31) - 1, (1 << 30) + 1, 1 << 30, (1 << 31) - 1]
    acc = np.clip(acc, -(1 << 31), (1 << 31) - 1)
    return [_i32(v) for v in (acc, m, s, off)]


def test_fast_requantization_is_exact(shim):
    rng = np.random.default_rng(2024)
    acc, m, s, off = requant_inputs(rng)
    n = acc.size
    exact, fast, ok = (np.zeros(n, np.int32) for _ in range(3))
    shim.shim_requant(_ptr(acc), _ptr(m), _ptr(s), _ptr(off), ctypes.c_int32(n), _ptr(exact),
                      _ptr(fast), _ptr(ok))
    assert ok.sum() > n // 2
    bad = np.nonzero((ok == 1) & (exact != fast))[0]
    assert bad.size == 0, (acc[bad[:5]], m[bad[:5]], s[bad[:5]], exact[bad[:5]], fast[bad[:5]])
    # the fast range is what mcc_rq_ok says
    want = ((s <= -1) & (s >= -24) & (m > (1 << 30))) | ((s >= 0) & (s <= 30) & (m >= (1 << 30)))
    assert np.array_equal(ok == 1, want)


def _model_primitives(a, b, c):
    """The instructions' results, computed on Python ints."""
    def s16(v, k):
        v = (v >> (16 * k)) & 0xFFFF
        return v - 0x10000 if v & 0x8000 else v

    def s8(v, k):
        v = (v >> (8 * k)) & 0xFF
        return v - 0x100 if v & 0x80 else v

    def w32(v):
        v &= 0xFFFFFFFF
        return v - (1 << 32) if v & 0x80000000 else v

    def pk(lo, hi):
        return w32((lo & 0xFFFF) | ((hi & 0xFFFF) << 16))

    def sat(v, bits):
        return max(-(1 << (bits - 1)), min((1 << (bits - 1)) - 1, v))

    def bytes4(f):
        return w32(sum((f(s8(a, k), s8(b, k)) & 0xFF) << (8 * k) for k in range(4)))

    def bfi(w, v, pos):
        return w32((w & ~(0xFF << pos)) | ((v & 0xFF) << pos))

    sh = c & 31
    return [
        w32(c + s16(a, 0) * s16(b, 0) + s16(a, 1) * s16(b, 1)),
        w32(s16(a, 0) * s16(b, 0) + s16(a, 1) * s16(b, 1)),
        w32(c + s16(a, 0) * s16(b, 0)), w32(c + s16(a, 0) * s16(b, 1)),
        w32(c + s16(a, 1) * s16(b, 0)), w32(c + s16(a, 1) * s16(b, 1)),
        pk(s8(a, 0), s8(a, 2)), pk(s8(a, 1), s8(a, 3)),
        pk(s16(a, 0) + s8(b, 0), s16(a, 1) + s8(b, 2)), pk(s16(a, 0) + s8(b, 1), s16(a, 1) + s8(b, 3)),
        pk(s16(a, 0), s16(b, 0)), pk(s16(b, 1), s16(a, 1)),
        sat(a + b, 32), sat(a - b, 32),
        pk(s16(a, 0) + s16(b, 0), s16(a, 1) + s16(b, 1)),
        pk(sat(s16(a, 0) + s16(b, 0), 16), sat(s16(a, 1) + s16(b, 1), 16)),
        sat(a >> sh, 8), sat(a >> sh, 16),
        pk(max(s16(a, 0), s16(b, 0)), max(s16(a, 1), s16(b, 1))),
        pk(min(s16(a, 0), s16(b, 0)), min(s16(a, 1), s16(b, 1))),
        bytes4(max), bytes4(min),
        bfi(a, b, 16), bfi(bfi(a, c, 24), b, 8),
    ]


def primitive_inputs(rng, n=4000):
    vals = rng.integers(-(1 << 31), 1 << 31, (3, n), dtype=np.int64)
    special = np.array([0, 1, -1, 0x7FFFFFFF, -0x80000000, 0x7FFF7FFF, -0x7FFF8000, 0x00008000,
                        0x80008000 - (1 << 32), 0x7F7F7F7F, -0x7F7F7F80, 0x12345678])
    for row in range(3):
        vals[row, :special.size] = rng.permutation(special)
    return [_i32(v) for v in vals]


def test_emulated_primitives_match_the_instructions(shim):
    a, b, c = primitive_inputs(np.random.default_rng(99))
    n = a.size
    r = np.zeros((n, 24), np.int32)
    shim.shim_primitives(_ptr(a), _ptr(b), _ptr(c), ctypes.c_int32(n), _ptr(r))
    for i in range(n):
        exp = _model_primitives(int(a[i]), int(b[i]), int(c[i]))
        assert r[i].tolist() == exp, (i, hex(a[i] & 0xFFFFFFFF), hex(b[i] & 0xFFFFFFFF), c[i])


# --- host: strict builds and sanitizers ----------------------------------------------------------

ARM_TARGETS = {
    "cortex-m4": ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"],
    "cortex-m7": ["-mcpu=cortex-m7", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-d16"],
    "cortex-m33": ["-mcpu=cortex-m33", "-mthumb"],
    "cortex-m3": ["-mcpu=cortex-m3", "-mthumb"],
    "cortex-m0plus": ["-mcpu=cortex-m0plus", "-mthumb"],
}


def _compile_all(tmp_path, compiler, flags):
    run = subprocess.run([compiler, *flags, *STRICT, "-c", f"-I{ck.INCLUDE}",
                          *map(str, ck.kernel_sources())], capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0 and run.stderr == "", run.stderr[-3000:]


@pytest.mark.parametrize("core", sorted(ARM_TARGETS))
def test_arm_builds_are_warning_free(tmp_path, core):
    assert shutil.which("arm-none-eabi-gcc") is not None, "setup.sh installs gcc-arm-none-eabi"
    opts = ["-O2"] if core in ("cortex-m3", "cortex-m0plus") else \
        ["-O2", "-O0", "-Os", "-O3", "-Og", "-O2 -fno-omit-frame-pointer"]
    for opt in opts:
        _compile_all(tmp_path, "arm-none-eabi-gcc", ARM_TARGETS[core] + opt.split())
    # the DSP paths are compiled in exactly on the DSP cores
    probe = tmp_path / "probe.c"
    probe.write_text('#include "mcc_dsp.h"\n#ifdef MCC_HAS_DSP\nint has_dsp = 1;\n#else\n'
                     'int has_dsp = 0;\n#endif\n')
    out = subprocess.run(["arm-none-eabi-gcc", *ARM_TARGETS[core], "-E", f"-I{ck.INCLUDE}",
                          str(probe)], capture_output=True, text=True, check=True).stdout
    assert ("has_dsp = 1" in out) == (core not in ("cortex-m3", "cortex-m0plus"))
    out = subprocess.run(["arm-none-eabi-gcc", *ARM_TARGETS[core], "-DMCC_NO_DSP", "-E",
                          f"-I{ck.INCLUDE}", str(probe)], capture_output=True, text=True,
                         check=True).stdout
    assert "has_dsp = 0" in out


@pytest.mark.parametrize("emulate", [False, True])
def test_host_builds_are_warning_free(tmp_path, emulate):
    _compile_all(tmp_path, ck.CC, ["-O2"] + (["-DMCC_EMULATE_DSP"] if emulate else []))


def _host_harness_run(tmp_path, cases, flags, env=None):
    src, sizes = qk.harness_source(cases)
    (tmp_path / "main.c").write_text(src)
    exe = tmp_path / "harness"
    cmd = [ck.CC, *STRICT, *flags, f"-I{ck.INCLUDE}", str(tmp_path / "main.c"),
           *map(str, ck.kernel_sources()), "-o", str(exe), "-lm"]
    build = subprocess.run(cmd, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-3000:]
    run = subprocess.run([str(exe)], cwd=tmp_path, capture_output=True, text=True, env=env,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-4000:]
    assert "runtime error" not in run.stderr and "Sanitizer" not in run.stderr, run.stderr[-4000:]
    return qk.parse_outputs((tmp_path / "out.bin").read_bytes(), cases, sizes)


def test_emulated_kernels_under_sanitizers(tmp_path):
    """Exactly sized constant inputs: any read past a tensor, any UB in the DSP paths fails."""
    cases = []
    for name in sorted(CASES):
        for seed in range(8):
            p, (x, w, b) = CASES[name](_rng(name, 7000 + seed))
            cases.append((name, p, x, w, b))
    flags = ["-O1", "-g", "-fno-omit-frame-pointer", "-DMCC_EMULATE_DSP",
             "-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0", UBSAN_OPTIONS="print_stacktrace=1")
    for (name, p, x, w, b), (status, out) in zip(cases, _host_harness_run(tmp_path, cases, flags, env)):
        assert status == 0, name
        _check(out, p, (x, w, b), f"sanitized {name}")


# --- QEMU: the real instructions ------------------------------------------------------------------

needs_qemu = pytest.mark.skipif(not qk.available(), reason="QEMU or the Arm toolchain is missing")


def _qemu_cases(count_per_kernel, seed0):
    cases = []
    for name in sorted(CASES):
        for seed in range(count_per_kernel):
            p, (x, w, b) = CASES[name](_rng(name, seed0 + seed))
            cases.append((name, p, x, w, b))
    return cases


@needs_qemu
@pytest.mark.slow
@pytest.mark.parametrize("board,count", [("mps2-an386", 30), ("mps2-an500", 8), ("mps2-an505", 8),
                                         ("mps2-an385", 6)])
def test_qemu_kernels_match_reference(board, count):
    """mps2-an386: Cortex-M4, an500: M7, an505: M33 (DSP paths); an385: M3 (portable)."""
    cases = _qemu_cases(count, 9000)
    if board == "mps2-an386":
        cases += large_depthwise_cases()
    for (name, p, x, w, b), r in zip(cases, qk.run_cases(cases, board)):
        assert r.status == 0, (board, name)
        _check(r.output, p, (x, w, b), f"{board} {name}")


@needs_qemu
def test_qemu_primitives_match_emulation(shim, tmp_path):
    """The inline-asm / ACLE primitives on a Cortex-M4 == the host emulations, value for value."""
    a, b, c = primitive_inputs(np.random.default_rng(7), n=600)
    acc, m, s, off = (v[:3000] for v in requant_inputs(np.random.default_rng(8), n=3000))
    got = qk.run_c_main(qk.shim_main(SHIM, a, b, c, acc, m, s, off), "mps2-an386")
    n = a.size
    r = np.zeros((n, 24), np.int32)
    shim.shim_primitives(_ptr(a), _ptr(b), _ptr(c), ctypes.c_int32(n), _ptr(r))
    exact, fast, ok = (np.zeros(acc.size, np.int32) for _ in range(3))
    shim.shim_requant(_ptr(acc), _ptr(m), _ptr(s), _ptr(off), ctypes.c_int32(acc.size), _ptr(exact),
                      _ptr(fast), _ptr(ok))
    want = np.concatenate([r.ravel(), exact, fast, ok])
    assert np.array_equal(got, want)


# instructions per MAC on the Cortex-M4 (mps2-an386) must not regress past these
IPM_BOUNDS = {"resnet8 conv 3x3 16->16 32x32": 1.22, "ds-cnn conv 1x1 64->64 25x5": 1.24,
              "ds-cnn depthwise 3x3 64 25x5": 3.05}


@needs_qemu
def test_qemu_instructions_per_mac():
    rng = np.random.default_rng(42)

    def conv(h, w, cin, cout, f, pad):
        out_h, ph = conv_padding(pad, h, f, 1)
        out_w, pw = conv_padding(pad, w, f, 1)
        m, s = quantize_multipliers(np.exp(rng.uniform(math.log(2e-3), math.log(2e-2), cout)))
        return P.ConvParams(input_n=1, input_h=h, input_w=w, input_c=cin, filter_h=f, filter_w=f,
                            output_h=out_h, output_w=out_w, output_c=cout, stride_h=1, stride_w=1,
                            dilation_h=1, dilation_w=1, pad_h=ph, pad_w=pw, input_offset=128,
                            output_offset=-128, act_min=-128, act_max=127, multiplier=m, shift=s)

    c3 = conv(32, 32, 16, 16, 3, "SAME")
    c1 = conv(25, 5, 64, 64, 1, "VALID")
    m, s = quantize_multipliers(np.exp(rng.uniform(math.log(2e-3), math.log(2e-2), 64)))
    d3 = P.DepthwiseConvParams(input_n=1, input_h=25, input_w=5, input_c=64, filter_h=3, filter_w=3,
                               output_h=25, output_w=5, output_c=64, depth_multiplier=1, stride_h=1,
                               stride_w=1, dilation_h=1, dilation_w=1, pad_h=1, pad_w=1,
                               input_offset=128, output_offset=-128, act_min=-128, act_max=127,
                               multiplier=m, shift=s)
    layers = {"resnet8 conv 3x3 16->16 32x32": c3, "ds-cnn conv 1x1 64->64 25x5": c1,
              "ds-cnn depthwise 3x3 64 25x5": d3}
    cases = []
    for label, p in layers.items():
        kind = "CONV_2D" if isinstance(p, P.ConvParams) else "DEPTHWISE_CONV_2D"
        fn, _ = select_kernel(kind, p, True)
        shape_w = (p.output_c, p.filter_h, p.filter_w, p.input_c) if kind == "CONV_2D" else \
            (1, p.filter_h, p.filter_w, p.output_c)
        cases.append((fn, p, rng.integers(-128, 128, (1, p.input_h, p.input_w, p.input_c)).astype(np.int8),
                      rng.integers(-127, 128, shape_w).astype(np.int8),
                      rng.integers(-5000, 5000, p.output_c).astype(np.int32)))
    results = qk.run_cases(cases, "mps2-an386")
    for (label, p), (fn, _, x, w, b), r in zip(layers.items(), cases, results):
        _check(r.output, p, (x, w, b), label)
        ipm = r.instructions / qk.nominal_macs(p)
        print(f"{label}: {fn} {r.instructions} instructions, {ipm:.3f} per MAC")
        assert ipm <= IPM_BOUNDS[label], (label, ipm)
