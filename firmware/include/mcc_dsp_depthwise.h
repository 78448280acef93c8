/*
 * mcc_dsp_depthwise.h -- the DSP path of DEPTHWISE_CONV_2D with depth_multiplier 1, shared by
 * mcc_depthwise_conv_s8 (any filter, stride, dilation, padding) and mcc_depthwise_conv_3x3_s8
 * (internal header).
 *
 * Channels are processed in groups of four (one 32-bit load of NHWC input or weights holds them):
 * for each group, the weights of every tap are sign-extended once into the scratch buffer (two
 * words per tap: channels 0,2 and 1,3 -- SXTB16 and SXTB16 ROR #8) and the four channels'
 * requantization is prepared once; then every output pixel accumulates its valid taps with two
 * SXTAB16 (which also add the input offset) and four SMLABB / SMLATT, requantizes with one SMLAL
 * per channel (mcc_rq_fast) and writes its four bytes with one store. The last input_c % 4
 * channels, and groups whose requantization is outside the fast range, use plain C.
 * mcc_dw_dsp (generic): scratch 2 words per tap = 8 * filter_h * filter_w bytes, 4-byte aligned.
 * mcc_dw3_dsp (3x3): the nine taps, requantization and store in one block of assembly per group,
 * over a zero-point padded copy of the input; scratch mcc_dw3_scratch_bytes().
 */
#ifndef MCC_DSP_DEPTHWISE_H
#define MCC_DSP_DEPTHWISE_H

#include <stddef.h>
#include <stdint.h>

#include "mcc_dsp.h"
#include "mcc_nn.h"
#include "mcc_nn_internal.h"

#if defined(MCC_HAS_DSP)

/* acc[0..3] += (x[c] + input_offset) * w[c] for the four channels of one tap. */
MCC_INLINE void mcc_dw_tap(int32_t *acc, int32_t x, int32_t off2, const int32_t *w)
{
    const int32_t xe = mcc_sxtab16(off2, x);
    const int32_t xo = mcc_sxtab16_ror8(off2, x);
    acc[0] = mcc_smlabb(xe, w[0], acc[0]);
    acc[2] = mcc_smlatt(xe, w[0], acc[2]);
    acc[1] = mcc_smlabb(xo, w[1], acc[1]);
    acc[3] = mcc_smlatt(xo, w[1], acc[3]);
}

#if defined(MCC_DSP_ASM)
#define MCC_ASM_DW_TAP(load, wofs)                                                               \
    load "\n\t"                                                                                  \
    "ldrd %[we], %[wo], [%[ws], #" #wofs "]\n\t"                                                 \
    "sxtab16 %[xo], %[off2], %[x], ror #8\n\t"                                                   \
    "sxtab16 %[x], %[off2], %[x]\n\t"                                                            \
    "smlabb %[a0], %[x], %[we], %[a0]\n\t"                                                       \
    "smlatt %[a2], %[x], %[we], %[a2]\n\t"                                                       \
    "smlabb %[a1], %[xo], %[wo], %[a1]\n\t"                                                      \
    "smlatt %[a3], %[xo], %[wo], %[a3]\n\t"
#endif

/*
 * The 3x3 kernel's per-group state (in the scratch buffer): the sign-extended weights, biases,
 * requantization constants and output stage of four channels. Offsets are fixed: the assembly
 * below reads the fields by offset.
 */
typedef struct {
    int32_t ws[18];     /*   0: tap t: channels 0,2 then 1,3 (SXTB16 / SXTB16 ROR #8) */
    int32_t bias[4];    /*  72 */
    int32_t q[4][3];    /*  88: multiplier, bias_hi, rshift (bias_lo = 2^30: shift <= -2) */
    int32_t off2;       /* 136: input offset in both halves */
    int32_t full;       /* 140 */
    int32_t min4;       /* 144 */
    int32_t max4;       /* 148 */
} mcc_dw3_group;

#define MCC_DW3_SCRATCH_BYTES 152

/* 1 if channel (multiplier, shift) fits the 3x3 kernel's requantization: mcc_rq_ok and
 * shift <= -2 (so that bias_lo is the constant 2^30). */
static inline int32_t mcc_dw3_rq_ok(int32_t multiplier, int32_t shift)
{
    return mcc_rq_ok(multiplier, shift) && shift <= -2;
}

