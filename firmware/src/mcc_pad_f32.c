/* PAD float32, up to 4-D (right-aligned), constant pad value. */
#include <stddef.h>
#include <string.h>

#include "mcc_nn.h"

static void fill(float *out, float value, int32_t n)
{
    int32_t i;
    for (i = 0; i < n; ++i) {
        out[i] = value;
    }
}

/* output[i] = input[i - before] inside the input box, pad_value elsewhere. */
mcc_status mcc_pad_f32(const mcc_float_pad_params *p, const float *input, float *output)
{
    int32_t od[4];
    int32_t d, i0, i1, i2;
    if (p == NULL || input == NULL || output == NULL) {
        return MCC_ERR_ARG;
    }
    for (d = 0; d < 4; ++d) {
        if (p->input_dims[d] < 0 || p->before[d] < 0 || p->after[d] < 0) {
            return MCC_ERR_ARG;
        }
        od[d] = p->before[d] + p->input_dims[d] + p->after[d];
    }
    for (i0 = 0; i0 < od[0]; ++i0) {
        const int32_t x0 = i0 - p->before[0];
        for (i1 = 0; i1 < od[1]; ++i1) {
            const int32_t x1 = i1 - p->before[1];
            for (i2 = 0; i2 < od[2]; ++i2) {
                const int32_t x2 = i2 - p->before[2];
                const int inside = x0 >= 0 && x0 < p->input_dims[0] && x1 >= 0 &&
                                   x1 < p->input_dims[1] && x2 >= 0 && x2 < p->input_dims[2];
                if (!inside) {
                    fill(output, p->pad_value, od[3]);
                } else {
                    const float *src =
                        input + ((size_t)(x0 * p->input_dims[1] + x1) * (size_t)p->input_dims[2] +
                                 (size_t)x2) * (size_t)p->input_dims[3];
                    fill(output, p->pad_value, p->before[3]);
                    memcpy(output + p->before[3], src, (size_t)p->input_dims[3] * sizeof(float));
                    fill(output + p->before[3] + p->input_dims[3], p->pad_value, p->after[3]);
                }
                output += od[3];
            }
        }
    }
    return MCC_OK;
}
