/*
 * mcc_dsp_gemm.h -- the int8 x int16 matrix kernel shared by the DSP paths of CONV_2D (im2col),
 * the 1x1 convolution and FULLY_CONNECTED, and the column buffer it reads (internal header).
 *
 * Column pair buffer ("cols"): two columns of K int16 values each (two output pixels, or two
 * batches), every value already (x + input_offset) -- padding taps are 0. The two columns are
 * interleaved in groups of four so that one 16-byte load feeds eight SMLADs, and within a group
 * the values are ordered x0 x2 x1 x3, matching what SXTB16 and SXTB16 ROR #8 extract from a
 * word of four int8 weights (w0 w2 and w1 w3), so the weights need no PKHBT/PKHTB:
 *
 *   group g (k = 4g .. 4g+3, for g < K / 4):  cols[8g .. 8g+7] = c0: x0 x2 x1 x3 | c1: x0 x2 x1 x3
 *   tail (k = K4 .. K-1, K4 = K & ~3):        cols[2*K4 ..]    = c0: x[K4..K-1] | c1: x[K4..K-1]
 *
 * The buffer must be 4-byte aligned; its size is 2 * K int16 (4 * K bytes). The kernels put the
 * per-channel table (mcc_rq_entry, MCC_RQ_ENTRY_BYTES each) right after it.
 */
#ifndef MCC_DSP_GEMM_H
#define MCC_DSP_GEMM_H

#include <stddef.h>
#include <stdint.h>

#include "mcc_dsp.h"
#include "mcc_nn.h"
#include "mcc_nn_internal.h"

#if defined(MCC_HAS_DSP)

/* Where natural index k of column j lives in a column pair buffer of depth K (k4 = K & ~3). */
static inline int32_t mcc_cols_index(int32_t k4, int32_t tail, int32_t j, int32_t k)
{
    if (k < k4) {
        return ((k & ~3) << 1) + (j << 2) + ((k & 1) << 1) + ((k >> 1) & 1);
    }
    return 2 * k4 + j * tail + (k - k4);
}

/* `groups` whole groups of four: d (a group start inside column j) := src + input_offset, widened
 * and reordered (two SXTAB16 per group); returns d past the last group written. */
MCC_INLINE int16_t *mcc_cols_groups(int16_t *d, const int8_t *src, int32_t groups, int32_t off2)
{
    for (; groups >= 2; groups -= 2) {
        const int32_t x0 = mcc_read_s32(src);
        const int32_t x1 = mcc_read_s32(src + 4);
        src += 8;
        mcc_write_s32(d, mcc_sxtab16(off2, x0));
        mcc_write_s32(d + 2, mcc_sxtab16_ror8(off2, x0));
        mcc_write_s32(d + 8, mcc_sxtab16(off2, x1));
        mcc_write_s32(d + 10, mcc_sxtab16_ror8(off2, x1));
        d += 16;
    }
    if (groups > 0) {
        const int32_t x0 = mcc_read_s32(src);
        mcc_write_s32(d, mcc_sxtab16(off2, x0));
        mcc_write_s32(d + 2, mcc_sxtab16_ror8(off2, x0));
        d += 8;
    }
    return d;
}

/* `rows` runs of `groups` whole groups each, the runs `stride` bytes apart in src, into
 * consecutive groups of a column starting at d (a group start): the im2col of an interior pixel.
 * Per group: LDR, two SXTAB16, STRD. */
MCC_INLINE void mcc_cols_rows(int16_t *d, const int8_t *src, int32_t rows, int32_t groups,
                              int32_t stride, int32_t off2)
{
#if defined(MCC_DSP_ASM)
    const int32_t skip = stride - 4 * groups;
    int32_t n;
    int32_t r = rows;
    int32_t x;
    int32_t a;
    int32_t b;
#define MCC_ASM_COPY_GROUP                                                                       \
    "ldr %[x], [%[src]], #4\n\t"                                                                 \
    "sxtab16 %[a], %[off2], %[x]\n\t"                                                            \
    "sxtab16 %[b], %[off2], %[x], ror #8\n\t"                                                    \
    "strd %[a], %[b], [%[d]], #16\n\t"
    /* groups >= 1; two groups per iteration, an odd one first (the group code keeps the flags) */
    __asm__ volatile(
        "1:\n\t"
        "lsrs %[n], %[groups], #1\n\t"
        "bcc 2f\n\t" MCC_ASM_COPY_GROUP
        "beq 3f\n\t"
        "2:\n\t" MCC_ASM_COPY_GROUP MCC_ASM_COPY_GROUP
        "subs %[n], %[n], #1\n\t"
        "bne 2b\n\t"
        "3:\n\t"
        "add %[src], %[src], %[skip]\n\t"
        "subs %[r], %[r], #1\n\t"
        "bne 1b"
        : [d] "+r"(d), [src] "+r"(src), [r] "+r"(r), [n] "=&r"(n), [x] "=&r"(x), [a] "=&r"(a),
          [b] "=&r"(b)
        : [groups] "r"(groups), [skip] "r"(skip), [off2] "r"(off2)
        : "cc", "memory");
#undef MCC_ASM_COPY_GROUP
#else
    int32_t r;
    for (r = 0; r < rows; ++r, src += stride) {
        d = mcc_cols_groups(d, src, groups, off2);
    }
#endif
}

