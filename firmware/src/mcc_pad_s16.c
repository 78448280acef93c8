/* PAD int16, up to 4-D (right-aligned), constant pad value (the body, shared with
 * int8, is mcc_sx_pad in mcc_sx_internal.h). */
#include "mcc_sx_internal.h"

mcc_status mcc_pad_s16(const mcc_pad_s16_params *p, const int16_t *input, int16_t *output)
{
    return mcc_sx_pad(p, input, output, 2);
}