/* All output pixels of a group from a padded plane (four channels per word, plane rows rowb bytes
 * apart): `rows` output rows of `ow` pixels; pixel windows step by pstep bytes along a row, and by
 * rowskip more at the end of each row. Outputs go to out, advancing by ostride per pixel. */
MCC_INLINE void mcc_dw3_plane(const mcc_dw3_group *g, const int8_t *p0, int32_t rowb, int32_t pstep,
                              int32_t rowskip, int32_t ow, int32_t rows, int8_t *out,
                              int32_t ostride)
{
#if defined(MCC_DSP_ASM)
    register int32_t x __asm__("r8");
    register int32_t xo __asm__("r9");
    register int32_t we __asm__("r10");
    register int32_t wo __asm__("r11");
    int32_t a0;
    int32_t a1;
    int32_t a2;
    int32_t a3;
    int32_t t;
    const int8_t *p;
    const int32_t *ws = g->ws;
    const int32_t off2 = g->off2;
    const int8_t *pm = p0;
    int32_t cnt = ow;
#define MCC_ASM_DW3P_RQ(a)                                                                       \
    "and %[wo], %[" #a "], #0x80000000\n\t"                                                      \
    "rsbs %[t], %[wo], #0x40000000\n\t"                                                          \
    "sbc %[wo], %[xo], #0\n\t"                                                                   \
    "smlal %[t], %[wo], %[" #a "], %[x]\n\t"                                                     \
    "asr %[" #a "], %[wo], %[we]\n\t"
#define MCC_ASM_DW3P_ROW(w0, w1, w2)                                                             \
    MCC_ASM_DW_TAP("ldr %[x], [%[p]]", w0)                                                       \
    MCC_ASM_DW_TAP("ldr %[x], [%[p], #4]", w1)                                                   \
    MCC_ASM_DW_TAP("ldr %[x], [%[p], #8]", w2)
    __asm__ volatile(
        "0:\n\t"
        "ldr %[t], %[ow]\n\t"
        "str %[t], %[cnt]\n\t"
        "1:\n\t"
        "ldr %[p], %[pm]\n\t"
        "ldr %[x], %[pstep]\n\t"
        "add %[x], %[p], %[x]\n\t"
        "str %[x], %[pm]\n\t"
        "ldrd %[a0], %[a1], [%[ws], #72]\n\t"
        "ldrd %[a2], %[a3], [%[ws], #80]\n\t" MCC_ASM_DW3P_ROW(0, 8, 16)
        "add %[p], %[p], %[rowb]\n\t" MCC_ASM_DW3P_ROW(24, 32, 40)
        "add %[p], %[p], %[rowb]\n\t" MCC_ASM_DW3P_ROW(48, 56, 64)
        "add %[p], %[ws], #88\n\t"
        "ldm %[p]!, {%[x], %[xo], %[we]}\n\t" MCC_ASM_DW3P_RQ(a0)
        "ldm %[p]!, {%[x], %[xo], %[we]}\n\t" MCC_ASM_DW3P_RQ(a1)
        "ldm %[p]!, {%[x], %[xo], %[we]}\n\t" MCC_ASM_DW3P_RQ(a2)
        "ldm %[p]!, {%[x], %[xo], %[we]}\n\t" MCC_ASM_DW3P_RQ(a3)
        "ssat %[a0], #8, %[a0]\n\t"
        "ssat %[a1], #8, %[a1]\n\t"
        "ssat %[a2], #8, %[a2]\n\t"
        "ssat %[a3], #8, %[a3]\n\t"
        "bfi %[a0], %[a1], #8, #8\n\t"
        "bfi %[a0], %[a2], #16, #8\n\t"
        "bfi %[a0], %[a3], #24, #8\n\t"
        "ldr %[x], [%[ws], #140]\n\t"
        "cmp %[x], #0\n\t"
        "bne 2f\n\t"
        "ldr %[x], [%[ws], #144]\n\t"
        "ssub8 %[wo], %[a0], %[x]\n\t"
        "sel %[a0], %[a0], %[x]\n\t"
        "ldr %[x], [%[ws], #148]\n\t"
        "ssub8 %[wo], %[x], %[a0]\n\t"
        "sel %[a0], %[a0], %[x]\n\t"
        "2:\n\t"
        "ldr %[x], %[out]\n\t"
        "str %[a0], [%[x]]\n\t"
        "ldr %[wo], %[ostride]\n\t"
        "add %[x], %[x], %[wo]\n\t"
        "str %[x], %[out]\n\t"
        "ldr %[wo], %[cnt]\n\t"
        "subs %[wo], %[wo], #1\n\t"
        "str %[wo], %[cnt]\n\t"
        "bne 1b\n\t"
        "ldr %[p], %[pm]\n\t"
        "ldr %[x], %[rowskip]\n\t"
        "add %[p], %[p], %[x]\n\t"
        "str %[p], %[pm]\n\t"
        "ldr %[wo], %[rows]\n\t"
        "subs %[wo], %[wo], #1\n\t"
        "str %[wo], %[rows]\n\t"
        "bne 0b"
        : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [p] "=&r"(p),
          [t] "=&r"(t), [x] "=&r"(x), [xo] "=&r"(xo), [we] "=&r"(we), [wo] "=&r"(wo),
          [out] "+m"(out), [pm] "+m"(pm), [cnt] "+m"(cnt), [rows] "+m"(rows)
        : [ws] "r"(ws), [off2] "r"(off2), [rowb] "r"(rowb), [pstep] "m"(pstep),
          [rowskip] "m"(rowskip), [ow] "m"(ow), [ostride] "m"(ostride)
        : "cc", "memory");
#undef MCC_ASM_DW3P_RQ
#undef MCC_ASM_DW3P_ROW
#else
    int32_t r;
    for (r = 0; r < rows; ++r, p0 += rowskip) {
        int32_t i;
        for (i = 0; i < ow; ++i, p0 += pstep, out += ostride) {
            int32_t acc[4];
            mcc_out_stage os;
            int32_t fy;
            acc[0] = g->bias[0];
            acc[1] = g->bias[1];
            acc[2] = g->bias[2];
            acc[3] = g->bias[3];
            for (fy = 0; fy < 3; ++fy) {
                const int8_t *q = p0 + fy * rowb;
                mcc_dw_tap(acc, mcc_read_s32(q), g->off2, g->ws + 6 * fy);
                mcc_dw_tap(acc, mcc_read_s32(q + 4), g->off2, g->ws + 6 * fy + 2);
                mcc_dw_tap(acc, mcc_read_s32(q + 8), g->off2, g->ws + 6 * fy + 4);
            }
            os.full = g->full;
            os.min4 = g->min4;
            os.max4 = g->max4;
            mcc_store4_s8(out, &os,
                          mcc_rq_fast(acc[0], g->q[0][0], 0x40000000u, g->q[0][1], g->q[0][2]),
                          mcc_rq_fast(acc[1], g->q[1][0], 0x40000000u, g->q[1][1], g->q[1][2]),
                          mcc_rq_fast(acc[2], g->q[2][0], 0x40000000u, g->q[2][1], g->q[2][2]),
                          mcc_rq_fast(acc[3], g->q[3][0], 0x40000000u, g->q[3][1], g->q[3][2]));
        }
    }
#endif
}

