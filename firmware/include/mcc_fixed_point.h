/*
 * mcc_fixed_point.h -- the one definition of mcc's integer requantization and
 * the gemmlowp-style Q-format helpers used by SOFTMAX and LOGISTIC.
 *
 * Semantics follow TFLite's reference integer kernels (double-rounding
 * MultiplyByQuantizedMultiplier, gemmlowp fixed-point exp / reciprocal /
 * logistic) bit for bit.  Shift convention everywhere: positive = left shift.
 *
 * Portable C99 without undefined behaviour: wrap-around arithmetic is done in
 * uint32_t and converted back with mcc_wrap_s32() (no implementation-defined
 * conversion), arithmetic right shifts of negative values are written as
 * ~((~x) >> n), products that could overflow are computed in int64_t.
 *
 * Q-format notation: a value "in F<n>" is an int32 with n integer bits and
 * 31 - n fractional bits (gemmlowp FixedPoint<int32_t, n>).
 */
#ifndef MCC_FIXED_POINT_H
#define MCC_FIXED_POINT_H

#include <stdint.h>

/* ------------------------------------------------------------------------ */
/* Basic wrapping / shifting primitives                                      */
/* ------------------------------------------------------------------------ */

/* uint32 -> int32 two's-complement reinterpretation, fully defined in C99. */
static inline int32_t mcc_wrap_s32(uint32_t u)
{
    if (u <= (uint32_t)INT32_MAX) {
        return (int32_t)u;
    }
    return (int32_t)(u - 2147483648u) - INT32_MAX - 1;
}

static inline int32_t mcc_wrapping_add(int32_t a, int32_t b)
{
    return mcc_wrap_s32((uint32_t)a + (uint32_t)b);
}

static inline int32_t mcc_wrapping_sub(int32_t a, int32_t b)
{
    return mcc_wrap_s32((uint32_t)a - (uint32_t)b);
}

static inline int32_t mcc_wrapping_neg(int32_t a)
{
    return mcc_wrap_s32(0u - (uint32_t)a);
}

/* a * 2^n modulo 2^32 (n in 0..31): the "x * (1 << n)" of the reference. */
static inline int32_t mcc_wrapping_shl(int32_t a, int32_t n)
{
    return mcc_wrap_s32((uint32_t)a << n);
}

/* Arithmetic (flooring) right shift, n in 0..31. */
static inline int32_t mcc_asr(int32_t x, int32_t n)
{
    return x >= 0 ? (x >> n) : ~((~x) >> n);
}

/* Count of leading zero bits of a uint32 (32 for 0). */
static inline int32_t mcc_clz_u32(uint32_t x)
{
#if defined(__GNUC__)
    return x == 0u ? 32 : (int32_t)__builtin_clz(x);
#else
    int32_t n = 0;
    if (x == 0u) {
        return 32;
    }
    while ((x & 0x80000000u) == 0u) {
        x <<= 1;
        ++n;
    }
    return n;
#endif
}

/* ------------------------------------------------------------------------ */
/* Requantization                                                            */
/* ------------------------------------------------------------------------ */

/* gemmlowp SaturatingRoundingDoublingHighMul (ARM VQRDMULH):
 * round(a * b / 2^31), ties away from zero, INT32_MIN * INT32_MIN -> INT32_MAX. */
