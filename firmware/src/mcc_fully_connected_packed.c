/* FULLY_CONNECTED with packed sub-byte weights (8, 4 or 2 bits per output row, mcc_packed.h): the
 * arithmetic of mcc_fully_connected_s8 (TFLite reference semantics), bit for bit, for symmetric
 * weights (filter_offset must be 0, as for every sub-byte tensor), per-tensor or per-channel
 * requantization.
 *
 * Each weight is used once per batch, so the rows are read straight from their packed bytes (no
 * unpacked copy). A b-bit value v is read as its offset form u = v + 2^(b-1) (0 .. 2^b - 1: the
 * field with its top bit flipped, one EOR per word), and
 *     sum (x + input_offset) * v = sum (x + input_offset) * u - 2^(b-1) * sum (x + input_offset)
 * (modulo 2^32), the last sum computed once per batch.
 *  - DSP (__ARM_FEATURE_DSP or MCC_EMULATE_DSP): the inputs (x + input_offset) of a batch are laid
 *    out once per width present as int16 pairs matching what one AND of a packed word (one group of
 *    32 / b values, mcc_packed.h) with a halfword-lane mask yields: 4-bit rows, (word >> 4j) &
 *    0x000F000F, j = 0..3; 2-bit rows, (word >> 2j) & 0x00030003, j = 0..7 (fcp_layout says
 *    which values); 8-bit rows, per group of 4, (x0, x2), (x1, x3) (SXTB16, SXTB16 ROR #8). One
 *    SMLAD per two multiply-accumulates. Values past the last whole group (accum_depth not a
 *    multiple of the group) are done one by one.
 *    Scratch (4-byte aligned): for each width present, 2 bytes per value of its whole groups
 *    (2 * accum_depth at most, each), at least 4 bytes.
 *  - portable: the inputs (x + input_offset) of a batch as int16 (2 * accum_depth bytes of scratch),
 *    then per row the packed bytes decoded in the loop.
 * mcc.lower.scratch.fully_connected_packed mirrors the sizes.
 */
#include <stddef.h>
#include <stdint.h>

#include "mcc_dsp.h"
#include "mcc_nn.h"
#include "mcc_nn_internal.h"
#include "mcc_packed.h"

/* Values per 32-bit word (the DSP group) of a row of width bits. */
#define FCP_GROUP(bits) (32 / (bits))

#if defined(MCC_HAS_DSP)
/* 1 when some row has width bits. */
static int32_t fcp_has_width(const mcc_fully_connected_packed_params *pp, int32_t bits)
{
    int32_t o;
    for (o = 0; o < pp->fc.output_size; ++o) {
        if (pp->weight_bits[o] == bits) {
            return 1;
        }
    }
    return 0;
}
#endif

int32_t mcc_fully_connected_packed_get_buffer_size(const mcc_fully_connected_packed_params *pp)
{
    int32_t size = 0;
    if (pp == NULL || pp->fc.accum_depth < 1 || pp->fc.output_size < 1 || pp->weight_bits == NULL) {
        return 0;
    }
#if defined(MCC_HAS_DSP)
    {
        int32_t bits;
        for (bits = 8; bits >= 2; bits >>= 1) {
            if (fcp_has_width(pp, bits)) {
                size += 2 * (pp->fc.accum_depth / FCP_GROUP(bits) * FCP_GROUP(bits));
            }
        }
    }
#else
    size = 2 * pp->fc.accum_depth;
#endif
    return size > 4 ? size : 4;
}

/* The value at index i of a packed row of width bits, i in the row's tail (past its whole 32-bit
 * groups, where values are low bits first) or any i of an 8-bit row. */
static int32_t fcp_value(const uint8_t *row, int32_t i, int32_t bits)
{
    const int32_t per = 8 / bits;
    const int32_t sign = 1 << (bits - 1);
    const int32_t f = (row[i / per] >> ((i % per) * bits)) & ((1 << bits) - 1);
    return (f ^ sign) - sign;
}

/* Requantize, add the output offset, clamp: one output. */
static int8_t fcp_out(const mcc_fully_connected_params *p, int32_t o, uint32_t acc)
{
    const int32_t ch = p->per_channel ? o : 0;
    const int32_t v = mcc_requantize(mcc_wrap_s32(acc), p->multiplier[ch], p->shift[ch]) + p->output_offset;
    return mcc_sat_s8(v, p->act_min, p->act_max);
}

#if defined(MCC_HAS_DSP)

