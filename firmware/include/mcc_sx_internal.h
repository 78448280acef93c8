/*
 * mcc_sx_internal.h -- kernel bodies shared by int8 and int16 activations (not part of the public
 * API). AVERAGE_POOL_2D, MAX_POOL_2D, ADD, MUL, PAD and QUANTIZE (float32 input) compute the same
 * integers for both widths; each body below reads and writes elements of `bytes` bytes (1: int8,
 * 2: int16) and the public kernels
 * (mcc_<op>_s8.c, mcc_<op>_s16.c) call it with a constant width, which the compiler folds away.
 * LOGISTIC and TANH share one body per width (mcc_sx_sigmoid_s8 / _s16) with a constant flag.
 */
#ifndef MCC_SX_INTERNAL_H
#define MCC_SX_INTERNAL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mcc_nn.h"
#include "mcc_nn_internal.h"

#define MCC_SX_POOL_CHUNK 32 /* channels pooled together (one accumulator each) */

typedef enum { MCC_SX_AVG_POOL, MCC_SX_MAX_POOL } mcc_sx_pool_kind;

static inline int32_t mcc_sx_load(const void *base, size_t i, int32_t bytes)
{
    return bytes == 1 ? (int32_t)((const int8_t *)base)[i] : (int32_t)((const int16_t *)base)[i];
}

/* Clamp v to the activation range [lo, hi] (inside the element's range) and store it. */
static inline void mcc_sx_store(void *base, size_t i, int32_t bytes, int32_t v, int32_t lo,
                                int32_t hi)
{
    if (bytes == 1) {
        ((int8_t *)base)[i] = mcc_sat_s8(v, lo, hi);
    } else {
        ((int16_t *)base)[i] = mcc_sat_s16(v, lo, hi);
    }
}

/* acc[j] = max(acc[j], x[j]) (MAX) or acc[j] + x[j] (AVG) for j < cn, x from element in. */
static inline void mcc_sx_pool_taps(int32_t *acc, const void *input, size_t in, int32_t cn,
                                    int32_t bytes, mcc_sx_pool_kind kind)
{
    const int8_t *x8 = (const int8_t *)input + in;
    const int16_t *x16 = (const int16_t *)input + in;
    int32_t j;
    for (j = 0; j < cn; ++j) {
        const int32_t v = bytes == 1 ? x8[j] : x16[j];
        acc[j] = kind == MCC_SX_MAX_POOL ? (v > acc[j] ? v : acc[j]) : acc[j] + v;
    }
}

/*
 * Pooling over the window clipped to the input (TFLite reference semantics):
 *   MAX: clamp(max), padding never wins (an empty window gives the element's minimum);
 *   AVG: clamp((sum +- count/2) / count) with a truncating division (half away from zero),
 *        padding excluded from the count; MCC_ERR_ARG if a window has no input element.
 */
