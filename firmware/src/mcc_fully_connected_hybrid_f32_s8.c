/* FULLY_CONNECTED hybrid: float32 activations and bias, int8 weights with one float scale per
 * output channel (PTQ dynamic). The loop is mcc_fully_connected_hybrid_f32 in mcc_nn_float_internal.h. */
#include "mcc_nn.h"
#include "mcc_nn_float_internal.h"

mcc_status mcc_fully_connected_hybrid_f32_s8(const mcc_hybrid_fully_connected_params *p, const float *input,
                                             const int8_t *filter, const float *bias, float *output)
{
    return mcc_fully_connected_hybrid_f32(p, input, filter, 0, bias, output);
}
