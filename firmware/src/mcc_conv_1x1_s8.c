/* CONV_2D int8 specialised for 1x1 filters without padding (any stride; dilation is moot):
 * output pixel (oy, ox) reads the single input pixel (oy * stride_h, ox * stride_w), so there is no
 * im2col. Same parameters and arithmetic as mcc_conv_s8 (TFLite reference semantics).
 *
 *  - portable C (on a DSP core too when scratch is NULL): one dot product per output;
 *  - DSP (__ARM_FEATURE_DSP or MCC_EMULATE_DSP): the input channels of two pixels are widened to
 *    int16 with (x + input_offset) folded in (two SXTAB16 per four values) into a column pair in
 *    the scratch buffer, then the int8 x int16 SMLAD GEMM of mcc_dsp_gemm.h (two output channels
 *    x two pixels per inner loop). Scratch (4-byte aligned): 2 x input_c int16 = 4 * input_c bytes,
 *    then 20 bytes per output channel (bias and requantization constants).
 *
 * Chosen at compile time (mcc/codegen/select.py) when filter_h == filter_w == 1 and
 * pad_h == pad_w == 0; returns MCC_ERR_ARG for other shapes.
 */
#include <stddef.h>
#include <stdint.h>

#include "mcc_dsp_gemm.h"
#include "mcc_nn.h"
#include "mcc_nn_internal.h"

/* Built with MCC_CONV_1X1_SHARED (mcc/codegen/fwsize.py sets it when the image also has
 * mcc_conv_s8 and every 1x1 layer has input_c % 4 == 0), the DSP path is mcc_conv_s8's: for such a
 * layer it does the same (one mcc_cols_rows per pixel, then the GEMM) with the same scratch layout
 * and size, so the image keeps one copy of that loop. */
#if defined(MCC_HAS_DSP) && defined(MCC_CONV_1X1_SHARED)
#define MCC_1X1_OWN_DSP 0
#else
#define MCC_1X1_OWN_DSP 1
#endif

int32_t mcc_conv_1x1_s8_get_buffer_size(const mcc_conv_params *p)
{
#if defined(MCC_HAS_DSP)
    if (p == NULL || p->input_c < 1) {
        return 0;
    }
    return 2 * 2 * p->input_c + MCC_RQ_ENTRY_BYTES * p->output_c;
#else
    (void)p;
    return 0;
#endif
}

#if defined(MCC_HAS_DSP) && MCC_1X1_OWN_DSP

static mcc_status conv_1x1_dsp(const mcc_conv_params *p, const int8_t *input, const int8_t *filter,
                               const int32_t *bias, int8_t *output, int8_t *scratch)
{
    const int32_t c = p->input_c;
    const int32_t pixels = p->input_n * p->output_h * p->output_w;
    const int32_t k4 = c & ~3;
    const int32_t tail = c - k4;
    const int32_t off2 = mcc_pack16(p->input_offset, p->input_offset);
    int16_t *cols;
    const mcc_rq_entry *tab;
    mcc_out_stage os;
    int32_t pix;
    int32_t n = 0;
    int32_t oy = 0;
    int32_t ox = 0;

    if (((uintptr_t)scratch & 3u) != 0) {
        return MCC_ERR_ARG;
    }
    cols = (int16_t *)(void *)scratch;
    mcc_out_stage_init(&os, p->output_offset, p->act_min, p->act_max);
    {
        mcc_rq_entry *t = (mcc_rq_entry *)(void *)(scratch + 4 * c);
        tab = mcc_rq_table(t, bias, p->multiplier, p->shift, 1, p->output_c, p->output_offset,
                           &os)
                  ? t
                  : NULL;
    }
    for (pix = 0; pix < pixels; pix += 2) {
        const int32_t two = pix + 1 < pixels;
        int32_t j;
        /* a lone last pixel fills both columns (its outputs are stored twice, to one place), so
         * that the GEMM keeps its 2 x 2 fast path */
        for (j = 0; j < 2; ++j) {
            const int8_t *src =
                input + ((size_t)(n * p->input_h + oy * p->stride_h) * (size_t)p->input_w +
                         (size_t)(ox * p->stride_w)) * (size_t)c;
            if (tail == 0) {
                mcc_cols_rows(cols + 4 * j, src, 1, c >> 2, 0, off2);
            } else {
                mcc_cols_copy(cols, k4, tail, j, 0, src, c, p->input_offset, off2);
            }
            if (j == 0 && !two) {
                continue;
            }
            if (++ox == p->output_w) {
                ox = 0;
                if (++oy == p->output_h) {
                    oy = 0;
                    ++n;
                }
            }
        }
        if (!mcc_dsp_gemm_pair(filter, cols, c, p->output_c, tab, bias, p->multiplier, p->shift, 1,
                               &os, output + (size_t)pix * (size_t)p->output_c,
                               output + (size_t)(pix + two) * (size_t)p->output_c, 0, 0)) {
            return MCC_ERR_ARG;
        }
    }
    return MCC_OK;
}

