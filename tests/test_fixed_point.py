"""mcc.reference.fixed_point against independent exact specifications (Python ints, Fractions)."""

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcc.reference import fixed_point as fp

I32_MIN, I32_MAX = -(1 << 31), (1 << 31) - 1
EDGES = [I32_MIN, I32_MIN + 1, -(1 << 30), -65536, -257, -3, -2, -1, 0, 1, 2, 3, 255, 65535,
         1 << 30, I32_MAX - 1, I32_MAX]
int32s = st.integers(I32_MIN, I32_MAX)


def floor_half_up(f: Fraction) -> int:
    """Round to nearest, ties toward +infinity."""
    return math.floor(f + Fraction(1, 2))


def round_half_away(f: Fraction) -> int:
    return int(math.copysign(math.floor(abs(f) + Fraction(1, 2)), f))


def spec_srdhm(a: int, b: int) -> int:
    """VQRDMULH: round(a * b / 2^31), ties toward +inf; only (-1) * (-1) saturates."""
    if a == b == I32_MIN:
        return I32_MAX
    return floor_half_up(Fraction(a * b, 1 << 31))


def spec_rdbpot(x: int, e: int) -> int:
    """Rounding arithmetic right shift: x / 2^e rounded to nearest, ties away from zero."""
    return round_half_away(Fraction(x, 1 << e))


def spec_wrap(v: int) -> int:
    return (v + (1 << 31)) % (1 << 32) - (1 << 31)


def spec_requantize(x: int, m: int, shift: int) -> int:
    left, right = max(shift, 0), max(-shift, 0)
    return spec_rdbpot(spec_srdhm(spec_wrap(x << left), m), right)


def spec_quantize_multiplier(r: float) -> tuple[int, int]:
    """Independent QuantizeMultiplier: find e with 2^(e-1) <= r < 2^e, round r/2^e to Q31 exactly."""
    if r == 0:
        return 0, 0
    f = Fraction(r)
    e = math.floor(math.log2(r)) + 1
    while f >= Fraction(2) ** e:
        e += 1
    while f < Fraction(2) ** (e - 1):
        e -= 1
    q = round_half_away(f / Fraction(2) ** e * (1 << 31))
    if q == 1 << 31:
        q, e = 1 << 30, e + 1
    if e < -31:
        return 0, 0
    return q, e


def test_srdhm_edges():
    a, b = np.meshgrid(EDGES, EDGES)
    got = fp.saturating_rounding_doubling_high_mul(a, b)
    want = [[spec_srdhm(int(x), int(y)) for x, y in zip(ra, rb)] for ra, rb in zip(a, b)]
    assert got.tolist() == want
    assert fp.saturating_rounding_doubling_high_mul(I32_MIN, I32_MIN) == I32_MAX


@settings(max_examples=300, deadline=None)
@given(int32s, int32s)
def test_srdhm_random(a, b):
    assert int(fp.saturating_rounding_doubling_high_mul(a, b)) == spec_srdhm(a, b)


def test_rounding_divide_by_pot_every_exponent():
    x = np.array(EDGES + [5, -5, 6, -6, 7, -7, 1 << 20, -(1 << 20) - (1 << 19)])
    for e in range(32):
        got = fp.rounding_divide_by_pot(x, e).tolist()
        assert got == [spec_rdbpot(int(v), e) for v in x], e


def test_rounding_divide_by_pot_ties_go_away_from_zero():
    assert fp.rounding_divide_by_pot([5, -5, 6, -6, 3, -3], [1, 1, 2, 2, 1, 1]).tolist() == \
        [3, -3, 2, -2, 2, -2]


def test_requantize_int32_extremes_every_shift():
    multipliers = [0, 1, 1 << 30, (1 << 30) + 12345, I32_MAX, I32_MIN]
    x = np.array(EDGES)
    for shift in range(-31, 31):
        for m in multipliers:
            got = fp.requantize(x, m, shift).tolist()
            assert got == [spec_requantize(int(v), m, shift) for v in x], (m, shift)


@settings(max_examples=300, deadline=None)
@given(int32s, st.integers(1 << 30, I32_MAX), st.integers(-31, 30))
def test_requantize_random(x, m, shift):
    assert int(fp.requantize(x, m, shift)) == spec_requantize(x, m, shift)


def test_requantize_hand_cases():
    assert fp.requantize([100, -100], 1 << 30, -1).tolist() == [25, -25]
    # SRDHM rounds ties toward +inf: 1.5 -> 2, -1.5 -> -1
    assert fp.requantize([3, -3], 1 << 30, 0).tolist() == [2, -1]
    # double rounding: 5 * 0.25 = 1.25, but 2.5 -> 3 then 1.5 -> 2
    assert int(fp.requantize(5, 1 << 30, -1)) == 2
    # a left shift that overflows int32 wraps
    assert int(fp.requantize(1 << 30, 1 << 30, 2)) == 0


def test_requantize_per_channel_broadcast():
    acc = np.arange(-6, 6).reshape(3, 4) * 1000
    m = np.array([1 << 30, 1 << 30, 1 << 30, 1 << 30], dtype=np.int32)
    shift = np.array([0, -1, 1, -31], dtype=np.int32)
    got = fp.requantize(acc, m, shift)
    for j in range(4):
        assert got[:, j].tolist() == [spec_requantize(int(v), 1 << 30, int(shift[j])) for v in acc[:, j]]


