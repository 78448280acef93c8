/* CONV_2D int8 with per-channel requantization (TFLite reference semantics). */
#include <stddef.h>

#include "mcc_nn.h"
#include "mcc_nn_internal.h"

int32_t mcc_conv_s8_get_buffer_size(const mcc_conv_params *p)
{
    (void)p;
    return 0;
}

static int32_t dot_s8(const int8_t *x, const int8_t *w, int32_t n)
{
    int32_t acc = 0;
    int32_t i;
    for (i = 0; i < n; ++i) {
        acc += (int32_t)x[i] * (int32_t)w[i];
    }
    return acc;
}

static int32_t sum_s8(const int8_t *w, int32_t n)
{
    int32_t acc = 0;
    int32_t i;
    for (i = 0; i < n; ++i) {
        acc += w[i];
    }
    return acc;
}

/*
 * out[n, oy, ox, oc] = clamp(requantize(sum over valid taps of
 *     (x + input_offset) * w  + bias[oc]) + output_offset)
 * computed as sum(x * w) + input_offset * sum(w) + bias (equal modulo 2^32).
 * Taps falling in the padding are skipped (implicit zero point padding).
 * Loop order: output channel outermost, so the full-filter weight sum is
 * computed once per channel and reused for every interior pixel.
 */
mcc_status mcc_conv_s8(const mcc_conv_params *p, const int8_t *input, const int8_t *filter,
                       const int32_t *bias, int8_t *output, int8_t *scratch)
{
    int32_t oc;
    int32_t row;
    int32_t filter_size;
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

    row = p->filter_w * p->input_c;
    filter_size = p->filter_h * row;

    for (oc = 0; oc < p->output_c; ++oc) {
        const int8_t *w = filter + (size_t)oc * (size_t)filter_size;
        const int32_t wsum_full = sum_s8(w, filter_size);
        const uint32_t bias_u = bias != NULL ? (uint32_t)bias[oc] : 0u;
        const int32_t multiplier = p->multiplier[oc];
        const int32_t shift = p->shift[oc];
        int32_t n;

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
                    int32_t fy;
                    int32_t full;
                    int32_t dot = 0;
                    int32_t wsum = 0;
                    int32_t acc;
                    size_t out_index;
                    mcc_valid_taps(ix0, p->dilation_w, p->input_w, p->filter_w, &fx0, &fx1);
                    full = fy0 == 0 && fy1 == p->filter_h && fx0 == 0 && fx1 == p->filter_w;

                    for (fy = fy0; fy < fy1; ++fy) {
                        const int32_t iy = iy0 + fy * p->dilation_h;
                        const int8_t *x_row =
                            input + ((size_t)(n * p->input_h + iy) * (size_t)p->input_w) *
                                        (size_t)p->input_c;
                        const int8_t *w_row = w + (size_t)fy * (size_t)row;
                        if (p->dilation_w == 1) {
                            /* taps fx0..fx1 are contiguous in both input and filter */
                            const int32_t seg = (fx1 - fx0) * p->input_c;
                            const int8_t *xp = x_row + (size_t)(ix0 + fx0) * (size_t)p->input_c;
                            const int8_t *wp = w_row + (size_t)fx0 * (size_t)p->input_c;
                            dot += dot_s8(xp, wp, seg);
                            if (!full) {
                                wsum += sum_s8(wp, seg);
                            }
                        } else {
                            int32_t fx;
                            for (fx = fx0; fx < fx1; ++fx) {
                                const int32_t ix = ix0 + fx * p->dilation_w;
                                const int8_t *xp = x_row + (size_t)ix * (size_t)p->input_c;
                                const int8_t *wp = w_row + (size_t)fx * (size_t)p->input_c;
                                dot += dot_s8(xp, wp, p->input_c);
                                if (!full) {
                                    wsum += sum_s8(wp, p->input_c);
                                }
                            }
                        }
                    }
                    if (full) {
                        wsum = wsum_full;
                    }
                    acc = mcc_wrap_s32((uint32_t)dot + (uint32_t)p->input_offset * (uint32_t)wsum +
                                       bias_u);
                    acc = mcc_requantize(acc, multiplier, shift) + p->output_offset;
                    out_index = ((size_t)(n * p->output_h + oy) * (size_t)p->output_w + (size_t)ox) *
                                    (size_t)p->output_c +
                                (size_t)oc;
                    output[out_index] = mcc_sat_s8(acc, p->act_min, p->act_max);
                }
            }
        }
    }
    return MCC_OK;
}
