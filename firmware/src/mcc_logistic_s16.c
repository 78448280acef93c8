/* LOGISTIC int16 -> int16 (TFLite reference for int16: sigmoid table with linear
 * interpolation; input zero point 0, output scale 1/32768 and zero point 0). */
#include <stddef.h>

#include "mcc_nn.h"
#include "mcc_nn_internal.h"

#define MCC_LOGISTIC_S16_FRAC_BITS 9
#define MCC_SIGMOID_LUT_LAST 255u

/*
 * v = (x * input_multiplier + round) >> input_left_shift  (1.0 = 3 * 4096 steps), a = |v|;
 * r = sigmoid(a) in Q0.25 from the table (index a >> 9, 9 fractional bits), saturated at index 255;
 * out = (v >= 0 ? r + 2^9 : 2^25 - r + 2^9 - 1) >> 10.
 */
mcc_status mcc_logistic_s16(const mcc_logistic_s16_params *p, const int16_t *input,
                            int16_t *output)
{
    int32_t i;

    if (p == NULL || input == NULL || output == NULL || p->sigmoid_lut == NULL || p->size < 0 ||
        p->input_left_shift < 0 || p->input_left_shift > 31) {
        return MCC_ERR_ARG;
    }
    for (i = 0; i < p->size; ++i) {
        const int32_t v = mcc_s16_lut_input(input[i], p->input_multiplier, p->input_left_shift);
        const uint32_t a = (uint32_t)(v < 0 ? -v : v);
        uint32_t r = (a >> MCC_LOGISTIC_S16_FRAC_BITS) >= MCC_SIGMOID_LUT_LAST
                         ? (uint32_t)0x7FFF << 10
                         : mcc_sigmoid_lut_interp(p->sigmoid_lut, a, MCC_LOGISTIC_S16_FRAC_BITS);
        r = v >= 0 ? r + (1u << 9) : (1u << 25) - r + (1u << 9) - 1u;
        output[i] = (int16_t)(r >> 10);
    }
    return MCC_OK;
}
