/* FULLY_CONNECTED with packed sub-byte weights (8, 4 or 2 bits per output row, mcc_packed.h): the
 * arithmetic of mcc_fully_connected_s8 (TFLite reference semantics), bit for bit, for symmetric
 * weights (filter_offset must be 0, as for every sub-byte tensor), per-tensor or per-channel
 * requantization.
 *  - portable: per output row, unpack it (accum_depth bytes of scratch), then one dot product per
 *    batch;
 *  - DSP (__ARM_FEATURE_DSP or MCC_EMULATE_DSP): blocks of B rows unpacked to int8, zero-padded to
 *    depth Dp (accum_depth rounded up to a multiple of 4), times batch pairs widened to int16
 *    (x + input_offset) by the SMLAD GEMM of mcc_dsp_gemm.h; B = MCC_PACKED_WBLOCK / Dp rounded
 *    down to even (>= 2, <= output_size). Scratch (4-byte aligned): 4 * Dp + 20 * output_size
 *    + B * Dp.
 * mcc.lower.scratch.fully_connected_packed mirrors the sizes.
 */
#include <stddef.h>
#include <stdint.h>

#include "mcc_dsp_gemm.h"
#include "mcc_nn.h"
#include "mcc_nn_internal.h"
#include "mcc_packed.h"

int32_t mcc_fully_connected_packed_get_buffer_size(const mcc_fully_connected_packed_params *pp)
{
    if (pp == NULL || pp->fc.accum_depth < 1 || pp->fc.output_size < 1) {
        return 0;
    }
#if defined(MCC_HAS_DSP)
    {
        const int32_t dp = (pp->fc.accum_depth + 3) & ~3;
        return 4 * dp + MCC_RQ_ENTRY_BYTES * pp->fc.output_size +
               mcc_packed_block_rows(dp, pp->fc.output_size) * dp;
    }
#else
    return pp->fc.accum_depth;
#endif
}

#if defined(MCC_HAS_DSP)

static mcc_status fully_connected_packed_dsp(const mcc_fully_connected_packed_params *pp,
                                             const int8_t *input, const uint8_t *filter,
                                             const int32_t *bias, int8_t *output, int8_t *scratch)
{
    const mcc_fully_connected_params *p = &pp->fc;
    const int32_t depth = p->accum_depth;
    const int32_t dp = (depth + 3) & ~3;
    const int32_t rows_all = p->output_size;
    const int32_t block = mcc_packed_block_rows(dp, rows_all);
    const int32_t qs = p->per_channel ? 1 : 0;
    const int32_t off2 = mcc_pack16(p->input_offset, p->input_offset);
    int16_t *cols = (int16_t *)(void *)scratch;
    mcc_rq_entry *t = (mcc_rq_entry *)(void *)(scratch + 4 * dp);
    int8_t *wblock = scratch + 4 * dp + MCC_RQ_ENTRY_BYTES * rows_all;
    const mcc_rq_entry *tab;
    const uint8_t *src = filter;
    mcc_out_stage os;
    int32_t o0;

    mcc_out_stage_init(&os, p->output_offset, p->act_min, p->act_max);
    tab = mcc_rq_table(t, bias, p->multiplier, p->shift, qs, rows_all, p->output_offset) ? t : NULL;
    for (o0 = 0; o0 < rows_all; o0 += block) {
        const int32_t rows = rows_all - o0 < block ? rows_all - o0 : block;
        int32_t r;
        int32_t b;
        for (r = 0; r < rows; ++r) {
            const int32_t bits = pp->weight_bits[o0 + r];
            mcc_unpack_row(src, depth, bits, wblock + (size_t)r * (size_t)dp, dp);
            src += mcc_packed_row_bytes(depth, bits);
        }
        for (b = 0; b < p->batches; b += 2) {
            const int32_t two = b + 1 < p->batches;
            int32_t j;
            for (j = 0; j <= two; ++j) {
                mcc_cols_copy(cols, dp, 0, j, 0, input + (size_t)(b + j) * (size_t)depth, depth,
                              p->input_offset, off2);
                mcc_cols_zero(cols, dp, 0, j, depth, dp - depth);
            }
            mcc_dsp_gemm_pair(wblock, cols, dp, rows, tab != NULL ? tab + o0 : NULL,
                              bias != NULL ? bias + o0 : NULL, p->multiplier + o0 * qs,
                              p->shift + o0 * qs, qs, &os,
                              output + (size_t)b * (size_t)rows_all + (size_t)o0,
                              two ? output + (size_t)(b + 1) * (size_t)rows_all + (size_t)o0 : NULL,
                              0, 0);
        }
    }
    return MCC_OK;
}

#else /* portable */

static mcc_status fully_connected_packed_portable(const mcc_fully_connected_packed_params *pp,
                                                  const int8_t *input, const uint8_t *filter,
                                                  const int32_t *bias, int8_t *output,
                                                  int8_t *scratch)
{
    const mcc_fully_connected_params *p = &pp->fc;
    const int32_t depth = p->accum_depth;
    const uint8_t *src = filter;
    int32_t o;
    for (o = 0; o < p->output_size; ++o) {
        const int32_t bits = pp->weight_bits[o];
        const int32_t ch = p->per_channel ? o : 0;
        int32_t wsum = 0;
        int32_t d;
        int32_t b;
        mcc_unpack_row(src, depth, bits, scratch, depth);
        src += mcc_packed_row_bytes(depth, bits);
        for (d = 0; d < depth; ++d) {
            wsum += scratch[d];
        }
        for (b = 0; b < p->batches; ++b) {
            const int8_t *x = input + (size_t)b * (size_t)depth;
            int32_t dot = 0;
            int32_t acc;
            for (d = 0; d < depth; ++d) {
                dot += (int32_t)x[d] * (int32_t)scratch[d];
            }
            acc = mcc_wrap_s32((uint32_t)dot + (uint32_t)p->input_offset * (uint32_t)wsum +
                               (bias != NULL ? (uint32_t)bias[o] : 0u));
            acc = mcc_requantize(acc, p->multiplier[ch], p->shift[ch]) + p->output_offset;
            output[(size_t)b * (size_t)p->output_size + (size_t)o] =
                mcc_sat_s8(acc, p->act_min, p->act_max);
        }
    }
    return MCC_OK;
}

#endif /* MCC_HAS_DSP */

mcc_status mcc_fully_connected_packed(const mcc_fully_connected_packed_params *pp,
                                      const int8_t *input, const uint8_t *filter,
                                      const int32_t *bias, int8_t *output, int8_t *scratch)
{
    const mcc_fully_connected_params *p;
    if (pp == NULL || input == NULL || filter == NULL || output == NULL || scratch == NULL ||
        pp->weight_bits == NULL || pp->fc.multiplier == NULL || pp->fc.shift == NULL) {
        return MCC_ERR_ARG;
    }
    p = &pp->fc;
    if (p->batches < 1 || p->accum_depth < 1 || p->output_size < 1 || p->filter_offset != 0 ||
        !mcc_packed_bits_ok(pp->weight_bits, p->output_size)) {
        return MCC_ERR_ARG;
    }
#if defined(MCC_HAS_DSP)
    if (((uintptr_t)scratch & 3u) != 0) {
        return MCC_ERR_ARG;
    }
    return fully_connected_packed_dsp(pp, input, filter, bias, output, scratch);
#else
    return fully_connected_packed_portable(pp, input, filter, bias, output, scratch);
#endif
}
