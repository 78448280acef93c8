/* LOGISTIC int16 -> int16 (TFLite reference for int16: sigmoid table with linear
 * interpolation; input zero point 0, output scale 1/32768 and zero point 0; the body, shared with
 * TANH, is mcc_sx_sigmoid_s16 in mcc_sx_internal.h). */
#include "mcc_sx_internal.h"

mcc_status mcc_logistic_s16(const mcc_logistic_s16_params *p, const int16_t *input,
                            int16_t *output)
{
    return mcc_sx_sigmoid_s16(p, input, output, 0);
}
