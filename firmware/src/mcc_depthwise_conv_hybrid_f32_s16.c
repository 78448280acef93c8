/* DEPTHWISE_CONV_2D hybrid: float32 activations and bias, int16 weights with one float scale per
 * output channel (PTQ dynamic). The loop is mcc_depthwise_conv_hybrid_f32 in mcc_nn_float_internal.h. */
#include "mcc_nn.h"
#include "mcc_nn_float_internal.h"

mcc_status mcc_depthwise_conv_hybrid_f32_s16(const mcc_hybrid_depthwise_conv_params *p, const float *input,
                                             const int16_t *filter, const float *bias, float *output)
{
    return mcc_depthwise_conv_hybrid_f32(p, input, filter, 1, bias, output);
}
