/* DEQUANTIZE int16 -> float32 (TFLite reference: float32 scale times float32(x - zero_point)). */
#include <stddef.h>

#include "mcc_nn.h"

mcc_status mcc_dequantize_s16_f32(const mcc_dequantize_s16_params *p, const int16_t *input,
                                  float *output)
{
    int32_t i;

    if (p == NULL || input == NULL || output == NULL || p->size < 0) {
        return MCC_ERR_ARG;
    }
    for (i = 0; i < p->size; ++i) {
        output[i] = p->scale * (float)((int32_t)input[i] - p->zero_point);
    }
    return MCC_OK;
}
