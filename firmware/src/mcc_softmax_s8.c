/* SOFTMAX int8 -> int8 over the last axis (TFLite reference, gemmlowp fixed point). */

/* It runs once per inference on the logits, so it is compiled for size (GCC: this file and the
 * inline fixed-point helpers it includes; -O2 makes it about 1.6 KB on Cortex-M4, -Os 0.9 KB). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("Os")
#endif

#include <stddef.h>

#include "mcc_nn.h"
#include "mcc_nn_internal.h"

#define MCC_SOFTMAX_SCALED_DIFF_INTEGER_BITS 5
#define MCC_SOFTMAX_ACCUMULATION_INTEGER_BITS 12

/* RoundingDivideByPOT for exponents 0..62: the final shift exceeds 31 when the sum of
 * exponentials reaches 512 (over 512 near-maximal logits in a row). TFLM stops there (TFLITE_CHECK);
 * mcc, like its numpy reference, returns the correctly rounded quotient (0 for such rows). */
static int32_t rounding_divide_by_pot_wide(int32_t x, int32_t exponent)
{
    int64_t mask;
    int64_t remainder;
    int64_t threshold;
    int64_t quotient;
    if (exponent <= 31) {
        return mcc_rounding_divide_by_pot(x, exponent);
    }
    mask = ((int64_t)1 << exponent) - 1;
    remainder = (int64_t)x & mask;
    threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    quotient = x >= 0 ? 0 : -1; /* floor(x / 2^exponent) for |x| <= 2^31 < 2^exponent */
    return (int32_t)(quotient + (remainder > threshold ? 1 : 0));
}

/*
 * Per row: diff = x - max(row); terms with diff < diff_min are dropped (output -128);
 * others: e = exp(diff * beta) in F0 via exp_on_negative_values on
 * requantize(diff, input_multiplier, input_left_shift) (F5); sum of e in F12;
 * out = rounding_shift(reciprocal(sum) * e, num_bits_over_unit + 23) + output_offset.
 */
mcc_status mcc_softmax_s8(const mcc_softmax_params *p, const int8_t *input, int8_t *output)
{
    int32_t r;

    if (p == NULL || input == NULL || output == NULL) {
        return MCC_ERR_ARG;
    }
    if (p->rows < 0 || p->row_size < 1 || p->input_left_shift < 0 || p->input_left_shift > 31) {
        return MCC_ERR_ARG;
    }

    for (r = 0; r < p->rows; ++r) {
        const int8_t *x = input + (size_t)r * (size_t)p->row_size;
        int8_t *out = output + (size_t)r * (size_t)p->row_size;
        int32_t max_in_row = INT8_MIN;
        int32_t sum_of_exps = 0; /* F12 */
        int32_t num_bits_over_unit;
        int32_t shifted_scale;   /* F0 */
        int32_t exponent;
        int32_t c;

        for (c = 0; c < p->row_size; ++c) {
            max_in_row = x[c] > max_in_row ? x[c] : max_in_row;
        }
        for (c = 0; c < p->row_size; ++c) {
            const int32_t diff = (int32_t)x[c] - max_in_row;
            if (diff >= p->diff_min) {
                const int32_t scaled =
                    mcc_requantize(diff, p->input_multiplier, p->input_left_shift);
                const int32_t e =
                    mcc_exp_on_negative_values(scaled, MCC_SOFTMAX_SCALED_DIFF_INTEGER_BITS);
                sum_of_exps = mcc_wrapping_add(
                    sum_of_exps,
                    mcc_rounding_divide_by_pot(e, MCC_SOFTMAX_ACCUMULATION_INTEGER_BITS));
            }
        }

        shifted_scale = mcc_get_reciprocal(sum_of_exps, MCC_SOFTMAX_ACCUMULATION_INTEGER_BITS,
                                           &num_bits_over_unit);
        exponent = num_bits_over_unit + 31 - 8;
        if (exponent < 0 || exponent > 62) {
            return MCC_ERR_ARG;
        }

        for (c = 0; c < p->row_size; ++c) {
            const int32_t diff = (int32_t)x[c] - max_in_row;
            if (diff >= p->diff_min) {
                const int32_t scaled =
                    mcc_requantize(diff, p->input_multiplier, p->input_left_shift);
                const int32_t e =
                    mcc_exp_on_negative_values(scaled, MCC_SOFTMAX_SCALED_DIFF_INTEGER_BITS);
                const int32_t unsat = rounding_divide_by_pot_wide(
                    mcc_sat_rounding_doubling_high_mul(shifted_scale, e), exponent);
                out[c] = (int8_t)mcc_clamp_s32(unsat + p->output_offset, INT8_MIN, INT8_MAX);
            } else {
                out[c] = INT8_MIN;
            }
        }
    }
    return MCC_OK;
}
