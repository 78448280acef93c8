/*
 * mcc_packed.h -- reading packed sub-byte weights (internal header of the *_packed kernels).
 *
 * Storage (mcc/lower/packing.py): each output channel's row of K weights packed low bits first
 * into ceil(K * b / 8) bytes, b = weight_bits[c] in {8, 4, 2}, two's complement; rows back to back
 * in channel order. The kernels unpack a row (or a block of rows) to int8 once and reuse it for
 * every output pixel, so the width costs O(K) per row, not per multiply-accumulate.
 */
#ifndef MCC_PACKED_H
#define MCC_PACKED_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The DSP paths unpack blocks of rows, zero-padded to a depth multiple of four, into at most this
 * many bytes of scratch (at least two rows; mcc/lower/scratch.py mirrors it). */
#define MCC_PACKED_WBLOCK 8192

static inline int32_t mcc_packed_row_bytes(int32_t k, int32_t bits)
{
    return (k * bits + 7) >> 3;
}

/* 1 when every one of the n widths is 8, 4 or 2. */
static inline int32_t mcc_packed_bits_ok(const uint8_t *bits, int32_t n)
{
    int32_t i;
    for (i = 0; i < n; ++i) {
        if (bits[i] != 8 && bits[i] != 4 && bits[i] != 2) {
            return 0;
        }
    }
    return 1;
}

/* dst[0 .. k-1] := the k values of the row at src (b bits each), dst[k .. kp-1] := 0. */
static inline void mcc_unpack_row(const uint8_t *src, int32_t k, int32_t bits, int8_t *dst,
                                  int32_t kp)
{
    int32_t i = 0;
    if (bits == 8) {
        memcpy(dst, src, (size_t)k);
        i = k;
    } else if (bits == 4) {
        for (; i + 2 <= k; i += 2) {
            const int32_t b = *src++;
            dst[i] = (int8_t)(((b & 0x0F) ^ 0x08) - 0x08);
            dst[i + 1] = (int8_t)(((b >> 4) ^ 0x08) - 0x08);
        }
        if (i < k) {
            dst[i] = (int8_t)(((*src & 0x0F) ^ 0x08) - 0x08);
            ++i;
        }
    } else {
        for (; i + 4 <= k; i += 4) {
            const int32_t b = *src++;
            dst[i] = (int8_t)(((b & 3) ^ 2) - 2);
            dst[i + 1] = (int8_t)((((b >> 2) & 3) ^ 2) - 2);
            dst[i + 2] = (int8_t)((((b >> 4) & 3) ^ 2) - 2);
            dst[i + 3] = (int8_t)(((b >> 6) ^ 2) - 2);
        }
        if (i < k) {
            const int32_t b = *src;
            int32_t s = 0;
            for (; i < k; ++i, s += 2) {
                dst[i] = (int8_t)((((b >> s) & 3) ^ 2) - 2);
            }
        }
    }
    if (kp > k) {
        memset(dst + k, 0, (size_t)(kp - k));
    }
}

/* Rows per block of the DSP paths: MCC_PACKED_WBLOCK / kp rounded down to even, at least 2, at
 * most rows. */
static inline int32_t mcc_packed_block_rows(int32_t kp, int32_t rows)
{
    int32_t r = (MCC_PACKED_WBLOCK / kp) & ~1;
    if (r < 2) {
        r = 2;
    }
    return r < rows ? r : rows;
}

#endif /* MCC_PACKED_H */
