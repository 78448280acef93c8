/* DEPTHWISE_CONV_2D 16x8: int16 input, int8 1HWC filter (C = input_c * depth_multiplier),
 * int64 bias (or int32, bias_bits 32), int16 output (TFLite reference DepthwiseConvPerChannel
 * for int16). Portable C;
 * needs no scratch (may be NULL). */
#include <stddef.h>

#include "mcc_nn.h"
#include "mcc_nn_internal.h"

/*
 * out[n, oy, ox, oc] with oc = ic * depth_multiplier + m:
 *   clamp(requantize64(sum over valid taps of x[n, iy, ix, ic] * w[fy, fx, oc] + bias[oc]))
 */
mcc_status mcc_depthwise_conv_s16(const mcc_depthwise_conv_s16_params *p, const int16_t *input,
                                  const int8_t *filter, const void *bias, int16_t *output,
                                  int8_t *scratch)
{
    int32_t n;

    (void)scratch;
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
                int16_t *out = output + ((size_t)(n * p->output_h + oy) * (size_t)p->output_w +
                                         (size_t)ox) * (size_t)p->output_c;
                int32_t fx0;
                int32_t fx1;
                int32_t oc;
                mcc_valid_taps(ix0, p->dilation_w, p->input_w, p->filter_w, &fx0, &fx1);
                for (oc = 0; oc < p->output_c; ++oc) {
                    const int32_t ic = oc / p->depth_multiplier;
                    int64_t acc = 0;
                    int32_t fy;
                    for (fy = fy0; fy < fy1; ++fy) {
                        const int32_t iy = iy0 + fy * p->dilation_h;
                        int32_t fx;
                        for (fx = fx0; fx < fx1; ++fx) {
                            const int32_t ix = ix0 + fx * p->dilation_w;
                            const int32_t x = input[((size_t)(n * p->input_h + iy) *
                                                         (size_t)p->input_w + (size_t)ix) *
                                                        (size_t)p->input_c + (size_t)ic];
                            const int32_t w =
                                filter[(size_t)(fy * p->filter_w + fx) * (size_t)p->output_c +
                                       (size_t)oc];
                            acc += x * w;
                        }
                    }
                    out[oc] = mcc_sat_s16(mcc_s16_output_stage(acc, bias, p->bias_bits, oc,
                                                               p->multiplier[oc], p->shift[oc]),
                                          p->act_min, p->act_max);
                }
            }
        }
    }
    return MCC_OK;
}
