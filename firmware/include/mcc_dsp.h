/*
 * mcc_dsp.h -- the SIMD primitives of the Armv7E-M / Armv8-M DSP extension used by the fast
 * kernel paths (Cortex-M4, M7, M33, M55), and a fast exact requantization built on them.
 *
 *   MCC_HAS_DSP is defined (to 1) when the fast paths are compiled:
 *     - on a core with __ARM_FEATURE_DSP: the real instructions (ACLE intrinsics from
 *       <arm_acle.h>, inline asm where GCC has no intrinsic: the ROR #8 forms and PKHBT/PKHTB);
 *     - anywhere when MCC_EMULATE_DSP is defined: portable C emulations with the identical
 *       results (wrap-around, saturation, sign extension), so the DSP algorithms are tested bit
 *       for bit on the host. MCC_EMULATE_DSP wins over __ARM_FEATURE_DSP (emulation on a core).
 *   MCC_NO_DSP (a build flag) turns the DSP paths off everywhere: the portable kernels only, for
 *   the smallest code (the DSP paths add about 2-5 KiB of flash per kernel).
 *
 * Every DSP kernel falls back to its portable loops when its scratch pointer is NULL (same
 * results), so a caller that does not provide *_get_buffer_size bytes still works, slowly.
 *
 * Values packed two halfwords (or four bytes) to a word travel as int32_t, as in ACLE
 * (int16x2_t, int8x4_t). "lo" is bits 0..15, "hi" bits 16..31.
 *
 * Nothing here is needed by the portable kernels; include it only from kernel sources.
 */
#ifndef MCC_DSP_H
#define MCC_DSP_H

#include <stdint.h>
#include <string.h>

#include "mcc_fixed_point.h"

#if defined(MCC_NO_DSP)
/* the portable kernels only, even on a DSP core (smaller code) */
#elif defined(MCC_EMULATE_DSP)
#define MCC_HAS_DSP 1
#define MCC_DSP_EMULATED 1
#elif defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#define MCC_HAS_DSP 1
#define MCC_DSP_NATIVE 1
#include <arm_acle.h>
#endif

/* MCC_NO_PORTABLE_FALLBACK (a build flag of DSP firmware images, set by mcc/codegen/emit.py: the
 * generated code always passes the scratch buffer): the kernels whose DSP path covers every shape
 * they accept (mcc_conv_s8, mcc_conv_1x1_s8, mcc_depthwise_conv_3x3_s8, mcc_fully_connected_s8)
 * leave their portable loops out and reject a NULL scratch pointer (MCC_ERR_ARG): smaller code. */
#if defined(MCC_HAS_DSP) && defined(MCC_NO_PORTABLE_FALLBACK)
#define MCC_WITH_FALLBACK 0
#else
#define MCC_WITH_FALLBACK 1
#endif

/* The portable path of a kernel that also has a DSP path: on a DSP build it runs only when the
 * caller passes no scratch buffer (the generated code always passes one), so it is compiled for
 * size there (GCC's cold: -Os code in .text.unlikely); without DSP it is the kernel itself. */
#if defined(MCC_HAS_DSP) && defined(__GNUC__)
#define MCC_PORTABLE_FALLBACK __attribute__((cold))
#else
#define MCC_PORTABLE_FALLBACK
#endif

#if defined(MCC_HAS_DSP)

/* Hand-scheduled assembly for the hot loops: GCC-compatible inline asm on a DSP core, when
 * optimizing (at -O0 the frame pointer takes one of the 13 registers the loops need; the C
 * versions of the same algorithms run instead). */
#if defined(MCC_DSP_NATIVE) && defined(__GNUC__) && defined(__OPTIMIZE__)
#define MCC_DSP_ASM 1
#endif

/* The hot helpers must be inlined (a call would spill the accumulators). */
#if defined(__GNUC__)
#define MCC_INLINE static inline __attribute__((always_inline))
#else
#define MCC_INLINE static inline
#endif

/* ------------------------------------------------------------------------ */
/* Memory access (any alignment; one LDR / STR on cores with unaligned access) */
/* ------------------------------------------------------------------------ */

