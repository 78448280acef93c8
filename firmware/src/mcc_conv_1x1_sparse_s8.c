/* CONV_2D int8, 1x1 filter, no padding (any stride), with unstructured-sparse weights: the byte
 * stream of mcc/lower/sparse.py for the [output_c, input_c] matrix (per output channel a uint16
 * entry count, then per entry a column delta uint8 and a weight int8; (255, 0) entries skip 255
 * columns) instead of the dense OHWI filter.
 *
 * bias: the folded bias bias[o] + input_offset * sum_k w[o][k] (modulo 2^32, computed in Python),
 * so each stored weight costs one multiply-accumulate of the raw input per pixel; the result equals
 * mcc_conv_s8 bit for bit. Output pixels go in pairs, the two sharing each entry's decode (a lone
 * last pixel is computed as a pair with itself). Portable C (on a DSP build, the one-SMLAL
 * requantization of mcc_dsp.h); no scratch (the argument is ignored).
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

mcc_status mcc_conv_1x1_sparse_s8(const mcc_conv_params *p, const int8_t *input,
                                  const int8_t *filter, const int32_t *bias, int8_t *output,
                                  int8_t *scratch)
{
    const uint8_t *counts = (const uint8_t *)(const void *)filter;
    const int32_t pixels = p != NULL ? p->input_n * p->output_h * p->output_w : 0;
    int32_t i;
    (void)scratch;
    if (p == NULL || input == NULL || filter == NULL || output == NULL || p->multiplier == NULL ||
        p->shift == NULL) {
        return MCC_ERR_ARG;
    }
    if (p->input_n < 1 || p->input_h < 1 || p->input_w < 1 || p->input_c < 1 ||
        p->output_h < 1 || p->output_w < 1 || p->output_c < 1 || p->filter_h != 1 ||
        p->filter_w != 1 || p->pad_h != 0 || p->pad_w != 0 || p->stride_h < 1 ||
        p->stride_w < 1 || (p->output_h - 1) * p->stride_h >= p->input_h ||
        (p->output_w - 1) * p->stride_w >= p->input_w) {
        return MCC_ERR_ARG;
    }
    for (i = 0; i < pixels; i += 2) {
        const int8_t *x[2];
        int8_t *out[2];
        const uint8_t *e = counts + 2 * (size_t)p->output_c;
        int32_t j;
        int32_t o;
        for (j = 0; j < 2; ++j) {
            const int32_t q = i + j < pixels ? i + j : i;
            const int32_t ox = q % p->output_w;
            const int32_t oy = (q / p->output_w) % p->output_h;
            const int32_t n = q / (p->output_w * p->output_h);
            x[j] = input + ((size_t)(n * p->input_h + oy * p->stride_h) * (size_t)p->input_w +
                            (size_t)(ox * p->stride_w)) * (size_t)p->input_c;
            out[j] = output + (size_t)q * (size_t)p->output_c;
        }
        for (o = 0; o < p->output_c; ++o) {
            int32_t n = (int32_t)counts[2 * o] | ((int32_t)counts[2 * o + 1] << 8);
            uint32_t a0 = bias != NULL ? (uint32_t)bias[o] : 0u;
            uint32_t a1 = a0;
            const int8_t *x0 = x[0];
            const ptrdiff_t dx = x[1] - x[0];
            for (; n > 0; --n, e += 2) {
                const int32_t w = (int8_t)e[1];
                x0 += e[0];
                a0 += (uint32_t)((int32_t)x0[0] * w);
                a1 += (uint32_t)((int32_t)x0[dx] * w);
            }
            out[1][o] = sparse_out(mcc_wrap_s32(a1), p->multiplier[o], p->shift[o], p->output_offset,
                                   p->act_min, p->act_max);
            out[0][o] = sparse_out(mcc_wrap_s32(a0), p->multiplier[o], p->shift[o], p->output_offset,
                                   p->act_min, p->act_max);
        }
    }
    return MCC_OK;
}