#endif /* MCC_HAS_DSP */

/* sum((x + off) * w) = sum(x * w) + off * sum(w), modulo 2^32, one output at a time. */
#if MCC_WITH_FALLBACK
MCC_PORTABLE_FALLBACK
static mcc_status conv_1x1_portable(const mcc_conv_params *p, const int8_t *input,
                                    const int8_t *filter, const int32_t *bias, int8_t *output)
{
    const int32_t c = p->input_c;
    const int32_t pixels = p->input_n * p->output_h * p->output_w;
    int32_t pix;
    int32_t n = 0;
    int32_t oy = 0;
    int32_t ox = 0;
    for (pix = 0; pix < pixels; ++pix) {
        const int8_t *x = input + ((size_t)(n * p->input_h + oy * p->stride_h) * (size_t)p->input_w +
                                   (size_t)(ox * p->stride_w)) * (size_t)c;
        int8_t *out = output + (size_t)pix * (size_t)p->output_c;
        int32_t oc;
        for (oc = 0; oc < p->output_c; ++oc) {
            const int8_t *w = filter + (size_t)oc * (size_t)c;
            uint32_t acc = bias != NULL ? (uint32_t)bias[oc] : 0u;
            int32_t dot = 0;
            int32_t wsum = 0;
            int32_t i;
            for (i = 0; i < c; ++i) {
                dot += (int32_t)x[i] * (int32_t)w[i];
                wsum += w[i];
            }
            acc += (uint32_t)dot + (uint32_t)p->input_offset * (uint32_t)wsum;
            out[oc] = mcc_sat_s8(
                mcc_requantize(mcc_wrap_s32(acc), p->multiplier[oc], p->shift[oc]) + p->output_offset,
                p->act_min, p->act_max);
        }
        if (++ox == p->output_w) {
            ox = 0;
            if (++oy == p->output_h) {
                oy = 0;
                ++n;
            }
        }
    }
    return MCC_OK;
}
#endif /* MCC_WITH_FALLBACK */

mcc_status mcc_conv_1x1_s8(const mcc_conv_params *p, const int8_t *input, const int8_t *filter,
                           const int32_t *bias, int8_t *output, int8_t *scratch)
{
    if (p == NULL || input == NULL || filter == NULL || output == NULL || p->multiplier == NULL ||
        p->shift == NULL) {
        return MCC_ERR_ARG;
    }
    if (p->input_n < 1 || p->input_h < 1 || p->input_w < 1 || p->input_c < 1 ||
        p->filter_h != 1 || p->filter_w != 1 || p->output_h < 1 || p->output_w < 1 ||
        p->output_c < 1 || p->stride_h < 1 || p->stride_w < 1 || p->pad_h != 0 || p->pad_w != 0 ||
        (p->output_h - 1) * p->stride_h >= p->input_h ||
        (p->output_w - 1) * p->stride_w >= p->input_w) {
        return MCC_ERR_ARG;
    }
#if defined(MCC_HAS_DSP)
    if (scratch != NULL) {
#if MCC_1X1_OWN_DSP
        return conv_1x1_dsp(p, input, filter, bias, output, scratch);
#else
        return (p->input_c & 3) == 0 ? mcc_conv_s8(p, input, filter, bias, output, scratch)
                                     : MCC_ERR_ARG;
#endif
    }
#else
    (void)scratch;
#endif
#if MCC_WITH_FALLBACK
    return conv_1x1_portable(p, input, filter, bias, output);
#else
    return MCC_ERR_ARG;
#endif
}