static inline int32_t mcc_read_s32(const void *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void mcc_write_s32(void *p, int32_t v)
{
    memcpy(p, &v, sizeof v);
}

/* ------------------------------------------------------------------------ */
/* Emulation helpers: exact two's-complement field extraction without UB     */
/* ------------------------------------------------------------------------ */

#if defined(MCC_DSP_EMULATED)
static inline int32_t mcc_emu_lo(int32_t x) /* sign-extended bits 0..15 */
{
    return (int32_t)(((uint32_t)x & 0xFFFFu) ^ 0x8000u) - 0x8000;
}

static inline int32_t mcc_emu_hi(int32_t x) /* sign-extended bits 16..31 */
{
    return (int32_t)((((uint32_t)x >> 16) & 0xFFFFu) ^ 0x8000u) - 0x8000;
}

static inline int32_t mcc_emu_byte(int32_t x, int n) /* sign-extended byte n */
{
    return (int32_t)((((uint32_t)x >> (8 * n)) & 0xFFu) ^ 0x80u) - 0x80;
}

static inline int32_t mcc_emu_pack16(int32_t lo, int32_t hi) /* halfwords, each modulo 2^16 */
{
    return mcc_wrap_s32(((uint32_t)lo & 0xFFFFu) | (((uint32_t)hi & 0xFFFFu) << 16));
}

static inline int32_t mcc_emu_sat(int64_t v, int32_t bits)
{
    const int64_t hi = ((int64_t)1 << (bits - 1)) - 1;
    const int64_t lo = -hi - 1;
    return (int32_t)(v < lo ? lo : (v > hi ? hi : v));
}
#endif

/* ------------------------------------------------------------------------ */
/* Multiply-accumulate                                                       */
/* ------------------------------------------------------------------------ */

/* SMLAD: acc + x.lo * y.lo + x.hi * y.hi (modulo 2^32). */
static inline int32_t mcc_smlad(int32_t x, int32_t y, int32_t acc)
{
#if defined(MCC_DSP_NATIVE)
    return __smlad(x, y, acc);
#else
    const uint32_t p0 = (uint32_t)(mcc_emu_lo(x) * mcc_emu_lo(y));
    const uint32_t p1 = (uint32_t)(mcc_emu_hi(x) * mcc_emu_hi(y));
    return mcc_wrap_s32((uint32_t)acc + p0 + p1);
#endif
}

/* SMUAD: x.lo * y.lo + x.hi * y.hi (modulo 2^32). */
static inline int32_t mcc_smuad(int32_t x, int32_t y)
{
#if defined(MCC_DSP_NATIVE)
    return __smuad(x, y);
#else
    return mcc_smlad(x, y, 0);
#endif
}

/* SMLABB / SMLABT / SMLATB / SMLATT: acc + x.<B|T> * y.<B|T> (modulo 2^32). */
static inline int32_t mcc_smlabb(int32_t x, int32_t y, int32_t acc)
{
#if defined(MCC_DSP_NATIVE)
    int32_t r;
    __asm__("smlabb %0, %1, %2, %3" : "=r"(r) : "r"(x), "r"(y), "r"(acc));
    return r;
#else
    return mcc_wrap_s32((uint32_t)acc + (uint32_t)(mcc_emu_lo(x) * mcc_emu_lo(y)));
#endif
}

static inline int32_t mcc_smlabt(int32_t x, int32_t y, int32_t acc)
{
#if defined(MCC_DSP_NATIVE)
    int32_t r;
    __asm__("smlabt %0, %1, %2, %3" : "=r"(r) : "r"(x), "r"(y), "r"(acc));
    return r;
#else
    return mcc_wrap_s32((uint32_t)acc + (uint32_t)(mcc_emu_lo(x) * mcc_emu_hi(y)));
#endif
}

static inline int32_t mcc_smlatb(int32_t x, int32_t y, int32_t acc)
{
#if defined(MCC_DSP_NATIVE)
    int32_t r;
    __asm__("smlatb %0, %1, %2, %3" : "=r"(r) : "r"(x), "r"(y), "r"(acc));
    return r;
#else
    return mcc_wrap_s32((uint32_t)acc + (uint32_t)(mcc_emu_hi(x) * mcc_emu_lo(y)));
#endif
}

static inline int32_t mcc_smlatt(int32_t x, int32_t y, int32_t acc)
{
#if defined(MCC_DSP_NATIVE)
    int32_t r;
    __asm__("smlatt %0, %1, %2, %3" : "=r"(r) : "r"(x), "r"(y), "r"(acc));
    return r;
#else
    return mcc_wrap_s32((uint32_t)acc + (uint32_t)(mcc_emu_hi(x) * mcc_emu_hi(y)));
#endif
}

/* ------------------------------------------------------------------------ */
/* Sign extension and packing                                                */
/* ------------------------------------------------------------------------ */

/* SXTB16: (sext(byte0), sext(byte2)) as (lo, hi). */
static inline int32_t mcc_sxtb16(int32_t x)
{
#if defined(MCC_DSP_NATIVE)
    return __sxtb16(x);
#else
    return mcc_emu_pack16(mcc_emu_byte(x, 0), mcc_emu_byte(x, 2));
#endif
}

/* SXTB16 Rd, Rm, ROR #8: (sext(byte1), sext(byte3)). */
static inline int32_t mcc_sxtb16_ror8(int32_t x)
{
#if defined(MCC_DSP_NATIVE)
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
#else
    return mcc_emu_pack16(mcc_emu_byte(x, 1), mcc_emu_byte(x, 3));
#endif
}

/* SXTAB16: (a.lo + sext(byte0), a.hi + sext(byte2)), each halfword modulo 2^16. */
static inline int32_t mcc_sxtab16(int32_t a, int32_t x)
{
#if defined(MCC_DSP_NATIVE)
    return __sxtab16(a, x);
#else
    return mcc_emu_pack16(mcc_emu_lo(a) + mcc_emu_byte(x, 0), mcc_emu_hi(a) + mcc_emu_byte(x, 2));
#endif
}

/* SXTAB16 Rd, Rn, Rm, ROR #8: (a.lo + sext(byte1), a.hi + sext(byte3)). */
static inline int32_t mcc_sxtab16_ror8(int32_t a, int32_t x)
{
#if defined(MCC_DSP_NATIVE)
    int32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(x));
    return r;
#else
    return mcc_emu_pack16(mcc_emu_lo(a) + mcc_emu_byte(x, 1), mcc_emu_hi(a) + mcc_emu_byte(x, 3));
#endif
}

