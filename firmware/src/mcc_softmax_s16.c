/* SOFTMAX int16 -> int16 over rows (TFLM SoftmaxInt16: interpolated lookup tables). */
#include <stddef.h>

#include "mcc_nn.h"
#include "mcc_nn_internal.h"

/* lut_lookup_with_interpolation: 512 base values indexed by the top 9 bits of the int16 input,
 * linear interpolation on the low 7 bits (the 513th entry gives the last slope). */
static int32_t lut_lookup(int32_t value, const int32_t *lut)
{
    const int32_t index = 256 + mcc_asr(value, 7);
    const int32_t offset = value & 0x7f;
    const int32_t base = lut[index];
    const int32_t slope = (int32_t)(int16_t)(lut[index + 1] - base);
    const int32_t delta = mcc_asr(slope * offset + 64, 7);
    return (int32_t)(int16_t)(uint16_t)(uint32_t)(base + delta);
}

/*
 * Per row: d = x - max(row), scaled so that [-65535, 0] covers exp's table range [-10, 0],
 * e = exp_lut(d + 32767) in Q0.15; the Q16.15 sum s is normalised and 1 / s is read from the
 * 1/(1+x) table; out = clamp((e * recip + round) >> (31 - headroom), 0, 32767).
 */
mcc_status mcc_softmax_s16(const mcc_softmax_s16_params *p, const int16_t *input,
                           int16_t *output)
{
    int32_t r;

    if (p == NULL || input == NULL || output == NULL || p->exp_lut == NULL ||
        p->one_over_one_plus_x_lut == NULL || p->rows < 0 || p->row_size < 1) {
        return MCC_ERR_ARG;
    }
    for (r = 0; r < p->rows; ++r) {
        const int16_t *x = input + (size_t)r * (size_t)p->row_size;
        int16_t *out = output + (size_t)r * (size_t)p->row_size;
        int32_t max_in_row = INT16_MIN;
        uint32_t sum_of_exps = 0;
        int32_t headroom_plus_one;
        int32_t shifted_sum;
        int32_t reciprocal;
        int32_t right_shift;
        int32_t j;
        for (j = 0; j < p->row_size; ++j) {
            max_in_row = x[j] > max_in_row ? x[j] : max_in_row;
        }
        for (j = 0; j < p->row_size; ++j) {
            const int32_t scaled =
                mcc_requantize(x[j] - max_in_row, p->input_multiplier, p->input_left_shift);
            sum_of_exps += (uint32_t)lut_lookup(mcc_clamp_s32(scaled + 32767, INT16_MIN, INT16_MAX),
                                                p->exp_lut);
        }
        headroom_plus_one = mcc_clz_u32(sum_of_exps);
        shifted_sum = (int32_t)mcc_asr64(
            ((int64_t)mcc_wrap_s32(sum_of_exps) << (headroom_plus_one - 1)) + (1 << 13), 14);
        reciprocal = lut_lookup(
            mcc_clamp_s32(shifted_sum - ((1 << 15) + (1 << 16)), INT16_MIN, INT16_MAX),
            p->one_over_one_plus_x_lut);
        right_shift = 31 - headroom_plus_one;
        for (j = 0; j < p->row_size; ++j) {
            const int32_t scaled =
                mcc_requantize(x[j] - max_in_row, p->input_multiplier, p->input_left_shift);
            const int64_t e = lut_lookup(mcc_clamp_s32(scaled + 32767, INT16_MIN, INT16_MAX),
                                         p->exp_lut);
            const int64_t v = mcc_asr64(e * reciprocal + ((int64_t)1 << (right_shift - 1)),
                                        right_shift);
            out[j] = (int16_t)(v < 0 ? 0 : v > INT16_MAX ? INT16_MAX : v);
        }
    }
    return MCC_OK;
}
