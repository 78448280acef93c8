/* AVERAGE_POOL_2D int16 (TFLite reference semantics: padding excluded from the count;
 * the body, shared with int8, is mcc_sx_pool in mcc_sx_internal.h). */
#include "mcc_sx_internal.h"

mcc_status mcc_avg_pool_s16(const mcc_pool_s16_params *p, const int16_t *input, int16_t *output)
{
    return mcc_sx_pool(p, input, output, 2, MCC_SX_AVG_POOL);
}
