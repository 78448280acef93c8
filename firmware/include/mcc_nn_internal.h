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

#endif /* MCC_NN_INTERNAL_H */
