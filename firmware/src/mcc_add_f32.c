/* ADD float32 with 4-D broadcasting and a fused activation clamp. */
#include "mcc_nn.h"
#include "mcc_nn_float_internal.h"

mcc_status mcc_add_f32(const mcc_float_binary_params *p, const float *input1, const float *input2,
                       float *output)
{
    return mcc_binary_f32(p, input1, input2, output, 0);
}