static inline mcc_status mcc_sx_pool(const mcc_pool_params *p, const void *input, void *output,
                                     int32_t bytes, mcc_sx_pool_kind kind)
{
    const int32_t lowest = bytes == 1 ? INT8_MIN : INT16_MIN;
    int32_t n;

    if (p == NULL || input == NULL || output == NULL) {
        return MCC_ERR_ARG;
    }
    if (p->input_n < 1 || p->input_h < 1 || p->input_w < 1 || p->channels < 1 ||
        p->output_h < 1 || p->output_w < 1 || p->filter_h < 1 || p->filter_w < 1 ||
        p->stride_h < 1 || p->stride_w < 1) {
        return MCC_ERR_ARG;
    }
    for (n = 0; n < p->input_n; ++n) {
        int32_t oy;
        for (oy = 0; oy < p->output_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_h;
            int32_t fy0;
            int32_t fy1;
            int32_t ox;
            mcc_valid_taps(iy0, 1, p->input_h, p->filter_h, &fy0, &fy1);
            for (ox = 0; ox < p->output_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_w;
                const size_t out = ((size_t)(n * p->output_h + oy) * (size_t)p->output_w +
                                    (size_t)ox) * (size_t)p->channels;
                int32_t fx0;
                int32_t fx1;
                int32_t count;
                int32_t c0;
                mcc_valid_taps(ix0, 1, p->input_w, p->filter_w, &fx0, &fx1);
                count = (fy1 - fy0) * (fx1 - fx0);
                if (kind == MCC_SX_AVG_POOL && count == 0) {
                    return MCC_ERR_ARG;
                }
                for (c0 = 0; c0 < p->channels; c0 += MCC_SX_POOL_CHUNK) {
                    const int32_t cn = p->channels - c0 < MCC_SX_POOL_CHUNK ? p->channels - c0
                                                                            : MCC_SX_POOL_CHUNK;
                    int32_t acc[MCC_SX_POOL_CHUNK];
                    int32_t fy;
                    int32_t j;
                    for (j = 0; j < cn; ++j) {
                        acc[j] = kind == MCC_SX_MAX_POOL ? lowest : 0;
                    }
                    for (fy = fy0; fy < fy1; ++fy) {
                        int32_t fx;
                        for (fx = fx0; fx < fx1; ++fx) {
                            const size_t in = ((size_t)(n * p->input_h + iy0 + fy) *
                                                   (size_t)p->input_w +
                                               (size_t)(ix0 + fx)) * (size_t)p->channels +
                                              (size_t)c0;
                            mcc_sx_pool_taps(acc, input, in, cn, bytes, kind);
                        }
                    }
                    for (j = 0; j < cn; ++j) {
                        const int32_t a = acc[j];
                        const int32_t v = kind == MCC_SX_MAX_POOL ? a
                                          : a > 0 ? (a + count / 2) / count
                                                  : (a - count / 2) / count;
                        mcc_sx_store(output, out + (size_t)(c0 + j), bytes, v, p->act_min,
                                     p->act_max);
                    }
                }
            }
        }
    }
    return MCC_OK;
}


/* One input of ADD rescaled to the common scale: requantize((x + offset) << left_shift).
 * Out of line: the int8 ADD runs it 512 times per call to fill its tables, or per element of
 * small tensors only (one copy of the requantization instead of four inlined ones: smaller code). */
#if defined(__GNUC__)
__attribute__((noinline, unused)) /* unused: in the kernels other than ADD */
#endif
static int32_t mcc_sx_add_rescale(int32_t x, int32_t offset, int32_t left_shift,
                                  int32_t multiplier, int32_t shift)
{
    return mcc_requantize(mcc_wrapping_shl(x + offset, left_shift), multiplier, shift);
}

#define MCC_SX_ADD_LUT_MIN_ELEMENTS 1024

typedef enum { MCC_SX_ADD, MCC_SX_MUL } mcc_sx_binary_kind;

/* MCC_ERR_ARG unless every output dimension and input stride is >= 0. */
static inline mcc_status mcc_sx_check_broadcast(const mcc_broadcast_shape *s)
{
    int32_t d;
    for (d = 0; d < 4; ++d) {
        if (s->out_dims[d] < 0 || s->in1_strides[d] < 0 || s->in2_strides[d] < 0) {
            return MCC_ERR_ARG;
        }
    }
    return MCC_OK;
}

/*
 * ADD and MUL with 4-D broadcasting (TFLite reference semantics; int16 ADD is TFLM's
 * general-scale path). `kind` and `bytes` are constants at every call, so each public kernel
 * keeps only its own arithmetic.
 *   ADD: both inputs are offset, shifted left by left_shift, rescaled to a common scale, summed
 *        and rescaled to the output:
 *          out = clamp(requantize(requantize((x1 + off1) << ls, m1, s1)
 *                                 + requantize((x2 + off2) << ls, m2, s2), mo, so) + out_off)
 *        For int8 the rescaled input terms depend on one 8-bit value each, so for large tensors
 *        they are tabulated once (256 entries per input) instead of computed per element: the
 *        same integers, two requantizations fewer per element.
 *   MUL: out = clamp(requantize((x1 + off1) * (x2 + off2), mo, so) + out_off); the product wraps
 *        to int32 as the reference's int32 multiply does (it cannot overflow for int8).
 */
