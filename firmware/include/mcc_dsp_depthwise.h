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
 * mcc_dw3_dsp (3x3): per group, a "pair plane" of the input (offset added, two adjacent columns per
 * word) so that two taps are one SMLAD, and the nine taps, an SMMLAR requantization and the store
 * in one block of assembly per group; scratch mcc_dw3_scratch_bytes().
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

/*
 * The 3x3 kernel's per-group state (in the scratch buffer): weights, biases and requantization of
 * four channels, the output stage and the loop state of mcc_dw3_plane. Offsets are fixed: the
 * assembly reads the fields by offset (on the 32-bit targets that run it).
 *
 * The kernel accumulates twice the convolution (doubled weights and bias) so that the
 * requantization is one SMMLAR: for -24 <= shift <= -1 (r = -shift), multiplier m > 2^30 and
 * |2 acc| < 2^31, mcc_requantize(acc, m, shift) + output_offset is exactly
 *
 *     hi32(2acc * m + 2^31 + ra * 2^32) >> r,   ra = 2^(r-1) + output_offset * 2^r - [acc < 0]
 *
 * (the formula of mcc_rq_fast with numerator and denominator doubled: floor((2p + 2^31 +
 * 2^(31+r) + output_offset * 2^(32+r) - [acc < 0] 2^32) / 2^(32+r)), the floors of divisions by
 * powers of two composing). mcc_dw3_rq_prep() accepts a channel when |bias| <= 2^29 (nine taps add
 * less than 2^19, so |2 acc| < 2^31) and |ra| < 2^30 (so the high word stays inside int32).
 */
typedef struct {
    int32_t ws[24];     /*   0: row fy at 32 * fy: (2 w[fy][0][c], 2 w[fy][1][c]) for c = 0..3,
                         *      then (2 w[fy][2][c], 0) */
    int32_t bias[4];    /*  96: 2 * bias */
    int32_t q[4][3];    /* 112: multiplier, ra without the sign term, r */
    int32_t min4;       /* 160 */
    int32_t max4;       /* 164 */
    int32_t delta;      /* 168: next pixel, from the third row of the previous one: pstep - 2 rowb */
    int32_t rowb;       /* 172: bytes per plane row */
    uint32_t out;       /* 176: next output (32-bit address; assembly only) */
    int32_t ostride;    /* 180: bytes between output pixels */
    uint32_t oend;      /* 184: end of the current output row */
    int32_t owb;        /* 188: bytes per output row */
    int32_t rowskip;    /* 192: from the end of an output row's windows to the next row's */
    int32_t rows;       /* 196: output rows left */
    int32_t full;       /* 200: [act_min, act_max] == [-128, 127] (no bytewise clamp) */
} mcc_dw3_group;

#define MCC_DW3_SCRATCH_BYTES 204

/* Prepares channel requantization q[3] for the 3x3 kernel and returns the factor its weights and
 * bias are scaled by (2: the doubled accumulator above), or 0 when the channel is outside the
 * range of the SMMLAR requantization (it then takes mcc_dw_channel). w: the channel's nine taps
 * (ch bytes apart).
 *
 * Left shifts (0 <= shift <= 30, m >= 2^30; mcc_rq_fast_left): the weights and bias are scaled by
 * 2^(shift + 1) instead, so the accumulator is a = acc * 2^(shift + 1), and when |a| < 2^31 (no
 * wrap of the reference's acc * 2^shift either)
 *
 *     requantize(acc) + output_offset = floor((a * m + 2^31) / 2^32) + output_offset
 *                                     = hi32(a * m + 2^31 + output_offset * 2^32)
 *
 * one SMMLAR without the sign term and without a shift: q = (m, output_offset, 0). Accepted when
 * the scaled weights fit int16 and (|bias| + 255 * sum |w|) * 2^(shift + 1) < 2^31 (|x +
 * input_offset| <= 255). */
