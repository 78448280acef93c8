/* DEPTHWISE_CONV_2D with packed sub-byte weights (8, 4 or 2 bits per output channel, mcc_packed.h):
 * the arithmetic of mcc_depthwise_conv_s8 (TFLite reference semantics), bit for bit. Channel c's
 * row is its filter_h * filter_w taps (the 1HWC filter's column c), packed.
 *  - DSP (__ARM_FEATURE_DSP or MCC_EMULATE_DSP) with depth_multiplier 1: the whole filter is
 *    unpacked once into the scratch buffer in its 1HWC int8 layout (depthwise filters are small:
 *    taps * output_c bytes), then the SMLABB / SMLATT channel-group path of mcc_dsp_depthwise.h
 *    runs on it. Scratch: taps * output_c rounded up to a multiple of 4, + 8 * taps.
 *  - otherwise (portable): per output channel, its row is unpacked (taps bytes of scratch) and
 *    every output pixel of that channel computed.
 * mcc.lower.scratch.depthwise_conv_packed mirrors the sizes.
 */
#include <stddef.h>
#include <stdint.h>

#include "mcc_dsp_depthwise.h"
#include "mcc_nn.h"
#include "mcc_nn_internal.h"
#include "mcc_packed.h"

int32_t mcc_depthwise_conv_packed_get_buffer_size(const mcc_depthwise_conv_packed_params *pp)
{
    int32_t taps;
    if (pp == NULL || pp->conv.filter_h < 1 || pp->conv.filter_w < 1 || pp->conv.output_c < 1) {
        return 0;
    }
    taps = pp->conv.filter_h * pp->conv.filter_w;
#if defined(MCC_HAS_DSP)
    if (pp->conv.depth_multiplier == 1) {
        return ((taps * pp->conv.output_c + 3) & ~3) + 8 * taps;
    }
#endif
    return taps;
}

/* Output channel oc (input channel oc / depth_multiplier) of every pixel, from its unpacked taps. */
static void depthwise_packed_channel(const mcc_depthwise_conv_params *p, const int8_t *input,
                                     const int8_t *w, int32_t oc, int32_t bias, int8_t *output)
{
    const int32_t ic = oc / p->depth_multiplier;
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
                int32_t acc = 0;
                mcc_valid_taps(ix0, p->dilation_w, p->input_w, p->filter_w, &fx0, &fx1);
                for (fy = fy0; fy < fy1; ++fy) {
                    const int8_t *x_row =
                        input + (size_t)(n * p->input_h + iy0 + fy * p->dilation_h) *
                                    (size_t)p->input_w * (size_t)p->input_c;
                    int32_t fx;
                    for (fx = fx0; fx < fx1; ++fx) {
                        const int32_t x =
                            x_row[(size_t)(ix0 + fx * p->dilation_w) * (size_t)p->input_c + (size_t)ic];
                        acc += (x + p->input_offset) * (int32_t)w[fy * p->filter_w + fx];
                    }
                }
                acc = mcc_wrapping_add(acc, bias);
                acc = mcc_requantize(acc, p->multiplier[oc], p->shift[oc]) + p->output_offset;
                output[((size_t)(n * p->output_h + oy) * (size_t)p->output_w + (size_t)ox) *
                           (size_t)p->output_c +
                       (size_t)oc] = mcc_sat_s8(acc, p->act_min, p->act_max);
            }
        }
    }
}

mcc_status mcc_depthwise_conv_packed(const mcc_depthwise_conv_packed_params *pp, const int8_t *input,
                                     const uint8_t *filter, const int32_t *bias, int8_t *output,
                                     int8_t *scratch)
{
    const mcc_depthwise_conv_params *p;
    const uint8_t *src = filter;
    int32_t taps;
    int32_t oc;
    if (pp == NULL || input == NULL || filter == NULL || output == NULL || scratch == NULL ||
        pp->weight_bits == NULL || pp->conv.multiplier == NULL || pp->conv.shift == NULL) {
        return MCC_ERR_ARG;
    }
    p = &pp->conv;
    if (p->input_n < 1 || p->input_h < 1 || p->input_w < 1 || p->input_c < 1 ||
        p->filter_h < 1 || p->filter_w < 1 || p->output_h < 1 || p->output_w < 1 ||
        p->depth_multiplier < 1 || p->output_c != p->input_c * p->depth_multiplier ||
        p->stride_h < 1 || p->stride_w < 1 || p->dilation_h < 1 || p->dilation_w < 1 ||
        !mcc_packed_bits_ok(pp->weight_bits, p->output_c)) {
        return MCC_ERR_ARG;
    }
    taps = p->filter_h * p->filter_w;
#if defined(MCC_HAS_DSP)
    if (p->depth_multiplier == 1) {
        const int32_t fbytes = (taps * p->output_c + 3) & ~3;
        int8_t row[64];
        if (((uintptr_t)scratch & 3u) != 0) {
            return MCC_ERR_ARG;
        }
        for (oc = 0; oc < p->output_c; ++oc) {
            const int32_t bits = pp->weight_bits[oc];
            int32_t t0;
            /* the row in pieces of up to 64 taps, scattered to the 1HWC layout */
            for (t0 = 0; t0 < taps; t0 += 64) {
                const int32_t nt = taps - t0 < 64 ? taps - t0 : 64;
                int32_t t;
                mcc_unpack_row(src + (t0 * bits >> 3), nt, bits, row, nt);
                for (t = 0; t < nt; ++t) {
                    scratch[(size_t)(t0 + t) * (size_t)p->output_c + (size_t)oc] = row[t];
                }
            }
            src += mcc_packed_row_bytes(taps, bits);
        }
        mcc_dw_dsp(p, input, scratch, bias, output, (int32_t *)(void *)(scratch + fbytes));
        return MCC_OK;
    }
#endif
    for (oc = 0; oc < p->output_c; ++oc) {
        const int32_t bits = pp->weight_bits[oc];
        mcc_unpack_row(src, taps, bits, scratch, taps);
        src += mcc_packed_row_bytes(taps, bits);
        depthwise_packed_channel(p, input, scratch, oc, bias != NULL ? bias[oc] : 0, output);
    }
    return MCC_OK;
}