static inline mcc_status mcc_sx_binary(const void *params, const void *input1, const void *input2,
                                       void *output, int32_t bytes, mcc_sx_binary_kind kind)
{
    const mcc_add_params *pa = (const mcc_add_params *)params;
    const mcc_mul_params *pm = (const mcc_mul_params *)params;
    const mcc_broadcast_shape *s;
    size_t o = 0;
    int32_t i0;
    int use_lut = 0;
    int32_t lut1[256];
    int32_t lut2[256];

    if (params == NULL || input1 == NULL || input2 == NULL || output == NULL) {
        return MCC_ERR_ARG;
    }
    s = kind == MCC_SX_ADD ? &pa->shape : &pm->shape;
    if (mcc_sx_check_broadcast(s) != MCC_OK) {
        return MCC_ERR_ARG;
    }
    if (kind == MCC_SX_ADD) {
        if (pa->left_shift < 0 || pa->left_shift > 31) {
            return MCC_ERR_ARG;
        }
        use_lut = bytes == 1 && (int64_t)s->out_dims[0] * s->out_dims[1] * s->out_dims[2] *
                                        s->out_dims[3] >= MCC_SX_ADD_LUT_MIN_ELEMENTS;
    }
    if (use_lut) {
        int32_t v;
        for (v = -128; v < 128; ++v) {
            lut1[v + 128] = mcc_sx_add_rescale(v, pa->input1_offset, pa->left_shift,
                                               pa->input1_multiplier, pa->input1_shift);
            lut2[v + 128] = mcc_sx_add_rescale(v, pa->input2_offset, pa->left_shift,
                                               pa->input2_multiplier, pa->input2_shift);
        }
    }
    for (i0 = 0; i0 < s->out_dims[0]; ++i0) {
        int32_t i1;
        for (i1 = 0; i1 < s->out_dims[1]; ++i1) {
            int32_t i2;
            for (i2 = 0; i2 < s->out_dims[2]; ++i2) {
                const size_t a = (size_t)i0 * (size_t)s->in1_strides[0] +
                                 (size_t)i1 * (size_t)s->in1_strides[1] +
                                 (size_t)i2 * (size_t)s->in1_strides[2];
                const size_t b = (size_t)i0 * (size_t)s->in2_strides[0] +
                                 (size_t)i1 * (size_t)s->in2_strides[1] +
                                 (size_t)i2 * (size_t)s->in2_strides[2];
                const size_t sa = (size_t)s->in1_strides[3];
                const size_t sb = (size_t)s->in2_strides[3];
                int32_t i3;
                for (i3 = 0; i3 < s->out_dims[3]; ++i3) {
                    const int32_t x1 = mcc_sx_load(input1, a + (size_t)i3 * sa, bytes);
                    const int32_t x2 = mcc_sx_load(input2, b + (size_t)i3 * sb, bytes);
                    int32_t r;
                    if (kind == MCC_SX_ADD) {
                        const int32_t r1 =
                            use_lut ? lut1[x1 + 128]
                                    : mcc_sx_add_rescale(x1, pa->input1_offset, pa->left_shift,
                                                         pa->input1_multiplier, pa->input1_shift);
                        const int32_t r2 =
                            use_lut ? lut2[x2 + 128]
                                    : mcc_sx_add_rescale(x2, pa->input2_offset, pa->left_shift,
                                                         pa->input2_multiplier, pa->input2_shift);
                        r = mcc_requantize(mcc_wrapping_add(r1, r2), pa->output_multiplier,
                                           pa->output_shift) +
                            pa->output_offset;
                        mcc_sx_store(output, o++, bytes, r, pa->act_min, pa->act_max);
                    } else {
                        const int32_t v1 = x1 + pm->input1_offset;
                        const int32_t v2 = x2 + pm->input2_offset;
                        const int32_t prod = mcc_wrap_s32((uint32_t)v1 * (uint32_t)v2);
                        r = mcc_requantize(prod, pm->output_multiplier, pm->output_shift) +
                            pm->output_offset;
                        mcc_sx_store(output, o++, bytes, r, pm->act_min, pm->act_max);
                    }
                }
            }
        }
    }
    return MCC_OK;
}

