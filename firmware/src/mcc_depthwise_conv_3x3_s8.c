/* DEPTHWISE_CONV_2D int8 specialised for 3x3 filters, depth_multiplier 1, dilation 1 (any stride,
 * any padding). Same parameters and arithmetic as mcc_depthwise_conv_s8 (TFLite reference
 * semantics).
 *
 *  - portable C (on a DSP core too when scratch is NULL): per output pixel and channel, the 3x3
 *    window with the taps in the padding skipped;
 *  - DSP (__ARM_FEATURE_DSP or MCC_EMULATE_DSP): mcc_dw3_dsp() of mcc_dsp_depthwise.h: per group
 *    of four channels, the input is copied into a "pair plane" (input offset added; per channel,
 *    two horizontally adjacent columns as two int16 in one word; zero in the padding), so that
 *    per output pixel and window row, taps 0+1 and tap 2 of the four channels are four SMLAD
 *    each; the accumulators are doubled (doubled weights and bias) so that the exact
 *    requantization is one SMMLAR per channel; one 32-bit store per pixel and group. The whole
 *    plane of a group is filled once when it fits 8 KiB, else three rows per output row.
 *    Scratch (4-byte aligned): 204 bytes (one group's weights, biases, requantization and loop
 *    state) + 16 + 16 * W * R bytes, W = (output_w - 1) * stride_w + 4 and
 *    R = (output_h - 1) * stride_h + 3 if 16 * W * R <= 8192, else R = 3.
 *
 * Chosen at compile time (mcc/codegen/select.py); returns MCC_ERR_ARG for other shapes.
 */
#include <stddef.h>
#include <stdint.h>

#include "mcc_dsp_depthwise.h"
#include "mcc_nn.h"
#include "mcc_nn_internal.h"

int32_t mcc_depthwise_conv_3x3_s8_get_buffer_size(const mcc_depthwise_conv_params *p)
{
#if defined(MCC_HAS_DSP)
    if (p == NULL || p->output_w < 1 || p->stride_w < 1) {
        return 0;
    }
    return mcc_dw3_scratch_bytes(p);
#else
    (void)p;
    return 0;
#endif
}

/* The 3x3 window with the taps in the padding skipped, one output at a time. */
#if MCC_WITH_FALLBACK
MCC_PORTABLE_FALLBACK
static void depthwise_3x3_portable(const mcc_depthwise_conv_params *p, const int8_t *input,
                                   const int8_t *filter, const int32_t *bias, int8_t *output)
{
    const int32_t ch = p->input_c;
    int32_t n;
    int8_t *out = output;
    for (n = 0; n < p->input_n; ++n) {
        int32_t oy;
        for (oy = 0; oy < p->output_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_h;
            int32_t fy0;
            int32_t fy1;
            int32_t ox;
            mcc_valid_taps(iy0, 1, p->input_h, 3, &fy0, &fy1);
            for (ox = 0; ox < p->output_w; ++ox, out += ch) {
                const int32_t ix0 = ox * p->stride_w - p->pad_w;
                int32_t fx0;
                int32_t fx1;
                int32_t c;
                mcc_valid_taps(ix0, 1, p->input_w, 3, &fx0, &fx1);
                for (c = 0; c < ch; ++c) {
                    uint32_t acc = bias != NULL ? (uint32_t)bias[c] : 0u;
                    int32_t fy;
                    for (fy = fy0; fy < fy1; ++fy) {
                        const int8_t *x_row =
                            input + (size_t)(n * p->input_h + iy0 + fy) * (size_t)p->input_w *
                                        (size_t)ch + (size_t)c;
                        const int8_t *w = filter + (size_t)(fy * 3) * (size_t)ch + (size_t)c;
                        int32_t fx;
                        for (fx = fx0; fx < fx1; ++fx) {
                            const int32_t xv = x_row[(size_t)(ix0 + fx) * (size_t)ch];
                            const int32_t wv = w[(size_t)fx * (size_t)ch];
                            acc += (uint32_t)((xv + p->input_offset) * wv);
                        }
                    }
                    out[c] = mcc_sat_s8(mcc_requantize(mcc_wrap_s32(acc), p->multiplier[c],
                                                       p->shift[c]) + p->output_offset,
                                        p->act_min, p->act_max);
                }
            }
        }
    }
}
#endif /* MCC_WITH_FALLBACK */

mcc_status mcc_depthwise_conv_3x3_s8(const mcc_depthwise_conv_params *p, const int8_t *input,
                                     const int8_t *filter, const int32_t *bias, int8_t *output,
                                     int8_t *scratch)
{
    if (p == NULL || input == NULL || filter == NULL || output == NULL || p->multiplier == NULL ||
        p->shift == NULL) {
        return MCC_ERR_ARG;
    }
    if (p->input_n < 1 || p->input_h < 1 || p->input_w < 1 || p->input_c < 1 ||
        p->filter_h != 3 || p->filter_w != 3 || p->output_h < 1 || p->output_w < 1 ||
        p->depth_multiplier != 1 || p->output_c != p->input_c || p->stride_h < 1 ||
        p->stride_w < 1 || p->dilation_h != 1 || p->dilation_w != 1) {
        return MCC_ERR_ARG;
    }

#if defined(MCC_HAS_DSP)
    if (scratch != NULL) {
        if (((uintptr_t)scratch & 3u) != 0) {
            return MCC_ERR_ARG;
        }
        return mcc_dw3_dsp(p, input, filter, bias, output, (mcc_dw3_group *)(void *)scratch)
                   ? MCC_OK
                   : MCC_ERR_ARG;
    }
#else
    (void)scratch;
#endif
#if MCC_WITH_FALLBACK
    depthwise_3x3_portable(p, input, filter, bias, output);
    return MCC_OK;
#else
    return MCC_ERR_ARG;
#endif
}