/* Lay out (x + input_offset) for rows of width bits (see the header comment); returns the words
 * written. In a packed group, lane 0 of (word >> b * j) & mask is stream field j, which holds
 * value j / 2 + 4 * (j % 2) (4 bits) or j / 4 + 4 * (j % 4) (2 bits), and lane 1 the value two
 * further on. */
static int32_t fcp_layout(const int8_t *x, int32_t depth, int32_t off, int32_t bits, int32_t *col)
{
    const int32_t g = FCP_GROUP(bits);
    const int32_t half = g / 2;
    const int32_t groups = depth / g;
    int32_t k;
    for (k = 0; k < groups; ++k) {
        const int8_t *xg = x + (size_t)k * (size_t)g;
        int32_t *c = col + (size_t)k * (size_t)half;
        int32_t j;
        if (bits == 8) {
            c[0] = mcc_pack16(xg[0] + off, xg[2] + off);
            c[1] = mcc_pack16(xg[1] + off, xg[3] + off);
            continue;
        }
        for (j = 0; j < half; ++j) {
            const int32_t v = bits == 4 ? j / 2 + 4 * (j % 2) : j / 4 + 4 * (j % 4);
            c[j] = mcc_pack16(xg[v] + off, xg[v + 2] + off);
        }
    }
    return groups * half;
}

#if defined(MCC_DSP_ASM)
/* The 4-bit and 2-bit group loops in assembly (groups >= 1): per packed word one LDR, one EOR, LDM
 * of the column words, then per SMLAD one AND of the word (shifted) with the lane mask. */
static int32_t fcp_dot_s4_asm(const uint8_t *w, const int32_t *c, int32_t groups, int32_t acc)
{
    register int32_t c0 __asm__("r8");
    register int32_t c1 __asm__("r9");
    register int32_t c2 __asm__("r10");
    register int32_t c3 __asm__("r11");
    const uint32_t m = 0x000F000Fu;
    uint32_t u;
    uint32_t t;
    __asm__ volatile(
        "1:\n\t"
        "ldr %[u], [%[w]], #4\n\t"
        "ldmia %[c]!, {%[c0], %[c1], %[c2], %[c3]}\n\t"
        "eor %[u], %[u], #0x88888888\n\t"
        "and %[t], %[m], %[u]\n\t"
        "smlad %[acc], %[t], %[c0], %[acc]\n\t"
        "and %[t], %[m], %[u], lsr #4\n\t"
        "smlad %[acc], %[t], %[c1], %[acc]\n\t"
        "and %[t], %[m], %[u], lsr #8\n\t"
        "smlad %[acc], %[t], %[c2], %[acc]\n\t"
        "and %[t], %[m], %[u], lsr #12\n\t"
        "smlad %[acc], %[t], %[c3], %[acc]\n\t"
        "subs %[n], %[n], #1\n\t"
        "bne 1b"
        : [acc] "+r"(acc), [w] "+r"(w), [c] "+r"(c), [n] "+r"(groups), [u] "=&r"(u), [t] "=&r"(t),
          [c0] "=&r"(c0), [c1] "=&r"(c1), [c2] "=&r"(c2), [c3] "=&r"(c3)
        : [m] "r"(m)
        : "cc", "memory");
    return acc;
}

static int32_t fcp_dot_s2_asm(const uint8_t *w, const int32_t *c, int32_t groups, int32_t acc)
{
    register int32_t c0 __asm__("r8");
    register int32_t c1 __asm__("r9");
    register int32_t c2 __asm__("r10");
    register int32_t c3 __asm__("r11");
    const uint32_t m = 0x00030003u;
    uint32_t u;
    uint32_t t;
#define FCP_S2_STEP(sh, reg)                                                                     \
    "and %[t], %[m], %[u], lsr #" #sh "\n\t"                                                      \
    "smlad %[acc], %[t], %[" #reg "], %[acc]\n\t"
    __asm__ volatile(
        "1:\n\t"
        "ldr %[u], [%[w]], #4\n\t"
        "ldmia %[c]!, {%[c0], %[c1], %[c2], %[c3]}\n\t"
        "eor %[u], %[u], #0xAAAAAAAA\n\t"
        "and %[t], %[m], %[u]\n\t"
        "smlad %[acc], %[t], %[c0], %[acc]\n\t"
        FCP_S2_STEP(2, c1) FCP_S2_STEP(4, c2) FCP_S2_STEP(6, c3)
        "ldmia %[c]!, {%[c0], %[c1], %[c2], %[c3]}\n\t"
        FCP_S2_STEP(8, c0) FCP_S2_STEP(10, c1) FCP_S2_STEP(12, c2) FCP_S2_STEP(14, c3)
        "subs %[n], %[n], #1\n\t"
        "bne 1b"
        : [acc] "+r"(acc), [w] "+r"(w), [c] "+r"(c), [n] "+r"(groups), [u] "=&r"(u), [t] "=&r"(t),
          [c0] "=&r"(c0), [c1] "=&r"(c1), [c2] "=&r"(c2), [c3] "=&r"(c3)
        : [m] "r"(m)
        : "cc", "memory");
#undef FCP_S2_STEP
    return acc;
}
#endif

