/* DEPTHWISE_CONV_2D with packed sub-byte weights (8, 4 or 2 bits per output channel, mcc_packed.h):
 * the arithmetic of mcc_depthwise_conv_s8 (TFLite reference semantics), bit for bit. Channel c's
 * row is its filter_h * filter_w taps (the 1HWC filter's column c), packed.
 *  - DSP (__ARM_FEATURE_DSP or MCC_EMULATE_DSP) with depth_multiplier 1: the whole filter is
 *    unpacked once into the scratch buffer in its 1HWC int8 layout (depthwise filters are small:
 *    taps * output_c bytes), then the SMLABB / SMLATT channel-group path of mcc_dsp_depthwise.h
 *    runs on it: mcc_dw3_dsp (the unrolled 3x3 kernel of mcc_depthwise_conv_3x3_s8) for 3x3
 *    filters without dilation, else mcc_dw_dsp. Scratch: taps * output_c rounded up to a multiple
 *    of 4, + mcc_dw3_scratch_bytes() (3x3) or 8 * taps (other filters).
 *  - otherwise (portable, or depth_multiplier > 1): the filter is unpacked the same way
 *    (taps * output_c bytes of scratch), then per output pixel the channels are accumulated in
 *    chunks over the valid taps (mcc_depthwise_conv_s8's portable loop).
 * mcc.lower.scratch.depthwise_conv_packed mirrors the sizes.
 */
#include <stddef.h>
#include <stdint.h>

#include "mcc_dsp_depthwise.h"
#include "mcc_nn.h"
#include "mcc_nn_internal.h"
#include "mcc_packed.h"

#if defined(MCC_HAS_DSP)
/* The shapes mcc_dw3_dsp computes (mcc_depthwise_conv_3x3_s8's). */
static int32_t depthwise_packed_is_3x3(const mcc_depthwise_conv_params *p)
{
    return p->filter_h == 3 && p->filter_w == 3 && p->depth_multiplier == 1 &&
           p->dilation_h == 1 && p->dilation_w == 1 && p->output_c == p->input_c &&
           p->output_w >= 1 && p->stride_w >= 1;
}
#endif

int32_t mcc_depthwise_conv_packed_get_buffer_size(const mcc_depthwise_conv_packed_params *pp)
{
    int32_t taps;
    if (pp == NULL || pp->conv.filter_h < 1 || pp->conv.filter_w < 1 || pp->conv.output_c < 1) {
        return 0;
    }
    taps = pp->conv.filter_h * pp->conv.filter_w;
#if defined(MCC_HAS_DSP)
    if (pp->conv.depth_multiplier == 1) {
        const int32_t fbytes = (taps * pp->conv.output_c + 3) & ~3;
        if (depthwise_packed_is_3x3(&pp->conv)) {
            return fbytes + mcc_dw3_scratch_bytes(&pp->conv);
        }
        return fbytes + 8 * taps;
    }
#endif
    return taps * pp->conv.output_c;
}

/* Output channels are accumulated in chunks of this many (stack). */
#define MCC_DWP_CHUNK 32

/* Every output from the unpacked 1HWC filter w: per pixel and chunk of output channels, the valid
 * taps accumulate (x[ic] + input_offset) * w[tap][oc], oc = ic * depth_multiplier + m. */
