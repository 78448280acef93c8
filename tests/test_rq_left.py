"""The fast requantization of left shifts (real multipliers >= 1/2: shift >= 0), issue 6.

2-bit weights have large weight scales, so s_in * s_w / s_out often exceeds 1/2 and the shift is
>= 0; the DSP kernels used to take their slow exact path there. Checked here:
  * mcc_rq_apply (left form: LSL, SMLAL, ADD) == the Python reference requantize() + offset
    (wrapping int32 as the kernels' addition), over hypothesis-drawn accumulators including the
    int32 extremes, multipliers, shifts 0..30 and offsets (host emulation; and on QEMU M4 below);
  * mixed tables (mcc_rq_table + mcc_rq_entry_apply, left and right channels) == the reference;
  * the 3x3 depthwise SMMLAR form (mcc_dw3_rq_prep: weights scaled by 2^(shift+1)) == reference
    whenever it accepts a channel, and it accepts the 2-bit-like channels;
  * every DSP kernel (emulated on the host, real instructions on QEMU Cortex-M4) with multipliers
    mostly >= 1/2 and small (2-bit-like) weights == the numpy reference interpreter.
"""

from __future__ import annotations

import ctypes

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ckernels as ck
import dspkernels as dk
import qemu_kernels as qk
import test_dsp_kernels as tdk
from mcc.reference.fixed_point import quantize_multipliers, requantize, wrap_int32

SHIM = r"""
#include <stdint.h>
#include "mcc_dsp_gemm.h"
#include "mcc_dsp_depthwise.h"

/* out[i] = fast requantization (either form) + off; ok[i] = mcc_rq_ok */
void shim_rq(const int32_t *acc, const int32_t *m, const int32_t *s, const int32_t *off, int32_t n,
             int32_t *out, int32_t *ok)
{
    int32_t i;
    for (i = 0; i < n; ++i) {
        mcc_rq q;
        ok[i] = mcc_rq_ok(m[i], s[i]);
        mcc_rq_init(&q, m[i], s[i], off[i]);
        out[i] = ok[i] ? mcc_rq_apply(&q, acc[i]) : 0;
    }
}

/* a table of n channels (m, s per channel, one offset) applied to acc[i] of channel i % n */
int32_t shim_table(const int32_t *m, const int32_t *s, int32_t n, int32_t off, const int32_t *acc,
                   int32_t k, int32_t *out, mcc_rq_entry *tab)
{
    mcc_out_stage os;
    int32_t i;
    mcc_out_stage_init(&os, off, -128, 127);
    if (!mcc_rq_table(tab, NULL, m, s, 1, n, off, &os)) {
        return -1;
    }
    for (i = 0; i < k; ++i) {
        out[i] = mcc_rq_entry_apply(&tab[i % n], acc[i]);
    }
    return os.rq_left;
}

/* 3x3 depthwise requantization of one channel: weights w[9], inputs (x + input_offset) xo[9] */
int32_t shim_dw3(int32_t m, int32_t s, int32_t off, int32_t bias, const int8_t *w,
                 const int32_t *xo, int32_t *ok)
{
    int32_t q[3];
    const int32_t scale = mcc_dw3_rq_prep(m, s, off, bias, w, 1, q);
    int32_t acc = mcc_wrap_s32((uint32_t)scale * (uint32_t)bias);
    int32_t i;
    *ok = scale;
    if (scale == 0) {
        return 0;
    }
    for (i = 0; i < 9; ++i) {
        acc = mcc_wrap_s32((uint32_t)acc + (uint32_t)(xo[i] * scale * w[i]));
    }
    return mcc_dw3_rq(acc, q);
}
"""


@pytest.fixture(scope="module")
def shim(tmp_path_factory):
    src = tmp_path_factory.mktemp("rqleft") / "mcc_rq_left_shim.c"
    src.write_text(SHIM)
    return ctypes.CDLL(str(ck.build_shared([src, ck.SRC / "mcc_rq_table.c"], dk.EMULATE_FLAGS, name="libmcc_rq_left_shim")))


def _i32(a):
    return np.ascontiguousarray(np.asarray(a, dtype=np.int64).astype(np.uint32).view(np.int32))


def _ptr(a):
    return a.ctypes.data_as(ctypes.c_void_p)


def _expect(acc, m, s, off):
    return wrap_int32(requantize(acc, m, s) + np.asarray(off, np.int64))