static inline int32_t mcc_dw3_rq_prep(int32_t multiplier, int32_t shift, int32_t output_offset,
                                      int32_t bias, const int8_t *w, int32_t ch, int32_t *q)
{
    int64_t ra;
    if (shift >= 0 && shift <= 14 && multiplier >= ((int32_t)1 << 30)) {
        int64_t bound = bias < 0 ? -(int64_t)bias : (int64_t)bias;
        int32_t wmax = 0;
        int32_t i;
        for (i = 0; i < 9; ++i) {
            const int32_t v = w[(i / 3) * 3 * ch + (i % 3) * ch];
            const int32_t a = v < 0 ? -v : v;
            wmax = a > wmax ? a : wmax;
            bound += 255 * (int64_t)a;
        }
        if ((int64_t)wmax << (shift + 1) > 32767 || bound << (shift + 1) >= ((int64_t)1 << 31)) {
            return 0;
        }
        q[0] = multiplier;
        q[1] = output_offset;
        q[2] = 0;
        return (int32_t)1 << (shift + 1);
    }
    if (multiplier <= ((int32_t)1 << 30) || shift > -1 || shift < -24 ||
        bias > ((int32_t)1 << 29) || bias < -((int32_t)1 << 29)) {
        return 0;
    }
    ra = ((int64_t)1 << (-shift - 1)) + (int64_t)output_offset * ((int64_t)1 << -shift);
    if (ra >= ((int64_t)1 << 30) || ra <= -((int64_t)1 << 30)) {
        return 0;
    }
    q[0] = multiplier;
    q[1] = (int32_t)ra;
    q[2] = -shift;
    return 2;
}

#if !defined(MCC_DSP_ASM)
/* The SMMLAR requantization in C (acc2 = 2 acc). Right shifts of negative values are arithmetic
 * (as in mcc_rq_fast). */
static inline int32_t mcc_dw3_rq(int32_t acc2, const int32_t *q)
{
    const int64_t ra = (int64_t)q[1] - (acc2 < 0 && q[2] != 0 ? 1 : 0); /* q[2] 0: left form */
    const int64_t v = ra * ((int64_t)1 << 32) + (int64_t)acc2 * q[0] + (int64_t)0x80000000;
    return (int32_t)(v >> 32) >> q[2];
}
#endif

/* All output pixels of a group from a pair plane (mcc_dw3_fill; g->rowb bytes per row):
 * g->rows output rows of `ow` pixels, windows starting at p0 and stepping g->delta + 2 g->rowb
 * bytes along a row and g->rowskip more after each row; outputs from `out`, g->ostride bytes apart.
 * Per pixel and row of the window: taps 0 and 1 of the four channels are one SMLAD each on the
 * pair word of the window's first column, tap 2 one SMLAD on the column two words on.
 * mixed: some channel of the group is in the left form (q[2] == 0: no sign term). */
