/* ADD int16 with 4-D broadcasting (TFLM's general-scale int16 path, left_shift 15; the body,
 * shared with int8, is mcc_sx_binary in mcc_sx_internal.h). */
#include "mcc_sx_internal.h"

mcc_status mcc_add_s16(const mcc_add_s16_params *p, const int16_t *input1, const int16_t *input2,
                       int16_t *output)
{
    return mcc_sx_binary(p, input1, input2, output, 2, MCC_SX_ADD);
}
