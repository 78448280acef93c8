/* FULLY_CONNECTED int8 with unstructured-sparse weights: the byte stream of mcc/lower/sparse.py
 * (per output row a uint16 entry count, then per entry a column delta uint8 and a weight int8;
 * (255, 0) entries skip 255 columns) instead of the dense [output_size, accum_depth] matrix.
 *
 * bias: the folded bias bias[o] + input_offset * sum_k w[o][k] (modulo 2^32, computed in Python),
 * so that each stored weight costs one multiply-accumulate of the raw input; the result equals
 * mcc_fully_connected_s8 bit for bit. Symmetric weights only (filter_offset 0). Portable C (on a DSP
 * build, the one-SMLAL requantization of mcc_dsp.h); no scratch (the argument is ignored). One pass
 * over the stream per batch.
 */
#include <stddef.h>
#include <stdint.h>

#include "mcc_dsp.h"
#include "mcc_nn.h"
#include "mcc_nn_internal.h"

/* requantize(acc) + output_offset, clamped: on a DSP build the one-SMLAL form of mcc_dsp.h when the
 * channel is in its range (same result), else the exact reference arithmetic. */
static int8_t sparse_out(int32_t acc, int32_t multiplier, int32_t shift, int32_t output_offset,
                         int32_t act_min, int32_t act_max)
{
#if defined(MCC_HAS_DSP)
    if (mcc_rq_ok(multiplier, shift)) {
        mcc_rq q;
        mcc_rq_init(&q, multiplier, shift, output_offset);
        return mcc_sat_s8(mcc_rq_apply(&q, acc), act_min, act_max);
    }
#endif
    return mcc_sat_s8(mcc_requantize(acc, multiplier, shift) + output_offset, act_min, act_max);
}

mcc_status mcc_fully_connected_sparse_s8(const mcc_fully_connected_params *p, const int8_t *input,
                                         const int8_t *filter, const int32_t *bias, int8_t *output,
                                         int8_t *scratch)
{
    const uint8_t *counts = (const uint8_t *)(const void *)filter;
    int32_t b;
    (void)scratch;
    if (p == NULL || input == NULL || filter == NULL || output == NULL || p->multiplier == NULL ||
        p->shift == NULL) {
        return MCC_ERR_ARG;
    }
    if (p->batches < 1 || p->accum_depth < 1 || p->output_size < 1 || p->filter_offset != 0) {
        return MCC_ERR_ARG;
    }
    for (b = 0; b < p->batches; ++b) {
        const int8_t *x = input + (size_t)b * (size_t)p->accum_depth;
        const uint8_t *e = counts + 2 * (size_t)p->output_size;
        int8_t *out = output + (size_t)b * (size_t)p->output_size;
        int32_t o;
        for (o = 0; o < p->output_size; ++o) {
            int32_t n = (int32_t)counts[2 * o] | ((int32_t)counts[2 * o + 1] << 8);
            uint32_t acc = bias != NULL ? (uint32_t)bias[o] : 0u;
            const int8_t *xp = x;
            const int32_t ch = p->per_channel ? o : 0;
            for (; n >= 2; n -= 2, e += 4) { /* two entries per iteration */
                const int8_t *xq = xp + e[0];
                xp = xq + e[2];
                acc += (uint32_t)((int32_t)*xq * (int32_t)(int8_t)e[1]);
                acc += (uint32_t)((int32_t)*xp * (int32_t)(int8_t)e[3]);
            }
            if (n > 0) {
                xp += e[0];
                acc += (uint32_t)((int32_t)*xp * (int32_t)(int8_t)e[1]);
                e += 2;
            }
            out[o] = sparse_out(mcc_wrap_s32(acc), p->multiplier[ch], p->shift[ch], p->output_offset,
                                p->act_min, p->act_max);
        }
    }
    return MCC_OK;
}