static inline int32_t mcc_sat_rounding_doubling_high_mul(int32_t a, int32_t b)
{
    int64_t ab;
    int64_t nudge;
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    ab = (int64_t)a * (int64_t)b;
    nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
    /* C99 '/' truncates toward zero, as the reference does. */
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

/* gemmlowp RoundingDivideByPOT: x / 2^exponent rounded to nearest, ties away
 * from zero; exponent in 0..31. */
static inline int32_t mcc_rounding_divide_by_pot(int32_t x, int32_t exponent)
{
    const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return mcc_asr(x, exponent) + (remainder > threshold ? 1 : 0);
}

/* TFLite MultiplyByQuantizedMultiplier (double rounding):
 *   x * 2^max(shift,0)  (wrapping, as the reference's int32 multiply),
 *   then saturating rounding doubling high multiply by `multiplier`,
 *   then rounding divide by 2^max(-shift,0).
 * shift in -31..30, positive = left. */
static inline int32_t mcc_requantize(int32_t acc, int32_t multiplier, int32_t shift)
{
    const int32_t left_shift = shift > 0 ? shift : 0;
    const int32_t right_shift = shift > 0 ? 0 : -shift;
    return mcc_rounding_divide_by_pot(
        mcc_sat_rounding_doubling_high_mul(mcc_wrapping_shl(acc, left_shift), multiplier),
        right_shift);
}

static inline int32_t mcc_clamp_s32(int32_t x, int32_t lo, int32_t hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

/* ------------------------------------------------------------------------ */
/* gemmlowp fixed-point math                                                 */
/* ------------------------------------------------------------------------ */

/* Saturating x * 2^exponent for exponent in 1..30 (gemmlowp
 * SaturatingRoundingMultiplyByPOT with a positive exponent). */
static inline int32_t mcc_saturating_shl(int32_t x, int32_t exponent)
{
    const int32_t threshold = (int32_t)(((int32_t)1 << (31 - exponent)) - 1);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return mcc_wrapping_shl(x, exponent);
}

/* gemmlowp SaturatingRoundingMultiplyByPOT / Rescale: exponent > 0 saturating
 * left shift, exponent < 0 rounding right shift. */
static inline int32_t mcc_saturating_rounding_mul_by_pot(int32_t x, int32_t exponent)
{
    if (exponent > 0) {
        return mcc_saturating_shl(x, exponent);
    }
    if (exponent < 0) {
        return mcc_rounding_divide_by_pot(x, -exponent);
    }
    return x;
}

/* gemmlowp RoundingHalfSum: (a + b) / 2 rounded half away from zero. */
static inline int32_t mcc_rounding_half_sum(int32_t a, int32_t b)
{
    const int64_t sum = (int64_t)a + (int64_t)b;
    const int64_t sign = sum >= 0 ? 1 : -1;
    return (int32_t)((sum + sign) / 2);
}

/* exp(a) for a in [-1/4, 0); a and result in F0. */
static inline int32_t mcc_exp_on_interval_between_negative_one_quarter_and_0_excl(int32_t a)
{
    const int32_t constant_term = 1895147668;     /* exp(-1/8) in F0 */
    const int32_t constant_1_over_3 = 715827883;  /* 1/3 in F0 */
    const int32_t x = mcc_wrapping_add(a, (int32_t)1 << 28); /* a + 1/8 */
    const int32_t x2 = mcc_sat_rounding_doubling_high_mul(x, x);
    const int32_t x3 = mcc_sat_rounding_doubling_high_mul(x2, x);
    const int32_t x4 = mcc_sat_rounding_doubling_high_mul(x2, x2);
    const int32_t x4_over_4 = mcc_rounding_divide_by_pot(x4, 2);
    const int32_t poly = mcc_rounding_divide_by_pot(
        mcc_wrapping_add(
            mcc_sat_rounding_doubling_high_mul(mcc_wrapping_add(x4_over_4, x3), constant_1_over_3),
            x2),
        1);
    return mcc_wrapping_add(
        constant_term,
        mcc_sat_rounding_doubling_high_mul(constant_term, mcc_wrapping_add(x, poly)));
}

/* exp(a) for a <= 0; a in F<integer_bits> (integer_bits in 1..30), result in F0.
 * Softmax uses integer_bits = 5, logistic 4. */
static inline int32_t mcc_exp_on_negative_values(int32_t a, int32_t integer_bits)
{
    /* exp(-2^k) in F0 for k = -2..4 */
    static const int32_t kBarrel[7] = {
        1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242
    };
    const int32_t fractional_bits = 31 - integer_bits;
    const int32_t one_quarter = (int32_t)1 << (fractional_bits - 2);
    const int32_t mask = one_quarter - 1;
    const int32_t a_mod_quarter_minus_one_quarter = mcc_wrapping_sub(a & mask, one_quarter);
    int32_t result = mcc_exp_on_interval_between_negative_one_quarter_and_0_excl(
        mcc_saturating_rounding_mul_by_pot(a_mod_quarter_minus_one_quarter, integer_bits));
    const int32_t remainder = mcc_wrapping_sub(a_mod_quarter_minus_one_quarter, a);
    int32_t exponent;

    for (exponent = -2; exponent <= 4; ++exponent) {
        if (integer_bits > exponent) {
            const int32_t bit = (int32_t)1 << (fractional_bits + exponent);
            if ((remainder & bit) != 0) {
                result = mcc_sat_rounding_doubling_high_mul(result, kBarrel[exponent + 2]);
            }
        }
    }
    if (integer_bits > 5) {
        /* clamp: exp(x) == 0 for x < -32 */
        const int32_t clamp = -((int32_t)1 << (36 - integer_bits));
        if (a < clamp) {
            result = 0;
        }
    }
    if (a == 0) {
        result = INT32_MAX; /* One() in F0 */
    }
    return result;
}

/* 2 / (1 + a) in F2 for a in [0, 1) in F0: Newton-Raphson division, three iterations. */
static inline int32_t mcc_two_over_one_plus_x_f2(int32_t a)
{
    const int32_t constant_48_over_17 = 1515870810;   /* F2 */
    const int32_t constant_neg_32_over_17 = -1010580540; /* F2 */
    const int32_t f2_one = (int32_t)1 << 29;
    const int32_t half_denominator = mcc_rounding_half_sum(a, INT32_MAX);
    int32_t x = mcc_wrapping_add(
        constant_48_over_17,
        mcc_sat_rounding_doubling_high_mul(half_denominator, constant_neg_32_over_17));
    int i;
    for (i = 0; i < 3; ++i) {
        const int32_t half_denominator_times_x =
            mcc_sat_rounding_doubling_high_mul(half_denominator, x);
        const int32_t one_minus_half_denominator_times_x =
            mcc_wrapping_sub(f2_one, half_denominator_times_x);
        x = mcc_wrapping_add(
            x, mcc_saturating_shl(
                   mcc_sat_rounding_doubling_high_mul(x, one_minus_half_denominator_times_x), 2));
    }
    return x;
}

/* 1 / (1 + a) for a in [0, 1); a in F0, result in F0 (Newton-Raphson). */
static inline int32_t mcc_one_over_one_plus_x_for_x_in_0_1(int32_t a)
{
    /* x / 2 as F1 (exact), rescaled to F0 (saturating) */
    return mcc_saturating_shl(mcc_two_over_one_plus_x_f2(a), 1);
}

/* (1 - a) / (1 + a) for a in [0, 1); a in F0, result in F0: 2 / (1 + a) - 1 rescaled from F2. */
static inline int32_t mcc_one_minus_x_over_one_plus_x_for_x_in_0_1(int32_t a)
{
    return mcc_saturating_shl(mcc_wrapping_sub(mcc_two_over_one_plus_x_f2(a), (int32_t)1 << 29), 2);
}

/* TFLite GetReciprocal: returns 1 / x in F0 scaled by 2^-num_bits_over_unit,
 * for x > 0 in F<x_integer_digits>. */
static inline int32_t mcc_get_reciprocal(int32_t x, int32_t x_integer_digits,
                                         int32_t *num_bits_over_unit)
{
    const int32_t headroom_plus_one = mcc_clz_u32((uint32_t)x);
    uint32_t shifted;
    *num_bits_over_unit = x_integer_digits - headroom_plus_one;
    shifted = headroom_plus_one >= 32 ? 0u : ((uint32_t)x << headroom_plus_one);
    return mcc_one_over_one_plus_x_for_x_in_0_1(mcc_wrap_s32(shifted - 2147483648u));
}

/* logistic(a) = 1 / (1 + exp(-a)); a in F<integer_bits>, result in F0. */
static inline int32_t mcc_logistic(int32_t a, int32_t integer_bits)
{
    const int32_t abs_a = a > 0 ? a : mcc_wrapping_neg(a);
    const int32_t result_if_positive = mcc_one_over_one_plus_x_for_x_in_0_1(
        mcc_exp_on_negative_values(mcc_wrapping_neg(abs_a), integer_bits));
    if (a == 0) {
        return (int32_t)1 << 30; /* 0.5 */
    }
    if (a > 0) {
        return result_if_positive;
    }
    return mcc_wrapping_sub(INT32_MAX, result_if_positive);
}

/* tanh(a); a in F<integer_bits>, result in F0: (1 - e) / (1 + e) with e = exp(-2|a|) (the
 * same raw value read with one more integer bit), negated for a < 0. */
static inline int32_t mcc_tanh(int32_t a, int32_t integer_bits)
{
    const int32_t n = a < 0 ? a : mcc_wrapping_neg(a);
    const int32_t t = mcc_one_minus_x_over_one_plus_x_for_x_in_0_1(
        mcc_exp_on_negative_values(n, integer_bits + 1));
    if (a == 0) {
        return 0;
    }
    return a < 0 ? mcc_wrapping_neg(t) : t;
}

#endif /* MCC_FIXED_POINT_H */
