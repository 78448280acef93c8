/*
 * mcc_nn_internal.h -- small helpers shared by the kernel sources (not part of
 * the public API; generated code includes only mcc_nn.h).
 */
#ifndef MCC_NN_INTERNAL_H
#define MCC_NN_INTERNAL_H

#include <stdint.h>

#include "mcc_fixed_point.h"

/* Range [*start, *end) of filter taps k in [0, taps) whose input coordinate
 * origin + k * dilation lies inside [0, size). Requires dilation >= 1. */
static inline void mcc_valid_taps(int32_t origin, int32_t dilation, int32_t size, int32_t taps,
                                  int32_t *start, int32_t *end)
{
    int32_t s = 0;
    int32_t e = 0;
    const int32_t room = size - origin;
    if (origin < 0) {
        s = (-origin + dilation - 1) / dilation;
    }
    if (room > 0) {
        e = (room + dilation - 1) / dilation;
    }
    if (e > taps) {
        e = taps;
    }
    if (e < s) {
        e = s;
    }
    *start = s;
    *end = e;
}

/* Clamp to the activation range [lo, hi] (itself inside int8) and narrow. */
static inline int8_t mcc_sat_s8(int32_t v, int32_t lo, int32_t hi)
{
    return (int8_t)mcc_clamp_s32(mcc_clamp_s32(v, lo, hi), INT8_MIN, INT8_MAX);
}

/* ---- 16x8 kernels (int16 activations, int8 weights, int64 biases) ---- */

/* Arithmetic (flooring) right shift of an int64, n in 0..63. */
static inline int64_t mcc_asr64(int64_t x, int32_t n)
{
    return x >= 0 ? (x >> n) : ~((~x) >> n);
}

/* TFLite MultiplyByQuantizedMultiplier(int64_t x, multiplier, shift): the Q31
 * multiplier rounded to Q15 (0x7FFF when it would reach 2^15), then
 * (x * m15 + 2^(14 - shift)) >> (15 - shift).  Assumes |x| < 2^47 and a result
 * inside int32 (as the reference does); shift in -31..7, positive = left. */
static inline int32_t mcc_requantize64(int64_t x, int32_t multiplier, int32_t shift)
{
    const int64_t reduced = multiplier < 0x7FFF0000 ? (int64_t)((multiplier + (1 << 15)) >> 16)
                                                    : (int64_t)0x7FFF;
    const int32_t total_shift = 15 - shift;
    const int64_t r = mcc_asr64(x * reduced + ((int64_t)1 << (total_shift - 1)), total_shift);
    return mcc_wrap_s32((uint32_t)(uint64_t)r);
}

/* Clamp to the activation range [lo, hi] (itself inside int16) and narrow. */
static inline int16_t mcc_sat_s16(int32_t v, int32_t lo, int32_t hi)
{
    return (int16_t)mcc_clamp_s32(mcc_clamp_s32(v, lo, hi), INT16_MIN, INT16_MAX);
}

/* 16x8 conv-like output stage: the accumulator (int64) plus bias[c], requantized. TFLM keeps
 * the bias's type as the accumulator's: an int64 bias (bias_bits 64) gives the int64
 * requantization; an int32 bias (bias_bits 32) an int32 accumulator (wrapping) and the int32
 * requantization of int8. bias may be NULL. */
static inline int32_t mcc_s16_output_stage(int64_t acc, const void *bias, int32_t bias_bits,
                                           int32_t c, int32_t multiplier, int32_t shift)
{
    if (bias_bits == 32) {
        uint32_t a = (uint32_t)(uint64_t)acc;
        if (bias != NULL) {
            a += (uint32_t)((const int32_t *)bias)[c];
        }
        return mcc_requantize(mcc_wrap_s32(a), multiplier, shift);
    }
    if (bias != NULL) {
        acc += ((const int64_t *)bias)[c];
    }
    return mcc_requantize64(acc, multiplier, shift);
}

/* int16 LOGISTIC / TANH: the input in steps of 1 / (3 * 4096), (x * m + round) >> shift. */
static inline int32_t mcc_s16_lut_input(int16_t x, int32_t multiplier, int32_t right_shift)
{
    const int32_t round = right_shift > 0 ? (int32_t)1 << (right_shift - 1) : 0;
    return mcc_asr((int32_t)x * multiplier + round, right_shift);
}

/* The 256-entry sigmoid table (unsigned Q0.16) read at a = |v| with frac_bits fractional bits,
 * interpolated linearly: (lut[h] << frac_bits) + t * (lut[h + 1] - lut[h]); h < 255. */
static inline uint32_t mcc_sigmoid_lut_interp(const int32_t *lut, uint32_t a, int32_t frac_bits)
{
    const uint32_t h = a >> frac_bits;
    const uint32_t ua = (uint32_t)lut[h];
    const uint32_t ub = (uint32_t)lut[h + 1];
    return (ua << frac_bits) + (a & ((1u << frac_bits) - 1u)) * (ub - ua);
}

#endif /* MCC_NN_INTERNAL_H */