/* Column j, entries k .. k+n-1 := src[0 .. n-1] + input_offset (off2: the offset in both halves).
 * Defined once in mcc_cols_copy.c (a support source of the kernels that call it). */
void mcc_cols_copy(int16_t *cols, int32_t k4, int32_t tail, int32_t j, int32_t k, const int8_t *src,
                   int32_t n, int32_t off, int32_t off2);

/* Column j of the pair := the receptive field of output pixel (n, iy0 / ix0: its window's top left
 * input position) of the convolution p, all k4 + tail entries, one at a time (taps in the padding
 * and entries past the filter's depth 0). Defined once in mcc_conv_im2col.c. */
void mcc_conv_im2col(const mcc_conv_params *p, const int8_t *input, int32_t n, int32_t iy0,
                     int32_t ix0, int16_t *cols, int32_t j, int32_t k4, int32_t tail);

/* Column j, entries k .. k+n-1 := 0 (taps in the padding). Defined once in mcc_cols_zero.c. */
void mcc_cols_zero(int16_t *cols, int32_t k4, int32_t tail, int32_t j, int32_t k, int32_t n);

/* One group of four depth values of the 2 x 2 block: rows w0, w1 times the two columns at c. */
MCC_INLINE void mcc_dot_2x2_group(const int8_t *w0, const int8_t *w1, const int16_t *c,
                                     int32_t *a00, int32_t *a01, int32_t *a10, int32_t *a11)
{
    const int32_t wa = mcc_read_s32(w0);
    const int32_t wb = mcc_read_s32(w1);
    const int32_t c0a = mcc_read_s32(c);
    const int32_t c0b = mcc_read_s32(c + 2);
    const int32_t c1a = mcc_read_s32(c + 4);
    const int32_t c1b = mcc_read_s32(c + 6);
    int32_t we = mcc_sxtb16(wa);
    int32_t wo = mcc_sxtb16_ror8(wa);
    *a00 = mcc_smlad(we, c0a, *a00);
    *a01 = mcc_smlad(we, c1a, *a01);
    *a00 = mcc_smlad(wo, c0b, *a00);
    *a01 = mcc_smlad(wo, c1b, *a01);
    we = mcc_sxtb16(wb);
    wo = mcc_sxtb16_ror8(wb);
    *a10 = mcc_smlad(we, c0a, *a10);
    *a11 = mcc_smlad(we, c1a, *a11);
    *a10 = mcc_smlad(wo, c0b, *a10);
    *a11 = mcc_smlad(wo, c1b, *a11);
}

#if defined(MCC_DSP_ASM)
/* One group in assembly: 2 LDR, 1 LDM (the four column words), 4 SXTB16, 8 SMLAD. */
#define MCC_ASM_GROUP_2X2                                                                        \
    "ldr %[x], [%[w0]], #4\n\t"                                                                  \
    "ldm %[c]!, {%[ca], %[cb], %[cc], %[cd]}\n\t"                                                \
    "sxtb16 %[t], %[x]\n\t"                                                                      \
    "smlad %[a00], %[t], %[ca], %[a00]\n\t"                                                      \
    "smlad %[a01], %[t], %[cc], %[a01]\n\t"                                                      \
    "sxtb16 %[x], %[x], ror #8\n\t"                                                              \
    "smlad %[a00], %[x], %[cb], %[a00]\n\t"                                                      \
    "smlad %[a01], %[x], %[cd], %[a01]\n\t"                                                      \
    "ldr %[x], [%[w1]], #4\n\t"                                                                  \
    "sxtb16 %[t], %[x]\n\t"                                                                      \
    "smlad %[a10], %[t], %[ca], %[a10]\n\t"                                                      \
    "smlad %[a11], %[t], %[cc], %[a11]\n\t"                                                      \
    "sxtb16 %[x], %[x], ror #8\n\t"                                                              \
    "smlad %[a10], %[x], %[cb], %[a10]\n\t"                                                      \
    "smlad %[a11], %[x], %[cd], %[a11]\n\t"

#define MCC_ASM_GROUP_2X2_OPERANDS                                                               \
    [a00] "+r"(a00), [a01] "+r"(a01), [a10] "+r"(a10), [a11] "+r"(a11), [w0] "+r"(w0),           \
        [w1] "+r"(w1), [c] "+r"(c), [x] "=&r"(x), [t] "=&r"(t), [ca] "=&r"(ca), [cb] "=&r"(cb),  \
        [cc] "=&r"(cc), [cd] "=&r"(cd)
#endif

/* The 2 x 2 block over `groups` groups of four: a<row><col> += sum w<row>[k] * col<col>[k], one
 * group per iteration (the general path; the fast path unrolls inside mcc_gemm_pairs_fast). */
