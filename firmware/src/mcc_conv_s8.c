/* CONV_2D int8 with per-channel requantization (TFLite reference semantics).
 *
 * Two implementations of the same arithmetic:
 *  - portable C (any core; on a DSP core too when scratch is NULL): direct loops, no scratch;
 *  - DSP (Cortex-M4/M7/M33/M55 with __ARM_FEATURE_DSP, or MCC_EMULATE_DSP on a host): im2col of
 *    two output pixels into an int16 column pair in the scratch buffer, (x + input_offset) folded
 *    in, then an int8 x int16 GEMM with SMLAD, two output channels x two pixels per inner loop
 *    (mcc_dsp_gemm.h). Scratch (4-byte aligned; mcc.lower.scratch mirrors the size), with
 *    K = filter_h * filter_w * input_c and Kp = K rounded up to a multiple of 4: 2 columns x Kp
 *    int16 (4 * Kp bytes), 20 bytes per output channel (bias and requantization constants,
 *    mcc_rq_entry), and when K % 4 != 0 and output_c * Kp <= 4096, output_c * Kp bytes more: the
 *    filters zero-padded to depth Kp, so that the GEMM keeps its fast path.
 *    The im2col: mcc_cols_rows for windows inside the input whose filter rows are whole groups of
 *    four bytes (filter_w * input_c % 4 == 0, dilation_w 1), conv_im2col_groups for such windows
 *    on the border, mcc_conv_im2col (one entry at a time; a support source) for the others.
 *    Built with MCC_CONV_ROWS_ONLY (mcc/codegen/fwsize.py sets it when every mcc_conv_s8 layer of
 *    the image has whole-group rows) mcc_conv_im2col is not called and other shapes are
 *    MCC_ERR_ARG.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mcc_dsp_gemm.h"
#include "mcc_nn.h"
#include "mcc_nn_internal.h"

/* Filters of a depth not a multiple of four are copied, zero-padded to one, into the scratch when
 * they fit this many bytes: the GEMM then takes its fast path. */
#define MCC_CONV_WPAD_MAX 4096

#if defined(MCC_HAS_DSP)
static int32_t conv_wpad_bytes(const mcc_conv_params *p)
{
    const int32_t k = p->filter_h * p->filter_w * p->input_c;
    const int32_t kp = (k + 3) & ~3;
    return (k & 3) != 0 && (int64_t)p->output_c * kp <= MCC_CONV_WPAD_MAX ? p->output_c * kp : 0;
}
#endif

int32_t mcc_conv_s8_get_buffer_size(const mcc_conv_params *p)
{
#if defined(MCC_HAS_DSP)
    int32_t kp;
    if (p == NULL || p->filter_h < 1 || p->filter_w < 1 || p->input_c < 1 || p->output_c < 1) {
        return 0;
    }
    kp = (p->filter_h * p->filter_w * p->input_c + 3) & ~3;
    return 2 * 2 * kp + MCC_RQ_ENTRY_BYTES * p->output_c + conv_wpad_bytes(p);
#else
    (void)p;
    return 0;
#endif
}

#if defined(MCC_HAS_DSP)

/* Column j of the pair (d = cols + 4 * j) := the receptive field of output pixel (n, oy, ox) when
 * every filter row is whole groups (filter_w * input_c % 4 == 0, dilation_w 1) and the window
 * meets the padding: group by group, one word of input where it lies inside the image, else its
 * bytes one at a time with the input zero point in the padding (+ input_offset gives 0). */
static MCC_NOINLINE void conv_im2col_groups(const mcc_conv_params *p, const int8_t *input,
                                            int32_t n, int32_t iy0, int32_t ix0, int16_t *d,
                                            int32_t off2)
{
    const int32_t groups = (p->filter_w * p->input_c) >> 2;
    const int32_t in_row = p->input_w * p->input_c;
    const int32_t at = ix0 * p->input_c; /* input byte of the window row's byte 0 (may be < 0) */
    const uint32_t zp = (uint32_t)(-p->input_offset) & 0xFFu;
    int32_t fy;
    for (fy = 0; fy < p->filter_h; ++fy) {
        const int32_t iy = iy0 + fy * p->dilation_h;
        const int32_t inside = iy >= 0 && iy < p->input_h;
        const int8_t *src = input + (size_t)(n * p->input_h + (inside ? iy : 0)) * (size_t)in_row;
        int32_t g;
        for (g = 0; g < groups; ++g, d += 8) {
            const int32_t b0 = at + 4 * g;
            uint32_t u = 0;
            if (!inside || b0 <= -4 || b0 >= in_row) {
                u = zp * 0x01010101u;
            } else if (b0 >= 0 && b0 <= in_row - 4) {
                u = (uint32_t)mcc_read_s32(src + b0);
            } else {
                int32_t e;
                for (e = b0 + 3; e >= b0; --e) {
                    u = (u << 8) | (e >= 0 && e < in_row ? (uint32_t)(uint8_t)src[e] : zp);
                }
            }
            mcc_write_s32(d, mcc_sxtab16(off2, mcc_wrap_s32(u)));
            mcc_write_s32(d + 2, mcc_sxtab16_ror8(off2, mcc_wrap_s32(u)));
        }
    }
}