/* sum over the row's whole groups: (x + input_offset) * v, v in its offset form for 4 and 2 bits
 * (the caller subtracts 2^(b-1) * sum (x + input_offset) over those groups). */
static uint32_t fcp_dot_groups(const uint8_t *w, const int32_t *c, int32_t groups, int32_t bits)
{
    int32_t acc = 0;
    int32_t k;
    if (groups < 1) {
        return 0u;
    }
    if (bits == 8) {
        for (k = 0; k < groups; ++k, w += 4, c += 2) {
            const int32_t v = mcc_read_s32(w);
            acc = mcc_smlad(mcc_sxtb16(v), c[0], acc);
            acc = mcc_smlad(mcc_sxtb16_ror8(v), c[1], acc);
        }
    } else if (bits == 4) {
#if defined(MCC_DSP_ASM)
        acc = fcp_dot_s4_asm(w, c, groups, acc);
#else
        for (k = 0; k < groups; ++k, w += 4, c += 4) {
            const uint32_t u = (uint32_t)mcc_read_s32(w) ^ 0x88888888u;
            acc = mcc_smlad(mcc_wrap_s32(u & 0x000F000Fu), c[0], acc);
            acc = mcc_smlad(mcc_wrap_s32((u >> 4) & 0x000F000Fu), c[1], acc);
            acc = mcc_smlad(mcc_wrap_s32((u >> 8) & 0x000F000Fu), c[2], acc);
            acc = mcc_smlad(mcc_wrap_s32((u >> 12) & 0x000F000Fu), c[3], acc);
        }
#endif
    } else {
#if defined(MCC_DSP_ASM)
        acc = fcp_dot_s2_asm(w, c, groups, acc);
#else
        for (k = 0; k < groups; ++k, w += 4, c += 8) {
            const uint32_t u = (uint32_t)mcc_read_s32(w) ^ 0xAAAAAAAAu;
            int32_t j;
            for (j = 0; j < 8; ++j) {
                acc = mcc_smlad(mcc_wrap_s32((u >> (2 * j)) & 0x00030003u), c[j], acc);
            }
        }
#endif
    }
    return (uint32_t)acc;
}

static void fully_connected_packed_dsp(const mcc_fully_connected_packed_params *pp,
                                       const int8_t *input, const uint8_t *filter,
                                       const int32_t *bias, int8_t *output, int32_t *scratch)
{
    const mcc_fully_connected_params *p = &pp->fc;
    const int32_t depth = p->accum_depth;
    const int32_t off = p->input_offset;
    int32_t b;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *x = input + (size_t)b * (size_t)depth;
        int32_t *col[9] = {NULL};
        uint32_t xsum[9] = {0};  /* sum (x + off) over the whole groups of each width */
        const uint8_t *src = filter;
        int32_t *at = scratch;
        int32_t bits;
        int32_t o;
        for (bits = 8; bits >= 2; bits >>= 1) {
            if (fcp_has_width(pp, bits)) {
                const int32_t n = depth / FCP_GROUP(bits) * FCP_GROUP(bits);
                int32_t i;
                col[bits] = at;
                at += fcp_layout(x, depth, off, bits, at);
                for (i = 0; i < n; ++i) {
                    xsum[bits] += (uint32_t)(x[i] + off);
                }
            }
        }
        for (o = 0; o < p->output_size; ++o) {
            const int32_t w_bits = pp->weight_bits[o];
            const int32_t g = FCP_GROUP(w_bits);
            const int32_t groups = depth / g;
            uint32_t acc = (bias != NULL ? (uint32_t)bias[o] : 0u) +
                           fcp_dot_groups(src, col[w_bits], groups, w_bits);
            int32_t i;
            if (w_bits < 8) {
                acc -= (uint32_t)(1 << (w_bits - 1)) * xsum[w_bits];
            }
            for (i = groups * g; i < depth; ++i) {
                acc += (uint32_t)((x[i] + off) * fcp_value(src, i, w_bits));
            }
            output[(size_t)b * (size_t)p->output_size + (size_t)o] = fcp_out(p, o, acc);
            src += mcc_packed_row_bytes(depth, w_bits);
        }
    }
}

#else /* portable */

