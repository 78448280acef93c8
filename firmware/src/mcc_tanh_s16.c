/* TANH int16 -> int16 (TFLite reference for int16: the sigmoid table read at twice the input,
 * tanh(x) = 2 sigmoid(2x) - 1; input zero point 0, output scale 1/32768 and zero point 0). */
#include <stddef.h>

#include "mcc_nn.h"
#include "mcc_nn_internal.h"

#define MCC_TANH_S16_FRAC_BITS 8
#define MCC_SIGMOID_LUT_LAST 255u

/*
 * v = (x * input_multiplier + round) >> input_left_shift  (1.0 = 3 * 4096 steps), a = |v|;
 * r = sigmoid(2a) in Q0.24 from the table (index a >> 8, 8 fractional bits), saturated at index 255;
 * out = (v >= 0 ? r - 2^23 + 2^7 : -r + 2^23 + 2^7 - 1) >> 8  (arithmetic shift).
 */
mcc_status mcc_tanh_s16(const mcc_tanh_s16_params *p, const int16_t *input, int16_t *output)
{
    int32_t i;

    if (p == NULL || input == NULL || output == NULL || p->sigmoid_lut == NULL || p->size < 0 ||
        p->input_left_shift < 0 || p->input_left_shift > 31) {
        return MCC_ERR_ARG;
    }
    for (i = 0; i < p->size; ++i) {
        const int32_t v = mcc_s16_lut_input(input[i], p->input_multiplier, p->input_left_shift);
        const uint32_t a = (uint32_t)(v < 0 ? -v : v);
        int32_t r = (a >> MCC_TANH_S16_FRAC_BITS) >= MCC_SIGMOID_LUT_LAST
                        ? (int32_t)0xFFFF << 8
                        : (int32_t)mcc_sigmoid_lut_interp(p->sigmoid_lut, a, MCC_TANH_S16_FRAC_BITS);
        r = v >= 0 ? r - (1 << 23) + (1 << 7) : -r + (1 << 23) + (1 << 7) - 1;
        output[i] = (int16_t)mcc_asr(r, 8);
    }
    return MCC_OK;
}
