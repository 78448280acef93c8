/* LOGISTIC float32: y = 1 / (1 + exp(-x)). */
#include <math.h>
#include <stddef.h>

#include "mcc_nn.h"

mcc_status mcc_logistic_f32(const mcc_float_logistic_params *p, const float *input, float *output)
{
    int32_t i;
    if (p == NULL || input == NULL || output == NULL) {
        return MCC_ERR_ARG;
    }
    for (i = 0; i < p->size; ++i) {
        output[i] = 1.0f / (1.0f + expf(-input[i]));
    }
    return MCC_OK;
}
