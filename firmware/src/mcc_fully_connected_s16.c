/* FULLY_CONNECTED 16x8: int16 input, int8 (output_size, accum_depth) weights, int64 (or int32,
 * bias_bits 32: int32 accumulator and requantization) bias,
 * int16 output (TFLite reference FullyConnected for int16: int64 accumulator, int64
 * requantization, per-tensor or per-channel). Portable C; scratch unused (may be NULL). */
#include <stddef.h>

#include "mcc_nn.h"
#include "mcc_nn_internal.h"

/* out[b, o] = clamp(requantize64(sum_d x[b, d] * w[o, d] + bias[o], m[o or 0], s[o or 0])) */
mcc_status mcc_fully_connected_s16(const mcc_fully_connected_s16_params *p, const int16_t *input,
                                   const int8_t *filter, const void *bias, int16_t *output,
                                   int8_t *scratch)
{
    int32_t b;

    (void)scratch;
    if (p == NULL || input == NULL || filter == NULL || output == NULL || p->multiplier == NULL ||
        p->shift == NULL) {
        return MCC_ERR_ARG;
    }
    if (p->batches < 0 || p->accum_depth < 1 || p->output_size < 1) {
        return MCC_ERR_ARG;
    }
    for (b = 0; b < p->batches; ++b) {
        const int16_t *x = input + (size_t)b * (size_t)p->accum_depth;
        int32_t o;
        for (o = 0; o < p->output_size; ++o) {
            const int8_t *w = filter + (size_t)o * (size_t)p->accum_depth;
            const int32_t k = p->per_channel ? o : 0;
            int64_t acc = 0;
            int32_t d;
            for (d = 0; d < p->accum_depth; ++d) {
                acc += (int32_t)x[d] * (int32_t)w[d];
            }
            output[(size_t)b * (size_t)p->output_size + (size_t)o] = mcc_sat_s16(
                mcc_s16_output_stage(acc, bias, p->bias_bits, o, p->multiplier[k], p->shift[k]),
                p->act_min, p->act_max);
        }
    }
    return MCC_OK;
}