static mcc_status conv_dsp(const mcc_conv_params *p, const int8_t *input, const int8_t *filter,
                           const int32_t *bias, int8_t *output, int8_t *scratch)
{
    const int32_t c = p->input_c;
    const int32_t row = p->filter_w * c;
    const int32_t k = p->filter_h * row;
    const int32_t kp = (k + 3) & ~3;
    const int32_t wpad = conv_wpad_bytes(p);
    /* the GEMM's depth: k, or kp with the zero-padded copy of the filters */
    const int32_t kk = wpad > 0 ? kp : k;
    const int32_t k4 = kk & ~3;
    const int32_t tail = kk - k4;
    const int32_t off2 = mcc_pack16(p->input_offset, p->input_offset);
    const int32_t pixels = p->input_n * p->output_h * p->output_w;
    const int8_t *w = filter;
    const int32_t in_row = p->input_w * c;
    const int32_t dy = p->dilation_h * in_row;
    /* interior windows (no padding) of whole groups per filter row take mcc_cols_rows */
    const int32_t rows_ok = (row & 3) == 0 && p->dilation_w == 1;
    const int32_t ix_max = p->input_w - p->filter_w;
    const int32_t iy_max = p->input_h - 1 - (p->filter_h - 1) * p->dilation_h;
    int16_t *cols;
    const mcc_rq_entry *tab;
    mcc_out_stage os;
    int32_t pix;
    int32_t n = 0;
    int32_t oy = 0;
    int32_t ox = 0;
    int8_t *out = output;

    if (((uintptr_t)scratch & 3u) != 0) {
        return MCC_ERR_ARG;
    }
    cols = (int16_t *)(void *)scratch;
    mcc_out_stage_init(&os, p->output_offset, p->act_min, p->act_max);
    {
        mcc_rq_entry *t = (mcc_rq_entry *)(void *)(scratch + 4 * kp);
        tab = mcc_rq_table(t, bias, p->multiplier, p->shift, 1, p->output_c, p->output_offset,
                           &os)
                  ? t
                  : NULL;
    }
    if (wpad > 0) {
        int8_t *wp = scratch + 4 * kp + MCC_RQ_ENTRY_BYTES * p->output_c;
        int32_t o;
        for (o = 0; o < p->output_c; ++o) {
            int32_t i;
            for (i = 0; i < kp; ++i) {
                wp[(size_t)o * (size_t)kp + (size_t)i] =
                    i < k ? filter[(size_t)o * (size_t)k + (size_t)i] : 0;
            }
        }
        w = wp;
    }

    for (pix = 0; pix < pixels; pix += 2, out += 2 * p->output_c) {
        const int32_t two = pix + 1 < pixels;
        int32_t j;
        /* a lone last pixel fills both columns (its outputs are stored twice, to one place), so
         * that the GEMM keeps its 2 x 2 fast path */
        for (j = 0; j < 2; ++j) {
            const int32_t iy0 = oy * p->stride_h - p->pad_h;
            const int32_t ix0 = ox * p->stride_w - p->pad_w;
            if (rows_ok && ix0 >= 0 && ix0 <= ix_max && iy0 >= 0 && iy0 <= iy_max) {
                mcc_cols_rows(cols + 4 * j,
                              input + (size_t)(n * p->input_h + iy0) * (size_t)in_row +
                                  (size_t)ix0 * (size_t)c,
                              p->filter_h, row >> 2, dy, off2);
            } else if (rows_ok) {
                conv_im2col_groups(p, input, n, iy0, ix0, cols + 4 * j, off2);
            } else {
#if defined(MCC_CONV_ROWS_ONLY)
                (void)tail;
                return MCC_ERR_ARG;
#else
                mcc_conv_im2col(p, input, n, iy0, ix0, cols, j, k4, tail);
#endif
            }
            if (j == 0 && !two) {
                continue;
            }
            if (++ox == p->output_w) {
                ox = 0;
                if (++oy == p->output_h) {
                    oy = 0;
                    ++n;
                }
            }
        }
        if (!mcc_dsp_gemm_pair(w, cols, kk, p->output_c, tab, bias, p->multiplier, p->shift, 1,
                               &os, out, two ? out + p->output_c : out, 0, 0)) {
            return MCC_ERR_ARG;
        }
    }
    return MCC_OK;
}

#endif /* MCC_HAS_DSP */

/* ---- portable ---------------------------------------------------------------------------- */

#if MCC_WITH_FALLBACK
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
MCC_PORTABLE_FALLBACK
static mcc_status conv_portable(const mcc_conv_params *p, const int8_t *input,
                                const int8_t *filter, const int32_t *bias, int8_t *output)
{
    int32_t oc;
    int32_t row;
    int32_t filter_size;

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
#endif /* MCC_WITH_FALLBACK */


mcc_status mcc_conv_s8(const mcc_conv_params *p, const int8_t *input, const int8_t *filter,
                       const int32_t *bias, int8_t *output, int8_t *scratch)
{
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

#if defined(MCC_HAS_DSP)
    if (scratch != NULL) {
        return conv_dsp(p, input, filter, bias, output, scratch);
    }
#else
    (void)scratch;
#endif
#if MCC_WITH_FALLBACK
    return conv_portable(p, input, filter, bias, output);
#else
    return MCC_ERR_ARG;
#endif
}
