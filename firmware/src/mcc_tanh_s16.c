/* TANH int16 -> int16 (TFLite reference for int16: the sigmoid table read at twice the input,
 * tanh(x) = 2 sigmoid(2x) - 1; input zero point 0, output scale 1/32768 and zero point 0; the body,
 * shared with LOGISTIC, is mcc_sx_sigmoid_s16 in mcc_sx_internal.h). */
#include "mcc_sx_internal.h"

mcc_status mcc_tanh_s16(const mcc_tanh_s16_params *p, const int16_t *input, int16_t *output)
{
    return mcc_sx_sigmoid_s16(p, input, output, 1);
}
