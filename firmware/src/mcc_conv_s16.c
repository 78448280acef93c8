/* CONV_2D 16x8: int16 input, int8 OHWI filter, int64 bias (or int32 with bias_bits 32: int32
 * accumulator and requantization), int16 output (TFLite reference
 * ConvPerChannel for int16: int64 accumulator, no offsets, int64 requantization). Portable C;
 * needs no scratch (the argument is accepted for a uniform call and may be NULL). */
#include <stddef.h>

#include "mcc_nn.h"
#include "mcc_nn_internal.h"

/*
 * out[n, oy, ox, oc] = clamp(requantize64(sum over valid taps and input channels of
 *                            x[n, iy, ix, ic] * w[oc, fy, fx, ic] + bias[oc]))
 */
mcc_status mcc_conv_s16(const mcc_conv_s16_params *p, const int16_t *input, const int8_t *filter,
                        const void *bias, int16_t *output, int8_t *scratch)
{
    int32_t n;

    (void)scratch;
    if (p == NULL || input == NULL || filter == NULL || output == NULL || p->multiplier == NULL ||
        p->shift == NULL) {
        return MCC_ERR_ARG;
    }
    if (p->input_n < 1 || p->input_h < 1 || p->input_w < 1 || p->input_c < 1 ||
        p->filter_h < 1 || p->filter_w < 1 || p->output_h < 1 || p->output_w < 1 ||
        p->output_c < 1 || p->stride_h < 1 || p->stride_w < 1 || p->dilation_h < 1 ||
        p->dilation_w < 1) {
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
                int32_t fx0;
                int32_t fx1;
                int32_t oc;
                mcc_valid_taps(ix0, p->dilation_w, p->input_w, p->filter_w, &fx0, &fx1);
                for (oc = 0; oc < p->output_c; ++oc) {
                    const int8_t *wo = filter + (size_t)oc * (size_t)p->filter_h *
                                                    (size_t)p->filter_w * (size_t)p->input_c;
                    int64_t acc = 0;
                    int32_t fy;
                    for (fy = fy0; fy < fy1; ++fy) {
                        const int32_t iy = iy0 + fy * p->dilation_h;
                        int32_t fx;
                        for (fx = fx0; fx < fx1; ++fx) {
                            const int32_t ix = ix0 + fx * p->dilation_w;
                            const int16_t *xp =
                                input + ((size_t)(n * p->input_h + iy) * (size_t)p->input_w +
                                         (size_t)ix) * (size_t)p->input_c;
                            const int8_t *wp =
                                wo + (size_t)(fy * p->filter_w + fx) * (size_t)p->input_c;
                            int32_t sum = 0; /* input_c * 2^22 fits while input_c < 512 */
                            int32_t ic;
                            if (p->input_c < 512) {
                                for (ic = 0; ic < p->input_c; ++ic) {
                                    sum += (int32_t)xp[ic] * (int32_t)wp[ic];
                                }
                                acc += sum;
                            } else {
                                for (ic = 0; ic < p->input_c; ++ic) {
                                    acc += (int64_t)((int32_t)xp[ic] * (int32_t)wp[ic]);
                                }
                            }
                        }
                    }
                    output[((size_t)(n * p->output_h + oy) * (size_t)p->output_w + (size_t)ox) *
                               (size_t)p->output_c + (size_t)oc] =
                        mcc_sat_s16(mcc_s16_output_stage(acc, bias, p->bias_bits, oc,
                                                         p->multiplier[oc], p->shift[oc]),
                                    p->act_min, p->act_max);
                }
            }
        }
    }
    return MCC_OK;
}
