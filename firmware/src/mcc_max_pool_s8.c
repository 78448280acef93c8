/* MAX_POOL_2D int8 (TFLite reference semantics: padding never wins; the body, shared
 * with int16, is mcc_sx_pool in mcc_sx_internal.h). */
#include "mcc_sx_internal.h"

mcc_status mcc_max_pool_s8(const mcc_pool_params *p, const int8_t *input, int8_t *output)
{
    return mcc_sx_pool(p, input, output, 1, MCC_SX_MAX_POOL);
}
