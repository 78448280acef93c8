/* PAD int8, up to 4-D (right-aligned), constant pad value (the body, shared with
 * int16, is mcc_sx_pad in mcc_sx_internal.h). */
#include "mcc_sx_internal.h"

mcc_status mcc_pad_s8(const mcc_pad_params *p, const int8_t *input, int8_t *output)
{
    return mcc_sx_pad(p, input, output, 1);
}