/* One channel (c) of every output pixel, exact requantization: the input_c % 4 leftovers and the
 * channels outside the fast requantization range. */
static MCC_NOINLINE void mcc_dw_channel(const mcc_depthwise_conv_params *p,
                                               const int8_t *input, const int8_t *filter,
                                               const int32_t *bias, int8_t *output, int32_t c,
                                               const mcc_out_stage *os)
{
    const int32_t ch = p->input_c;
    int8_t *out = output + c;
    int32_t n;
    for (n = 0; n < p->input_n; ++n) {
        int32_t oy;
        for (oy = 0; oy < p->output_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_h;
            int32_t fy0;
            int32_t fy1;
            int32_t ox;
            mcc_valid_taps(iy0, p->dilation_h, p->input_h, p->filter_h, &fy0, &fy1);
            for (ox = 0; ox < p->output_w; ++ox, out += ch) {
                const int32_t ix0 = ox * p->stride_w - p->pad_w;
                int32_t acc = bias != NULL ? bias[c] : 0;
                int32_t fx0;
                int32_t fx1;
                int32_t fy;
                mcc_valid_taps(ix0, p->dilation_w, p->input_w, p->filter_w, &fx0, &fx1);
                for (fy = fy0; fy < fy1; ++fy) {
                    const int32_t iy = iy0 + fy * p->dilation_h;
                    int32_t fx;
                    for (fx = fx0; fx < fx1; ++fx) {
                        const int32_t ix = ix0 + fx * p->dilation_w;
                        const int32_t x = input[((size_t)(n * p->input_h + iy) * (size_t)p->input_w +
                                                 (size_t)ix) * (size_t)ch + (size_t)c];
                        const int32_t w =
                            filter[(size_t)(fy * p->filter_w + fx) * (size_t)ch + (size_t)c];
                        acc = mcc_wrapping_add(acc, (x + p->input_offset) * w);
                    }
                }
                *out = mcc_rq_out_exact(acc, p->multiplier[c], p->shift[c], os);
            }
        }
    }
}

