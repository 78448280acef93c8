/* MEAN int16 over one contiguous block of axes (TFLite QuantizedMeanOrSum semantics). */
#include <stddef.h>

#include "mcc_nn.h"
#include "mcc_nn_internal.h"

/*
 * Input viewed as (outer, reduce, inner); 1/reduce is folded into multiplier/shift:
 *   out[o, i] = clamp16(requantize(sum_r x[o, r, i] + reduce * input_offset, m, s) + output_offset)
 * (int32 sum, wrapping as the reference's int32 accumulator).
 */
mcc_status mcc_mean_s16(const mcc_mean_s16_params *p, const int16_t *input, int16_t *output)
{
    int32_t o;
    uint32_t offset_total;

    if (p == NULL || input == NULL || output == NULL) {
        return MCC_ERR_ARG;
    }
    if (p->outer < 0 || p->reduce < 1 || p->inner < 0) {
        return MCC_ERR_ARG;
    }
    offset_total = (uint32_t)p->reduce * (uint32_t)p->input_offset;
    for (o = 0; o < p->outer; ++o) {
        const int16_t *x = input + (size_t)o * (size_t)p->reduce * (size_t)p->inner;
        int32_t i;
        for (i = 0; i < p->inner; ++i) {
            uint32_t acc = offset_total;
            int32_t r;
            int32_t v;
            for (r = 0; r < p->reduce; ++r) {
                acc += (uint32_t)(int32_t)x[(size_t)r * (size_t)p->inner + (size_t)i];
            }
            v = mcc_requantize(mcc_wrap_s32(acc), p->multiplier, p->shift) + p->output_offset;
            output[(size_t)o * (size_t)p->inner + (size_t)i] =
                (int16_t)mcc_clamp_s32(v, INT16_MIN, INT16_MAX);
        }
    }
    return MCC_OK;
}
