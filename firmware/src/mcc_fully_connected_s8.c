/* FULLY_CONNECTED int8, per-tensor or per-channel requantization (TFLite reference semantics). */
#include <stddef.h>

#include "mcc_nn.h"
#include "mcc_nn_internal.h"

int32_t mcc_fully_connected_s8_get_buffer_size(const mcc_fully_connected_params *p)
{
    (void)p;
    return 0;
}

/*
 * out[b, o] = clamp(requantize(sum_d (x[b, d] + input_offset) * (w[o, d] + filter_offset)
 *                              + bias[o]) + output_offset)
 * computed as sum(x*w) + input_offset*sum(w) + filter_offset*sum(x)
 *             + depth*input_offset*filter_offset + bias   (equal modulo 2^32).
 */
mcc_status mcc_fully_connected_s8(const mcc_fully_connected_params *p, const int8_t *input,
                                  const int8_t *filter, const int32_t *bias, int8_t *output,
                                  int8_t *scratch)
{
    int32_t b;
    const uint32_t depth = (uint32_t)(p != NULL ? p->accum_depth : 0);
    (void)scratch;

    if (p == NULL || input == NULL || filter == NULL || output == NULL || p->multiplier == NULL ||
        p->shift == NULL) {
        return MCC_ERR_ARG;
    }
    if (p->batches < 1 || p->accum_depth < 1 || p->output_size < 1) {
        return MCC_ERR_ARG;
    }

    for (b = 0; b < p->batches; ++b) {
        const int8_t *x = input + (size_t)b * (size_t)p->accum_depth;
        int8_t *out = output + (size_t)b * (size_t)p->output_size;
        uint32_t constant_u = depth * (uint32_t)p->input_offset * (uint32_t)p->filter_offset;
        int32_t o;
        if (p->filter_offset != 0) {
            int32_t xsum = 0;
            int32_t d;
            for (d = 0; d < p->accum_depth; ++d) {
                xsum += x[d];
            }
            constant_u += (uint32_t)p->filter_offset * (uint32_t)xsum;
        }
        for (o = 0; o < p->output_size; ++o) {
            const int8_t *w = filter + (size_t)o * (size_t)p->accum_depth;
            const int32_t ch = p->per_channel ? o : 0;
            int32_t dot = 0;
            int32_t wsum = 0;
            int32_t d;
            int32_t acc;
            for (d = 0; d < p->accum_depth; ++d) {
                dot += (int32_t)x[d] * (int32_t)w[d];
                wsum += w[d];
            }
            acc = mcc_wrap_s32((uint32_t)dot + (uint32_t)p->input_offset * (uint32_t)wsum +
                               constant_u + (bias != NULL ? (uint32_t)bias[o] : 0u));
            acc = mcc_requantize(acc, p->multiplier[ch], p->shift[ch]) + p->output_offset;
            out[o] = mcc_sat_s8(acc, p->act_min, p->act_max);
        }
    }
    return MCC_OK;
}