def _run_rq(shim, acc, m, s, off):
    acc, m, s, off = (_i32(v) for v in (acc, m, s, off))
    out, ok = np.zeros(acc.size, np.int32), np.zeros(acc.size, np.int32)
    shim.shim_rq(_ptr(acc), _ptr(m), _ptr(s), _ptr(off), ctypes.c_int32(acc.size), _ptr(out), _ptr(ok))
    return out.astype(np.int64), ok


INT32 = st.integers(-(1 << 31), (1 << 31) - 1)
ACC = st.one_of(INT32, st.integers(-(1 << 16), 1 << 16),
                st.sampled_from([0, 1, -1, (1 << 31) - 1, -(1 << 31), 1 << 30, -(1 << 30),
                                 (1 << 30) - 1, -(1 << 30) - 1]))
MULT = st.one_of(st.integers(1 << 30, (1 << 31) - 1), st.sampled_from([1 << 30, (1 << 31) - 1]))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(acc=st.lists(ACC, min_size=1, max_size=64), m=MULT, s=st.integers(0, 30),
       off=st.integers(-128, 127))
def test_left_form_is_exact(shim, acc, m, s, off):
    n = len(acc)
    got, ok = _run_rq(shim, acc, [m] * n, [s] * n, [off] * n)
    assert ok.all()
    assert np.array_equal(got, _expect(acc, m, s, off))


def test_left_form_random_and_outside(shim):
    rng = np.random.default_rng(6)
    n = 100000
    acc = np.where(rng.random(n) < 0.5, rng.integers(-(1 << 31), 1 << 31, n),
                   rng.integers(-(1 << 12), 1 << 12, n))
    m = rng.integers(1 << 30, 1 << 31, n)
    s = rng.integers(0, 31, n)
    off = rng.integers(-128, 128, n)
    got, ok = _run_rq(shim, acc, m, s, off)
    assert ok.all()
    assert np.array_equal(got, _expect(acc, m, s, off))
    # outside both forms: m < 2^30 (zero multiplier), shift > 30 or < -24
    _, ok = _run_rq(shim, [5, 5, 5, 5], [0, 1 << 30, 1 << 30, (1 << 30) + 1], [0, 31, -25, 3], [0] * 4)
    assert ok.tolist() == [0, 0, 0, 1]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), n=st.integers(1, 12), off=st.integers(-128, 127))
def test_mixed_table_is_exact(shim, data, n, off):
    m = data.draw(st.lists(MULT, min_size=n, max_size=n))
    s = data.draw(st.lists(st.integers(-24, 8), min_size=n, max_size=n))
    acc = data.draw(st.lists(ACC, min_size=n, max_size=4 * n))
    k = len(acc)
    tab = ctypes.create_string_buffer(20 * n + 16)
    out = np.zeros(k, np.int32)
    m32, s32, a32 = _i32(m), _i32(s), _i32(acc)
    # the right form needs m > 2^30: a channel with m == 2^30 and a negative shift is not fast
    fast = all(sh >= 0 or mm > (1 << 30) for mm, sh in zip(m, s))
    left = shim.shim_table(_ptr(m32), _ptr(s32), ctypes.c_int32(n), ctypes.c_int32(off), _ptr(a32),
                           ctypes.c_int32(k), _ptr(out), tab)
    if not fast:
        assert left == -1
        return
    assert left == int(any(sh >= 0 for sh in s))
    ch = np.arange(k) % n
    assert np.array_equal(out.astype(np.int64), _expect(acc, np.array(m)[ch], np.array(s)[ch], off))


def test_dw3_left_form(shim):
    """The 3x3 depthwise SMMLAR form: exact whenever accepted; 2-bit-like channels are accepted."""
    rng = np.random.default_rng(11)
    accepted = {"2bit": 0, "8bit": 0}
    trials = {"2bit": 0, "8bit": 0}
    for i in range(3000):
        kind = "2bit" if i % 2 == 0 else "8bit"
        w = (rng.integers(-2, 2, 9) if kind == "2bit" else rng.integers(-127, 128, 9)).astype(np.int8)
        xo = rng.integers(-255, 256, 9)
        if i % 7 == 0:
            xo = np.where(np.sign(w) >= 0, 255, -255)  # the accumulator's extreme
        bias = int(rng.integers(-(1 << 14), 1 << 14)) if i % 5 else int(rng.integers(-(1 << 29), 1 << 29))
        m, s = quantize_multipliers(np.array([np.exp(rng.uniform(np.log(0.26), np.log(40.0)))]))
        m, s, off = int(m[0]), int(s[0]), int(rng.integers(-128, 128))
        ok = ctypes.c_int32(0)
        xo32 = _i32(xo)
        got = shim.shim_dw3(m, s, off, bias, w.ctypes.data_as(ctypes.c_void_p), _ptr(xo32),
                            ctypes.byref(ok))
        acc = bias + int(np.dot(xo, w.astype(np.int64)))
        trials[kind] += s >= 0
        if ok.value:
            assert got == int(_expect([acc], m, s, off)[0]), (m, s, off, bias, w, xo)
            accepted[kind] += s >= 0 and bias < (1 << 14) and bias >= -(1 << 14)
    # small biases and 2-bit weights with shifts 0..5: accepted
    assert accepted["2bit"] >= 0.75 * trials["2bit"]


