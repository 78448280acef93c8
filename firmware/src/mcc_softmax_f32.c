/* SOFTMAX float32 over rows: y = exp(beta * (x - max)) / sum of the row's exponentials. */
#include <math.h>
#include <stddef.h>

#include "mcc_nn.h"

mcc_status mcc_softmax_f32(const mcc_float_softmax_params *p, const float *input, float *output)
{
    int32_t r, i;
    if (p == NULL || input == NULL || output == NULL || p->row_size < 1) {
        return MCC_ERR_ARG;
    }
    for (r = 0; r < p->rows; ++r) {
        const float *x = input + (size_t)r * (size_t)p->row_size;
        float *y = output + (size_t)r * (size_t)p->row_size;
        float max = x[0];
        float sum = 0.0f;
        for (i = 1; i < p->row_size; ++i) {
            if (x[i] > max) {
                max = x[i];
            }
        }
        for (i = 0; i < p->row_size; ++i) {
            y[i] = expf((x[i] - max) * p->beta);
            sum += y[i];
        }
        for (i = 0; i < p->row_size; ++i) {
            y[i] = y[i] / sum;
        }
    }
    return MCC_OK;
}
