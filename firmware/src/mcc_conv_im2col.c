/* mcc_conv_im2col: the general im2col of mcc_conv_s8's DSP path (filter rows that are not whole
 * groups of four bytes, horizontal dilation), one column entry at a time.
 *
 * A support source of the DSP kernels (mcc_dsp_gemm.h declares it): its own file so that it keeps
 * the Makefile's OPT (it runs per entry) while mcc_conv_s8.c, which runs per pixel, is compiled for
 * size (mcc/codegen/fwsize.py). Empty without MCC_HAS_DSP (the portable kernels need none).
 */
#include <stddef.h>
#include <stdint.h>

#include "mcc_dsp_gemm.h"
#include "mcc_nn.h"

#if defined(MCC_HAS_DSP)

/* Column j of the pair := the receptive field of output pixel (n, oy, ox): entries 0 .. kk-1 (kk:
 * the GEMM's depth, K or K rounded up to a multiple of four), x + input_offset for taps inside the
 * input, 0 for taps in the padding and past K: the general case (filter rows that are not whole
 * groups, horizontal dilation), one entry at a time. */
void mcc_conv_im2col(const mcc_conv_params *p, const int8_t *input, int32_t n, int32_t iy0,
                     int32_t ix0, int16_t *cols, int32_t j, int32_t k4, int32_t tail)
{
    const int32_t c = p->input_c;
    int32_t k = 0;
    int32_t fy;
    for (fy = 0; fy < p->filter_h; ++fy) {
        const int32_t iy = iy0 + fy * p->dilation_h;
        int32_t fx;
        for (fx = 0; fx < p->filter_w; ++fx) {
            const int32_t ix = ix0 + fx * p->dilation_w;
            const int32_t inside = iy >= 0 && iy < p->input_h && ix >= 0 && ix < p->input_w;
            const int8_t *src =
                input + ((size_t)(n * p->input_h + (inside ? iy : 0)) * (size_t)p->input_w +
                         (size_t)(inside ? ix : 0)) * (size_t)c;
            int32_t i;
            for (i = 0; i < c; ++i, ++k) {
                cols[mcc_cols_index(k4, tail, j, k)] =
                    (int16_t)(inside ? src[i] + p->input_offset : 0);
            }
        }
    }
    for (; k < k4 + tail; ++k) {
        cols[mcc_cols_index(k4, tail, j, k)] = 0;
    }
}

#else

typedef int mcc_conv_im2col_unused; /* ISO C: a translation unit is not empty */

#endif /* MCC_HAS_DSP */