MCC_INLINE void mcc_dw3_plane(mcc_dw3_group *g, const int8_t *p0, int32_t ow, int8_t *out,
                               int32_t mixed)
{
#if defined(MCC_DSP_ASM)
    register int32_t x0 __asm__("r8");
    register int32_t x1 __asm__("r9");
    register int32_t x2 __asm__("r10");
    register int32_t x3 __asm__("r11");
    int32_t a0;
    int32_t a1;
    int32_t a2;
    int32_t a3;
    int32_t w0;
    int32_t w1;
    int32_t t;
    const int8_t *p = p0;
    g->out = (uint32_t)(uintptr_t)out;
    g->oend = (uint32_t)(uintptr_t)(out + (size_t)ow * (size_t)g->ostride);
#define MCC_ASM_DW3_ROW(o)                                                                       \
    "ldm %[p], {%[x0], %[x1], %[x2], %[x3]}\n\t"                                                 \
    "ldrd %[w0], %[w1], [%[ws], #" #o "]\n\t"                                                    \
    "smlad %[a0], %[x0], %[w0], %[a0]\n\t"                                                       \
    "smlad %[a1], %[x1], %[w1], %[a1]\n\t"                                                       \
    "ldrd %[w0], %[w1], [%[ws], #" #o "+8]\n\t"                                                  \
    "smlad %[a2], %[x2], %[w0], %[a2]\n\t"                                                       \
    "smlad %[a3], %[x3], %[w1], %[a3]\n\t"                                                       \
    "ldrd %[x0], %[x1], [%[p], #32]\n\t"                                                         \
    "ldrd %[x2], %[x3], [%[p], #40]\n\t"                                                         \
    "ldrd %[w0], %[w1], [%[ws], #" #o "+16]\n\t"                                                 \
    "smlad %[a0], %[x0], %[w0], %[a0]\n\t"                                                       \
    "smlad %[a1], %[x1], %[w1], %[a1]\n\t"                                                       \
    "ldrd %[w0], %[w1], [%[ws], #" #o "+24]\n\t"                                                 \
    "smlad %[a2], %[x2], %[w0], %[a2]\n\t"                                                       \
    "smlad %[a3], %[x3], %[w1], %[a3]\n\t"
#define MCC_ASM_DW3_RQ(a)                                                                        \
    "ldm %[t]!, {%[x0], %[x1], %[x2]}\n\t"                                                       \
    "add %[x1], %[x1], %[" #a "], asr #31\n\t"                                                   \
    "smmlar %[" #a "], %[" #a "], %[x0], %[x1]\n\t"                                              \
    "asr %[" #a "], %[" #a "], %[x2]\n\t"
/* Either form: the sign term only when q[2] (the shift) is not 0. */
#define MCC_ASM_DW3_RQ_MIXED(a)                                                                  \
    "ldm %[t]!, {%[x0], %[x1], %[x2]}\n\t"                                                       \
    "cmp %[x2], #0\n\t"                                                                         \
    "it ne\n\t"                                                                                 \
    "addne %[x1], %[x1], %[" #a "], asr #31\n\t"                                                \
    "smmlar %[" #a "], %[" #a "], %[x0], %[x1]\n\t"                                              \
    "asr %[" #a "], %[" #a "], %[x2]\n\t"
#define MCC_ASM_DW3_PLANE(RQ)                                                                    \
    __asm__ volatile(                                                                            \
        "1:\n\t"                                                                                 \
        "ldrd %[a0], %[a1], [%[ws], #96]\n\t"                                                    \
        "ldrd %[a2], %[a3], [%[ws], #104]\n\t"                                                   \
        "ldr %[t], [%[ws], #172]\n\t" MCC_ASM_DW3_ROW(0)                                         \
        "add %[p], %[p], %[t]\n\t" MCC_ASM_DW3_ROW(32)                                           \
        "add %[p], %[p], %[t]\n\t" MCC_ASM_DW3_ROW(64)                                           \
        "add %[t], %[ws], #112\n\t" RQ(a0) RQ(a1) RQ(a2) RQ(a3)                                  \
        "ssat %[a0], #8, %[a0]\n\t"                                                              \
        "ssat %[a1], #8, %[a1]\n\t"                                                              \
        "ssat %[a2], #8, %[a2]\n\t"                                                              \
        "ssat %[a3], #8, %[a3]\n\t"                                                              \
        "bfi %[a0], %[a1], #8, #8\n\t"                                                           \
        "bfi %[a0], %[a2], #16, #8\n\t"                                                          \
        "bfi %[a0], %[a3], #24, #8\n\t"                                                          \
        "ldr %[t], [%[ws], #200]\n\t"                                                            \
        "cmp %[t], #0\n\t"                                                                       \
        "bne 2f\n\t"                                                                             \
        "ldrd %[x0], %[x1], [%[ws], #160]\n\t"                                                   \
        "ssub8 %[t], %[a0], %[x0]\n\t"                                                           \
        "sel %[a0], %[a0], %[x0]\n\t"                                                            \
        "ssub8 %[t], %[x1], %[a0]\n\t"                                                           \
        "sel %[a0], %[a0], %[x1]\n\t"                                                            \
        "2:\n\t"                                                                                 \
        "ldrd %[x0], %[x1], [%[ws], #176]\n\t"                                                   \
        "str %[a0], [%[x0]]\n\t"                                                                 \
        "add %[x0], %[x0], %[x1]\n\t"                                                            \
        "str %[x0], [%[ws], #176]\n\t"                                                           \
        "ldr %[t], [%[ws], #168]\n\t"                                                            \
        "add %[p], %[p], %[t]\n\t"                                                               \
        "ldr %[t], [%[ws], #184]\n\t"                                                            \
        "cmp %[x0], %[t]\n\t"                                                                    \
        "bne 1b\n\t"                                                                             \
        "ldr %[t], [%[ws], #192]\n\t"                                                            \
        "add %[p], %[p], %[t]\n\t"                                                               \
        "ldr %[x1], [%[ws], #188]\n\t"                                                           \
        "ldr %[t], [%[ws], #184]\n\t"                                                            \
        "add %[t], %[t], %[x1]\n\t"                                                              \
        "str %[t], [%[ws], #184]\n\t"                                                            \
        "ldr %[t], [%[ws], #196]\n\t"                                                            \
        "subs %[t], %[t], #1\n\t"                                                                \
        "str %[t], [%[ws], #196]\n\t"                                                            \
        "bne 1b"                                                                                 \
        : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [p] "+&r"(p),          \
          [t] "=&r"(t), [x0] "=&r"(x0), [x1] "=&r"(x1), [x2] "=&r"(x2), [x3] "=&r"(x3),          \
          [w0] "=&r"(w0), [w1] "=&r"(w1)                                                         \
        : [ws] "r"(g)                                                                            \
        : "cc", "memory")
    if (mixed) {
        MCC_ASM_DW3_PLANE(MCC_ASM_DW3_RQ_MIXED);
    } else {
        MCC_ASM_DW3_PLANE(MCC_ASM_DW3_RQ);
    }
#undef MCC_ASM_DW3_PLANE
#undef MCC_ASM_DW3_RQ_MIXED
#undef MCC_ASM_DW3_ROW
#undef MCC_ASM_DW3_RQ
#else
    int32_t r;
    for (r = g->rows; r > 0; --r, p0 += g->rowskip) {
        int32_t i;
        for (i = 0; i < ow; ++i, p0 += g->delta + 2 * g->rowb, out += g->ostride) {
            int32_t acc[4];
            int32_t fy;
            int32_t c;
            uint32_t w = 0;
            for (c = 0; c < 4; ++c) {
                acc[c] = g->bias[c];
            }
            for (fy = 0; fy < 3; ++fy) {
                const int8_t *q = p0 + fy * g->rowb;
                for (c = 0; c < 4; ++c) {
                    acc[c] = mcc_smlad(mcc_read_s32(q + 4 * c), g->ws[8 * fy + c], acc[c]);
                    acc[c] = mcc_smlad(mcc_read_s32(q + 32 + 4 * c), g->ws[8 * fy + 4 + c], acc[c]);
                }
            }
            (void)mixed;
            for (c = 0; c < 4; ++c) {
                w |= ((uint32_t)mcc_ssat8(mcc_dw3_rq(acc[c], g->q[c])) & 0xFFu) << (8 * c);
            }
            mcc_write_s32(out, mcc_min8x4(mcc_max8x4(mcc_wrap_s32(w), g->min4), g->max4));
        }
    }
#endif
}

