/* mcc_dsp_gemm_pair: the int8 x int16 SMLAD GEMM of two columns with
 * requantization, shared by CONV_2D (im2col), the 1x1 convolution, FULLY_CONNECTED and the
 * packed convolution.
 *
 * A support source of the DSP kernels (mcc_dsp_gemm.h declares it): compiled once per image and
 * shared by every kernel that calls it (mcc/codegen/support.py lists which), instead of a static
 * copy in each kernel's object file. Empty without MCC_HAS_DSP (the portable kernels need none).
 */
#include <stddef.h>
#include <stdint.h>

#include "mcc_dsp_gemm.h"

#if defined(MCC_HAS_DSP)

/*
 * The fast 2 x 2 path for `pairs` row pairs starting at row 0 of w (depth k, k % 4 == 0, every
 * channel in the table, no per-column constant): for each pair, accumulators from the biases,
 * the 2 x 2 block over k, requantization (mcc_rq_fast), SSAT / BFI / bytewise clamp, and one
 * halfword store per column. On a DSP core the whole loop is one block of assembly (the
 * accumulators, pointers and requantization constants would not fit the registers C leaves).
 */
static inline void mcc_gemm_pairs_fast(const int8_t *w0, const int16_t *cols, int32_t k,
                                       int32_t pairs, const mcc_rq_entry *tab,
                                       const mcc_out_stage *os, int8_t *out0, int8_t *out1)
{
#if defined(MCC_DSP_ASM)
    /* Duff entry into the 8-group loop: TBB to the group that leaves a multiple of eight. */
    const int32_t groups = k >> 2;
    const int32_t entry = groups & 7;
    const int32_t ostride = (int32_t)(out1 - out0);
    const int8_t *out_end = out0 + 2 * pairs;
    const int32_t full = os->full;
    const int32_t min4 = os->min4;
    const int32_t max4 = os->max4;
    const int16_t *end = cols + 8 * groups;
    register int32_t ca __asm__("r8");
    register int32_t cb __asm__("r9");
    register int32_t cc __asm__("r10");
    register int32_t cd __asm__("r11");
    int32_t a00;
    int32_t a01;
    int32_t a10;
    int32_t a11;
    int32_t x;
    int32_t t;
    const int8_t *w1;
    const int16_t *c;
#define MCC_ASM_RQ(a)                                                                            \
    "and %[x], %[" #a "], #0x80000000\n\t"                                                       \
    "subs %[t], %[cb], %[x]\n\t"                                                                 \
    "sbc %[x], %[cc], #0\n\t"                                                                    \
    "smlal %[t], %[x], %[" #a "], %[ca]\n\t"                                                     \
    "asr %[" #a "], %[x], %[cd]\n\t"
/* Left form (mcc_rq_fast_left): x = acc << s; hi32(x * M2 + 2^31 + offset * 2^32) + x. */
#define MCC_ASM_RQ_LEFT(a)                                                                       \
    "lsl %[" #a "], %[" #a "], %[cd]\n\t"                                                        \
    "mov %[t], %[cb]\n\t"                                                                        \
    "mov %[x], %[cc]\n\t"                                                                        \
    "smlal %[t], %[x], %[" #a "], %[ca]\n\t"                                                     \
    "add %[" #a "], %[x], %[" #a "]\n\t"
/* One channel's two outputs, right form only / either form (branch on the left mark in cb). */
#define MCC_ASM_RQ2_RIGHT(a, b) MCC_ASM_RQ(a) MCC_ASM_RQ(b)
#define MCC_ASM_RQ2_MIXED(a, b)                                                                  \
    "cmp %[cb], #0x80000000\n\t"                                                                 \
    "beq 7f\n\t" MCC_ASM_RQ(a) MCC_ASM_RQ(b)                                                     \
    "b 8f\n\t"                                                                                   \
    "7:\n\t" MCC_ASM_RQ_LEFT(a) MCC_ASM_RQ_LEFT(b)                                              \
    "8:\n\t"
#define MCC_ASM_GEMM_PAIRS(RQ2)                                                                  \
    __asm__ volatile(                                                                            \
        "0:\n\t"                                                                                 \
        "ldr %[x], %[tab]\n\t"                                                                   \
        "ldr %[a00], [%[x], #16]\n\t"                                                            \
        "ldr %[a10], [%[x], #36]\n\t"                                                            \
        "mov %[a01], %[a00]\n\t"                                                                 \
        "mov %[a11], %[a10]\n\t"                                                                 \
        "ldr %[x], %[k]\n\t"                                                                     \
        "add %[w1], %[w0], %[x]\n\t"                                                             \
        "ldr %[c], %[cols]\n\t"                                                                  \
        "ldr %[x], %[entry]\n\t"                                                                 \
        "tbb [pc, %[x]]\n\t"                                                                     \
        "6:\n\t"                                                                                 \
        ".byte (21f - 6b) / 2, (28f - 6b) / 2, (27f - 6b) / 2, (26f - 6b) / 2\n\t"               \
        ".byte (25f - 6b) / 2, (24f - 6b) / 2, (23f - 6b) / 2, (22f - 6b) / 2\n\t"               \
        ".p2align 1\n\t"                                                                         \
        "21:\n\t" MCC_ASM_GROUP_2X2                                                              \
        "22:\n\t" MCC_ASM_GROUP_2X2                                                              \
        "23:\n\t" MCC_ASM_GROUP_2X2                                                              \
        "24:\n\t" MCC_ASM_GROUP_2X2                                                              \
        "25:\n\t" MCC_ASM_GROUP_2X2                                                              \
        "26:\n\t" MCC_ASM_GROUP_2X2                                                              \
        "27:\n\t" MCC_ASM_GROUP_2X2                                                              \
        "28:\n\t" MCC_ASM_GROUP_2X2                                                              \
        "ldr %[x], %[end]\n\t"                                                                   \
        "cmp %[c], %[x]\n\t"                                                                     \
        "bne 21b\n\t"                                                                            \
        "ldr %[c], %[tab]\n\t"                                                                   \
        "ldm %[c]!, {%[ca], %[cb], %[cc], %[cd]}\n\t" RQ2(a00, a01)                              \
        "adds %[c], %[c], #4\n\t"                                                                \
        "ldm %[c]!, {%[ca], %[cb], %[cc], %[cd]}\n\t" RQ2(a10, a11)                              \
        "adds %[c], %[c], #4\n\t"                                                                \
        "str %[c], %[tab]\n\t"                                                                   \
        "ssat %[a00], #8, %[a00]\n\t"                                                            \
        "ssat %[a10], #8, %[a10]\n\t"                                                            \
        "bfi %[a00], %[a10], #8, #8\n\t"                                                         \
        "ssat %[a01], #8, %[a01]\n\t"                                                            \
        "ssat %[a11], #8, %[a11]\n\t"                                                            \
        "bfi %[a01], %[a11], #8, #8\n\t"                                                         \
        "ldr %[x], %[full]\n\t"                                                                  \
        "cmp %[x], #0\n\t"                                                                       \
        "bne 5f\n\t"                                                                             \
        "ldr %[t], %[min4]\n\t"                                                                  \
        "ssub8 %[x], %[a00], %[t]\n\t"                                                           \
        "sel %[a00], %[a00], %[t]\n\t"                                                           \
        "ssub8 %[x], %[a01], %[t]\n\t"                                                           \
        "sel %[a01], %[a01], %[t]\n\t"                                                           \
        "ldr %[t], %[max4]\n\t"                                                                  \
        "ssub8 %[x], %[t], %[a00]\n\t"                                                           \
        "sel %[a00], %[a00], %[t]\n\t"                                                           \
        "ssub8 %[x], %[t], %[a01]\n\t"                                                           \
        "sel %[a01], %[a01], %[t]\n\t"                                                           \
        "5:\n\t"                                                                                 \
        "ldr %[x], %[out0]\n\t"                                                                  \
        "ldr %[t], %[ostride]\n\t"                                                               \
        "strh %[a01], [%[x], %[t]]\n\t"                                                          \
        "strh %[a00], [%[x]], #2\n\t"                                                            \
        "str %[x], %[out0]\n\t"                                                                  \
        "mov %[w0], %[w1]\n\t"                                                                   \
        "ldr %[t], %[out_end]\n\t"                                                               \
        "cmp %[x], %[t]\n\t"                                                                     \
        "bne 0b"                                                                                 \
        : [w0] "+r"(w0), [a00] "=&r"(a00), [a01] "=&r"(a01), [a10] "=&r"(a10),                   \
          [a11] "=&r"(a11), [w1] "=&r"(w1), [c] "=&r"(c), [x] "=&r"(x), [t] "=&r"(t),            \
          [ca] "=&r"(ca), [cb] "=&r"(cb), [cc] "=&r"(cc), [cd] "=&r"(cd), [tab] "+m"(tab),       \
          [out0] "+m"(out0)                                                                      \
        : [cols] "m"(cols), [end] "m"(end), [entry] "m"(entry), [k] "m"(k), [full] "m"(full),    \
          [min4] "m"(min4), [max4] "m"(max4), [ostride] "m"(ostride), [out_end] "m"(out_end)     \
        : "cc", "memory")
    (void)out1;
#if defined(MCC_RQ_RIGHT_ONLY) /* no left-form channel in this image (mcc/codegen/fwsize.py) */
    MCC_ASM_GEMM_PAIRS(MCC_ASM_RQ2_RIGHT);
#else
    if (os->rq_left) {
        MCC_ASM_GEMM_PAIRS(MCC_ASM_RQ2_MIXED);
    } else {
        MCC_ASM_GEMM_PAIRS(MCC_ASM_RQ2_RIGHT);
    }
#endif
#undef MCC_ASM_GEMM_PAIRS
#undef MCC_ASM_RQ2_RIGHT
#undef MCC_ASM_RQ2_MIXED
#undef MCC_ASM_RQ_LEFT
#undef MCC_ASM_RQ
#else
    const int32_t groups = k >> 2;
    for (; pairs > 0; --pairs, w0 += 2 * k, tab += 2, out0 += 2, out1 += 2) {
        int32_t acc[4];
        acc[0] = tab[0].bias;
        acc[1] = tab[0].bias;
        acc[2] = tab[1].bias;
        acc[3] = tab[1].bias;
        mcc_dot_2x2_compact(w0, w0 + k, cols, groups, acc);
        mcc_store2_s8(out0, os, mcc_rq_entry_apply(&tab[0], acc[0]),
                      mcc_rq_entry_apply(&tab[1], acc[2]));
        mcc_store2_s8(out1, os, mcc_rq_entry_apply(&tab[0], acc[1]),
                      mcc_rq_entry_apply(&tab[1], acc[3]));
    }
#endif
}