/*
 * Depthwise convolution, depth_multiplier 1, DSP path, any filter / stride / dilation / padding:
 * p has been validated; ws: 2 * filter_h * filter_w words, 4-byte aligned.
 */
static inline void mcc_dw_dsp(const mcc_depthwise_conv_params *p, const int8_t *input,
                              const int8_t *filter, const int32_t *bias, int8_t *output,
                              int32_t *ws)
{
    const int32_t ch = p->input_c;
    const int32_t taps = p->filter_h * p->filter_w;
    const int32_t off2 = mcc_pack16(p->input_offset, p->input_offset);
    const size_t row_stride = (size_t)p->input_w * (size_t)ch;
    const size_t tap_dx = (size_t)p->dilation_w * (size_t)ch;
    mcc_out_stage os;
    int32_t c0;

    mcc_out_stage_init(&os, p->output_offset, p->act_min, p->act_max);
    for (c0 = 0; c0 + 4 <= ch; c0 += 4) {
        mcc_rq q[4];
        int32_t t;
        int32_t i;
        int32_t n;
        int8_t *out = output + c0;
        if (!mcc_rq_all_fast(p->multiplier + c0, p->shift + c0, 4, 1)) {
            for (i = 0; i < 4; ++i) {
                mcc_dw_channel(p, input, filter, bias, output, c0 + i, &os);
            }
            continue;
        }
        for (t = 0; t < taps; ++t) {
            const int32_t w = mcc_read_s32(filter + (size_t)t * (size_t)ch + (size_t)c0);
            ws[2 * t] = mcc_sxtb16(w);
            ws[2 * t + 1] = mcc_sxtb16_ror8(w);
        }
        for (i = 0; i < 4; ++i) {
            mcc_rq_init(&q[i], p->multiplier[c0 + i], p->shift[c0 + i], p->output_offset);
        }
        for (n = 0; n < p->input_n; ++n) {
            int32_t oy;
            const int8_t *in_n = input + (size_t)n * (size_t)p->input_h * row_stride + c0;
            for (oy = 0; oy < p->output_h; ++oy) {
                const int32_t iy0 = oy * p->stride_h - p->pad_h;
                int32_t fy0;
                int32_t fy1;
                int32_t ox;
                mcc_valid_taps(iy0, p->dilation_h, p->input_h, p->filter_h, &fy0, &fy1);
                for (ox = 0; ox < p->output_w; ++ox, out += ch) {
                    const int32_t ix0 = ox * p->stride_w - p->pad_w;
                    int32_t acc[4];
                    acc[0] = bias != NULL ? bias[c0] : 0;
                    acc[1] = bias != NULL ? bias[c0 + 1] : 0;
                    acc[2] = bias != NULL ? bias[c0 + 2] : 0;
                    acc[3] = bias != NULL ? bias[c0 + 3] : 0;
                    {
                        int32_t fx0;
                        int32_t fx1;
                        int32_t fy;
                        mcc_valid_taps(ix0, p->dilation_w, p->input_w, p->filter_w, &fx0, &fx1);
                        for (fy = fy0; fy < fy1; ++fy) {
                            const int32_t iy = iy0 + fy * p->dilation_h;
                            const int8_t *xp = in_n + (size_t)iy * row_stride +
                                               (size_t)(ix0 + fx0 * p->dilation_w) * (size_t)ch;
                            const int32_t *wp = ws + 2 * (fy * p->filter_w + fx0);
                            int32_t fx;
                            for (fx = fx0; fx < fx1; ++fx, xp += tap_dx, wp += 2) {
                                mcc_dw_tap(acc, mcc_read_s32(xp), off2, wp);
                            }
                        }
                    }
                    mcc_store4_s8(out, &os, mcc_rq_apply(&q[0], acc[0]), mcc_rq_apply(&q[1], acc[1]),
                                  mcc_rq_apply(&q[2], acc[2]), mcc_rq_apply(&q[3], acc[3]));
                }
            }
        }
    }
    for (; c0 < ch; ++c0) { /* the last input_c % 4 channels */
        mcc_dw_channel(p, input, filter, bias, output, c0, &os);
    }
}

