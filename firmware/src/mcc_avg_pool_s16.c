/* AVERAGE_POOL_2D int16 (TFLite reference semantics: padding excluded from the count). */
#include <stddef.h>

#include "mcc_nn.h"
#include "mcc_nn_internal.h"

/*
 * out = clamp((sum +- count/2) / count) over the window clipped to the input (int32 sum,
 * truncating division: rounds half away from zero). MCC_ERR_ARG for an empty window.
 */
mcc_status mcc_avg_pool_s16(const mcc_pool_s16_params *p, const int16_t *input, int16_t *output)
{
    int32_t n;

    if (p == NULL || input == NULL || output == NULL) {
        return MCC_ERR_ARG;
    }
    if (p->input_n < 1 || p->input_h < 1 || p->input_w < 1 || p->channels < 1 ||
        p->output_h < 1 || p->output_w < 1 || p->filter_h < 1 || p->filter_w < 1 ||
        p->stride_h < 1 || p->stride_w < 1) {
        return MCC_ERR_ARG;
    }
    for (n = 0; n < p->input_n; ++n) {
        int32_t oy;
        for (oy = 0; oy < p->output_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_h;
            int32_t fy0;
            int32_t fy1;
            int32_t ox;
            mcc_valid_taps(iy0, 1, p->input_h, p->filter_h, &fy0, &fy1);
            for (ox = 0; ox < p->output_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_w;
                int16_t *out = output + ((size_t)(n * p->output_h + oy) * (size_t)p->output_w +
                                         (size_t)ox) * (size_t)p->channels;
                int32_t fx0;
                int32_t fx1;
                int32_t count;
                int32_t c;
                mcc_valid_taps(ix0, 1, p->input_w, p->filter_w, &fx0, &fx1);
                count = (fy1 - fy0) * (fx1 - fx0);
                if (count == 0) {
                    return MCC_ERR_ARG;
                }
                for (c = 0; c < p->channels; ++c) {
                    int32_t acc = 0;
                    int32_t fy;
                    int32_t avg;
                    for (fy = fy0; fy < fy1; ++fy) {
                        int32_t fx;
                        for (fx = fx0; fx < fx1; ++fx) {
                            acc += input[((size_t)(n * p->input_h + iy0 + fy) * (size_t)p->input_w +
                                          (size_t)(ix0 + fx)) * (size_t)p->channels + (size_t)c];
                        }
                    }
                    avg = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                    out[c] = mcc_sat_s16(avg, p->act_min, p->act_max);
                }
            }
        }
    }
    return MCC_OK;
}