/* `rows` rows of the pair plane, each of `cols` + 1 columns of four words starting at d (rows
 * dstep words apart), from `cols` input words of four channels (ch bytes apart; rows srcstep bytes
 * apart from the first word of the previous row) starting at src: column j holds, per channel c of
 * the group, (x[j][c] + input_offset, x[j + 1][c] + input_offset) as two int16, with x = 0 (the
 * padding) before the first and after the last input column. */
static inline void mcc_dw3_fill(int32_t *d, int32_t dstep, const int8_t *src, int32_t srcstep,
                                int32_t ch, int32_t off2, int32_t cols, int32_t rows)
{
#if defined(MCC_DSP_ASM)
    int32_t e;
    int32_t o;
    int32_t en;
    int32_t on;
    int32_t t0;
    int32_t t1;
    int32_t n;
    const int32_t dskip = 4 * dstep - 16 * (cols + 1);
    const int32_t sskip = srcstep - cols * ch;
#define MCC_ASM_DW3_COL(e, o, en, on)                                                            \
    "ldr %[t0], [%[src]]\n\t"                                                                    \
    "add %[src], %[src], %[ch]\n\t"                                                              \
    "sxtab16 %[" #en "], %[off2], %[t0]\n\t"                                                     \
    "sxtab16 %[" #on "], %[off2], %[t0], ror #8\n\t"                                             \
    "pkhbt %[t0], %[" #e "], %[" #en "], lsl #16\n\t"                                            \
    "pkhbt %[t1], %[" #o "], %[" #on "], lsl #16\n\t"                                            \
    "strd %[t0], %[t1], [%[d]], #8\n\t"                                                          \
    "pkhtb %[t0], %[" #en "], %[" #e "], asr #16\n\t"                                            \
    "pkhtb %[t1], %[" #on "], %[" #o "], asr #16\n\t"                                            \
    "strd %[t0], %[t1], [%[d]], #8\n\t"
    __asm__ volatile(
        "0:\n\t"
        "movs %[e], #0\n\t"
        "movs %[o], #0\n\t"
        "ldr %[n], %[cols]\n\t"
        "1:\n\t" MCC_ASM_DW3_COL(e, o, en, on)
        "subs %[n], %[n], #1\n\t"
        "beq 2f\n\t" MCC_ASM_DW3_COL(en, on, e, o)
        "subs %[n], %[n], #1\n\t"
        "bne 1b\n\t"
        "mov %[en], %[e]\n\t"
        "mov %[on], %[o]\n\t"
        "2:\n\t"
        "uxth %[t0], %[en]\n\t"
        "uxth %[t1], %[on]\n\t"
        "strd %[t0], %[t1], [%[d]], #8\n\t"
        "lsrs %[t0], %[en], #16\n\t"
        "lsrs %[t1], %[on], #16\n\t"
        "strd %[t0], %[t1], [%[d]], #8\n\t"
        "ldr %[t0], %[sskip]\n\t"
        "add %[src], %[src], %[t0]\n\t"
        "ldr %[t0], %[dskip]\n\t"
        "add %[d], %[d], %[t0]\n\t"
        "subs %[rows], %[rows], #1\n\t"
        "bne 0b"
        : [e] "=&r"(e), [o] "=&r"(o), [en] "=&r"(en), [on] "=&r"(on), [t0] "=&r"(t0),
          [t1] "=&r"(t1), [n] "=&r"(n), [src] "+&r"(src), [d] "+&r"(d), [rows] "+&r"(rows)
        : [ch] "r"(ch), [off2] "r"(off2), [cols] "m"(cols), [sskip] "m"(sskip),
          [dskip] "m"(dskip)
        : "cc", "memory");
#undef MCC_ASM_DW3_COL
#else
    for (; rows > 0; --rows, d += dstep, src += srcstep) {
        const int8_t *x = src;
        int32_t e = 0; /* column j: channels 0 and 2, offset added */
        int32_t o = 0; /* channels 1 and 3 */
        int32_t *q = d;
        int32_t j;
        for (j = 0; j <= cols; ++j, q += 4, x += ch) {
            const int32_t v = j < cols ? mcc_read_s32(x) : 0;
            const int32_t en = j < cols ? mcc_sxtab16(off2, v) : 0;
            const int32_t on = j < cols ? mcc_sxtab16_ror8(off2, v) : 0;
            q[0] = mcc_pkhbt(e, en);
            q[1] = mcc_pkhbt(o, on);
            q[2] = mcc_pkhtb(en, e);
            q[3] = mcc_pkhtb(on, o);
            e = en;
            o = on;
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
        int32_t mixed = 0;
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
            mixed |= mcc_rq_is_left(q[i].bias_lo);
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
                    if (mixed) {
                        mcc_store4_s8(out, &os, mcc_rq_apply(&q[0], acc[0]),
                                      mcc_rq_apply(&q[1], acc[1]), mcc_rq_apply(&q[2], acc[2]),
                                      mcc_rq_apply(&q[3], acc[3]));
                    } else {
                        mcc_store4_s8(out, &os, mcc_rq_apply_right(&q[0], acc[0]),
                                      mcc_rq_apply_right(&q[1], acc[1]),
                                      mcc_rq_apply_right(&q[2], acc[2]),
                                      mcc_rq_apply_right(&q[3], acc[3]));
                    }
                }
            }
        }
    }
    for (; c0 < ch; ++c0) { /* the last input_c % 4 channels */
        mcc_dw_channel(p, input, filter, bias, output, c0, &os);
    }
}

