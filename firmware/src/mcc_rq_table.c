/* mcc_rq_table: the per-channel table (bias and the fast requantization constants) that the
 * int8 x int16 GEMM (mcc_dsp_gemm_pair) reads, prepared once per layer in the scratch buffer.
 *
 * A support source of the DSP kernels (mcc_dsp_gemm.h declares it): compiled once per image and
 * shared by every kernel that calls it (mcc/codegen/support.py lists which), instead of an inlined
 * copy in each kernel. Empty without MCC_HAS_DSP (the portable kernels need none).
 */
#include <stddef.h>
#include <stdint.h>

#include "mcc_dsp_gemm.h"

#if defined(MCC_HAS_DSP)

/* tab[o] for o < rows; mult / shift indexed by o * qs (qs 0: one shared pair). Returns 1 when every
 * channel takes a fast requantization (the table is then complete), else 0; sets os->rq_left when
 * some channel is in the left form (mcc_rq_fast_left). */
int32_t mcc_rq_table(mcc_rq_entry *tab, const int32_t *bias, const int32_t *mult,
                     const int32_t *shift, int32_t qs, int32_t rows, int32_t output_offset,
                     mcc_out_stage *os)
{
    int32_t o;
    int32_t left = 0;
    os->rq_left = 0;
    for (o = 0; o < rows; ++o) {
        mcc_rq q;
        const int32_t m = mult[o * qs];
        const int32_t s = shift[o * qs];
        if (!mcc_rq_ok(m, s)) {
            return 0;
        }
        mcc_rq_init(&q, m, s, output_offset);
        left |= mcc_rq_is_left(q.bias_lo);
        tab[o].bias = bias != NULL ? bias[o] : 0;
        tab[o].multiplier = q.multiplier;
        tab[o].bias_lo = q.bias_lo;
        tab[o].bias_hi = q.bias_hi;
        tab[o].rshift = q.rshift;
    }
    os->rq_left = left;
    return 1;
}

#else

typedef int mcc_rq_table_unused; /* ISO C: a translation unit is not empty */

#endif /* MCC_HAS_DSP */
