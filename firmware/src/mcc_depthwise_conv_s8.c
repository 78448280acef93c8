/* DEPTHWISE_CONV_2D int8 with per-channel requantization (TFLite reference semantics).
 *
 *  - portable C (any core, any depth_multiplier; on a DSP core too when scratch is NULL): per
 *    pixel, accumulators for up to MCC_DW_CHUNK output channels, valid taps only;
 *  - DSP (__ARM_FEATURE_DSP or MCC_EMULATE_DSP) with depth_multiplier 1: groups of four channels,
 *    SXTAB16 + SMLABB/SMLATT, weights of a group sign-extended once into the scratch buffer
 *    (mcc_dsp_depthwise.h). Scratch: 8 * filter_h * filter_w bytes, 4-byte aligned, when
 *    depth_multiplier == 1 (else 0: the portable loop runs).
 * mcc_depthwise_conv_3x3_s8 is the same with the 3x3 interior unrolled.
 * Built with MCC_NO_PORTABLE_FALLBACK and MCC_DEPTHWISE_DM1_ONLY (mcc/codegen/fwsize.py sets the
 * latter when every mcc_depthwise_conv_s8 layer of a DSP image has depth_multiplier 1) the portable
 * loop is left out: a NULL scratch or another depth_multiplier is then MCC_ERR_ARG.
 */
#include <stddef.h>
#include <stdint.h>

#include "mcc_dsp_depthwise.h"
#include "mcc_nn.h"
#include "mcc_nn_internal.h"

#if defined(MCC_HAS_DSP) && defined(MCC_NO_PORTABLE_FALLBACK) && defined(MCC_DEPTHWISE_DM1_ONLY)
#define MCC_DW_PORTABLE 0
#else
#define MCC_DW_PORTABLE 1
#endif

/* Output channels are processed in chunks of this many accumulators (stack). */
#define MCC_DW_CHUNK 32

int32_t mcc_depthwise_conv_s8_get_buffer_size(const mcc_depthwise_conv_params *p)
{
#if defined(MCC_HAS_DSP)
    if (p == NULL || p->depth_multiplier != 1 || p->filter_h < 1 || p->filter_w < 1) {
        return 0;
    }
    return 2 * 4 * p->filter_h * p->filter_w;
#else
    (void)p;
    return 0;
#endif
}

/*
 * out[n, oy, ox, oc] with oc = ic * depth_multiplier + m:
 *   clamp(requantize(sum over valid taps of (x[.., ic] + input_offset) * w[fy, fx, oc]
 *                    + bias[oc]) + output_offset)
 */
#if MCC_DW_PORTABLE
MCC_PORTABLE_FALLBACK
static mcc_status depthwise_portable(const mcc_depthwise_conv_params *p, const int8_t *input,
                                     const int8_t *filter, const int32_t *bias, int8_t *output)
{
    int32_t n;
    int32_t dm;
    int32_t input_offset;

    dm = p->depth_multiplier;
    input_offset = p->input_offset;

    for (n = 0; n < p->input_n; ++n) {
        int32_t oy;
        for (oy = 0; oy < p->output_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_h;
            int32_t fy0;
            int32_t fy1;
            int32_t ox;
            mcc_valid_taps(iy0, p->dilation_h, p->input_h, p->filter_h, &fy0, &fy1);

            for (ox = 0; ox < p->output_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_w;
                int8_t *out = output + ((size_t)(n * p->output_h + oy) * (size_t)p->output_w +
                                        (size_t)ox) * (size_t)p->output_c;
                int32_t fx0;
                int32_t fx1;
                int32_t c0;
                mcc_valid_taps(ix0, p->dilation_w, p->input_w, p->filter_w, &fx0, &fx1);

                for (c0 = 0; c0 < p->output_c; c0 += MCC_DW_CHUNK) {
                    const int32_t cn =
                        p->output_c - c0 < MCC_DW_CHUNK ? p->output_c - c0 : MCC_DW_CHUNK;
                    int32_t acc[MCC_DW_CHUNK];
                    int32_t fy;
                    int32_t j;
                    for (j = 0; j < cn; ++j) {
                        acc[j] = 0;
                    }
                    for (fy = fy0; fy < fy1; ++fy) {
                        const int32_t iy = iy0 + fy * p->dilation_h;
                        int32_t fx;
                        for (fx = fx0; fx < fx1; ++fx) {
                            const int32_t ix = ix0 + fx * p->dilation_w;
                            const int8_t *xp =
                                input + ((size_t)(n * p->input_h + iy) * (size_t)p->input_w +
                                         (size_t)ix) * (size_t)p->input_c;
                            const int8_t *wp =
                                filter + (size_t)(fy * p->filter_w + fx) * (size_t)p->output_c +
                                (size_t)c0;
                            if (dm == 1) {
                                const int8_t *xc = xp + c0;
                                for (j = 0; j < cn; ++j) {
                                    acc[j] += ((int32_t)xc[j] + input_offset) * (int32_t)wp[j];
                                }
                            } else {
                                int32_t ic = c0 / dm;
                                int32_t m = c0 % dm;
                                for (j = 0; j < cn; ++j) {
                                    acc[j] += ((int32_t)xp[ic] + input_offset) * (int32_t)wp[j];
                                    if (++m == dm) {
                                        m = 0;
                                        ++ic;
                                    }
                                }
                            }
                        }
                    }
                    for (j = 0; j < cn; ++j) {
                        const int32_t oc = c0 + j;
                        int32_t a = acc[j];
                        if (bias != NULL) {
                            a = mcc_wrapping_add(a, bias[oc]);
                        }
                        a = mcc_requantize(a, p->multiplier[oc], p->shift[oc]) + p->output_offset;
                        out[oc] = mcc_sat_s8(a, p->act_min, p->act_max);
                    }
                }
            }
        }
    }
    return MCC_OK;
}
#endif

mcc_status mcc_depthwise_conv_s8(const mcc_depthwise_conv_params *p, const int8_t *input,
                                 const int8_t *filter, const int32_t *bias, int8_t *output,
                                 int8_t *scratch)
{
    if (p == NULL || input == NULL || filter == NULL || output == NULL || p->multiplier == NULL ||
        p->shift == NULL) {
        return MCC_ERR_ARG;
    }
    if (p->input_n < 1 || p->input_h < 1 || p->input_w < 1 || p->input_c < 1 ||
        p->filter_h < 1 || p->filter_w < 1 || p->output_h < 1 || p->output_w < 1 ||
        p->depth_multiplier < 1 || p->output_c != p->input_c * p->depth_multiplier ||
        p->stride_h < 1 || p->stride_w < 1 || p->dilation_h < 1 || p->dilation_w < 1) {
        return MCC_ERR_ARG;
    }

#if defined(MCC_HAS_DSP)
    if (p->depth_multiplier == 1 && scratch != NULL) {
        if (((uintptr_t)scratch & 3u) != 0) {
            return MCC_ERR_ARG;
        }
        mcc_dw_dsp(p, input, filter, bias, output, (int32_t *)(void *)scratch);
        return MCC_OK;
    }
#endif
    (void)scratch;
#if MCC_DW_PORTABLE
    return depthwise_portable(p, input, filter, bias, output);
#else
    return MCC_ERR_ARG;
#endif
}
