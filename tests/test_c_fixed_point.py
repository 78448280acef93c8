"""C ``mcc_fixed_point.h`` == Python ``mcc.reference.fixed_point``, bit for bit.

The static inline C helpers are exported through a tiny non-inline wrapper compiled only for
this test; each wrapper loops over arrays so a whole sweep is one ctypes call.
"""

from __future__ import annotations

import ctypes
import itertools
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ckernels import CACHE, build_shared
from mcc.reference import fixed_point as fp

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1

WRAPPER = r"""
#include <stdint.h>
#include "mcc_fixed_point.h"

void t_requantize(const int32_t *x, const int32_t *m, const int32_t *s, int32_t *out, int32_t n)
{ int32_t i; for (i = 0; i < n; ++i) out[i] = mcc_requantize(x[i], m[i], s[i]); }

void t_srdhm(const int32_t *a, const int32_t *b, int32_t *out, int32_t n)
{ int32_t i; for (i = 0; i < n; ++i) out[i] = mcc_sat_rounding_doubling_high_mul(a[i], b[i]); }

void t_rdbpot(const int32_t *x, const int32_t *e, int32_t *out, int32_t n)
{ int32_t i; for (i = 0; i < n; ++i) out[i] = mcc_rounding_divide_by_pot(x[i], e[i]); }

void t_srmbpot(const int32_t *x, int32_t e, int32_t *out, int32_t n)
{ int32_t i; for (i = 0; i < n; ++i) out[i] = mcc_saturating_rounding_mul_by_pot(x[i], e); }

void t_exp_neg(const int32_t *x, int32_t bits, int32_t *out, int32_t n)
{ int32_t i; for (i = 0; i < n; ++i) out[i] = mcc_exp_on_negative_values(x[i], bits); }

void t_one_over(const int32_t *x, int32_t *out, int32_t n)
{ int32_t i; for (i = 0; i < n; ++i) out[i] = mcc_one_over_one_plus_x_for_x_in_0_1(x[i]); }

void t_logistic(const int32_t *x, int32_t bits, int32_t *out, int32_t n)
{ int32_t i; for (i = 0; i < n; ++i) out[i] = mcc_logistic(x[i], bits); }

void t_reciprocal(const int32_t *x, int32_t digits, int32_t *out, int32_t *nbits, int32_t n)
{ int32_t i; for (i = 0; i < n; ++i) out[i] = mcc_get_reciprocal(x[i], digits, &nbits[i]); }

void t_clz(const uint32_t *x, int32_t *out, int32_t n)
{ int32_t i; for (i = 0; i < n; ++i) out[i] = mcc_clz_u32(x[i]); }
"""


@pytest.fixture(scope="module")
def c():
    CACHE.mkdir(parents=True, exist_ok=True)
    src = CACHE / "fixed_point_wrapper.c"
    if not src.exists() or src.read_text() != WRAPPER:
        tmp = src.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(WRAPPER)
        tmp.replace(src)
    return ctypes.CDLL(str(build_shared([Path(src)], name="libmcc_fp_test")))


def _arr(v) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(v, dtype=np.int64).astype(np.int32))


def _p(a: np.ndarray):
    return a.ctypes.data_as(ctypes.c_void_p)


def c_requantize(c, x, m, s):
    x, m, s = np.broadcast_arrays(_arr(x), _arr(m), _arr(s))
    x, m, s = _arr(x), _arr(m), _arr(s)
    out = np.zeros_like(x)
    c.t_requantize(_p(x), _p(m), _p(s), _p(out), ctypes.c_int32(x.size))
    return out.astype(np.int64)


def c_unary(c, fn, x, *consts):
    x = _arr(x)
    out = np.zeros_like(x)
    getattr(c, fn)(_p(x), *[ctypes.c_int32(k) for k in consts], _p(out), ctypes.c_int32(x.size))
    return out.astype(np.int64)


EDGE_ACC = [INT32_MIN, INT32_MIN + 1, -(1 << 30), -65536, -255, -2, -1, 0, 1, 2, 255, 65535,
            1 << 30, INT32_MAX - 1, INT32_MAX, 12345678, -87654321]
EDGE_MULT = [0, 1, 1 << 30, (1 << 30) + 1, 1518500250, INT32_MAX, INT32_MIN, -1, -(1 << 30)]
SHIFTS = list(range(-31, 31))


def test_requantize_edge_grid(c):
    grid = np.array(list(itertools.product(EDGE_ACC, EDGE_MULT, SHIFTS)), dtype=np.int64)
    x, m, s = grid.T
    expected = fp.requantize(x, m, s)
    got = c_requantize(c, x, m, s)
    bad = np.nonzero(got != expected)[0]
    assert bad.size == 0, [(int(x[i]), int(m[i]), int(s[i]), int(got[i]), int(expected[i]))
                           for i in bad[:10]]


