/* mcc_cols_copy: the column pair buffer of the int8 x int16 GEMM,
 * filled from int8 input (+ input_offset), any start and length.
 *
 * A support source of the DSP kernels (mcc_dsp_gemm.h declares it): compiled once per image and
 * shared by every kernel that calls it (mcc/codegen/support.py lists which), instead of a static
 * copy in each kernel's object file. Empty without MCC_HAS_DSP (the portable kernels need none).
 */
#include <stddef.h>
#include <stdint.h>

#include "mcc_dsp_gemm.h"

#if defined(MCC_HAS_DSP)

/* Column j, entries k .. k+n-1 := src[0 .. n-1] + input_offset (off2: the offset in both halves). */
void mcc_cols_copy(int16_t *cols, int32_t k4, int32_t tail, int32_t j, int32_t k, const int8_t *src,
                   int32_t n, int32_t off, int32_t off2)
{
    while (n > 0 && (k & 3) != 0) {
        cols[mcc_cols_index(k4, tail, j, k)] = (int16_t)(*src++ + off);
        ++k;
        --n;
    }
    if (k < k4 && n >= 4) {
        int32_t groups = n >> 2;
        if (groups > ((k4 - k) >> 2)) {
            groups = (k4 - k) >> 2;
        }
        (void)mcc_cols_groups(cols + 2 * k + 4 * j, src, groups, off2);
        src += 4 * groups;
        k += 4 * groups;
        n -= 4 * groups;
    }
    while (n > 0) {
        cols[mcc_cols_index(k4, tail, j, k)] = (int16_t)(*src++ + off);
        ++k;
        --n;
    }
}

#else

typedef int mcc_cols_copy_unused; /* ISO C: a translation unit is not empty */

#endif /* MCC_HAS_DSP */
