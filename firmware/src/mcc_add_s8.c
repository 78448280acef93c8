/* ADD int8 with 4-D broadcasting (TFLite reference semantics). */
#include <stddef.h>

#include "mcc_nn.h"
#include "mcc_nn_internal.h"

/*
 * Both inputs are offset, shifted left by left_shift, rescaled to a common
 * scale, summed and rescaled to the output:
 *   out = clamp(requantize(requantize((x1 + off1) << ls, m1, s1)
 *                          + requantize((x2 + off2) << ls, m2, s2), mo, so) + out_off)
 * The rescaled input terms depend on one int8 value each, so for large tensors
 * they are tabulated once (256 entries per input) instead of being computed per
 * element: the same integers, two requantizations fewer per element.
 */

#define MCC_ADD_LUT_MIN_ELEMENTS 1024

/* Out of line: it runs 512 times per call to fill the tables, or per element of small tensors
 * only (one copy of the requantization instead of four inlined ones: smaller code). */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static int32_t rescale_input(int32_t x, int32_t offset, int32_t left_shift, int32_t multiplier,
                             int32_t shift)
{
    return mcc_requantize(mcc_wrapping_shl(x + offset, left_shift), multiplier, shift);
}
mcc_status mcc_add_s8(const mcc_add_params *p, const int8_t *input1, const int8_t *input2,
                      int8_t *output)
{
    const mcc_broadcast_shape *s;
    int32_t i0;
    int32_t d;
    int64_t count;
    int use_lut;
    int32_t lut1[256];
    int32_t lut2[256];

    if (p == NULL || input1 == NULL || input2 == NULL || output == NULL) {
        return MCC_ERR_ARG;
    }
    s = &p->shape;
    for (d = 0; d < 4; ++d) {
        if (s->out_dims[d] < 0 || s->in1_strides[d] < 0 || s->in2_strides[d] < 0) {
            return MCC_ERR_ARG;
        }
    }
    if (p->left_shift < 0 || p->left_shift > 31) {
        return MCC_ERR_ARG;
    }

    count = (int64_t)s->out_dims[0] * s->out_dims[1] * s->out_dims[2] * s->out_dims[3];
    use_lut = count >= MCC_ADD_LUT_MIN_ELEMENTS;
    if (use_lut) {
        int32_t v;
        for (v = -128; v < 128; ++v) {
            lut1[v + 128] = rescale_input(v, p->input1_offset, p->left_shift, p->input1_multiplier,
                                          p->input1_shift);
            lut2[v + 128] = rescale_input(v, p->input2_offset, p->left_shift, p->input2_multiplier,
                                          p->input2_shift);
        }
    }

    for (i0 = 0; i0 < s->out_dims[0]; ++i0) {
        int32_t i1;
        for (i1 = 0; i1 < s->out_dims[1]; ++i1) {
            int32_t i2;
            for (i2 = 0; i2 < s->out_dims[2]; ++i2) {
                const int8_t *a = input1 + (size_t)i0 * (size_t)s->in1_strides[0] +
                                  (size_t)i1 * (size_t)s->in1_strides[1] +
                                  (size_t)i2 * (size_t)s->in1_strides[2];
                const int8_t *b = input2 + (size_t)i0 * (size_t)s->in2_strides[0] +
                                  (size_t)i1 * (size_t)s->in2_strides[1] +
                                  (size_t)i2 * (size_t)s->in2_strides[2];
                const size_t sa = (size_t)s->in1_strides[3];
                const size_t sb = (size_t)s->in2_strides[3];
                int32_t i3;
                for (i3 = 0; i3 < s->out_dims[3]; ++i3) {
                    const int32_t x1 = a[(size_t)i3 * sa];
                    const int32_t x2 = b[(size_t)i3 * sb];
                    const int32_t r1 = use_lut ? lut1[x1 + 128]
                                               : rescale_input(x1, p->input1_offset, p->left_shift,
                                                               p->input1_multiplier, p->input1_shift);
                    const int32_t r2 = use_lut ? lut2[x2 + 128]
                                               : rescale_input(x2, p->input2_offset, p->left_shift,
                                                               p->input2_multiplier, p->input2_shift);
                    const int32_t sum = mcc_wrapping_add(r1, r2);
                    const int32_t r =
                        mcc_requantize(sum, p->output_multiplier, p->output_shift) +
                        p->output_offset;
                    *output++ = mcc_sat_s8(r, p->act_min, p->act_max);
                }
            }
        }
    }
    return MCC_OK;
}
