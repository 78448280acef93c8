/* mcc_cols_zero: the column pair buffer of the int8 x int16 GEMM,
 * zeroed over the padding taps.
 *
 * A support source of the DSP kernels (mcc_dsp_gemm.h declares it): compiled once per image and
 * shared by every kernel that calls it (mcc/codegen/support.py lists which), instead of a static
 * copy in each kernel's object file. Empty without MCC_HAS_DSP (the portable kernels need none).
 */
#include <stddef.h>
#include <stdint.h>

#include "mcc_dsp_gemm.h"

#if defined(MCC_HAS_DSP)

/* Column j, entries k .. k+n-1 := 0 (taps in the padding). */
void mcc_cols_zero(int16_t *cols, int32_t k4, int32_t tail, int32_t j, int32_t k, int32_t n)
{
    while (n > 0 && (k & 3) != 0) {
        cols[mcc_cols_index(k4, tail, j, k)] = 0;
        ++k;
        --n;
    }
    if (k < k4 && n >= 4) {
        int16_t *d = cols + 2 * k + 4 * j;
        int32_t groups = n >> 2;
        if (groups > ((k4 - k) >> 2)) {
            groups = (k4 - k) >> 2;
        }
        k += 4 * groups;
        n -= 4 * groups;
        while (groups-- > 0) {
            mcc_write_s32(d, 0);
            mcc_write_s32(d + 2, 0);
            d += 8;
        }
    }
    while (n > 0) {
        cols[mcc_cols_index(k4, tail, j, k)] = 0;
        ++k;
        --n;
    }
}

#else

typedef int mcc_cols_zero_unused; /* ISO C: a translation unit is not empty */

#endif /* MCC_HAS_DSP */
