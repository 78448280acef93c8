/* QUANTIZE int8 -> int8 (TFLite Requantize). */
#include <stddef.h>

#include "mcc_nn.h"
#include "mcc_nn_internal.h"

/* out = clamp(requantize(x + input_offset, m, s) + output_offset, qmin, qmax) */
mcc_status mcc_requantize_s8(const mcc_requantize_params *p, const int8_t *input, int8_t *output)
{
    int32_t i;
    int32_t lo;
    int32_t hi;

    if (p == NULL || input == NULL || output == NULL || p->size < 0) {
        return MCC_ERR_ARG;
    }
    lo = p->qmin > INT8_MIN ? p->qmin : INT8_MIN;
    hi = p->qmax < INT8_MAX ? p->qmax : INT8_MAX;

    for (i = 0; i < p->size; ++i) {
        const int32_t v =
            mcc_requantize((int32_t)input[i] + p->input_offset, p->multiplier, p->shift) +
            p->output_offset;
        output[i] = (int8_t)mcc_clamp_s32(v, lo, hi);
    }
    return MCC_OK;
}