/* Columns the 3x3 kernel reads per plane row: input columns -pad_w ..
 * (output_w - 1) * stride_w - pad_w + 2. Plane rows hold one more (written, never read). */
static inline int32_t mcc_dw3_strip_width(const mcc_depthwise_conv_params *p)
{
    return (p->output_w - 1) * p->stride_w + 3;
}

/* mcc_dw3_plane out of line: its two requantization variants are expanded once here rather than
 * at every call site (a call per plane or plane row costs nothing next to the plane). */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void mcc_dw3_plane_call(mcc_dw3_group *g, const int8_t *p0, int32_t ow, int8_t *out,
                               int32_t mixed)
{
    mcc_dw3_plane(g, p0, ow, out, mixed);
}

/* Rows of the pair plane (all the input rows the output reads, padding included; 16 bytes per
 * column, strip_width + 1 columns), or 0 when the plane would exceed MCC_DW3_PLANE_MAX bytes
 * (three strip rows are then refilled per output row). */
#define MCC_DW3_PLANE_MAX 8192
static inline int32_t mcc_dw3_plane_rows(const mcc_depthwise_conv_params *p)
{
    const int32_t rows = (p->output_h - 1) * p->stride_h + 3;
    return (int64_t)rows * (mcc_dw3_strip_width(p) + 1) * 16 <= MCC_DW3_PLANE_MAX ? rows : 0;
}

