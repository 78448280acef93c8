/* CONCATENATION: byte copy, any element type. */
#include <stddef.h>
#include <string.h>

#include "mcc_nn.h"

/* For each of the `outer` rows, copy copy_sizes[k] elements of input k, k = 0..num_inputs-1. */
mcc_status mcc_concat(const mcc_concat_params *p, const void *const *inputs, int32_t num_inputs,
                      void *output)
{
    unsigned char *out = (unsigned char *)output;
    int32_t o;
    int32_t k;

    if (p == NULL || inputs == NULL || output == NULL || p->copy_sizes == NULL ||
        num_inputs < 0 || p->outer < 0 || p->element_size < 1) {
        return MCC_ERR_ARG;
    }
    for (k = 0; k < num_inputs; ++k) {
        if (inputs[k] == NULL || p->copy_sizes[k] < 0) {
            return MCC_ERR_ARG;
        }
    }
    for (o = 0; o < p->outer; ++o) {
        for (k = 0; k < num_inputs; ++k) {
            const size_t n = (size_t)p->copy_sizes[k] * (size_t)p->element_size;
            const unsigned char *src = (const unsigned char *)inputs[k] + (size_t)o * n;
            if (n > 0) {
                memcpy(out, src, n);
            }
            out += n;
        }
    }
    return MCC_OK;
}