# --- the kernels ---------------------------------------------------------------------------------


def _left_mults(rng, n):
    """Real multipliers mostly in [1/2, 40) (shift 0..6), some below 1/2 (mixed tables)."""
    scales = np.exp(rng.uniform(np.log(0.5), np.log(40.0), n))
    scales = np.where(rng.random(n) < 0.25, np.exp(rng.uniform(np.log(2.0 ** -10), np.log(0.5), n)),
                      scales)
    return quantize_multipliers(scales)


def left_case(name, rng):
    import dataclasses
    p, (x, w, b) = tdk.CASES[name](rng)
    n = len(p.multiplier)
    m, s = _left_mults(rng, n)
    p = dataclasses.replace(p, multiplier=m, shift=s)
    w = rng.integers(-2, 2, w.shape).astype(np.int8)  # 2-bit values: the accumulators stay small
    if b is not None:
        b = rng.integers(-(1 << 8), 1 << 8, b.shape).astype(np.int32)
    return p, (x, w, b)


@pytest.mark.parametrize("name", sorted(tdk.CASES))
def test_kernels_with_left_shifts_host(name):
    for seed in range(40):
        p, args = left_case(name, np.random.default_rng([seed, 61]))
        tdk._check(dk.run(name, p, *args, dsp=True), p, args, f"{name} seed {seed} (emulated DSP)")


@pytest.mark.slow
@pytest.mark.skipif(not qk.available(), reason="qemu-system-arm / arm-none-eabi-gcc not installed")
def test_kernels_with_left_shifts_qemu_m4(shim):
    cases = []
    for name in sorted(tdk.CASES):
        for seed in range(8):
            p, (x, w, b) = left_case(name, np.random.default_rng([seed, 62]))
            cases.append((name, p, x, w, b))
    for (name, p, x, w, b), r in zip(cases, qk.run_cases(cases, "mps2-an386")):
        assert r.status == 0, name
        tdk._check(r.output, p, (x, w, b), f"M4 {name}")
    # the real SMLAL / LSL sequence of mcc_rq_apply == the reference on the M4
    rng = np.random.default_rng(9)
    n = 3000
    acc = np.where(rng.random(n) < 0.5, rng.integers(-(1 << 31), 1 << 31, n),
                   rng.integers(-(1 << 12), 1 << 12, n))
    acc[:4] = [(1 << 31) - 1, -(1 << 31), 1 << 30, -(1 << 30)]
    m, s, off = rng.integers(1 << 30, 1 << 31, n), rng.integers(0, 31, n), rng.integers(-128, 128, n)
    shim_c = SHIM.replace('#include "mcc_dsp_depthwise.h"', "")
    shim_c = shim_c[:shim_c.index("/* 3x3 depthwise requantization")]
    got = qk.run_c_main(_rq_main(shim_c, acc, m, s, off), "mps2-an386",
                          sources=(ck.SRC / "mcc_rq_table.c",))
    assert np.array_equal(got[:n].astype(np.int64), _expect(acc, m, s, off))
    assert (got[n:] == 1).all()


def _rq_main(shim: str, acc, m, s, off) -> str:
    def arr(name, v):
        v = np.asarray(v, np.int64).ravel()
        return f"static const int32_t {name}[{v.size}] = {{{', '.join(str(int(e)) for e in v)}}};"

    k = len(acc)
    return "\n".join([
        "#include <stdio.h>", shim, arr("ACC", acc), arr("M", m), arr("S", s), arr("OFF", off),
        f"static int32_t f[{k}], o[{k}];", "int main(void)", "{",
        '    FILE *fp = fopen("out.bin", "wb");', "    if (fp == NULL) { return 2; }",
        f"    shim_rq(ACC, M, S, OFF, {k}, f, o);",
        "    fwrite(f, sizeof f, 1, fp); fwrite(o, sizeof o, 1, fp);", "    fclose(fp);",
        "    return 0;", "}", ""])
