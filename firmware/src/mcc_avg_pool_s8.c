/* AVERAGE_POOL_2D int8 (TFLite reference semantics: padding excluded from the count). */
#include <stddef.h>

#include "mcc_nn.h"
#include "mcc_nn_internal.h"

#define MCC_POOL_CHUNK 32

/*
 * out = clamp(round_half_away(sum / count)) over the window clipped to the input,
 * with the reference's integer rounding: (sum +- count/2) / count, truncating.
 * Returns MCC_ERR_ARG if some window has no input element (as the reference).
 */
mcc_status mcc_avg_pool_s8(const mcc_pool_params *p, const int8_t *input, int8_t *output)
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
                int8_t *out = output + ((size_t)(n * p->output_h + oy) * (size_t)p->output_w +
                                        (size_t)ox) * (size_t)p->channels;
                int32_t fx0;
                int32_t fx1;
                int32_t count;
                int32_t c0;
                mcc_valid_taps(ix0, 1, p->input_w, p->filter_w, &fx0, &fx1);
                count = (fy1 - fy0) * (fx1 - fx0);
                if (count == 0) {
                    return MCC_ERR_ARG;
                }
                for (c0 = 0; c0 < p->channels; c0 += MCC_POOL_CHUNK) {
                    const int32_t cn =
                        p->channels - c0 < MCC_POOL_CHUNK ? p->channels - c0 : MCC_POOL_CHUNK;
                    int32_t acc[MCC_POOL_CHUNK];
                    int32_t fy;
                    int32_t j;
                    for (j = 0; j < cn; ++j) {
                        acc[j] = 0;
                    }
                    for (fy = fy0; fy < fy1; ++fy) {
                        int32_t fx;
                        for (fx = fx0; fx < fx1; ++fx) {
                            const int8_t *xp =
                                input + ((size_t)(n * p->input_h + iy0 + fy) * (size_t)p->input_w +
                                         (size_t)(ix0 + fx)) * (size_t)p->channels +
                                (size_t)c0;
                            for (j = 0; j < cn; ++j) {
                                acc[j] += xp[j];
                            }
                        }
                    }
                    for (j = 0; j < cn; ++j) {
                        const int32_t a = acc[j];
                        const int32_t avg =
                            a > 0 ? (a + count / 2) / count : (a - count / 2) / count;
                        out[c0 + j] = mcc_sat_s8(avg, p->act_min, p->act_max);
                    }
                }
            }
        }
    }
    return MCC_OK;
}