/* PKHBT Rd, Rn, Rm, LSL #16: (a.lo, b.lo). */
static inline int32_t mcc_pkhbt(int32_t a, int32_t b)
{
#if defined(MCC_DSP_NATIVE)
    int32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
#else
    return mcc_emu_pack16(mcc_emu_lo(a), mcc_emu_lo(b));
#endif
}

/* PKHTB Rd, Rn, Rm, ASR #16: (b.hi, a.hi) -- lo from b's top half, hi from a's top half. */
static inline int32_t mcc_pkhtb(int32_t a, int32_t b)
{
#if defined(MCC_DSP_NATIVE)
    int32_t r;
    __asm__("pkhtb %0, %1, %2, asr #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
#else
    return mcc_emu_pack16(mcc_emu_hi(b), mcc_emu_hi(a));
#endif
}

/* Two int16 values as one word: (lo, hi). */
static inline int32_t mcc_pack16(int32_t lo, int32_t hi)
{
#if defined(MCC_DSP_NATIVE)
    return mcc_pkhbt(lo, hi);
#else
    return mcc_emu_pack16(lo, hi);
#endif
}

/* ------------------------------------------------------------------------ */
/* Saturating arithmetic                                                     */
/* ------------------------------------------------------------------------ */

/* QADD / QSUB: saturating 32-bit add / subtract. */
static inline int32_t mcc_qadd(int32_t a, int32_t b)
{
#if defined(MCC_DSP_NATIVE)
    return __qadd(a, b);
#else
    return mcc_emu_sat((int64_t)a + (int64_t)b, 32);
#endif
}

static inline int32_t mcc_qsub(int32_t a, int32_t b)
{
#if defined(MCC_DSP_NATIVE)
    return __qsub(a, b);
#else
    return mcc_emu_sat((int64_t)a - (int64_t)b, 32);
#endif
}

/* SADD16: halfword-wise a + b, each modulo 2^16. */
static inline int32_t mcc_sadd16(int32_t a, int32_t b)
{
#if defined(MCC_DSP_NATIVE)
    return __sadd16(a, b);
#else
    return mcc_emu_pack16(mcc_emu_lo(a) + mcc_emu_lo(b), mcc_emu_hi(a) + mcc_emu_hi(b));
#endif
}

/* QADD16: halfword-wise saturating a + b. */
static inline int32_t mcc_qadd16(int32_t a, int32_t b)
{
#if defined(MCC_DSP_NATIVE)
    return __qadd16(a, b);
#else
    return mcc_emu_pack16(mcc_emu_sat(mcc_emu_lo(a) + mcc_emu_lo(b), 16),
                          mcc_emu_sat(mcc_emu_hi(a) + mcc_emu_hi(b), 16));
#endif
}

/* SSAT #8 / SSAT #16: clamp to the signed 8- / 16-bit range. */
static inline int32_t mcc_ssat8(int32_t x)
{
#if defined(MCC_DSP_NATIVE)
    return __ssat(x, 8);
#else
    return mcc_emu_sat(x, 8);
#endif
}

static inline int32_t mcc_ssat16(int32_t x)
{
#if defined(MCC_DSP_NATIVE)
    return __ssat(x, 16);
#else
    return mcc_emu_sat(x, 16);
#endif
}

/* Halfword-wise max(a, b) / min(a, b) (SSUB16 + SEL). */
static inline int32_t mcc_max16x2(int32_t a, int32_t b)
{
#if defined(MCC_DSP_NATIVE)
    int32_t r;
    int32_t t;
    __asm__("ssub16 %1, %2, %3\n\tsel %0, %2, %3" : "=r"(r), "=&r"(t) : "r"(a), "r"(b) : "cc");
    return r;
#else
    const int32_t l0 = mcc_emu_lo(a);
    const int32_t l1 = mcc_emu_lo(b);
    const int32_t h0 = mcc_emu_hi(a);
    const int32_t h1 = mcc_emu_hi(b);
    return mcc_emu_pack16(l0 >= l1 ? l0 : l1, h0 >= h1 ? h0 : h1);
#endif
}

static inline int32_t mcc_min16x2(int32_t a, int32_t b)
{
#if defined(MCC_DSP_NATIVE)
    int32_t r;
    int32_t t;
    __asm__("ssub16 %1, %3, %2\n\tsel %0, %2, %3" : "=r"(r), "=&r"(t) : "r"(a), "r"(b) : "cc");
    return r;
#else
    const int32_t l0 = mcc_emu_lo(a);
    const int32_t l1 = mcc_emu_lo(b);
    const int32_t h0 = mcc_emu_hi(a);
    const int32_t h1 = mcc_emu_hi(b);
    return mcc_emu_pack16(l0 <= l1 ? l0 : l1, h0 <= h1 ? h0 : h1);
#endif
}

/* Byte insertion (BFI Rd, Rn, #pos, #8): w with bits pos..pos+7 replaced by v's low byte. */
#if defined(MCC_DSP_NATIVE)
#define MCC_DEFINE_BFI8(pos)                                                                      \
    static inline int32_t mcc_bfi8_##pos(int32_t w, int32_t v)                                   \
    {                                                                                            \
        __asm__("bfi %0, %1, #" #pos ", #8" : "+r"(w) : "r"(v));                                 \
        return w;                                                                                \
    }
#else
#define MCC_DEFINE_BFI8(pos)                                                                      \
    static inline int32_t mcc_bfi8_##pos(int32_t w, int32_t v)                                   \
    {                                                                                            \
        return mcc_wrap_s32(((uint32_t)w & ~(0xFFu << pos)) | (((uint32_t)v & 0xFFu) << pos));   \
    }
#endif
MCC_DEFINE_BFI8(8)
MCC_DEFINE_BFI8(16)
MCC_DEFINE_BFI8(24)

/* Bytewise signed max(a, b) / min(a, b) (SSUB8 + SEL). */
static inline int32_t mcc_max8x4(int32_t a, int32_t b)
{
#if defined(MCC_DSP_NATIVE)
    int32_t r;
    int32_t t;
    __asm__("ssub8 %1, %2, %3\n\tsel %0, %2, %3" : "=r"(r), "=&r"(t) : "r"(a), "r"(b) : "cc");
    return r;
#else
    uint32_t r = 0;
    int n;
    for (n = 0; n < 4; ++n) {
        const int32_t x = mcc_emu_byte(a, n);
        const int32_t y = mcc_emu_byte(b, n);
        r |= ((uint32_t)(x >= y ? x : y) & 0xFFu) << (8 * n);
    }
    return mcc_wrap_s32(r);
#endif
}

static inline int32_t mcc_min8x4(int32_t a, int32_t b)
{
#if defined(MCC_DSP_NATIVE)
    int32_t r;
    int32_t t;
    __asm__("ssub8 %1, %3, %2\n\tsel %0, %2, %3" : "=r"(r), "=&r"(t) : "r"(a), "r"(b) : "cc");
    return r;
#else
    uint32_t r = 0;
    int n;
    for (n = 0; n < 4; ++n) {
        const int32_t x = mcc_emu_byte(a, n);
        const int32_t y = mcc_emu_byte(b, n);
        r |= ((uint32_t)(x <= y ? x : y) & 0xFFu) << (8 * n);
    }
    return mcc_wrap_s32(r);
#endif
}

/* ------------------------------------------------------------------------ */
/* Fast exact requantization                                                 */
/* ------------------------------------------------------------------------ */

/*
 * mcc_requantize(acc, m, shift) + output_offset is, for -24 <= shift <= -1 (r = -shift) and
 * m > 2^30, exactly
 *
 *     floor((acc * m + 2^30 + 2^(30 + r) + output_offset * 2^(31 + r) - [acc < 0] * 2^31) / 2^(31 + r))
 *
 * The saturating rounding doubling high multiply is floor((p + 2^30) / 2^31) (p = acc * m;
 * gemmlowp's sign-dependent nudge and truncating division reduce to that, and p never reaches the
 * saturating case), the rounding divide by 2^r is floor((x + 2^(r-1) - [x < 0]) / 2^r), floors of
 * divisions by powers of two compose, adding output_offset commutes with the floor, and x < 0
 * exactly when acc < 0 because m > 2^30. In 64 bits that is one SMLAL onto a per-channel constant
 * and an arithmetic shift of the high word by r - 1 (r <= 24 keeps the high word inside int32):
 *
 *     hi32(acc * m + bias - [acc < 0] * 2^31) >> (r - 1)
 *
 * Left shifts (0 <= shift <= 30, m >= 2^30: real multipliers >= 1/2, e.g. the large weight
 * scales of 2-bit layers) have no rounding divide: with x = acc * 2^shift modulo 2^32 (the
 * reference's wrapping int32 shift), the result is floor((x * m + 2^30) / 2^31) + output_offset
 * (the same reduction of the doubling high multiply). With M2 = 2m - 2^32 (2m as a negative
 * int32), x * 2m = x * M2 + x * 2^32, so that is, for every x,
 *
 *     hi32(x * M2 + 2^31 + output_offset * 2^32) + x     (modulo 2^32)
 *
 * one LSL, one SMLAL and one ADD. The channel's mcc_rq then holds multiplier M2, bias_lo 2^31
 * (the mark of the left form: the right form's bias_lo is 2^30 or 3 * 2^30), bias_hi the output
 * offset and rshift the left shift. The result is the reference's int32 sum
 * requantize(acc) + output_offset, wrapping as the kernels' int32 addition does.
 *
 * Channels outside both ranges take mcc_requantize() (mcc_rq_all_fast() tells).
 */
typedef struct {
    int32_t multiplier;
    uint32_t bias_lo; /* 2^30 + 2^(30 + r) + output_offset * 2^(31 + r): low and high words */
    int32_t bias_hi;  /* (left form: 2^31 and output_offset) */
    int32_t rshift;   /* r - 1 (left form: the left shift) */
} mcc_rq;

#define MCC_RQ_LEFT_MARK 0x80000000u

/* 1 if the channel can take the right-shift fast path (mcc_rq_fast). */
static inline int32_t mcc_rq_right_ok(int32_t multiplier, int32_t shift)
{
    return shift <= -1 && shift >= -24 && multiplier > ((int32_t)1 << 30);
}

/* 1 if the channel can take the left-shift fast path (mcc_rq_fast_left). MCC_RQ_RIGHT_ONLY (set
 * by mcc/codegen/fwsize.py when no layer of the image has a left-shift channel) leaves the left
 * form out of the image: such a channel would take the exact path. */
static inline int32_t mcc_rq_left_ok(int32_t multiplier, int32_t shift)
{
#if defined(MCC_RQ_RIGHT_ONLY)
    (void)multiplier;
    (void)shift;
    return 0;
#else
    return shift >= 0 && shift <= 30 && multiplier >= ((int32_t)1 << 30);
#endif
}

/* 1 if the channel can take a fast path (either form). */
static inline int32_t mcc_rq_ok(int32_t multiplier, int32_t shift)
{
    return mcc_rq_right_ok(multiplier, shift) || mcc_rq_left_ok(multiplier, shift);
}

/* Prepares a channel for mcc_rq_apply(); only meaningful when mcc_rq_ok(). */
static inline void mcc_rq_init(mcc_rq *q, int32_t multiplier, int32_t shift, int32_t output_offset)
{
    const int32_t rshift = (-shift - 1) & 31;
    if (mcc_rq_left_ok(multiplier, shift)) {
        q->multiplier = mcc_wrap_s32(2u * (uint32_t)multiplier);
        q->bias_lo = MCC_RQ_LEFT_MARK;
        q->bias_hi = output_offset;
        q->rshift = shift & 31;
        return;
    }
    q->multiplier = multiplier;
    q->rshift = rshift;
    q->bias_lo = shift <= -2 ? 0x40000000u : 0xC0000000u;
    q->bias_hi = mcc_wrap_s32((shift <= -2 ? (uint32_t)1 << ((-shift - 2) & 31) : 0u) +
                              ((uint32_t)output_offset << rshift));
}

/* 1 when a prepared channel is in the left form. */
static inline int32_t mcc_rq_is_left(uint32_t bias_lo)
{
#if defined(MCC_RQ_RIGHT_ONLY)
    (void)bias_lo;
    return 0;
#else
    return bias_lo == MCC_RQ_LEFT_MARK;
#endif
}

/* requantize(acc) + output_offset for a prepared channel in the right form. */
MCC_INLINE int32_t mcc_rq_fast(int32_t acc, int32_t multiplier, uint32_t bias_lo, int32_t bias_hi,
                                  int32_t rshift)
{
    /* Right shifts of negative values are arithmetic on every compiler targeting Arm and on the
     * hosts that run the emulation (implementation-defined in C99, relied on only here). */
    const int64_t bias = (int64_t)(((uint64_t)(uint32_t)bias_hi << 32) | bias_lo);
    const int64_t s = bias - (acc < 0 ? ((int64_t)1 << 31) : 0) + (int64_t)acc * multiplier;
    return (int32_t)(s >> 32) >> rshift;
}

/* requantize(acc) + output_offset for a prepared channel in the left form (m2 = 2m - 2^32,
 * offset = output_offset, lshift = shift). */
MCC_INLINE int32_t mcc_rq_fast_left(int32_t acc, int32_t m2, int32_t offset, int32_t lshift)
{
    const int32_t x = mcc_wrapping_shl(acc, lshift);
    const int64_t s = (int64_t)(((uint64_t)(uint32_t)offset << 32) | MCC_RQ_LEFT_MARK) +
                      (int64_t)x * m2;
    return mcc_wrapping_add((int32_t)(s >> 32), x);
}

/* Either form, chosen by the channel's mark (a branch per call: the hot loops of tables known to
 * hold only right-form channels call mcc_rq_fast directly). */
MCC_INLINE int32_t mcc_rq_apply(const mcc_rq *q, int32_t acc)
{
    if (mcc_rq_is_left(q->bias_lo)) {
        return mcc_rq_fast_left(acc, q->multiplier, q->bias_hi, q->rshift);
    }
    return mcc_rq_fast(acc, q->multiplier, q->bias_lo, q->bias_hi, q->rshift);
}

/* The right form only (the caller knows the channel is not in the left form). */
MCC_INLINE int32_t mcc_rq_apply_right(const mcc_rq *q, int32_t acc)
{
    return mcc_rq_fast(acc, q->multiplier, q->bias_lo, q->bias_hi, q->rshift);
}

/* 1 when every channel c < n (multiplier / shift index c * stride) takes the fast path. */
static inline int32_t mcc_rq_all_fast(const int32_t *multiplier, const int32_t *shift, int32_t n,
                                      int32_t stride)
{
    int32_t c;
    for (c = 0; c < n; ++c) {
        if (!mcc_rq_ok(multiplier[c * stride], shift[c * stride])) {
            return 0;
        }
    }
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Output stage: clamp to [act_min, act_max], narrow, store                  */
/* ------------------------------------------------------------------------ */

typedef struct {
    int32_t output_offset;
    int32_t act_min;
    int32_t act_max;
    int32_t full;  /* [act_min, act_max] == [-128, 127]: SSAT #8 is the whole clamp */
    int32_t min4;  /* act_min / act_max in all four bytes */
    int32_t max4;
    int32_t rq_left; /* the requantization table holds left-form channels (mcc_rq_table) */
} mcc_out_stage;

static inline void mcc_out_stage_init(mcc_out_stage *os, int32_t output_offset, int32_t act_min,
                                      int32_t act_max)
{
    os->output_offset = output_offset;
    os->act_min = act_min;
    os->act_max = act_max;
    os->full = act_min <= -128 && act_max >= 127;
    os->min4 = mcc_wrap_s32(((uint32_t)act_min & 0xFFu) * 0x01010101u);
    os->max4 = mcc_wrap_s32(((uint32_t)act_max & 0xFFu) * 0x01010101u);
    os->rq_left = 0;
}

static inline int8_t mcc_out_s8(const mcc_out_stage *os, int32_t v)
{
    v += os->output_offset;
    v = v < os->act_min ? os->act_min : v;
    v = v > os->act_max ? os->act_max : v;
    return (int8_t)v;
}

/* Two values (output offset already added) -> two bytes at dst: SSAT #8, BFI, bytewise clamp. */
MCC_INLINE void mcc_store2_s8(int8_t *dst, const mcc_out_stage *os, int32_t v0, int32_t v1)
{
    int32_t w = mcc_bfi8_8(mcc_ssat8(v0), mcc_ssat8(v1));
    uint16_t h;
    if (!os->full) {
        w = mcc_min8x4(mcc_max8x4(w, os->min4), os->max4);
    }
    h = (uint16_t)((uint32_t)w & 0xFFFFu);
    memcpy(dst, &h, sizeof h);
}

/* Four values (output offset already added) -> four bytes at dst (any alignment). */
MCC_INLINE void mcc_store4_s8(int8_t *dst, const mcc_out_stage *os, int32_t v0, int32_t v1,
                                 int32_t v2, int32_t v3)
{
    int32_t w = mcc_ssat8(v0);
    w = mcc_bfi8_8(w, mcc_ssat8(v1));
    w = mcc_bfi8_16(w, mcc_ssat8(v2));
    w = mcc_bfi8_24(w, mcc_ssat8(v3));
    if (!os->full) {
        w = mcc_min8x4(mcc_max8x4(w, os->min4), os->max4);
    }
    mcc_write_s32(dst, w);
}

#if defined(__GNUC__)
#define MCC_NOINLINE __attribute__((noinline, unused))
#else
#define MCC_NOINLINE
#endif

/* The exact (slow) requantization and output stage, kept out of the hot loops. */
static MCC_NOINLINE int8_t mcc_rq_out_exact(int32_t acc, int32_t multiplier, int32_t shift,
                                                   const mcc_out_stage *os)
{
    return mcc_out_s8(os, mcc_requantize(acc, multiplier, shift));
}

#endif /* MCC_HAS_DSP */

#endif /* MCC_DSP_H */