static void fully_connected_packed_portable(const mcc_fully_connected_packed_params *pp,
                                            const int8_t *input, const uint8_t *filter,
                                            const int32_t *bias, int8_t *output, int16_t *col)
{
    const mcc_fully_connected_params *p = &pp->fc;
    const int32_t depth = p->accum_depth;
    int32_t b;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *x = input + (size_t)b * (size_t)depth;
        const uint8_t *src = filter;
        uint32_t xsum4 = 0;  /* sum of col over the whole groups of a 4-bit row */
        uint32_t xsum2 = 0;  /* ... of a 2-bit row */
        int32_t i;
        int32_t o;
        for (i = 0; i < depth; ++i) {
            col[i] = (int16_t)(x[i] + p->input_offset);
            xsum4 += i < (depth & ~7) ? (uint32_t)col[i] : 0u;
            xsum2 += i < (depth & ~15) ? (uint32_t)col[i] : 0u;
        }
        for (o = 0; o < p->output_size; ++o) {
            const int32_t w_bits = pp->weight_bits[o];
            uint32_t acc = bias != NULL ? (uint32_t)bias[o] : 0u;
            int32_t whole = 0;
            int32_t dot = 0;
            if (w_bits == 8) {
                const int8_t *w = (const int8_t *)src;
                for (i = 0; i < depth; ++i) {
                    dot += col[i] * w[i];
                }
                whole = depth;
            } else if (w_bits == 4) {
                /* byte i of a group: values i (bits 0..3) and i + 4 (bits 4..7), offset form */
                const uint8_t *wb = src;
                const int16_t *c = col;
                for (i = 0; i < depth / 8; ++i, wb += 4, c += 8) {
                    const int32_t u0 = wb[0] ^ 0x88;
                    const int32_t u1 = wb[1] ^ 0x88;
                    const int32_t u2 = wb[2] ^ 0x88;
                    const int32_t u3 = wb[3] ^ 0x88;
                    dot += c[0] * (u0 & 15) + c[4] * (u0 >> 4) + c[1] * (u1 & 15) + c[5] * (u1 >> 4) +
                           c[2] * (u2 & 15) + c[6] * (u2 >> 4) + c[3] * (u3 & 15) + c[7] * (u3 >> 4);
                }
                acc -= 8u * xsum4;
                whole = depth & ~7;
            } else {
                /* byte i of a group: values i, i + 4, i + 8, i + 12 (bits 0..1, 2..3, ...) */
                const uint8_t *wb = src;
                const int16_t *c = col;
                for (i = 0; i < depth / 16; ++i, wb += 4, c += 16) {
                    int32_t j;
                    for (j = 0; j < 4; ++j) {
                        const int32_t u = wb[j] ^ 0xAA;
                        dot += c[j] * (u & 3) + c[j + 4] * ((u >> 2) & 3) + c[j + 8] * ((u >> 4) & 3) +
                               c[j + 12] * (u >> 6);
                    }
                }
                acc -= 2u * xsum2;
                whole = depth & ~15;
            }
            acc += (uint32_t)dot;
            for (i = whole; i < depth; ++i) {
                acc += (uint32_t)(col[i] * fcp_value(src, i, w_bits));
            }
            output[(size_t)b * (size_t)p->output_size + (size_t)o] = fcp_out(p, o, acc);
            src += mcc_packed_row_bytes(depth, w_bits);
        }
    }
}

#endif /* MCC_HAS_DSP */

mcc_status mcc_fully_connected_packed(const mcc_fully_connected_packed_params *pp,
                                      const int8_t *input, const uint8_t *filter,
                                      const int32_t *bias, int8_t *output, int8_t *scratch)
{
    const mcc_fully_connected_params *p;
    if (pp == NULL || input == NULL || filter == NULL || output == NULL || scratch == NULL ||
        pp->weight_bits == NULL || pp->fc.multiplier == NULL || pp->fc.shift == NULL) {
        return MCC_ERR_ARG;
    }
    p = &pp->fc;
    if (p->batches < 1 || p->accum_depth < 1 || p->output_size < 1 || p->filter_offset != 0 ||
        !mcc_packed_bits_ok(pp->weight_bits, p->output_size) || ((uintptr_t)scratch & 3u) != 0) {
        return MCC_ERR_ARG;
    }
#if defined(MCC_HAS_DSP)
    fully_connected_packed_dsp(pp, input, filter, bias, output, (int32_t *)(void *)scratch);
#else
    fully_connected_packed_portable(pp, input, filter, bias, output, (int16_t *)(void *)scratch);
#endif
    return MCC_OK;
}
