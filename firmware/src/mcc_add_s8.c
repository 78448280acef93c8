/* ADD int8 with 4-D broadcasting (TFLite reference semantics; the body, shared with int16, is
 * mcc_sx_add in mcc_sx_internal.h). */
#include "mcc_sx_internal.h"

mcc_status mcc_add_s8(const mcc_add_params *p, const int8_t *input1, const int8_t *input2,
                      int8_t *output)
{
    return mcc_sx_binary(p, input1, input2, output, 1, MCC_SX_ADD);
}
