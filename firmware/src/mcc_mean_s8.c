/* MEAN int8 over one contiguous block of axes (TFLite QuantizedMeanOrSum semantics). */
#include <stddef.h>

#include "mcc_nn.h"
#include "mcc_nn_internal.h"

#define MCC_MEAN_CHUNK 32

/*
 * Input viewed as (outer, reduce, inner); 1/reduce is already folded into
 * multiplier/shift by the lowering:
 *   out[o, i] = clamp(requantize(sum_r x[o, r, i] + reduce * input_offset, m, s) + output_offset)
 */
mcc_status mcc_mean_s8(const mcc_mean_params *p, const int8_t *input, int8_t *output)
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
        const int8_t *x = input + (size_t)o * (size_t)p->reduce * (size_t)p->inner;
        int8_t *out = output + (size_t)o * (size_t)p->inner;
        int32_t i0;
        for (i0 = 0; i0 < p->inner; i0 += MCC_MEAN_CHUNK) {
            const int32_t n = p->inner - i0 < MCC_MEAN_CHUNK ? p->inner - i0 : MCC_MEAN_CHUNK;
            int32_t acc[MCC_MEAN_CHUNK];
            int32_t r;
            int32_t j;
            for (j = 0; j < n; ++j) {
                acc[j] = 0;
            }
            for (r = 0; r < p->reduce; ++r) {
                const int8_t *xr = x + (size_t)r * (size_t)p->inner + (size_t)i0;
                for (j = 0; j < n; ++j) {
                    acc[j] += xr[j];
                }
            }
            for (j = 0; j < n; ++j) {
                const int32_t shifted = mcc_wrap_s32((uint32_t)acc[j] + offset_total);
                const int32_t v = mcc_requantize(shifted, p->multiplier, p->shift) + p->output_offset;
                out[i0 + j] = (int8_t)mcc_clamp_s32(v, INT8_MIN, INT8_MAX);
            }
        }
    }
    return MCC_OK;
}