static void depthwise_packed_portable(const mcc_depthwise_conv_params *p, const int8_t *input,
                                      const int8_t *w, const int32_t *bias, int8_t *output)
{
    const int32_t oc_n = p->output_c;
    const int32_t dm = p->depth_multiplier;
    int32_t n;
    int8_t *out = output;
    for (n = 0; n < p->input_n; ++n) {
        int32_t oy;
        for (oy = 0; oy < p->output_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_h;
            int32_t fy0;
            int32_t fy1;
            int32_t ox;
            mcc_valid_taps(iy0, p->dilation_h, p->input_h, p->filter_h, &fy0, &fy1);
            for (ox = 0; ox < p->output_w; ++ox, out += oc_n) {
                const int32_t ix0 = ox * p->stride_w - p->pad_w;
                int32_t fx0;
                int32_t fx1;
                int32_t c0;
                mcc_valid_taps(ix0, p->dilation_w, p->input_w, p->filter_w, &fx0, &fx1);
                for (c0 = 0; c0 < oc_n; c0 += MCC_DWP_CHUNK) {
                    const int32_t cn = oc_n - c0 < MCC_DWP_CHUNK ? oc_n - c0 : MCC_DWP_CHUNK;
                    int32_t acc[MCC_DWP_CHUNK];
                    int32_t fy;
                    int32_t j;
                    for (j = 0; j < cn; ++j) {
                        acc[j] = 0;
                    }
                    for (fy = fy0; fy < fy1; ++fy) {
                        const int8_t *x_row =
                            input + (size_t)(n * p->input_h + iy0 + fy * p->dilation_h) *
                                        (size_t)p->input_w * (size_t)p->input_c;
                        int32_t fx;
                        for (fx = fx0; fx < fx1; ++fx) {
                            const int8_t *xp =
                                x_row + (size_t)(ix0 + fx * p->dilation_w) * (size_t)p->input_c;
                            const int8_t *wp =
                                w + (size_t)(fy * p->filter_w + fx) * (size_t)oc_n + (size_t)c0;
                            if (dm == 1) {
                                for (j = 0; j < cn; ++j) {
                                    acc[j] += ((int32_t)xp[c0 + j] + p->input_offset) * (int32_t)wp[j];
                                }
                            } else {
                                int32_t ic = c0 / dm;
                                int32_t m = c0 - ic * dm;
                                for (j = 0; j < cn; ++j) {
                                    acc[j] += ((int32_t)xp[ic] + p->input_offset) * (int32_t)wp[j];
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
}

/* Four consecutive taps (one int8 per byte of v, first in byte 0) to dst, dst + stride, ... */
static void depthwise_packed_put4(int8_t *dst, size_t stride, uint32_t v)
{
    dst[0] = (int8_t)(v & 0xFFu);
    dst[stride] = (int8_t)((v >> 8) & 0xFFu);
    dst[2 * stride] = (int8_t)((v >> 16) & 0xFFu);
    dst[3 * stride] = (int8_t)(v >> 24);
}

/* scratch[tap * output_c + oc] := tap of channel oc (the 1HWC int8 filter), from the packed rows:
 * whole 32-bit groups are unpacked word-wide (mcc_packed.h) straight to their strided places. */
static void depthwise_packed_unpack(const mcc_depthwise_conv_packed_params *pp, const uint8_t *src,
                                    int8_t *scratch)
{
    const size_t oc_n = (size_t)pp->conv.output_c;
    const int32_t taps = pp->conv.filter_h * pp->conv.filter_w;
    int32_t oc;
    for (oc = 0; oc < pp->conv.output_c; ++oc) {
        const int32_t bits = pp->weight_bits[oc];
        const uint8_t *w = src;
        int8_t *dst = scratch + oc;
        int32_t t = 0;
        if (bits == 4) {
            for (; t + 8 <= taps; t += 8, w += 4, dst += 8 * oc_n) {
                const uint32_t v = mcc_packed_read32(w);
                depthwise_packed_put4(dst, oc_n, mcc_packed_sext4(v & 0x0F0F0F0Fu, 0x08080808u));
                depthwise_packed_put4(dst + 4 * oc_n, oc_n,
                                      mcc_packed_sext4((v >> 4) & 0x0F0F0F0Fu, 0x08080808u));
            }
        } else if (bits == 2) {
            for (; t + 16 <= taps; t += 16, w += 4, dst += 16 * oc_n) {
                const uint32_t v = mcc_packed_read32(w);
                int32_t f;
                for (f = 0; f < 4; ++f) {
                    depthwise_packed_put4(dst + 4 * (size_t)f * oc_n, oc_n,
                                          mcc_packed_sext4((v >> (2 * f)) & 0x03030303u, 0x02020202u));
                }
            }
        }
        if (t < taps) {
            /* 8-bit rows, and the tail of a row (low bits first, starting on a byte) */
            int8_t tail[16];
            int32_t i = 0;
            while (t < taps) {
                const int32_t n = taps - t < 16 ? taps - t : 16;
                mcc_unpack_row(w, n, bits, tail, n);
                w += mcc_packed_row_bytes(n, bits);
                for (i = 0; i < n; ++i, dst += oc_n) {
                    *dst = tail[i];
                }
                t += n;
            }
        }
        src += mcc_packed_row_bytes(taps, bits);
    }
}

mcc_status mcc_depthwise_conv_packed(const mcc_depthwise_conv_packed_params *pp, const int8_t *input,
                                     const uint8_t *filter, const int32_t *bias, int8_t *output,
                                     int8_t *scratch)
{
    const mcc_depthwise_conv_params *p;
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
#if defined(MCC_HAS_DSP)
    if (p->depth_multiplier == 1) {
        const int32_t fbytes = (p->filter_h * p->filter_w * p->output_c + 3) & ~3;
        if (((uintptr_t)scratch & 3u) != 0) {
            return MCC_ERR_ARG;
        }
        depthwise_packed_unpack(pp, filter, scratch);
        if (depthwise_packed_is_3x3(p)) {
            (void)mcc_dw3_dsp(p, input, scratch, bias, output,
                              (mcc_dw3_group *)(void *)(scratch + fbytes));
        } else {
            mcc_dw_dsp(p, input, scratch, bias, output, (int32_t *)(void *)(scratch + fbytes));
        }
        return MCC_OK;
    }
#endif
    depthwise_packed_unpack(pp, filter, scratch);
    depthwise_packed_portable(p, input, scratch, bias, output);
    return MCC_OK;
}
