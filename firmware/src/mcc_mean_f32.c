/* MEAN float32 over one contiguous block of axes: input viewed as (outer, reduce, inner); the
 * sum runs in input order, then is divided by `reduce`. */
#include <stddef.h>

#include "mcc_nn.h"

mcc_status mcc_mean_f32(const mcc_float_mean_params *p, const float *input, float *output)
{
    int32_t o, r, i;
    if (p == NULL || input == NULL || output == NULL || p->reduce < 1) {
        return MCC_ERR_ARG;
    }
    for (o = 0; o < p->outer; ++o) {
        for (i = 0; i < p->inner; ++i) {
            const float *x = input + (size_t)o * (size_t)p->reduce * (size_t)p->inner + (size_t)i;
            float acc = 0.0f;
            for (r = 0; r < p->reduce; ++r) {
                acc += x[(size_t)r * (size_t)p->inner];
            }
            output[(size_t)o * (size_t)p->inner + (size_t)i] = acc / (float)p->reduce;
        }
    }
    return MCC_OK;
}
