/*
 * mcc_nn_float.h -- float32-activation kernels: the hybrid kernels of PTQ
 * dynamic (int8 or int16 weights with one float scale per output channel,
 * float32 activations and bias) and the float kernels of the other operators.
 * For cores with an FPU (and the host).  Included by mcc_nn.h.
 *
 * Each struct mirrors one dataclass in mcc/lower/params.py field for field.
 * Hybrid kernels compute, in float32 and in this order,
 *     acc = sum over the filter taps (fy, fx, then channel) of x * (float)q
 *     y   = acc * scale[c] + bias[c]      (bias may be NULL)
 *     y   = min(max(y, act_min), act_max)
 * Built in ISO C mode (-std=c99) GCC does not contract a * b + c into a fused
 * multiply-add, so the host and Cortex-M builds round identically.
 */
#ifndef MCC_NN_FLOAT_H
#define MCC_NN_FLOAT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int32_t input_n;
    int32_t input_h;
    int32_t input_w;
    int32_t input_c;
    int32_t filter_h;
    int32_t filter_w;
    int32_t output_h;
    int32_t output_w;
    int32_t output_c;
    int32_t stride_h;
    int32_t stride_w;
    int32_t dilation_h;
    int32_t dilation_w;
    int32_t pad_h;
    int32_t pad_w;
    int32_t weight_bits;   /* 8 or 16: must match the kernel */
    float act_min;
    float act_max;
    const float *scale;    /* [output_c] */
} mcc_hybrid_conv_params;

typedef struct {
    int32_t input_n;
    int32_t input_h;
    int32_t input_w;
    int32_t input_c;
    int32_t filter_h;
    int32_t filter_w;
    int32_t output_h;
    int32_t output_w;
    int32_t output_c;
    int32_t depth_multiplier;
    int32_t stride_h;
    int32_t stride_w;
    int32_t dilation_h;
    int32_t dilation_w;
    int32_t pad_h;
    int32_t pad_w;
    int32_t weight_bits;
    float act_min;
    float act_max;
    const float *scale;    /* [output_c] */
} mcc_hybrid_depthwise_conv_params;

typedef struct {
    int32_t batches;
    int32_t accum_depth;
    int32_t output_size;
    int32_t weight_bits;
    float act_min;
    float act_max;
    const float *scale;    /* [output_size] */
} mcc_hybrid_fully_connected_params;

typedef struct {
    int32_t input_n;
    int32_t input_h;
    int32_t input_w;
    int32_t channels;
    int32_t output_h;
    int32_t output_w;
    int32_t filter_h;
    int32_t filter_w;
    int32_t stride_h;
    int32_t stride_w;
    int32_t pad_h;
    int32_t pad_w;
    float act_min;
    float act_max;
} mcc_float_pool_params;

typedef struct {
    mcc_broadcast_shape shape;
    float act_min;
    float act_max;
} mcc_float_binary_params;

typedef struct {
    int32_t rows;
    int32_t row_size;
    float beta;
} mcc_float_softmax_params;

typedef struct {
    int32_t size;
} mcc_float_logistic_params;

typedef struct {
    int32_t outer;
    int32_t reduce;
    int32_t inner;
} mcc_float_mean_params;

typedef struct {
    int32_t input_dims[4];
    int32_t before[4];
    int32_t after[4];
    float pad_value;
} mcc_float_pad_params;

mcc_status mcc_conv_hybrid_f32_s8(const mcc_hybrid_conv_params *p, const float *input,
                                  const int8_t *filter, const float *bias, float *output);
mcc_status mcc_conv_hybrid_f32_s16(const mcc_hybrid_conv_params *p, const float *input,
                                   const int16_t *filter, const float *bias, float *output);
mcc_status mcc_depthwise_conv_hybrid_f32_s8(const mcc_hybrid_depthwise_conv_params *p,
                                            const float *input, const int8_t *filter,
                                            const float *bias, float *output);
mcc_status mcc_depthwise_conv_hybrid_f32_s16(const mcc_hybrid_depthwise_conv_params *p,
                                             const float *input, const int16_t *filter,
                                             const float *bias, float *output);
mcc_status mcc_fully_connected_hybrid_f32_s8(const mcc_hybrid_fully_connected_params *p,
                                             const float *input, const int8_t *filter,
                                             const float *bias, float *output);
mcc_status mcc_fully_connected_hybrid_f32_s16(const mcc_hybrid_fully_connected_params *p,
                                              const float *input, const int16_t *filter,
                                              const float *bias, float *output);
mcc_status mcc_max_pool_f32(const mcc_float_pool_params *p, const float *input, float *output);
mcc_status mcc_avg_pool_f32(const mcc_float_pool_params *p, const float *input, float *output);
mcc_status mcc_add_f32(const mcc_float_binary_params *p, const float *input1, const float *input2,
                       float *output);
mcc_status mcc_mul_f32(const mcc_float_binary_params *p, const float *input1, const float *input2,
                       float *output);
mcc_status mcc_softmax_f32(const mcc_float_softmax_params *p, const float *input, float *output);
mcc_status mcc_logistic_f32(const mcc_float_logistic_params *p, const float *input, float *output);
mcc_status mcc_mean_f32(const mcc_float_mean_params *p, const float *input, float *output);
mcc_status mcc_pad_f32(const mcc_float_pad_params *p, const float *input, float *output);

#ifdef __cplusplus
}
#endif

#endif /* MCC_NN_FLOAT_H */