/* Scratch bytes of the 3x3 kernel's DSP path: the group state, one leading column, the plane. */
static inline int32_t mcc_dw3_scratch_bytes(const mcc_depthwise_conv_params *p)
{
    const int32_t rows = mcc_dw3_plane_rows(p);
    return MCC_DW3_SCRATCH_BYTES + 16 + 16 * (mcc_dw3_strip_width(p) + 1) * (rows > 0 ? rows : 3);
}

/*
 * The 3x3 kernel (filter 3x3, depth_multiplier 1, dilation 1; any stride and padding), DSP path.
 * Per group of four channels, the input is read through a pair plane (mcc_dw3_fill: the input
 * offset added, two horizontally adjacent columns per word, zero in the padding), so that
 * mcc_dw3_plane needs no sign extension and does two taps per SMLAD. When the group's whole plane
 * fits MCC_DW3_PLANE_MAX bytes it is filled once per group and image and every output pixel runs
 * in one call; else three strip rows are filled per output row. Groups outside the SMMLAR
 * requantization range (mcc_dw3_rq_prep) and the input_c % 4 last channels take mcc_dw_channel.
 * Only plane columns pad_w - 1 .. pad_w + input_w - 1 of the input rows are ever written after
 * the plane is zeroed (column -1 is the previous row's extra column, or the leading column).
 * Scratch: mcc_dw3_scratch_bytes().
 */
