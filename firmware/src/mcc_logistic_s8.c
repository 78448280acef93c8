/* LOGISTIC int8 -> int8 (TFLite reference, gemmlowp fixed point; output scale 1/256, zp -128;
 * the body, shared with TANH, is mcc_sx_sigmoid_s8 in mcc_sx_internal.h). */
#include "mcc_sx_internal.h"

mcc_status mcc_logistic_s8(const mcc_logistic_params *p, const int8_t *input, int8_t *output)
{
    return mcc_sx_sigmoid_s8(p, input, output, 0);
}