/* Words per row of the 3x3 kernel's padded strip or plane: input columns -pad_w ..
 * (output_w - 1) * stride_w - pad_w + 2. */
static inline int32_t mcc_dw3_strip_width(const mcc_depthwise_conv_params *p)
{
    return (p->output_w - 1) * p->stride_w + 3;
}

/* Rows of the padded plane (all the input rows the output reads, padding included), or 0 when the
 * plane would exceed MCC_DW3_PLANE_MAX bytes (three strip rows are then reused round-robin). */
#define MCC_DW3_PLANE_MAX 8192
static inline int32_t mcc_dw3_plane_rows(const mcc_depthwise_conv_params *p)
{
    const int32_t rows = (p->output_h - 1) * p->stride_h + 3;
    return (int64_t)rows * mcc_dw3_strip_width(p) * 4 <= MCC_DW3_PLANE_MAX ? rows : 0;
}

/* Scratch bytes of the 3x3 kernel's DSP path. */
static inline int32_t mcc_dw3_scratch_bytes(const mcc_depthwise_conv_params *p)
{
    const int32_t rows = mcc_dw3_plane_rows(p);
    return MCC_DW3_SCRATCH_BYTES + 4 * mcc_dw3_strip_width(p) * (rows > 0 ? rows : 3);
}

/*
 * The 3x3 kernel (filter 3x3, depth_multiplier 1, dilation 1; any stride and padding), DSP path.
 * The input of a channel group is read through a padded copy, four channels per word, with the
 * input zero point (x + input_offset = 0) in the padding. Groups outside the fast requantization
 * range and the input_c % 4 last channels take mcc_dw_channel.
 * When the whole padded input of a group fits MCC_DW3_PLANE_MAX bytes, it is copied into a plane
 * once per group and every output pixel of the group runs in one call (mcc_dw3_plane): no per-row
 * overhead, which dominates narrow layers (DS-CNN: 25 x 5). Otherwise the three input rows of each
 * output row are copied into a 3-row strip and the row runs in one call.
 * Scratch: MCC_DW3_SCRATCH_BYTES (group state), then mcc_dw3_strip_width() words per plane row
 * (mcc_dw3_plane_rows(), or 3 strip rows): mcc_dw3_scratch_bytes().
 */
