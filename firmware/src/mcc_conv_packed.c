/* CONV_2D with packed sub-byte weights (8, 4 or 2 bits per output channel, mcc_packed.h), per-channel
 * requantization: the same arithmetic as mcc_conv_s8 (TFLite reference semantics), bit for bit.
 *
 * One kernel for s4, s2 and mixed widths: the width is read once per output channel row (the row
 * is unpacked to int8 in the scratch buffer), so a width table costs no speed against a kernel
 * specialised for one width, and a firmware holds one conv kernel whatever the widths.
 *  - portable: per output channel, unpack its row (K = filter_h * filter_w * input_c bytes of
 *    scratch), then direct loops over the output pixels;
 *  - DSP (__ARM_FEATURE_DSP or MCC_EMULATE_DSP): blocks of B output channels are unpacked to int8,
 *    zero-padded to depth Kp (K rounded up to a multiple of 4), then every output pixel pair is
 *    widened into an int16 column pair (im2col, x + input_offset) and multiplied with the block by
 *    the SMLAD GEMM of mcc_dsp_gemm.h. B = MCC_PACKED_WBLOCK / Kp rounded down to even (>= 2,
 *    <= output_c): one block (one im2col per pixel) when the unpacked filters fit 8 KiB.
 *    Scratch (4-byte aligned): 4 * Kp (column pair) + 20 * output_c (bias and requantization
 *    table) + B * Kp (the unpacked block).
 * mcc.lower.scratch.conv_packed mirrors the sizes.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mcc_dsp_gemm.h"
#include "mcc_nn.h"
#include "mcc_nn_internal.h"
#include "mcc_packed.h"

int32_t mcc_conv_packed_get_buffer_size(const mcc_conv_packed_params *pp)
{
    const mcc_conv_params *p;
    int32_t k;
    if (pp == NULL) {
        return 0;
    }
    p = &pp->conv;
    if (p->filter_h < 1 || p->filter_w < 1 || p->input_c < 1 || p->output_c < 1) {
        return 0;
    }
    k = p->filter_h * p->filter_w * p->input_c;
#if defined(MCC_HAS_DSP)
    {
        const int32_t kp = (k + 3) & ~3;
        return 4 * kp + MCC_RQ_ENTRY_BYTES * p->output_c + mcc_packed_block_rows(kp, p->output_c) * kp;
    }
#else
    return k;
#endif
}

#if defined(MCC_HAS_DSP)

/* Column j of the pair (depth kp, a multiple of 4) := the receptive field of the output pixel
 * whose window starts at (iy0, ix0) in batch n, (x + input_offset), 0 in the padding and beyond K. */
static void packed_im2col(const mcc_conv_params *p, const int8_t *input, int32_t n, int32_t iy0,
                          int32_t ix0, int16_t *cols, int32_t j, int32_t kp, int32_t off2)
{
    const int32_t c = p->input_c;
    const int32_t row = p->filter_w * c;
    const int32_t in_row = p->input_w * c;
    const int8_t *in_n = input + (size_t)n * (size_t)p->input_h * (size_t)in_row;
    int32_t fx0;
    int32_t fx1;
    int32_t fy;
    int32_t k = 0;
    if ((row & 3) == 0 && p->dilation_w == 1 && ix0 >= 0 && ix0 + p->filter_w <= p->input_w &&
        iy0 >= 0 && iy0 + (p->filter_h - 1) * p->dilation_h < p->input_h) {
        mcc_cols_rows(cols + 4 * j, in_n + (size_t)iy0 * (size_t)in_row + (size_t)ix0 * (size_t)c,
                      p->filter_h, row >> 2, p->dilation_h * in_row, off2);
        return;
    }
    mcc_valid_taps(ix0, p->dilation_w, p->input_w, p->filter_w, &fx0, &fx1);
    for (fy = 0; fy < p->filter_h; ++fy, k += row) {
        const int32_t iy = iy0 + fy * p->dilation_h;
        const int8_t *base;
        int32_t fx;
        if (iy < 0 || iy >= p->input_h || fx1 <= fx0) {
            mcc_cols_zero(cols, kp, 0, j, k, row);
            continue;
        }
        base = in_n + (size_t)iy * (size_t)in_row;
        if (p->dilation_w == 1) {
            mcc_cols_zero(cols, kp, 0, j, k, fx0 * c);
            mcc_cols_copy(cols, kp, 0, j, k + fx0 * c, base + (size_t)(ix0 + fx0) * (size_t)c,
                          (fx1 - fx0) * c, p->input_offset, off2);
            mcc_cols_zero(cols, kp, 0, j, k + fx1 * c, (p->filter_w - fx1) * c);
            continue;
        }
        for (fx = 0; fx < p->filter_w; ++fx) {
            if (fx >= fx0 && fx < fx1) {
                mcc_cols_copy(cols, kp, 0, j, k + fx * c,
                              base + (size_t)(ix0 + fx * p->dilation_w) * (size_t)c, c,
                              p->input_offset, off2);
            } else {
                mcc_cols_zero(cols, kp, 0, j, k + fx * c, c);
            }
        }
    }
    if (kp > k) {
        mcc_cols_zero(cols, kp, 0, j, k, kp - k);
    }
}