#if !defined(MCC_GEMM_FAST_ONLY)
/* Rows o0 .. rows-1 of mcc_dsp_gemm_pair() outside its fast path (depth not a multiple of four,
 * one column, a per-column constant, requantization outside the fast range, an odd last row):
 * plain, compact code, kept out of line. */
static void mcc_gemm_rows_general(const int8_t *w, const int16_t *cols, int32_t k,
                                               int32_t o0, int32_t rows, const mcc_rq_entry *tab,
                                               const int32_t *bias, const int32_t *mult,
                                               const int32_t *shift, int32_t qs,
                                               const mcc_out_stage *os, int8_t *out0,
                                               int8_t *out1, int32_t add0, int32_t add1)
{
    const int32_t groups = k >> 2;
    const int32_t tail = k & 3;
    const int16_t *ctail = cols + 8 * groups;
    int32_t o;
    for (o = o0; o < rows; o += 2, w += 2 * k) {
        const int32_t nr = o + 1 < rows ? 2 : 1;  /* a lone last row is computed twice */
        const int8_t *w1 = nr == 2 ? w + k : w;
        int32_t acc[4];
        int32_t i;
        for (i = 0; i < 2; ++i) {
            const int32_t r = o + (i < nr ? i : 0);
            const int32_t b = tab != NULL ? tab[r].bias : (bias != NULL ? bias[r] : 0);
            acc[2 * i] = mcc_wrapping_add(b, add0);
            acc[2 * i + 1] = mcc_wrapping_add(b, add1);
        }
        if (out1 != NULL) {
            mcc_dot_2x2_compact(w, w1, cols, groups, acc);
        } else {
            mcc_dot_2x1(w, w1, cols, groups, &acc[0], &acc[2]);
        }
        for (i = 0; i < tail; ++i) {
            const int32_t x0 = ctail[i];
            const int32_t x1 = out1 != NULL ? ctail[tail + i] : 0;
            acc[0] = mcc_wrapping_add(acc[0], w[4 * groups + i] * x0);
            acc[1] = mcc_wrapping_add(acc[1], w[4 * groups + i] * x1);
            acc[2] = mcc_wrapping_add(acc[2], w1[4 * groups + i] * x0);
            acc[3] = mcc_wrapping_add(acc[3], w1[4 * groups + i] * x1);
        }
        for (i = 0; i < nr; ++i) {
            const int32_t r = o + i;
            int32_t j;
            for (j = 0; j < (out1 != NULL ? 2 : 1); ++j) {
                int8_t *dst = (j == 0 ? out0 : out1) + r;
                const int32_t a = acc[2 * i + j];
                if (tab != NULL) {
                    const int32_t v = mcc_rq_entry_apply(&tab[r], a);
                    *dst = (int8_t)(v < os->act_min ? os->act_min
                                                    : (v > os->act_max ? os->act_max : v));
                } else {
                    *dst = mcc_rq_out_exact(a, mult[r * qs], shift[r * qs], os);
                }
            }
        }
    }
}
#endif

