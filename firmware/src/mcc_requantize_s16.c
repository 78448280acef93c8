/* QUANTIZE between int8 and int16 tensors (TFLite Requantize): int16 -> int16, int16 -> int8,
 * int8 -> int16 (input_bits / output_bits give the element widths, 8 or 16). */
#include <stddef.h>

#include "mcc_nn.h"
#include "mcc_nn_internal.h"

/* out = clamp(requantize(x + input_offset, m, s) + output_offset, qmin, qmax) */
mcc_status mcc_requantize_s16(const mcc_requantize_s16_params *p, const void *input, void *output)
{
    const int8_t *in8 = (const int8_t *)input;
    const int16_t *in16 = (const int16_t *)input;
    int8_t *out8 = (int8_t *)output;
    int16_t *out16 = (int16_t *)output;
    int32_t lo;
    int32_t hi;
    int32_t i;

    if (p == NULL || input == NULL || output == NULL || p->size < 0 ||
        (p->input_bits != 8 && p->input_bits != 16) ||
        (p->output_bits != 8 && p->output_bits != 16)) {
        return MCC_ERR_ARG;
    }
    lo = p->output_bits == 8 ? INT8_MIN : INT16_MIN;
    hi = p->output_bits == 8 ? INT8_MAX : INT16_MAX;
    lo = p->qmin > lo ? p->qmin : lo;
    hi = p->qmax < hi ? p->qmax : hi;
    for (i = 0; i < p->size; ++i) {
        const int32_t x = p->input_bits == 8 ? (int32_t)in8[i] : (int32_t)in16[i];
        const int32_t v = mcc_clamp_s32(
            mcc_requantize(x + p->input_offset, p->multiplier, p->shift) + p->output_offset, lo,
            hi);
        if (p->output_bits == 8) {
            out8[i] = (int8_t)v;
        } else {
            out16[i] = (int16_t)v;
        }
    }
    return MCC_OK;
}
