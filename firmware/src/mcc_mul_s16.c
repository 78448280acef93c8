/* MUL int16 with 4-D broadcasting (TFLite reference semantics for int16). */
#include <stddef.h>

#include "mcc_nn.h"
#include "mcc_nn_internal.h"

/* out = clamp(requantize((x1 + off1) * (x2 + off2), m, s) + out_off) */
mcc_status mcc_mul_s16(const mcc_mul_s16_params *p, const int16_t *input1, const int16_t *input2,
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
                    const int32_t v1 = (int32_t)a[(size_t)i3 * sa] + p->input1_offset;
                    const int32_t v2 = (int32_t)b[(size_t)i3 * sb] + p->input2_offset;
                    const int32_t prod = mcc_wrap_s32((uint32_t)v1 * (uint32_t)v2);
                    const int32_t r =
                        mcc_requantize(prod, p->output_multiplier, p->output_shift) +
                        p->output_offset;
                    *output++ = mcc_sat_s16(r, p->act_min, p->act_max);
                }
            }
        }
    }
    return MCC_OK;
}