static mcc_status conv_packed_dsp(const mcc_conv_packed_params *pp, const int8_t *input,
                                  const uint8_t *filter, const int32_t *bias, int8_t *output,
                                  int8_t *scratch)
{
    const mcc_conv_params *p = &pp->conv;
    const int32_t k = p->filter_h * p->filter_w * p->input_c;
    const int32_t kp = (k + 3) & ~3;
    const int32_t oc = p->output_c;
    const int32_t block = mcc_packed_block_rows(kp, oc);
    const int32_t off2 = mcc_pack16(p->input_offset, p->input_offset);
    const int32_t pixels = p->input_n * p->output_h * p->output_w;
    int16_t *cols = (int16_t *)(void *)scratch;
    mcc_rq_entry *t = (mcc_rq_entry *)(void *)(scratch + 4 * kp);
    int8_t *wblock = scratch + 4 * kp + MCC_RQ_ENTRY_BYTES * oc;
    const mcc_rq_entry *tab;
    const uint8_t *src = filter;
    mcc_out_stage os;
    int32_t o0;

    mcc_out_stage_init(&os, p->output_offset, p->act_min, p->act_max);
    tab = mcc_rq_table(t, bias, p->multiplier, p->shift, 1, oc, p->output_offset, &os) ? t : NULL;
    for (o0 = 0; o0 < oc; o0 += block) {
        const int32_t rows = oc - o0 < block ? oc - o0 : block;
        int32_t r;
        int32_t pix;
        int32_t n = 0;
        int32_t oy = 0;
        int32_t ox = 0;
        int8_t *out = output + o0;
        for (r = 0; r < rows; ++r) {
            const int32_t bits = pp->weight_bits[o0 + r];
            mcc_unpack_row(src, k, bits, wblock + (size_t)r * (size_t)kp, kp);
            src += mcc_packed_row_bytes(k, bits);
        }
        for (pix = 0; pix < pixels; pix += 2, out += 2 * oc) {
            const int32_t two = pix + 1 < pixels;
            int32_t j;
            for (j = 0; j <= two; ++j) {
                packed_im2col(p, input, n, oy * p->stride_h - p->pad_h, ox * p->stride_w - p->pad_w,
                              cols, j, kp, off2);
                if (++ox == p->output_w) {
                    ox = 0;
                    if (++oy == p->output_h) {
                        oy = 0;
                        ++n;
                    }
                }
            }
            mcc_dsp_gemm_pair(wblock, cols, kp, rows, tab != NULL ? tab + o0 : NULL,
                              bias != NULL ? bias + o0 : NULL, p->multiplier + o0, p->shift + o0, 1,
                              &os, out, two ? out + oc : NULL, 0, 0);
        }
    }
    return MCC_OK;
}

#else /* portable */

/* Output channel oc of every pixel, from its unpacked row w (K int8): the arithmetic of
 * mcc_conv_s8's portable path (sum(x * w) + input_offset * sum(w over valid taps) + bias, equal
 * modulo 2^32); without horizontal dilation the valid taps of a filter row are one contiguous run
 * in both the input and the row. */
