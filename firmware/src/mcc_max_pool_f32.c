/* MAX_POOL_2D float32. */
#include "mcc_nn.h"
#include "mcc_nn_float_internal.h"

mcc_status mcc_max_pool_f32(const mcc_float_pool_params *p, const float *input, float *output)
{
    return mcc_pool_f32(p, input, output, 1);
}