static inline void mcc_dw3_dsp(const mcc_depthwise_conv_params *p, const int8_t *input,
                               const int8_t *filter, const int32_t *bias, int8_t *output,
                               mcc_dw3_group *g)
{
    const int32_t ch = p->input_c;
    const int32_t row_stride = p->input_w * ch;
    const int32_t sw = mcc_dw3_strip_width(p);
    const int32_t x0 = -p->pad_w; /* input column of strip word 0 */
    /* strip words [j0, j1) hold input columns 0 .. input_w - 1 */
    const int32_t j0 = x0 < 0 ? -x0 : 0;
    const int32_t j1 = p->input_w - x0 < sw ? p->input_w - x0 : sw;
    const int32_t zp4 = mcc_wrap_s32(((uint32_t)(-p->input_offset) & 0xFFu) * 0x01010101u);
    int32_t *strip = (int32_t *)(void *)((int8_t *)(void *)g + MCC_DW3_SCRATCH_BYTES);
    const int32_t plane_rows = mcc_dw3_plane_rows(p);
    int32_t border_done = 0;
    mcc_out_stage os;
    int32_t c0;

    mcc_out_stage_init(&os, p->output_offset, p->act_min, p->act_max);
    for (c0 = 0; c0 + 4 <= ch; c0 += 4) {
        int32_t i;
        int32_t n;
        int8_t *out = output + c0;
        int32_t ok = 1;
        for (i = 0; i < 4; ++i) {
            ok &= mcc_dw3_rq_ok(p->multiplier[c0 + i], p->shift[c0 + i]);
        }
        if (!ok) {
            for (i = 0; i < 4; ++i) {
                mcc_dw_channel(p, input, filter, bias, output, c0 + i, &os);
            }
            continue;
        }
        for (i = 0; i < 9; ++i) {
            const int32_t w = mcc_read_s32(filter + (size_t)i * (size_t)ch + (size_t)c0);
            g->ws[2 * i] = mcc_sxtb16(w);
            g->ws[2 * i + 1] = mcc_sxtb16_ror8(w);
        }
        for (i = 0; i < 4; ++i) {
            mcc_rq q;
            mcc_rq_init(&q, p->multiplier[c0 + i], p->shift[c0 + i], p->output_offset);
            g->bias[i] = bias != NULL ? bias[c0 + i] : 0;
            g->q[i][0] = q.multiplier;
            g->q[i][1] = q.bias_hi;
            g->q[i][2] = q.rshift;
        }
        g->off2 = mcc_pack16(p->input_offset, p->input_offset);
        g->full = os.full;
        g->min4 = os.min4;
        g->max4 = os.max4;
        if (plane_rows > 0) {
            /* the whole padded input of the group in the plane: the zero point border is the same
             * for every group and image (written once), the inside is copied per group and image */
            for (n = 0; n < p->input_n; ++n) {
                const int8_t *in_n =
                    input + (size_t)n * (size_t)p->input_h * (size_t)row_stride + c0;
                int32_t r;
                for (r = 0; r < plane_rows; ++r) {
                    const int32_t iy = r - p->pad_h;
                    int32_t *d = strip + r * sw;
                    int32_t j;
                    if ((uint32_t)iy >= (uint32_t)p->input_h) {
                        if (!border_done) {
                            for (j = 0; j < sw; ++j) {
                                d[j] = zp4;
                            }
                        }
                        continue;
                    }
                    if (!border_done) {
                        for (j = 0; j < j0; ++j) {
                            d[j] = zp4;
                        }
                        for (j = j1; j < sw; ++j) {
                            d[j] = zp4;
                        }
                    }
                    {
                        const int8_t *src = in_n + (size_t)iy * (size_t)row_stride +
                                            (size_t)(x0 + j0) * (size_t)ch;
                        for (j = j0; j < j1; ++j, src += ch) {
                            d[j] = mcc_read_s32(src);
                        }
                    }
                }
                border_done = 1;
                mcc_dw3_plane(g, (const int8_t *)(const void *)strip, 4 * sw, 4 * p->stride_w,
                              4 * (p->stride_h * sw - p->output_w * p->stride_w), p->output_w,
                              p->output_h, out, ch);
                out += (size_t)p->output_h * (size_t)p->output_w * (size_t)ch;
            }
            continue;
        }
        for (n = 0; n < p->input_n; ++n) {
            const int8_t *in_n = input + (size_t)n * (size_t)p->input_h * (size_t)row_stride + c0;
            int32_t oy;
            for (oy = 0; oy < p->output_h; ++oy, out += (size_t)p->output_w * (size_t)ch) {
                const int32_t iy0 = oy * p->stride_h - p->pad_h;
                int32_t r;
                for (r = 0; r < 3; ++r) { /* the three input rows of this output row */
                    const int32_t iy = iy0 + r;
                    int32_t *d = strip + r * sw;
                    int32_t j = 0;
                    if ((uint32_t)iy < (uint32_t)p->input_h) {
                        const int8_t *src = in_n + (size_t)iy * (size_t)row_stride +
                                            (size_t)(x0 + j0) * (size_t)ch;
                        for (; j < j0; ++j) {
                            d[j] = zp4;
                        }
                        for (; j < j1; ++j, src += ch) {
                            d[j] = mcc_read_s32(src);
                        }
                    }
                    for (; j < sw; ++j) {
                        d[j] = zp4;
                    }
                }
                mcc_dw3_plane(g, (const int8_t *)(const void *)strip, 4 * sw, 4 * p->stride_w, 0,
                              p->output_w, 1, out, ch);
            }
        }
    }
    for (; c0 < ch; ++c0) { /* the last input_c % 4 channels */
        mcc_dw_channel(p, input, filter, bias, output, c0, &os);
    }
}

#endif /* MCC_HAS_DSP */

#endif /* MCC_DSP_DEPTHWISE_H */