static void conv_packed_channel(const mcc_conv_params *p, const int8_t *input, const int8_t *w,
                                int32_t oc, uint32_t bias_u, int8_t *output)
{
    const int32_t c = p->input_c;
    const int32_t row = p->filter_w * c;
    const int32_t k = p->filter_h * row;
    int32_t wsum_full = 0;
    int32_t n;
    int32_t i;
    for (i = 0; i < k; ++i) {
        wsum_full += w[i];
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
                int32_t fy;
                int32_t full;
                int32_t dot = 0;
                int32_t wsum = 0;
                int32_t acc;
                mcc_valid_taps(ix0, p->dilation_w, p->input_w, p->filter_w, &fx0, &fx1);
                full = fy0 == 0 && fy1 == p->filter_h && fx0 == 0 && fx1 == p->filter_w;
                for (fy = fy0; fy < fy1; ++fy) {
                    const int8_t *x_row =
                        input + (size_t)(n * p->input_h + iy0 + fy * p->dilation_h) *
                                    (size_t)p->input_w * (size_t)c;
                    const int8_t *w_row = w + (size_t)fy * (size_t)row;
                    int32_t fx;
                    if (p->dilation_w == 1) {
                        const int32_t seg = (fx1 - fx0) * c;
                        const int8_t *xp = x_row + (size_t)(ix0 + fx0) * (size_t)c;
                        const int8_t *wp = w_row + (size_t)fx0 * (size_t)c;
                        for (i = 0; i < seg; ++i) {
                            dot += (int32_t)xp[i] * (int32_t)wp[i];
                        }
                        if (!full) {
                            for (i = 0; i < seg; ++i) {
                                wsum += wp[i];
                            }
                        }
                        continue;
                    }
                    for (fx = fx0; fx < fx1; ++fx) {
                        const int8_t *xp = x_row + (size_t)(ix0 + fx * p->dilation_w) * (size_t)c;
                        const int8_t *wp = w_row + (size_t)fx * (size_t)c;
                        for (i = 0; i < c; ++i) {
                            dot += (int32_t)xp[i] * (int32_t)wp[i];
                            wsum += wp[i];
                        }
                    }
                }
                if (full) {
                    wsum = wsum_full;
                }
                acc = mcc_wrap_s32((uint32_t)dot + (uint32_t)p->input_offset * (uint32_t)wsum + bias_u);
                acc = mcc_requantize(acc, p->multiplier[oc], p->shift[oc]) + p->output_offset;
                output[((size_t)(n * p->output_h + oy) * (size_t)p->output_w + (size_t)ox) *
                           (size_t)p->output_c +
                       (size_t)oc] = mcc_sat_s8(acc, p->act_min, p->act_max);
            }
        }
    }
}

static mcc_status conv_packed_portable(const mcc_conv_packed_params *pp, const int8_t *input,
                                       const uint8_t *filter, const int32_t *bias, int8_t *output,
                                       int8_t *scratch)
{
    const mcc_conv_params *p = &pp->conv;
    const int32_t k = p->filter_h * p->filter_w * p->input_c;
    const uint8_t *src = filter;
    int32_t oc;
    for (oc = 0; oc < p->output_c; ++oc) {
        const int32_t bits = pp->weight_bits[oc];
        mcc_unpack_row(src, k, bits, scratch, k);
        src += mcc_packed_row_bytes(k, bits);
        conv_packed_channel(p, input, scratch, oc, bias != NULL ? (uint32_t)bias[oc] : 0u, output);
    }
    return MCC_OK;
}

#endif /* MCC_HAS_DSP */

mcc_status mcc_conv_packed(const mcc_conv_packed_params *pp, const int8_t *input,
                           const uint8_t *filter, const int32_t *bias, int8_t *output,
                           int8_t *scratch)
{
    const mcc_conv_params *p;
    if (pp == NULL || input == NULL || filter == NULL || output == NULL || scratch == NULL ||
        pp->weight_bits == NULL || pp->conv.multiplier == NULL || pp->conv.shift == NULL) {
        return MCC_ERR_ARG;
    }
    p = &pp->conv;
    if (p->input_n < 1 || p->input_h < 1 || p->input_w < 1 || p->input_c < 1 ||
        p->filter_h < 1 || p->filter_w < 1 || p->output_h < 1 || p->output_w < 1 ||
        p->output_c < 1 || p->stride_h < 1 || p->stride_w < 1 || p->dilation_h < 1 ||
        p->dilation_w < 1 || !mcc_packed_bits_ok(pp->weight_bits, p->output_c)) {
        return MCC_ERR_ARG;
    }
#if defined(MCC_HAS_DSP)
    if (((uintptr_t)scratch & 3u) != 0) {
        return MCC_ERR_ARG;
    }
    return conv_packed_dsp(pp, input, filter, bias, output, scratch);
#else
    return conv_packed_portable(pp, input, filter, bias, output, scratch);
#endif
}