@pytest.mark.parametrize("r", [
    1.0, 0.5, 0.75, 0.1, 3.0, 2.0 ** 40, 2.0 ** -31, 2.0 ** -32, 2.0 ** -33,
    math.nextafter(1.0, 0.0),            # rounds up to 2^31: multiplier 2^30, shift 1
    1 - 2.0 ** -33,                      # q * 2^31 = 2^31 - 0.25 -> overflow case as well
    2.0 ** -32 * (1 - 2.0 ** -40),       # shift -32 rescued to -31 by the overflow case
    2.0 ** -33 * (1 - 2.0 ** -40),       # shift -33 -> flushed to zero
    0.5 + 2.0 ** -32,                    # q * 2^31 = 2^30 + 0.5 exactly: ties away from zero
    0.0,
])
def test_quantize_multiplier_edges(r):
    assert fp.quantize_multiplier(r) == spec_quantize_multiplier(r)


def test_quantize_multiplier_hand_cases():
    assert fp.quantize_multiplier(1.0) == (1 << 30, 1)
    assert fp.quantize_multiplier(math.nextafter(1.0, 0.0)) == (1 << 30, 1)
    assert fp.quantize_multiplier(0.5 + 2.0 ** -32) == ((1 << 30) + 1, 0)
    assert fp.quantize_multiplier(2.0 ** -33) == (0, 0)
    assert fp.quantize_multiplier(2.0 ** -32 * (1 - 2.0 ** -40)) == (1 << 30, -31)


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=2.0 ** -40, max_value=2.0 ** 20, allow_nan=False))
def test_quantize_multiplier_random(r):
    m, shift = fp.quantize_multiplier(r)
    assert (m, shift) == spec_quantize_multiplier(r)
    if m:
        assert (1 << 30) <= m < (1 << 31)
        assert abs(m * 2.0 ** (shift - 31) - r) <= r * 2.0 ** -30


def test_quantize_multipliers_array():
    m, s = fp.quantize_multipliers([0.25, 1.0, 0.0])
    assert m.dtype == np.int32 and s.dtype == np.int32
    assert m.tolist() == [1 << 30, 1 << 30, 0] and s.tolist() == [-1, 1, 0]


def test_wrap_and_count_leading_zeros():
    assert fp.wrap_int32([1 << 31, -(1 << 31) - 1, 5, (1 << 32) + 7]).tolist() == \
        [I32_MIN, I32_MAX, 5, 7]
    vals = [0, 1, 2, 3, 255, 1 << 30, I32_MAX, -1, I32_MIN]
    want = [32 - ((v & 0xFFFFFFFF).bit_length()) for v in vals]
    assert fp.count_leading_zeros32(vals).tolist() == want


def test_rounding_half_sum_and_pot_multiply():
    assert fp.rounding_half_sum([1, -1, 3, I32_MAX], [2, -2, 4, I32_MAX]).tolist() == \
        [2, -2, 4, I32_MAX]
    x = [1 << 28, (1 << 28) - 1, -(1 << 28), -(1 << 28) + 1, 5]
    # exponent 3: |x| above (2^28 - 1) saturates
    assert fp.saturating_rounding_multiply_by_pot(x, 3).tolist() == \
        [I32_MAX, ((1 << 28) - 1) * 8, I32_MIN, (-(1 << 28) + 1) * 8, 40]
    assert fp.saturating_rounding_multiply_by_pot([5, -5], -1).tolist() == [3, -3]


def test_exp_barrel_constants_are_exp_of_minus_powers_of_two():
    for k, c in fp._EXP_BARREL:
        assert abs(c - (1 << 31) * math.exp(-(2.0 ** k))) <= 1


def test_exp_on_negative_values_accuracy():
    for integer_bits in (4, 5, 6):
        a = -np.arange(0, 1 << 16) * (1 << (31 - integer_bits - 12))  # 0 .. -16, step 2^-12
        got = fp.exp_on_negative_values(a, integer_bits) / 2.0 ** 31
        want = np.exp(a / 2.0 ** (31 - integer_bits))
        assert np.max(np.abs(got - want)) < 5e-7, integer_bits
        assert int(fp.exp_on_negative_values(0, integer_bits)) == I32_MAX
        assert np.all(np.diff(got) <= 0)


def test_one_over_one_plus_x_and_logistic_accuracy():
    x = np.linspace(0, I32_MAX, 4097).astype(np.int64)
    got = fp.one_over_one_plus_x_for_x_in_0_1(x) / 2.0 ** 31
    assert np.max(np.abs(got - 1 / (1 + x / 2.0 ** 31))) < 1e-8
    q4 = np.arange(-(1 << 31), 1 << 31, 1 << 20, dtype=np.int64)
    got = fp.logistic(q4, 4) / 2.0 ** 31
    assert np.max(np.abs(got - 1 / (1 + np.exp(-q4 / 2.0 ** 27)))) < 1e-7
    assert int(fp.logistic(0, 4)) == 1 << 30


def test_get_reciprocal():
    # 3.0 = 1.5 * 2^1 in Q12.19: 1/3 = (2/3) / 2^1
    scale, bits = fp.get_reciprocal(np.array([3 << 19, 1 << 19, 5 << 21]), 12)
    assert bits.tolist() == [1, 0, 4]  # 20.0 = 1.25 * 2^4
    np.testing.assert_allclose(scale / 2.0 ** 31, [2 / 3, 1.0, 0.8], atol=1e-8)
