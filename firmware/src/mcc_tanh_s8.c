/* TANH int8 -> int8 (TFLite reference, gemmlowp fixed point; output scale 1/128, zp 0). */
#include <stddef.h>

#include "mcc_nn.h"
#include "mcc_nn_internal.h"

#define MCC_TANH_INPUT_INTEGER_BITS 4
#define MCC_TANH_OUTPUT_FRACTIONAL_BITS 7

/*
 * v = x - input_zero_point; v <= -radius -> -128, v >= radius -> 127, otherwise
 * out = clamp(rounding_shift(tanh(requantize(v, m, s) as F4), 24)).
 */
mcc_status mcc_tanh_s8(const mcc_tanh_params *p, const int8_t *input, int8_t *output)
{
    int32_t i;

    if (p == NULL || input == NULL || output == NULL || p->size < 0) {
        return MCC_ERR_ARG;
    }
    for (i = 0; i < p->size; ++i) {
        const int32_t v = (int32_t)input[i] - p->input_zero_point;
        if (v <= -p->input_range_radius) {
            output[i] = INT8_MIN;
        } else if (v >= p->input_range_radius) {
            output[i] = INT8_MAX;
        } else {
            const int32_t in_q4 = mcc_requantize(v, p->input_multiplier, p->input_left_shift);
            const int32_t out_q0 = mcc_tanh(in_q4, MCC_TANH_INPUT_INTEGER_BITS);
            const int32_t out_q24 =
                mcc_rounding_divide_by_pot(out_q0, 31 - MCC_TANH_OUTPUT_FRACTIONAL_BITS);
            output[i] = (int8_t)mcc_clamp_s32(out_q24, INT8_MIN, INT8_MAX);
        }
    }
    return MCC_OK;
}
