/* QUANTIZE float32 -> int8 (TFLite AffineQuantize; the body, shared with int16, is
 * mcc_sx_quantize_f32 in mcc_sx_internal.h). */
#include "mcc_sx_internal.h"

mcc_status mcc_quantize_f32_s8(const mcc_quantize_params *p, const float *input, int8_t *output)
{
    return mcc_sx_quantize_f32(p, input, output, 1);
}
