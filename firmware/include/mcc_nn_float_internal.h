/*
 * mcc_nn_float_internal.h -- the loops shared by the int8 and int16 variants
 * of the hybrid kernels (not part of the public API).  Each public kernel
 * calls one of these with a constant `wide` (0: int8 weights, 1: int16), so
 * the compiler specialises the weight load.
 */
#ifndef MCC_NN_FLOAT_INTERNAL_H
#define MCC_NN_FLOAT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "mcc_nn.h"
#include "mcc_nn_internal.h"

static inline float mcc_clamp_f32(float v, float lo, float hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

/* Weight i of an int8 (wide == 0) or int16 (wide != 0) array, as a float (exact). */
static inline float mcc_hybrid_weight(const void *filter, int wide, size_t i)
{
    return wide ? (float)((const int16_t *)filter)[i] : (float)((const int8_t *)filter)[i];
}

static inline mcc_status mcc_conv_hybrid_f32(const mcc_hybrid_conv_params *p, const float *input,
                                             const void *filter, int wide, const float *bias,
                                             float *output)
{
    int32_t b, oy, ox, oc;
    if (p == NULL || input == NULL || filter == NULL || output == NULL || p->scale == NULL ||
        p->weight_bits != (wide ? 16 : 8) || p->dilation_h < 1 || p->dilation_w < 1) {
        return MCC_ERR_ARG;
    }
    for (b = 0; b < p->input_n; ++b) {
        for (oy = 0; oy < p->output_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_h;
            int32_t fy0, fy1;
            mcc_valid_taps(iy0, p->dilation_h, p->input_h, p->filter_h, &fy0, &fy1);
            for (ox = 0; ox < p->output_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_w;
                int32_t fx0, fx1;
                mcc_valid_taps(ix0, p->dilation_w, p->input_w, p->filter_w, &fx0, &fx1);
                for (oc = 0; oc < p->output_c; ++oc) {
                    float acc = 0.0f;
                    float y;
                    int32_t fy, fx, ic;
                    for (fy = fy0; fy < fy1; ++fy) {
                        const int32_t iy = iy0 + fy * p->dilation_h;
                        for (fx = fx0; fx < fx1; ++fx) {
                            const int32_t ix = ix0 + fx * p->dilation_w;
                            const float *x = input + (((size_t)b * (size_t)p->input_h + (size_t)iy) *
                                                      (size_t)p->input_w + (size_t)ix) * (size_t)p->input_c;
                            const size_t w = (((size_t)oc * (size_t)p->filter_h + (size_t)fy) *
                                              (size_t)p->filter_w + (size_t)fx) * (size_t)p->input_c;
                            for (ic = 0; ic < p->input_c; ++ic) {
                                acc += x[ic] * mcc_hybrid_weight(filter, wide, w + (size_t)ic);
                            }
                        }
                    }
                    y = acc * p->scale[oc];
                    if (bias != NULL) {
                        y = y + bias[oc];
                    }
                    *output++ = mcc_clamp_f32(y, p->act_min, p->act_max);
                }
            }
        }
    }
    return MCC_OK;
}

static inline mcc_status mcc_depthwise_conv_hybrid_f32(const mcc_hybrid_depthwise_conv_params *p,
                                                       const float *input, const void *filter,
                                                       int wide, const float *bias, float *output)
{
    int32_t b, oy, ox, oc;
    if (p == NULL || input == NULL || filter == NULL || output == NULL || p->scale == NULL ||
        p->weight_bits != (wide ? 16 : 8) || p->dilation_h < 1 || p->dilation_w < 1 ||
        p->depth_multiplier < 1 || p->output_c != p->input_c * p->depth_multiplier) {
        return MCC_ERR_ARG;
    }
    for (b = 0; b < p->input_n; ++b) {
        for (oy = 0; oy < p->output_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_h;
            int32_t fy0, fy1;
            mcc_valid_taps(iy0, p->dilation_h, p->input_h, p->filter_h, &fy0, &fy1);
            for (ox = 0; ox < p->output_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_w;
                int32_t fx0, fx1;
                mcc_valid_taps(ix0, p->dilation_w, p->input_w, p->filter_w, &fx0, &fx1);
                for (oc = 0; oc < p->output_c; ++oc) {
                    const int32_t ic = oc / p->depth_multiplier;
                    float acc = 0.0f;
                    float y;
                    int32_t fy, fx;
                    for (fy = fy0; fy < fy1; ++fy) {
                        const int32_t iy = iy0 + fy * p->dilation_h;
                        for (fx = fx0; fx < fx1; ++fx) {
                            const int32_t ix = ix0 + fx * p->dilation_w;
                            const float x = input[(((size_t)b * (size_t)p->input_h + (size_t)iy) *
                                                   (size_t)p->input_w + (size_t)ix) * (size_t)p->input_c +
                                                  (size_t)ic];
                            const size_t w = ((size_t)fy * (size_t)p->filter_w + (size_t)fx) *
                                                 (size_t)p->output_c + (size_t)oc;
                            acc += x * mcc_hybrid_weight(filter, wide, w);
                        }
                    }
                    y = acc * p->scale[oc];
                    if (bias != NULL) {
                        y = y + bias[oc];
                    }
                    *output++ = mcc_clamp_f32(y, p->act_min, p->act_max);
                }
            }
        }
    }
    return MCC_OK;
}

static inline mcc_status mcc_fully_connected_hybrid_f32(const mcc_hybrid_fully_connected_params *p,
                                                        const float *input, const void *filter,
                                                        int wide, const float *bias, float *output)
{
    int32_t b, o, k;
    if (p == NULL || input == NULL || filter == NULL || output == NULL || p->scale == NULL ||
        p->weight_bits != (wide ? 16 : 8)) {
        return MCC_ERR_ARG;
    }
    for (b = 0; b < p->batches; ++b) {
        const float *x = input + (size_t)b * (size_t)p->accum_depth;
        for (o = 0; o < p->output_size; ++o) {
            const size_t w = (size_t)o * (size_t)p->accum_depth;
            float acc = 0.0f;
            float y;
            for (k = 0; k < p->accum_depth; ++k) {
                acc += x[k] * mcc_hybrid_weight(filter, wide, w + (size_t)k);
            }
            y = acc * p->scale[o];
            if (bias != NULL) {
                y = y + bias[o];
            }
            *output++ = mcc_clamp_f32(y, p->act_min, p->act_max);
        }
    }
    return MCC_OK;
}

/* AVERAGE_POOL_2D (is_max == 0: the mean of the in-image taps) or MAX_POOL_2D. */
static inline mcc_status mcc_pool_f32(const mcc_float_pool_params *p, const float *input, float *output,
                                      int is_max)
{
    int32_t b, oy, ox, c;
    if (p == NULL || input == NULL || output == NULL || p->stride_h < 1 || p->stride_w < 1) {
        return MCC_ERR_ARG;
    }
    for (b = 0; b < p->input_n; ++b) {
        for (oy = 0; oy < p->output_h; ++oy) {
            const int32_t iy0 = oy * p->stride_h - p->pad_h;
            int32_t fy0, fy1;
            mcc_valid_taps(iy0, 1, p->input_h, p->filter_h, &fy0, &fy1);
            for (ox = 0; ox < p->output_w; ++ox) {
                const int32_t ix0 = ox * p->stride_w - p->pad_w;
                int32_t fx0, fx1;
                mcc_valid_taps(ix0, 1, p->input_w, p->filter_w, &fx0, &fx1);
                if (fy1 <= fy0 || fx1 <= fx0) {
                    return MCC_ERR_ARG; /* a window without any input pixel */
                }
                for (c = 0; c < p->channels; ++c) {
                    float acc = 0.0f;
                    int first = 1;
                    int32_t fy, fx;
                    for (fy = fy0; fy < fy1; ++fy) {
                        for (fx = fx0; fx < fx1; ++fx) {
                            const float v = input[(((size_t)b * (size_t)p->input_h + (size_t)(iy0 + fy)) *
                                                   (size_t)p->input_w + (size_t)(ix0 + fx)) *
                                                  (size_t)p->channels + (size_t)c];
                            if (!is_max) {
                                acc += v;
                            } else if (first || v > acc) {
                                acc = v;
                            }
                            first = 0;
                        }
                    }
                    if (!is_max) {
                        acc = acc / (float)((fy1 - fy0) * (fx1 - fx0));
                    }
                    *output++ = mcc_clamp_f32(acc, p->act_min, p->act_max);
                }
            }
        }
    }
    return MCC_OK;
}

/* ADD (is_mul == 0) or MUL with 4-D broadcasting. */
static inline mcc_status mcc_binary_f32(const mcc_float_binary_params *p, const float *input1,
                                        const float *input2, float *output, int is_mul)
{
    const int32_t *d = p == NULL ? NULL : p->shape.out_dims;
    const int32_t *s1 = p == NULL ? NULL : p->shape.in1_strides;
    const int32_t *s2 = p == NULL ? NULL : p->shape.in2_strides;
    int32_t i0, i1, i2, i3;
    if (p == NULL || input1 == NULL || input2 == NULL || output == NULL) {
        return MCC_ERR_ARG;
    }
    for (i0 = 0; i0 < d[0]; ++i0) {
        for (i1 = 0; i1 < d[1]; ++i1) {
            for (i2 = 0; i2 < d[2]; ++i2) {
                const float *a = input1 + (size_t)(i0 * s1[0] + i1 * s1[1] + i2 * s1[2]);
                const float *c = input2 + (size_t)(i0 * s2[0] + i1 * s2[1] + i2 * s2[2]);
                for (i3 = 0; i3 < d[3]; ++i3) {
                    const float x = a[(size_t)(i3 * s1[3])];
                    const float y = c[(size_t)(i3 * s2[3])];
                    *output++ = mcc_clamp_f32(is_mul ? x * y : x + y, p->act_min, p->act_max);
                }
            }
        }
    }
    return MCC_OK;
}

#endif /* MCC_NN_FLOAT_INTERNAL_H */
