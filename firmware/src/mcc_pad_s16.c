/* PAD int16, up to 4-D (right-aligned), constant pad value. */
#include <stddef.h>
#include <string.h>

#include "mcc_nn.h"
#include "mcc_nn_internal.h"

static void fill16(int16_t *out, int16_t value, int32_t count)
{
    int32_t i;
    for (i = 0; i < count; ++i) {
        out[i] = value;
    }
}

/* output[i] = input[i - before] inside the input box, pad_value elsewhere. */
mcc_status mcc_pad_s16(const mcc_pad_s16_params *p, const int16_t *input, int16_t *output)
{
    int32_t od[4];
    int32_t d;
    int32_t i0;
    int16_t value;

    if (p == NULL || input == NULL || output == NULL) {
        return MCC_ERR_ARG;
    }
    for (d = 0; d < 4; ++d) {
        if (p->input_dims[d] < 0 || p->before[d] < 0 || p->after[d] < 0) {
            return MCC_ERR_ARG;
        }
        od[d] = p->before[d] + p->input_dims[d] + p->after[d];
    }
    value = (int16_t)mcc_clamp_s32(p->pad_value, INT16_MIN, INT16_MAX);
    for (i0 = 0; i0 < od[0]; ++i0) {
        const int32_t x0 = i0 - p->before[0];
        int32_t i1;
        for (i1 = 0; i1 < od[1]; ++i1) {
            const int32_t x1 = i1 - p->before[1];
            int32_t i2;
            for (i2 = 0; i2 < od[2]; ++i2) {
                const int32_t x2 = i2 - p->before[2];
                const int inside = x0 >= 0 && x0 < p->input_dims[0] && x1 >= 0 &&
                                   x1 < p->input_dims[1] && x2 >= 0 && x2 < p->input_dims[2];
                if (!inside) {
                    fill16(output, value, od[3]);
                } else {
                    const int16_t *src =
                        input + ((size_t)(x0 * p->input_dims[1] + x1) * (size_t)p->input_dims[2] +
                                 (size_t)x2) * (size_t)p->input_dims[3];
                    fill16(output, value, p->before[3]);
                    memcpy(output + p->before[3], src, (size_t)p->input_dims[3] * sizeof(int16_t));
                    fill16(output + p->before[3] + p->input_dims[3], value, p->after[3]);
                }
                output += od[3];
            }
        }
    }
    return MCC_OK;
}