/*
 * QUANTIZE float32 -> int8/int16 (TFLite AffineQuantize: divide in float, round half away from
 * zero): out = clamp((int32)roundf(x / scale) + zero_point, qmin, qmax). The reference's float ->
 * int32 conversion is undefined out of range; here large values saturate and NaN gives qmin (what
 * the reference computes on x86 hosts, where such conversions yield INT32_MIN).
 */
static inline mcc_status mcc_sx_quantize_f32(const mcc_quantize_params *p, const float *input,
                                             void *output, int32_t bytes)
{
    const int32_t type_min = bytes == 1 ? INT8_MIN : INT16_MIN;
    const int32_t type_max = bytes == 1 ? INT8_MAX : INT16_MAX;
    int32_t i;
    int32_t lo;
    int32_t hi;

    if (p == NULL || input == NULL || output == NULL || p->size < 0) {
        return MCC_ERR_ARG;
    }
    lo = p->qmin > type_min ? p->qmin : type_min;
    hi = p->qmax < type_max ? p->qmax : type_max;
    for (i = 0; i < p->size; ++i) {
        const float r = roundf(input[i] / p->scale);
        int32_t q;
        if (r != r) {
            q = lo;
        } else if (r >= 1.0e9f) {
            q = hi;
        } else if (r <= -1.0e9f) {
            q = lo;
        } else {
            q = (int32_t)r + p->zero_point;
        }
        mcc_sx_store(output, (size_t)i, bytes, q, lo, hi);
    }
    return MCC_OK;
}


/* count elements of `bytes` bytes set to value, from element i of base. */
static inline void mcc_sx_fill(void *base, size_t i, int32_t count, int32_t bytes, int32_t value)
{
    int32_t k;
    if (bytes == 1) {
        memset((int8_t *)base + i, (int8_t)value, (size_t)count);
        return;
    }
    for (k = 0; k < count; ++k) {
        ((int16_t *)base)[i + (size_t)k] = (int16_t)value;
    }
}

/* PAD, up to 4-D (right-aligned), with a constant value clamped to the element's range:
 * output[i] = input[i - before] inside the input box, pad_value elsewhere. */
static inline mcc_status mcc_sx_pad(const mcc_pad_params *p, const void *input, void *output,
                                    int32_t bytes)
{
    int32_t od[4];
    int32_t d;
    int32_t i0;
    int32_t value;
    size_t o = 0;

    if (p == NULL || input == NULL || output == NULL) {
        return MCC_ERR_ARG;
    }
    for (d = 0; d < 4; ++d) {
        if (p->input_dims[d] < 0 || p->before[d] < 0 || p->after[d] < 0) {
            return MCC_ERR_ARG;
        }
        od[d] = p->before[d] + p->input_dims[d] + p->after[d];
    }
    value = bytes == 1 ? mcc_clamp_s32(p->pad_value, INT8_MIN, INT8_MAX)
                       : mcc_clamp_s32(p->pad_value, INT16_MIN, INT16_MAX);
    for (i0 = 0; i0 < od[0]; ++i0) {
        const int32_t x0 = i0 - p->before[0];
        int32_t i1;
        for (i1 = 0; i1 < od[1]; ++i1) {
            const int32_t x1 = i1 - p->before[1];
            int32_t i2;
            for (i2 = 0; i2 < od[2]; ++i2) {
                const int32_t x2 = i2 - p->before[2];
                const int inside = x0 >= 0 && x0 < p->input_dims[0] && x1 >= 0 &&
                                   x1 < p->input_dims[1] && x2 >= 0 && x2 < p->input_dims[2];
                if (!inside) {
                    mcc_sx_fill(output, o, od[3], bytes, value);
                } else {
                    const size_t src = ((size_t)(x0 * p->input_dims[1] + x1) *
                                            (size_t)p->input_dims[2] +
                                        (size_t)x2) * (size_t)p->input_dims[3];
                    mcc_sx_fill(output, o, p->before[3], bytes, value);
                    memcpy((char *)output + (o + (size_t)p->before[3]) * (size_t)bytes,
                           (const char *)input + src * (size_t)bytes,
                           (size_t)p->input_dims[3] * (size_t)bytes);
                    mcc_sx_fill(output, o + (size_t)(p->before[3] + p->input_dims[3]), p->after[3],
                                bytes, value);
                }
                o += (size_t)od[3];
            }
        }
    }
    return MCC_OK;
}

