/* QUANTIZE float32 -> int16 (TFLite AffineQuantize: divide in float, round half away from zero). */
#include <math.h>
#include <stddef.h>

#include "mcc_nn.h"
#include "mcc_nn_internal.h"

/* out = clamp((int32)roundf(x / scale) + zero_point, qmin, qmax); large values saturate and NaN
 * gives qmin (as mcc_quantize_f32_s8). */
mcc_status mcc_quantize_f32_s16(const mcc_quantize_s16_params *p, const float *input, int16_t *output)
{
    int32_t i;
    int32_t lo;
    int32_t hi;

    if (p == NULL || input == NULL || output == NULL || p->size < 0) {
        return MCC_ERR_ARG;
    }
    lo = p->qmin > INT16_MIN ? p->qmin : INT16_MIN;
    hi = p->qmax < INT16_MAX ? p->qmax : INT16_MAX;
    for (i = 0; i < p->size; ++i) {
        const float r = roundf(input[i] / p->scale);
        int32_t q;
        if (r != r) {
            q = lo;
        } else if (r >= 1.0e9f) {
            q = hi;
        } else if (r <= -1.0e9f) {
            q = lo;
        } else {
            q = (int32_t)r + p->zero_point;
        }
        output[i] = (int16_t)mcc_clamp_s32(q, lo, hi);
    }
    return MCC_OK;
}
