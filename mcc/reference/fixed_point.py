"""Integer fixed-point arithmetic of the TFLite reference kernels, vectorised over numpy arrays.

Every function takes and returns int64 arrays whose values follow int32 semantics exactly (the
int64 container only keeps the intermediate products exact). The rounding is TFLite's default
"double rounding" (``TFLITE_SINGLE_ROUNDING`` off): a saturating rounding doubling high multiply
(ARM VQRDMULH) followed by a rounding arithmetic right shift.

Shift convention everywhere: a positive shift is a left shift, a negative one a right shift.
Where C code on int32 would overflow (a left shift of a large value) the result wraps modulo
2^32, which is what the reference kernels compute on two's complement hardware.

Also here: ``quantize_multiplier`` (real multiplier -> Q31 multiplier and shift, done on Python
floats, i.e. C doubles) and the gemmlowp helpers used by SOFTMAX and LOGISTIC.
"""

from __future__ import annotations

import math

import numpy as np

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def _i64(x) -> np.ndarray:
    return np.asarray(x, dtype=np.int64)


def wrap_int32(x) -> np.ndarray:
    """Two's complement wrap of integers to int32 (as int64 values)."""
    x = _i64(x)
    return ((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def _trunc_div_pow2(x: np.ndarray, exponent: int) -> np.ndarray:
    """C integer division by 2^exponent (rounds toward zero)."""
    return np.where(x >= 0, x >> exponent, -((-x) >> exponent))


def saturating_rounding_doubling_high_mul(a, b) -> np.ndarray:
    """gemmlowp SaturatingRoundingDoublingHighMul: round(a * b / 2^31), saturating -1 * -1."""
    a, b = _i64(a), _i64(b)
    overflow = (a == b) & (a == INT32_MIN)
    ab = a * b
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    high = _trunc_div_pow2(ab + nudge, 31)
    return np.where(overflow, INT32_MAX, high)


def rounding_divide_by_pot(x, exponent) -> np.ndarray:
    """gemmlowp RoundingDivideByPOT: x / 2^exponent rounded to nearest, ties away from zero.

    ``exponent`` (0..31) may be an array broadcasting against ``x``.
    """
    x, exponent = _i64(x), _i64(exponent)
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def requantize(acc, multiplier, shift) -> np.ndarray:
    """TFLite MultiplyByQuantizedMultiplier(int32 acc, multiplier, shift), positive shift = left.

    This is the one requantization routine of mcc's Python side; ``multiplier`` and ``shift``
    may be per-channel arrays broadcasting against ``acc``.
    """
    acc, shift = _i64(acc), _i64(shift)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    shifted = wrap_int32(acc << left)
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(shifted, multiplier), right)


def round_half_away(v: float) -> int:
    """C ``round`` / TfLiteRound on a double (ties away from zero)."""
    return int(math.copysign(math.floor(abs(v) + 0.5), v))


def frexp_q31(real: float) -> tuple[int, int]:
    """``frexp`` of ``real`` with the fraction rounded to Q31: (round(q * 2^31), exponent).

    The fraction may come out as exactly 2^31; ``quantize_multiplier`` handles that case.
    """
    q, exponent = math.frexp(real)
    return round_half_away(q * (1 << 31)), exponent


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite QuantizeMultiplier on a double: (Q31 multiplier, shift) with real ~= m * 2^(shift-31).

    A fraction that rounds up to 2^31 becomes 2^30 with the shift one larger; a shift below -31
    flushes the multiplier to zero (shift 0).
    """
    if real == 0.0:
        return 0, 0
    q_fixed, shift = frexp_q31(real)
    if q_fixed == 1 << 31:
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return q_fixed, shift


def quantize_multipliers(reals) -> tuple[np.ndarray, np.ndarray]:
    """``quantize_multiplier`` over a sequence; returns int32 arrays (multipliers, shifts)."""
    pairs = [quantize_multiplier(float(r)) for r in reals]
    mult = np.array([m for m, _ in pairs], dtype=np.int32)
    shift = np.array([s for _, s in pairs], dtype=np.int32)
    return mult, shift


# --- gemmlowp fixed point: a raw int32 value with I integer bits represents raw / 2^(31 - I) ---


def count_leading_zeros32(x) -> np.ndarray:
    """Leading zero bits of ``x`` viewed as uint32 (32 for zero)."""
    u = _i64(x) & 0xFFFFFFFF
    bit_length = np.frexp(u.astype(np.float64))[1].astype(np.int64)
    return 32 - bit_length


def rounding_half_sum(a, b) -> np.ndarray:
    """gemmlowp RoundingHalfSum: (a + b) / 2 rounded to nearest, ties away from zero."""
    s = _i64(a) + _i64(b)
    sign = np.where(s >= 0, 1, -1)
    return _trunc_div_pow2(s + sign, 1)


def saturating_rounding_multiply_by_pot(x, exponent: int) -> np.ndarray:
    """gemmlowp SaturatingRoundingMultiplyByPOT: saturating x * 2^exponent (rounding if < 0)."""
    x = _i64(x)
    if exponent == 0:
        return x
    if exponent < 0:
        return rounding_divide_by_pot(x, -exponent)
    threshold = (1 << (31 - exponent)) - 1
    result = wrap_int32(x << exponent)
    result = np.where(x > threshold, INT32_MAX, result)
    return np.where(x < -threshold, INT32_MIN, result)


def rescale(x, src_integer_bits: int, dst_integer_bits: int) -> np.ndarray:
    """gemmlowp Rescale: change the number of integer bits, saturating / rounding."""
    return saturating_rounding_multiply_by_pot(x, src_integer_bits - dst_integer_bits)


def fixed_one(integer_bits: int) -> int:
    """The raw value of 1.0 (the largest value below 1.0 when there are no integer bits)."""
    return INT32_MAX if integer_bits == 0 else 1 << (31 - integer_bits)


_srdhm = saturating_rounding_doubling_high_mul

# exp(-2^k) in Q0.31 for k = -2..4, the barrel shifter of exp_on_negative_values.
_EXP_BARREL = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308),
               (2, 39332535), (3, 720401), (4, 242))


def exp_on_interval_between_negative_one_quarter_and_0_excl(a) -> np.ndarray:
    """exp(a) for a in [-1/4, 0), Q0.31 in and out (Taylor expansion around -1/8)."""
    exp_minus_one_eighth = 1895147668
    one_third = 715827883
    x = _i64(a) + (1 << 28)
    x2 = _srdhm(x, x)
    x3 = _srdhm(x2, x)
    x4 = _srdhm(x2, x2)
    x4_over_4 = rounding_divide_by_pot(x4, 2)
    poly = rounding_divide_by_pot(_srdhm(x4_over_4 + x3, one_third) + x2, 1)
    return exp_minus_one_eighth + _srdhm(exp_minus_one_eighth, x + poly)


def exp_on_negative_values(a, integer_bits: int) -> np.ndarray:
    """exp(a) for a <= 0 given with ``integer_bits`` integer bits; result in Q0.31."""
    a = _i64(a)
    fractional_bits = 31 - integer_bits
    one_quarter = 1 << (fractional_bits - 2)
    a_mod_quarter_minus_one_quarter = (a & (one_quarter - 1)) - one_quarter
    result = exp_on_interval_between_negative_one_quarter_and_0_excl(
        rescale(a_mod_quarter_minus_one_quarter, integer_bits, 0))
    remainder = a_mod_quarter_minus_one_quarter - a
    for exponent, multiplier in _EXP_BARREL:
        if integer_bits > exponent:
            bit = 1 << (fractional_bits + exponent)
            result = np.where((remainder & bit) != 0, _srdhm(result, multiplier), result)
    if integer_bits > 5:
        clamp = -(1 << (36 - integer_bits))
        result = np.where(a < clamp, 0, result)
    return np.where(a == 0, fixed_one(0), result)


def _two_over_one_plus_x_f2(a) -> np.ndarray:
    """2 / (1 + a) in Q2.29 for a in [0, 1) in Q0.31 (Newton-Raphson, three iterations)."""
    half_denominator = rounding_half_sum(a, fixed_one(0))
    c_48_over_17 = 1515870810        # Q2.29
    c_neg_32_over_17 = -1010580540   # Q2.29
    x = c_48_over_17 + _srdhm(half_denominator, c_neg_32_over_17)
    for _ in range(3):
        one_minus_half_denominator_times_x = fixed_one(2) - _srdhm(half_denominator, x)
        x = x + rescale(_srdhm(x, one_minus_half_denominator_times_x), 4, 2)
    return x


def one_over_one_plus_x_for_x_in_0_1(a) -> np.ndarray:
    """1 / (1 + a) for a in [0, 1), Q0.31 in and out: x / 2 (exact, Q1.30) rescaled to Q0.31."""
    return rescale(_two_over_one_plus_x_f2(a), 1, 0)


def one_minus_x_over_one_plus_x_for_x_in_0_1(a) -> np.ndarray:
    """(1 - a) / (1 + a) for a in [0, 1), Q0.31 in and out: 2 / (1 + a) - 1 rescaled from Q2.29."""
    return rescale(_two_over_one_plus_x_f2(a) - fixed_one(2), 2, 0)


def tanh(a, integer_bits: int) -> np.ndarray:
    """gemmlowp tanh: (1 - exp(-2|a|)) / (1 + exp(-2|a|)), negated for a < 0; Q0.31 out. The
    doubling reads -|a| with one more integer bit (the raw value is unchanged)."""
    a = _i64(a)
    n = np.where(a < 0, a, wrap_int32(-a))
    t = one_minus_x_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(n, integer_bits + 1))
    return np.where(a == 0, 0, np.where(a < 0, -t, t))


def logistic(a, integer_bits: int) -> np.ndarray:
    """gemmlowp logistic: 1 / (1 + exp(-a)) with ``integer_bits`` input integer bits, Q0.31 out."""
    a = _i64(a)
    positive = a > 0
    abs_a = np.where(positive, a, -a)
    if_positive = one_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(-abs_a, integer_bits))
    if_negative = fixed_one(0) - if_positive
    return np.where(a == 0, 1 << 30, np.where(positive, if_positive, if_negative))


def get_reciprocal(x, x_integer_digits: int) -> tuple[np.ndarray, np.ndarray]:
    """TFLite GetReciprocal: (1 / x scaled into Q0.31, num_bits_over_unit) for x > 0."""
    x = _i64(x)
    headroom_plus_one = count_leading_zeros32(x)
    num_bits_over_unit = x_integer_digits - headroom_plus_one
    shifted_sum_minus_one = wrap_int32(((x & 0xFFFFFFFF) << headroom_plus_one) - (1 << 31))
    return one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one), num_bits_over_unit