static inline void mcc_dw3_dsp(const mcc_depthwise_conv_params *p, const int8_t *input,
                               const int8_t *filter, const int32_t *bias, int8_t *output,
                               mcc_dw3_group *g)
{
    const int32_t ch = p->input_c;
    const int32_t sw = mcc_dw3_strip_width(p) + 1; /* columns per plane row */
    /* input columns 0 .. cols - 1 go to plane columns pad_w .. pad_w + cols - 1 */
    const int32_t cols = p->input_w < sw - 1 - p->pad_w ? p->input_w : sw - 1 - p->pad_w;
    const int32_t off2 = mcc_pack16(p->input_offset, p->input_offset);
    const size_t image = (size_t)p->input_h * (size_t)p->input_w * (size_t)ch;
    const size_t oimage = (size_t)p->output_h * (size_t)p->output_w * (size_t)ch;
    int32_t *plane = (int32_t *)(void *)((int8_t *)(void *)g + MCC_DW3_SCRATCH_BYTES + 16);
    const int32_t plane_rows = mcc_dw3_plane_rows(p);
    const int32_t nrows = plane_rows > 0 ? plane_rows : 3;
    /* plane rows [r0, r1) hold input rows r0 - pad_h .. */
    const int32_t r0 = p->pad_h;
    const int32_t r1 = p->input_h + p->pad_h < plane_rows ? p->input_h + p->pad_h : plane_rows;
    int32_t *d0 = plane + 4 * (p->pad_w - 1); /* plane column pad_w - 1 of row 0 */
    mcc_out_stage os;
    int32_t c0;
    int32_t i;

    for (i = 0; i < 4 * sw * nrows; ++i) {
        plane[i] = 0;
    }
    mcc_out_stage_init(&os, p->output_offset, p->act_min, p->act_max);
    g->min4 = os.min4;
    g->max4 = os.max4;
    g->full = os.full;
    g->rowb = 16 * sw;
    g->delta = 16 * p->stride_w - 2 * g->rowb;
    g->ostride = ch;
    g->owb = ch * p->output_w;
    g->rowskip = p->stride_h * g->rowb - 16 * p->stride_w * p->output_w;
    for (c0 = 0; c0 + 4 <= ch; c0 += 4) {
        int32_t n;
        int32_t ok = 1;
        int32_t mixed = 0;
        int32_t scale[4];
        for (i = 0; i < 4; ++i) {
            const int32_t b = bias != NULL ? bias[c0 + i] : 0;
            scale[i] = mcc_dw3_rq_prep(p->multiplier[c0 + i], p->shift[c0 + i], p->output_offset,
                                       b, filter + c0 + i, ch, g->q[i]);
            ok &= scale[i] != 0;
            mixed |= scale[i] != 0 && g->q[i][2] == 0;
            g->bias[i] = mcc_wrap_s32((uint32_t)scale[i] * (uint32_t)b);
        }
        if (!ok || cols < 1) {
            for (i = 0; i < 4; ++i) {
                mcc_dw_channel(p, input, filter, bias, output, c0 + i, &os);
            }
            continue;
        }
        for (i = 0; i < 3; ++i) {
            int32_t c;
            for (c = 0; c < 4; ++c) {
                const int8_t *w = filter + (size_t)(3 * i) * (size_t)ch + (size_t)(c0 + c);
                g->ws[8 * i + c] = mcc_pack16(scale[c] * w[0], scale[c] * w[ch]);
                g->ws[8 * i + 4 + c] = mcc_pack16(scale[c] * w[2 * ch], 0);
            }
        }
        for (n = 0; n < p->input_n; ++n) {
            const int8_t *in_c = input + (size_t)n * image + (size_t)c0;
            int8_t *out = output + (size_t)n * oimage + (size_t)c0;
            int32_t oy;
            if (plane_rows > 0) {
                if (r1 > r0) {
                    mcc_dw3_fill(d0 + 4 * sw * r0, 4 * sw, in_c, p->input_w * ch, ch, off2, cols,
                                 r1 - r0);
                }
                g->rows = p->output_h;
                mcc_dw3_plane_call(g, (const int8_t *)(const void *)plane, p->output_w, out, mixed);
                continue;
            }
            for (oy = 0; oy < p->output_h; ++oy, out += (size_t)p->output_w * (size_t)ch) {
                int32_t r;
                for (r = 0; r < 3; ++r) { /* the three input rows of this output row */
                    const int32_t iy = oy * p->stride_h - p->pad_h + r;
                    int32_t *d = d0 + 4 * sw * r;
                    if ((uint32_t)iy < (uint32_t)p->input_h) {
                        mcc_dw3_fill(d, 4 * sw, in_c + (size_t)iy * (size_t)p->input_w * (size_t)ch,
                                     0, ch, off2, cols, 1);
                    } else {
                        for (i = 0; i < 4 * (cols + 1); ++i) {
                            d[i] = 0;
                        }
                    }
                }
                g->rows = 1;
                mcc_dw3_plane_call(g, (const int8_t *)(const void *)plane, p->output_w, out, mixed);
            }
        }
    }
    for (; c0 < ch; ++c0) { /* the last input_c % 4 channels */
        mcc_dw_channel(p, input, filter, bias, output, c0, &os);
    }
}

#endif /* MCC_HAS_DSP */

#endif /* MCC_DSP_DEPTHWISE_H */
