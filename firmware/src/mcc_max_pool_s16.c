/* MAX_POOL_2D int16 (TFLite reference semantics: padding never wins). */
#include <stddef.h>

#include "mcc_nn.h"
#include "mcc_nn_internal.h"

/* out = clamp(max over the window clipped to the input); an empty window gives -32768. */
mcc_status mcc_max_pool_s16(const mcc_pool_s16_params *p, const int16_t *input, int16_t *output)
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
                int32_t c;
                mcc_valid_taps(ix0, 1, p->input_w, p->filter_w, &fx0, &fx1);
                for (c = 0; c < p->channels; ++c) {
                    int32_t mx = INT16_MIN;
                    int32_t fy;
                    for (fy = fy0; fy < fy1; ++fy) {
                        int32_t fx;
                        for (fx = fx0; fx < fx1; ++fx) {
                            const int32_t v =
                                input[((size_t)(n * p->input_h + iy0 + fy) * (size_t)p->input_w +
                                       (size_t)(ix0 + fx)) * (size_t)p->channels + (size_t)c];
                            mx = v > mx ? v : mx;
                        }
                    }
                    out[c] = mcc_sat_s16(mx, p->act_min, p->act_max);
                }
            }
        }
    }
    return MCC_OK;
}