/*
 * out0[o] / out1[o] for o in [0, rows): clamp(requantize(bias[o] + add_j + sum_k w[o][k] *
 * col_j[k]) + output_offset) for the two columns j of `cols` (depth k, weights `filter` row-major
 * [rows][k] int8; add_j a per-column constant, modulo 2^32). out1 == NULL: column 1 is not
 * computed (its half of the buffer may hold anything).
 * tab != NULL: every channel prepared by mcc_rq_table() (fast requantization); tab == NULL: exact
 * requantization with bias, mult / shift (indexed by o * qs).
 * Returns 1; 0 when built with MCC_GEMM_FAST_ONLY and the call is outside the fast path (the
 * general path is then left out and nothing is computed). An odd last row of the fast path is
 * computed as the pair (rows - 2, rows - 1): row rows - 2 twice, the same bytes stored twice.
 */
int32_t mcc_dsp_gemm_pair(const int8_t *filter, const int16_t *cols, int32_t k, int32_t rows,
                          const mcc_rq_entry *tab, const int32_t *bias, const int32_t *mult,
                          const int32_t *shift, int32_t qs, const mcc_out_stage *os,
                          int8_t *out0, int8_t *out1, int32_t add0, int32_t add1)
{
    int32_t o = 0;
    if (tab != NULL && out1 != NULL && (k & 3) == 0 && rows >= 2 && add0 == 0 && add1 == 0) {
        const int32_t pairs = rows >> 1;
        mcc_gemm_pairs_fast(filter, cols, k, pairs, tab, os, out0, out1);
        if ((rows & 1) != 0) { /* the odd last row: the last two rows as one more pair */
            const int32_t r = rows - 2;
            mcc_gemm_pairs_fast(filter + (size_t)r * (size_t)k, cols, k, 1, tab + r, os, out0 + r,
                                out1 + r);
        }
        o = rows;
    }
#if defined(MCC_GEMM_FAST_ONLY)
    (void)bias;
    (void)mult;
    (void)shift;
    (void)qs;
    if (o < rows) {
        return 0;
    }
#else
    if (o < rows) {
        mcc_gemm_rows_general(filter + (size_t)o * (size_t)k, cols, k, o, rows, tab, bias, mult,
                              shift, qs, os, out0, out1, add0, add1);
    }
#endif
    return 1;
}

#else

typedef int mcc_dsp_gemm_pair_unused; /* ISO C: a translation unit is not empty */

#endif /* MCC_HAS_DSP */
