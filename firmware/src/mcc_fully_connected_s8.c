/* FULLY_CONNECTED int8, per-tensor or per-channel requantization (TFLite reference semantics).
 *
 *  - portable C (any core; on a DSP core too when scratch is NULL): one dot product per output;
 *  - DSP (__ARM_FEATURE_DSP or MCC_EMULATE_DSP): the inputs of two batches are widened to int16 with
 *    (x + input_offset) folded in (SXTAB16) into a column pair in the scratch buffer, then the int8 x
 *    int16 SMLAD GEMM of mcc_dsp_gemm.h, two outputs x two batches per inner loop (two outputs x one
 *    batch for a lone batch). A nonzero filter_offset adds filter_offset * sum(x + input_offset) per
 *    batch. Scratch (4-byte aligned): 2 x accum_depth int16 = 4 * accum_depth bytes, then 20 bytes
 *    per output (bias and requantization constants).
 */
#include <stddef.h>
#include <stdint.h>

#include "mcc_dsp_gemm.h"
#include "mcc_nn.h"
#include "mcc_nn_internal.h"

int32_t mcc_fully_connected_s8_get_buffer_size(const mcc_fully_connected_params *p)
{
#if defined(MCC_HAS_DSP)
    if (p == NULL || p->accum_depth < 1) {
        return 0;
    }
    return 2 * 2 * p->accum_depth + MCC_RQ_ENTRY_BYTES * p->output_size;
#else
    (void)p;
    return 0;
#endif
}

#if defined(MCC_HAS_DSP)

static mcc_status fully_connected_dsp(const mcc_fully_connected_params *p, const int8_t *input,
                                      const int8_t *filter, const int32_t *bias, int8_t *output,
                                      int8_t *scratch)
{
    const int32_t depth = p->accum_depth;
    const int32_t k4 = depth & ~3;
    const int32_t tail = depth - k4;
    const int32_t off2 = mcc_pack16(p->input_offset, p->input_offset);
    int16_t *cols;
    const mcc_rq_entry *tab;
    mcc_out_stage os;
    int32_t b;

    if (((uintptr_t)scratch & 3u) != 0) {
        return MCC_ERR_ARG;
    }
    cols = (int16_t *)(void *)scratch;
    mcc_out_stage_init(&os, p->output_offset, p->act_min, p->act_max);
    {
        mcc_rq_entry *t = (mcc_rq_entry *)(void *)(scratch + 4 * depth);
        tab = mcc_rq_table(t, bias, p->multiplier, p->shift, p->per_channel ? 1 : 0, p->output_size,
                           p->output_offset, &os)
                  ? t
                  : NULL;
    }
    for (b = 0; b < p->batches; b += 2) {
        const int32_t two = b + 1 < p->batches;
        int32_t add[2] = {0, 0};
        int32_t j;
#if defined(MCC_GEMM_FAST_ONLY)
        /* this build's GEMM has only its 2 x 2 fast path (mcc/codegen/fwsize.py): depth % 4 == 0,
         * no filter offset, and a lone last batch fills both columns (its outputs are stored
         * twice, to one place) */
        const int32_t cols_used = 2;
        if ((depth & 3) != 0 || p->filter_offset != 0) {
            return MCC_ERR_ARG;
        }
        (void)tail;
        for (j = 0; j < cols_used; ++j) {
            (void)mcc_cols_groups(cols + 4 * j, input + (size_t)(b + (two ? j : 0)) * (size_t)depth,
                                  depth >> 2, off2);
        }
#else
        const int32_t cols_used = 1 + two;
        for (j = 0; j < cols_used; ++j) {
            const int8_t *x = input + (size_t)(b + (two ? j : 0)) * (size_t)depth;
            mcc_cols_copy(cols, k4, tail, j, 0, x, depth, p->input_offset, off2);
            if (p->filter_offset != 0) {
                /* sum((x + io) * (w + fo)) = sum((x + io) * w) + fo * sum(x + io) */
                uint32_t xsum = (uint32_t)depth * (uint32_t)p->input_offset;
                int32_t d;
                for (d = 0; d < depth; ++d) {
                    xsum += (uint32_t)(int32_t)x[d];
                }
                add[j] = mcc_wrap_s32((uint32_t)p->filter_offset * xsum);
            }
        }
#endif
        if (!mcc_dsp_gemm_pair(filter, cols, depth, p->output_size, tab, bias, p->multiplier,
                               p->shift, p->per_channel ? 1 : 0, &os,
                               output + (size_t)b * (size_t)p->output_size,
                               two ? output + (size_t)(b + 1) * (size_t)p->output_size
                                   : (cols_used == 2 ? output + (size_t)b * (size_t)p->output_size
                                                     : NULL),
                               add[0], add[1])) {
            return MCC_ERR_ARG;
        }
    }
    return MCC_OK;
}

#endif /* MCC_HAS_DSP */

/* ---- portable ---------------------------------------------------------------------------- */

/*
 * out[b, o] = clamp(requantize(sum_d (x[b, d] + input_offset) * (w[o, d] + filter_offset)
 *                              + bias[o]) + output_offset)
 * computed as sum(x*w) + input_offset*sum(w) + filter_offset*sum(x)
 *             + depth*input_offset*filter_offset + bias   (equal modulo 2^32).
 */
#if MCC_WITH_FALLBACK
MCC_PORTABLE_FALLBACK
static mcc_status fully_connected_portable(const mcc_fully_connected_params *p,
                                           const int8_t *input, const int8_t *filter,
                                           const int32_t *bias, int8_t *output)
{
    int32_t b;
    const uint32_t depth = (uint32_t)p->accum_depth;

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
#endif /* MCC_WITH_FALLBACK */


mcc_status mcc_fully_connected_s8(const mcc_fully_connected_params *p, const int8_t *input,
                                  const int8_t *filter, const int32_t *bias, int8_t *output,
                                  int8_t *scratch)
{
    if (p == NULL || input == NULL || filter == NULL || output == NULL || p->multiplier == NULL ||
        p->shift == NULL) {
        return MCC_ERR_ARG;
    }
    if (p->batches < 1 || p->accum_depth < 1 || p->output_size < 1) {
        return MCC_ERR_ARG;
    }

#if defined(MCC_HAS_DSP)
    if (scratch != NULL) {
        return fully_connected_dsp(p, input, filter, bias, output, scratch);
    }
#else
    (void)scratch;
#endif
#if MCC_WITH_FALLBACK
    return fully_connected_portable(p, input, filter, bias, output);
#else
    return MCC_ERR_ARG;
#endif
}