/* LOGISTIC / TANH int8 (TFLite reference, gemmlowp fixed point): v = x - input_zero_point;
 * v <= -radius -> -128, v >= radius -> 127, otherwise f(requantize(v, m, s) as Q4.27) in Q0.31,
 * rounded to the output: logistic * 2^8 - 128 (scale 1/256, zero point -128), tanh * 2^7
 * (scale 1/128, zero point 0). */
static inline mcc_status mcc_sx_sigmoid_s8(const mcc_logistic_params *p, const int8_t *input,
                                           int8_t *output, int is_tanh)
{
    int32_t i;

    if (p == NULL || input == NULL || output == NULL || p->size < 0) {
        return MCC_ERR_ARG;
    }
    for (i = 0; i < p->size; ++i) {
        const int32_t v = (int32_t)input[i] - p->input_zero_point;
        if (v <= -p->input_range_radius) {
            output[i] = INT8_MIN;
        } else if (v >= p->input_range_radius) {
            output[i] = INT8_MAX;
        } else {
            const int32_t in_q4 = mcc_requantize(v, p->input_multiplier, p->input_left_shift);
            const int32_t out =
                is_tanh ? mcc_rounding_divide_by_pot(mcc_tanh(in_q4, 4), 31 - 7)
                        : mcc_rounding_divide_by_pot(mcc_logistic(in_q4, 4), 31 - 8) - 128;
            output[i] = (int8_t)mcc_clamp_s32(out, INT8_MIN, INT8_MAX);
        }
    }
    return MCC_OK;
}

/* LOGISTIC / TANH int16 (TFLite reference for int16): v = (x * m + round) >> s (1.0 = 3 * 4096
 * steps), a = |v|; the sigmoid table read at a with 9 (LOGISTIC) or 8 (TANH: sigmoid(2a))
 * fractional bits, saturated from index 255 on, then
 *   LOGISTIC: (v >= 0 ? r + 2^9 : 2^25 - r + 2^9 - 1) >> 10   (r in Q0.25),
 *   TANH:     (v >= 0 ? r - 2^23 + 2^7 : -r + 2^23 + 2^7 - 1) >> 8, arithmetic   (r in Q0.24). */
static inline mcc_status mcc_sx_sigmoid_s16(const mcc_logistic_s16_params *p,
                                            const int16_t *input, int16_t *output, int is_tanh)
{
    const int32_t frac_bits = is_tanh ? 8 : 9;
    int32_t i;

    if (p == NULL || input == NULL || output == NULL || p->sigmoid_lut == NULL || p->size < 0 ||
        p->input_left_shift < 0 || p->input_left_shift > 31) {
        return MCC_ERR_ARG;
    }
    for (i = 0; i < p->size; ++i) {
        const int32_t v = mcc_s16_lut_input(input[i], p->input_multiplier, p->input_left_shift);
        const uint32_t a = (uint32_t)(v < 0 ? -v : v);
        const int saturated = (a >> frac_bits) >= 255u;
        if (is_tanh) {
            int32_t r = saturated ? (int32_t)0xFFFF << 8
                                  : (int32_t)mcc_sigmoid_lut_interp(p->sigmoid_lut, a, 8);
            r = v >= 0 ? r - (1 << 23) + (1 << 7) : -r + (1 << 23) + (1 << 7) - 1;
            output[i] = (int16_t)mcc_asr(r, 8);
        } else {
            uint32_t r = saturated ? (uint32_t)0x7FFF << 10
                                   : mcc_sigmoid_lut_interp(p->sigmoid_lut, a, 9);
            r = v >= 0 ? r + (1u << 9) : (1u << 25) - r + (1u << 9) - 1u;
            output[i] = (int16_t)(r >> 10);
        }
    }
    return MCC_OK;
}

#endif /* MCC_SX_INTERNAL_H */