def test_requantize_random_sweep(c):
    rng = np.random.default_rng(0)
    n = 200_000
    x = rng.integers(INT32_MIN, INT32_MAX, n, endpoint=True)
    m = rng.integers(1 << 30, INT32_MAX, n, endpoint=True)   # normalised Q31 multipliers
    s = rng.integers(-31, 31, n)
    small = rng.random(n) < 0.5                                # realistic accumulators
    x = np.where(small, x >> rng.integers(0, 31, n), x)
    np.testing.assert_array_equal(c_requantize(c, x, m, s), fp.requantize(x, m, s))


@settings(max_examples=300, deadline=None)
@given(st.integers(INT32_MIN, INT32_MAX), st.integers(INT32_MIN, INT32_MAX), st.integers(-31, 30))
def test_requantize_hypothesis(c, x, m, s):
    assert int(c_requantize(c, [x], [m], [s])[0]) == int(fp.requantize(x, m, s))


@settings(max_examples=200, deadline=None)
@given(st.floats(1e-9, 1e3, allow_nan=False), st.integers(-(1 << 20), 1 << 20))
def test_requantize_with_quantized_multiplier(c, real, x):
    m, s = fp.quantize_multiplier(real)
    assert int(c_requantize(c, [x], [m], [s])[0]) == int(fp.requantize(x, m, s))


def test_srdhm_and_rdbpot(c):
    rng = np.random.default_rng(1)
    edges = np.array(EDGE_ACC + EDGE_MULT, dtype=np.int64)
    a, b = (g.ravel() for g in np.meshgrid(edges, edges))
    a = np.concatenate([a, rng.integers(INT32_MIN, INT32_MAX, 50_000, endpoint=True)])
    b = np.concatenate([b, rng.integers(INT32_MIN, INT32_MAX, 50_000, endpoint=True)])
    a32, b32 = _arr(a), _arr(b)
    out = np.zeros_like(a32)
    c.t_srdhm(_p(a32), _p(b32), _p(out), ctypes.c_int32(a32.size))
    np.testing.assert_array_equal(out, fp.saturating_rounding_doubling_high_mul(a, b))

    x = np.repeat(a, 1)[:60_000]
    e = rng.integers(0, 32, x.size)
    e[:32] = np.arange(32)
    x32, e32 = _arr(x), _arr(e)
    out = np.zeros_like(x32)
    c.t_rdbpot(_p(x32), _p(e32), _p(out), ctypes.c_int32(x32.size))
    np.testing.assert_array_equal(out, fp.rounding_divide_by_pot(x, e))


def _values(rng, lo, hi, n=40_000):
    v = rng.integers(lo, hi, n, endpoint=True)
    return np.concatenate([[lo, hi, 0, -1, 1, INT32_MIN, INT32_MAX][: 7], v]).clip(lo, hi)


@pytest.mark.parametrize("exponent", [-12, -2, -1, 0, 1, 2, 5, 30])
def test_saturating_rounding_multiply_by_pot(c, exponent):
    rng = np.random.default_rng(2)
    x = _values(rng, INT32_MIN, INT32_MAX)
    np.testing.assert_array_equal(c_unary(c, "t_srmbpot", x, exponent),
                                  fp.saturating_rounding_multiply_by_pot(x, exponent))


@pytest.mark.parametrize("bits", [4, 5])
def test_exp_on_negative_values(c, bits):
    rng = np.random.default_rng(3)
    x = _values(rng, INT32_MIN, 0)
    np.testing.assert_array_equal(c_unary(c, "t_exp_neg", x, bits),
                                  fp.exp_on_negative_values(x, bits))


def test_one_over_one_plus_x(c):
    rng = np.random.default_rng(4)
    x = _values(rng, 0, INT32_MAX)
    np.testing.assert_array_equal(c_unary(c, "t_one_over", x),
                                  fp.one_over_one_plus_x_for_x_in_0_1(x))


@pytest.mark.parametrize("bits", [4, 5])
def test_logistic(c, bits):
    rng = np.random.default_rng(5)
    x = _values(rng, INT32_MIN + 1, INT32_MAX)
    np.testing.assert_array_equal(c_unary(c, "t_logistic", x, bits), fp.logistic(x, bits))


def test_reciprocal_and_clz(c):
    rng = np.random.default_rng(6)
    x = _values(rng, 1, INT32_MAX)
    x32 = _arr(x)
    out = np.zeros_like(x32)
    nbits = np.zeros_like(x32)
    c.t_reciprocal(_p(x32), ctypes.c_int32(12), _p(out), _p(nbits), ctypes.c_int32(x32.size))
    exp_out, exp_bits = fp.get_reciprocal(x, 12)
    np.testing.assert_array_equal(out, exp_out)
    np.testing.assert_array_equal(nbits, exp_bits)

    u = np.concatenate([[0, 1, 2, 3, 0x80000000, 0xFFFFFFFF, 0x7FFFFFFF],
                        rng.integers(0, 1 << 32, 10_000)]).astype(np.uint32)
    out = np.zeros(u.size, dtype=np.int32)
    c.t_clz(_p(u), _p(out), ctypes.c_int32(u.size))
    np.testing.assert_array_equal(out, fp.count_leading_zeros32(u.astype(np.int64)))
