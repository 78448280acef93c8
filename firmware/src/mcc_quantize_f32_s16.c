/* QUANTIZE float32 -> int16 (TFLite AffineQuantize; the body, shared with int8, is
 * mcc_sx_quantize_f32 in mcc_sx_internal.h). */
#include "mcc_sx_internal.h"

mcc_status mcc_quantize_f32_s16(const mcc_quantize_s16_params *p, const float *input,
                                int16_t *output)
{
    return mcc_sx_quantize_f32(p, input, output, 2);
}
