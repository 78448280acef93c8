/* ADD int16 with 4-D broadcasting (TFLite reference semantics for int16). */
#include <stddef.h>

#include "mcc_nn.h"
#include "mcc_nn_internal.h"

/*
 * TFLM's general-scale int16 path (left_shift 15):
 *   out = clamp(requantize(requantize((x1 + off1) << ls, m1, s1)
 *                          + requantize((x2 + off2) << ls, m2, s2), mo, so) + out_off)
 */
static int32_t rescale_input(int32_t x, int32_t offset, int32_t left_shift, int32_t multiplier,
                             int32_t shift)
{
    return mcc_requantize(mcc_wrapping_shl(x + offset, left_shift), multiplier, shift);
}

mcc_status mcc_add_s16(const mcc_add_s16_params *p, const int16_t *input1, const int16_t *input2,
                       int16_t *output)
{
    const mcc_broadcast_shape *s;
    int32_t i0;
    int32_t d;

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
    for (i0 = 0; i0 < s->out_dims[0]; ++i0) {
        int32_t i1;
        for (i1 = 0; i1 < s->out_dims[1]; ++i1) {
            int32_t i2;
            for (i2 = 0; i2 < s->out_dims[2]; ++i2) {
                const int16_t *a = input1 + (size_t)i0 * (size_t)s->in1_strides[0] +
                                   (size_t)i1 * (size_t)s->in1_strides[1] +
                                   (size_t)i2 * (size_t)s->in1_strides[2];
                const int16_t *b = input2 + (size_t)i0 * (size_t)s->in2_strides[0] +
                                   (size_t)i1 * (size_t)s->in2_strides[1] +
                                   (size_t)i2 * (size_t)s->in2_strides[2];
                const size_t sa = (size_t)s->in1_strides[3];
                const size_t sb = (size_t)s->in2_strides[3];
                int32_t i3;
                for (i3 = 0; i3 < s->out_dims[3]; ++i3) {
                    const int32_t r1 = rescale_input(a[(size_t)i3 * sa], p->input1_offset,
                                                     p->left_shift, p->input1_multiplier,
                                                     p->input1_shift);
                    const int32_t r2 = rescale_input(b[(size_t)i3 * sb], p->input2_offset,
                                                     p->left_shift, p->input2_multiplier,
                                                     p->input2_shift);
                    const int32_t r = mcc_requantize(mcc_wrapping_add(r1, r2),
                                                     p->output_multiplier, p->output_shift) +
                                      p->output_offset;
                    *output++ = mcc_sat_s16(r, p->act_min, p->act_max);
                }
            }
        }
    }
    return MCC_OK;
}