static inline void mcc_dot_2x2_compact(const int8_t *w0, const int8_t *w1, const int16_t *c,
                                       int32_t groups, int32_t *acc)
{
    int32_t a00 = acc[0];
    int32_t a01 = acc[1];
    int32_t a10 = acc[2];
    int32_t a11 = acc[3];
#if defined(MCC_DSP_ASM)
    register int32_t ca __asm__("r8");
    register int32_t cb __asm__("r9");
    register int32_t cc __asm__("r10");
    register int32_t cd __asm__("r11");
    int32_t x;
    int32_t t;
    for (; groups > 0; --groups) {
        __asm__(MCC_ASM_GROUP_2X2 : MCC_ASM_GROUP_2X2_OPERANDS : : "memory");
    }
#else
    for (; groups > 0; --groups) {
        mcc_dot_2x2_group(w0, w1, c, &a00, &a01, &a10, &a11);
        w0 += 4;
        w1 += 4;
        c += 8;
    }
#endif
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
}

/* Two rows times column 0 of a column pair buffer: a<row> += sum w<row>[k] * col0[k]. */
MCC_INLINE void mcc_dot_2x1(const int8_t *w0, const int8_t *w1, const int16_t *c, int32_t groups,
                               int32_t *a0, int32_t *a1)
{
    int32_t s0 = *a0;
    int32_t s1 = *a1;
    for (; groups > 0; --groups) {
        const int32_t wa = mcc_read_s32(w0);
        const int32_t wb = mcc_read_s32(w1);
        const int32_t ca = mcc_read_s32(c);
        const int32_t cb = mcc_read_s32(c + 2);
        w0 += 4;
        w1 += 4;
        c += 8;
        s0 = mcc_smlad(mcc_sxtb16(wa), ca, s0);
        s1 = mcc_smlad(mcc_sxtb16(wb), ca, s1);
        s0 = mcc_smlad(mcc_sxtb16_ror8(wa), cb, s0);
        s1 = mcc_smlad(mcc_sxtb16_ror8(wb), cb, s1);
    }
    *a0 = s0;
    *a1 = s1;
}

/* Per output channel, prepared once per call in the scratch buffer: the bias and the fast
 * requantization constants (mcc_rq, output offset folded in). */
typedef struct {
    int32_t multiplier; /* the first four in this order: one LDM loads them */
    uint32_t bias_lo;
    int32_t bias_hi;
    int32_t rshift;
    int32_t bias;
} mcc_rq_entry;

#define MCC_RQ_ENTRY_BYTES 20

/* tab[o] for o < rows; mult / shift indexed by o * qs (qs 0: one shared pair). Returns 1 when every
 * channel takes a fast requantization (the table is then complete), else 0; sets os->rq_left when
 * some channel is in the left form (mcc_rq_fast_left). Runs once per layer: defined once, in
 * mcc_rq_table.c (a support source of the kernels that call it). */
int32_t mcc_rq_table(mcc_rq_entry *tab, const int32_t *bias, const int32_t *mult,
                     const int32_t *shift, int32_t qs, int32_t rows, int32_t output_offset,
                     mcc_out_stage *os);

/* Either form (the entry's mark decides). */
MCC_INLINE int32_t mcc_rq_entry_apply(const mcc_rq_entry *e, int32_t acc)
{
    if (mcc_rq_is_left(e->bias_lo)) {
        return mcc_rq_fast_left(acc, e->multiplier, e->bias_hi, e->rshift);
    }
    return mcc_rq_fast(acc, e->multiplier, e->bias_lo, e->bias_hi, e->rshift);
}

/*
 * out0[o] / out1[o] for o in [0, rows): clamp(requantize(bias[o] + add_j + sum_k w[o][k] *
 * col_j[k]) + output_offset) for the two columns j of `cols` (depth k, weights `filter` row-major
 * [rows][k] int8; add_j a per-column constant, modulo 2^32). out1 == NULL: column 1 is not
 * computed (its half of the buffer may hold anything).
 * tab != NULL: every channel prepared by mcc_rq_table() (fast requantization); tab == NULL: exact
 * requantization with bias, mult / shift (indexed by o * qs).
 * Returns 1; 0 when built with MCC_GEMM_FAST_ONLY (mcc/codegen/fwsize.py sets it when every
 * call of the image takes the fast path: tab != NULL, out1 != NULL, k % 4 == 0, rows >= 2, no
 * per-column constant) and the call is not one of those (nothing is then computed).
 * Defined once in mcc_dsp_gemm_pair.c (a support source of the kernels that call it).
 */
int32_t mcc_dsp_gemm_pair(const int8_t *filter, const int16_t *cols, int32_t k, int32_t rows,
                          const mcc_rq_entry *tab, const int32_t *bias, const int32_t *mult,
                          const int32_t *shift, int32_t qs, const mcc_out_stage *os,
                          int8_t *out0, int8_t *out1, int32_t add0, int32_t add1);

#endif /* MCC_HAS_DSP */

#endif /* MCC_DSP_GEMM_H */
