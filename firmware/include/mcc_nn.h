/*
 * mcc_nn.h -- mcc's int8 kernel library: parameter structs and prototypes.
 *
 * Each mcc_*_params struct mirrors one dataclass in mcc/lower/params.py field
 * for field (same names, same order).  Python ints are int32_t, numpy int32
 * arrays are `const int32_t *`, BroadcastShape is the nested
 * mcc_broadcast_shape, fixed-length tuples are int32_t arrays, floats are
 * float.  ConcatParams.copy_sizes (a tuple of any length) is a
 * `const int32_t *` and its length is passed to mcc_concat().
 *
 * Layouts: activations NHWC, conv weights OHWI, depthwise weights 1HWC.
 * Shift convention everywhere: positive = left shift.
 * Kernels return MCC_OK, or MCC_ERR_ARG (NULL pointer or impossible shape;
 * nothing or a part of the output is written).  No kernel allocates memory.
 */
#ifndef MCC_NN_H
#define MCC_NN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { MCC_OK = 0, MCC_ERR_ARG = 1 } mcc_status;

/* CONV_2D int8, per-channel requantization. */
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
    int32_t pad_h;          /* top/left padding */
    int32_t pad_w;
    int32_t input_offset;   /* = -input zero point */
    int32_t output_offset;  /* = output zero point */
    int32_t act_min;
    int32_t act_max;
    const int32_t *multiplier; /* [output_c] */
    const int32_t *shift;      /* [output_c] */
} mcc_conv_params;

/* DEPTHWISE_CONV_2D int8; output_c = input_c * depth_multiplier. */
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
    int32_t input_offset;
    int32_t output_offset;
    int32_t act_min;
    int32_t act_max;
    const int32_t *multiplier; /* [output_c] */
    const int32_t *shift;      /* [output_c] */
} mcc_depthwise_conv_params;

/* FULLY_CONNECTED int8; weights (output_size, accum_depth). */
typedef struct {
    int32_t batches;
    int32_t accum_depth;
    int32_t output_size;
    int32_t input_offset;
    int32_t filter_offset;  /* = -weight zero point */
    int32_t output_offset;
    int32_t act_min;
    int32_t act_max;
    int32_t per_channel;    /* 0: multiplier/shift have 1 element, else output_size */
    const int32_t *multiplier;
    const int32_t *shift;
} mcc_fully_connected_params;

/* AVERAGE_POOL_2D / MAX_POOL_2D int8. */
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
    int32_t act_min;
    int32_t act_max;
} mcc_pool_params;

/* Up to 4-D broadcasting, right-aligned; strides in elements, 0 on broadcast dims. */
typedef struct {
    int32_t out_dims[4];
    int32_t in1_strides[4];
    int32_t in2_strides[4];
} mcc_broadcast_shape;

typedef struct {
    mcc_broadcast_shape shape;
    int32_t input1_offset;
    int32_t input2_offset;
    int32_t output_offset;
    int32_t left_shift;
    int32_t input1_multiplier;
    int32_t input1_shift;
    int32_t input2_multiplier;
    int32_t input2_shift;
    int32_t output_multiplier;
    int32_t output_shift;
    int32_t act_min;
    int32_t act_max;
} mcc_add_params;

typedef struct {
    mcc_broadcast_shape shape;
    int32_t input1_offset;
    int32_t input2_offset;
    int32_t output_offset;
    int32_t output_multiplier;
    int32_t output_shift;
    int32_t act_min;
    int32_t act_max;
} mcc_mul_params;

typedef struct {
    int32_t rows;
    int32_t row_size;
    int32_t input_multiplier;
    int32_t input_left_shift;
    int32_t diff_min;
    int32_t output_offset;
} mcc_softmax_params;

typedef struct {
    int32_t size;
    int32_t input_zero_point;
    int32_t input_range_radius;
    int32_t input_multiplier;
    int32_t input_left_shift;
} mcc_logistic_params;

/* TANH int8 (same fields as LOGISTIC; output scale 1/128, zero point 0). */
typedef mcc_logistic_params mcc_tanh_params;

/* MEAN over one contiguous block of axes: input viewed as (outer, reduce, inner). */
typedef struct {
    int32_t outer;
    int32_t reduce;
    int32_t inner;
    int32_t input_offset;
    int32_t output_offset;
    int32_t multiplier;
    int32_t shift;
} mcc_mean_params;

/* PAD int8, 4-D right-aligned. */
typedef struct {
    int32_t input_dims[4];
    int32_t before[4];
    int32_t after[4];
    int32_t pad_value;
} mcc_pad_params;

/* CONCATENATION: input k is copied as `outer` rows of copy_sizes[k] elements. */
typedef struct {
    int32_t outer;
    const int32_t *copy_sizes; /* [num_inputs] */
    int32_t element_size;      /* bytes per element */
} mcc_concat_params;

typedef struct {
    int32_t size;
    float scale;
    int32_t zero_point;
    int32_t qmin;
    int32_t qmax;
} mcc_quantize_params;

typedef struct {
    int32_t size;
    int32_t input_offset;
    int32_t output_offset;
    int32_t multiplier;
    int32_t shift;
    int32_t qmin;
    int32_t qmax;
} mcc_requantize_params;

typedef struct {
    int32_t size;
    float scale;
    int32_t zero_point;
} mcc_dequantize_params;

/* Scratch sizes in bytes (0 on the portable path; scratch may then be NULL). */
int32_t mcc_conv_s8_get_buffer_size(const mcc_conv_params *p);
int32_t mcc_depthwise_conv_s8_get_buffer_size(const mcc_depthwise_conv_params *p);
int32_t mcc_fully_connected_s8_get_buffer_size(const mcc_fully_connected_params *p);
int32_t mcc_conv_1x1_s8_get_buffer_size(const mcc_conv_params *p);
int32_t mcc_depthwise_conv_3x3_s8_get_buffer_size(const mcc_depthwise_conv_params *p);

/* Shape-specialised variants (chosen at compile time by mcc/codegen/select.py; fast on DSP cores):
 * 1x1 convolution without padding, and 3x3 depthwise with depth multiplier 1 and no dilation. */
mcc_status mcc_conv_1x1_s8(const mcc_conv_params *p, const int8_t *input, const int8_t *filter,
                           const int32_t *bias /* may be NULL */, int8_t *output, int8_t *scratch);
mcc_status mcc_depthwise_conv_3x3_s8(const mcc_depthwise_conv_params *p, const int8_t *input,
                                     const int8_t *filter, const int32_t *bias /* may be NULL */,
                                     int8_t *output, int8_t *scratch);

mcc_status mcc_conv_s8(const mcc_conv_params *p, const int8_t *input, const int8_t *filter,
                       const int32_t *bias /* may be NULL */, int8_t *output, int8_t *scratch);
mcc_status mcc_depthwise_conv_s8(const mcc_depthwise_conv_params *p, const int8_t *input,
                                 const int8_t *filter, const int32_t *bias /* may be NULL */,
                                 int8_t *output, int8_t *scratch);
mcc_status mcc_fully_connected_s8(const mcc_fully_connected_params *p, const int8_t *input,
                                  const int8_t *filter, const int32_t *bias /* may be NULL */,
                                  int8_t *output, int8_t *scratch);
mcc_status mcc_avg_pool_s8(const mcc_pool_params *p, const int8_t *input, int8_t *output);
mcc_status mcc_max_pool_s8(const mcc_pool_params *p, const int8_t *input, int8_t *output);
mcc_status mcc_add_s8(const mcc_add_params *p, const int8_t *input1, const int8_t *input2,
                      int8_t *output);
mcc_status mcc_mul_s8(const mcc_mul_params *p, const int8_t *input1, const int8_t *input2,
                      int8_t *output);
mcc_status mcc_softmax_s8(const mcc_softmax_params *p, const int8_t *input, int8_t *output);
mcc_status mcc_logistic_s8(const mcc_logistic_params *p, const int8_t *input, int8_t *output);
mcc_status mcc_tanh_s8(const mcc_tanh_params *p, const int8_t *input, int8_t *output);
mcc_status mcc_mean_s8(const mcc_mean_params *p, const int8_t *input, int8_t *output);
mcc_status mcc_pad_s8(const mcc_pad_params *p, const int8_t *input, int8_t *output);
mcc_status mcc_concat(const mcc_concat_params *p, const void *const *inputs, int32_t num_inputs,
                      void *output);
mcc_status mcc_quantize_f32_s8(const mcc_quantize_params *p, const float *input, int8_t *output);
mcc_status mcc_requantize_s8(const mcc_requantize_params *p, const int8_t *input, int8_t *output);
mcc_status mcc_dequantize_s8_f32(const mcc_dequantize_params *p, const int8_t *input,
                                 float *output);

/* Unstructured-sparse weights (the byte stream of mcc/lower/sparse.py as `filter`, the folded bias
 * as `bias`); no scratch. */
mcc_status mcc_fully_connected_sparse_s8(const mcc_fully_connected_params *p, const int8_t *input,
                                         const int8_t *filter, const int32_t *bias, int8_t *output,
                                         int8_t *scratch);
mcc_status mcc_conv_1x1_sparse_s8(const mcc_conv_params *p, const int8_t *input,
                                  const int8_t *filter, const int32_t *bias, int8_t *output,
                                  int8_t *scratch);

/* Packed sub-byte weights (mcc/lower/packing.py): each output channel's row (conv OHWI row, fully
 * connected row, depthwise channel's H*W taps) packed low bits first into ceil(K * b / 8) bytes,
 * rows back to back in channel order; weight_bits[c] in {8, 4, 2} is channel c's width. */
typedef struct {
    mcc_conv_params conv;
    const uint8_t *weight_bits; /* [conv.output_c] */
} mcc_conv_packed_params;

typedef struct {
    mcc_depthwise_conv_params conv;
    const uint8_t *weight_bits; /* [conv.output_c] */
} mcc_depthwise_conv_packed_params;

typedef struct {
    mcc_fully_connected_params fc;
    const uint8_t *weight_bits; /* [fc.output_size] */
} mcc_fully_connected_packed_params;

int32_t mcc_conv_packed_get_buffer_size(const mcc_conv_packed_params *p);
int32_t mcc_depthwise_conv_packed_get_buffer_size(const mcc_depthwise_conv_packed_params *p);
int32_t mcc_fully_connected_packed_get_buffer_size(const mcc_fully_connected_packed_params *p);
mcc_status mcc_conv_packed(const mcc_conv_packed_params *p, const int8_t *input,
                           const uint8_t *filter, const int32_t *bias /* may be NULL */,
                           int8_t *output, int8_t *scratch);
mcc_status mcc_depthwise_conv_packed(const mcc_depthwise_conv_packed_params *p, const int8_t *input,
                                     const uint8_t *filter, const int32_t *bias /* may be NULL */,
                                     int8_t *output, int8_t *scratch);
mcc_status mcc_fully_connected_packed(const mcc_fully_connected_packed_params *p,
                                      const int8_t *input, const uint8_t *filter,
                                      const int32_t *bias /* may be NULL */, int8_t *output,
                                      int8_t *scratch);

/* ---- 16x8: int16 activations (zero point 0), int8 weights, int64 biases ----
 * Conv-like kernels accumulate in int64 and requantize with the int64
 * MultiplyByQuantizedMultiplier; no offsets (int16 activations are symmetric).
 * Pooling, ADD, MUL, MEAN, PAD, QUANTIZE and DEQUANTIZE share the int8 structs
 * (same fields, the s16 names below are typedefs). */
typedef mcc_pool_params mcc_pool_s16_params;
typedef mcc_add_params mcc_add_s16_params;
typedef mcc_mul_params mcc_mul_s16_params;
typedef mcc_mean_params mcc_mean_s16_params;
typedef mcc_pad_params mcc_pad_s16_params;
typedef mcc_quantize_params mcc_quantize_s16_params;
typedef mcc_dequantize_params mcc_dequantize_s16_params;

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
    int32_t act_min;
    int32_t act_max;
    const int32_t *multiplier; /* [output_c] */
    const int32_t *shift;      /* [output_c] */
    int32_t bias_bits;         /* 64: int64 bias; 32: int32 bias, accumulator, requantization */
} mcc_conv_s16_params;

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
    int32_t act_min;
    int32_t act_max;
    const int32_t *multiplier; /* [output_c] */
    const int32_t *shift;      /* [output_c] */
    int32_t bias_bits;         /* as in mcc_conv_s16_params */
} mcc_depthwise_conv_s16_params;

typedef struct {
    int32_t batches;
    int32_t accum_depth;
    int32_t output_size;
    int32_t act_min;
    int32_t act_max;
    int32_t per_channel;
    const int32_t *multiplier; /* [output_size], or [1] when per_channel == 0 */
    const int32_t *shift;
    int32_t bias_bits;         /* as in mcc_conv_s16_params */
} mcc_fully_connected_s16_params;

/* SOFTMAX int16 (TFLM LUT path): 513-entry int16 tables held as int32. */
typedef struct {
    int32_t rows;
    int32_t row_size;
    int32_t input_multiplier;
    int32_t input_left_shift;
    const int32_t *exp_lut;                 /* exp over [-10, 0] */
    const int32_t *one_over_one_plus_x_lut; /* 1 / (1 + x) over [0, 1] */
} mcc_softmax_s16_params;

/* QUANTIZE between int8 and int16 (element widths 8 or 16 bits). */
typedef struct {
    int32_t size;
    int32_t input_bits;
    int32_t output_bits;
    int32_t input_offset;
    int32_t output_offset;
    int32_t multiplier;
    int32_t shift;
    int32_t qmin;
    int32_t qmax;
} mcc_requantize_s16_params;

/* bias: int64_t[] (bias_bits 64) or int32_t[] (bias_bits 32), may be NULL */
mcc_status mcc_conv_s16(const mcc_conv_s16_params *p, const int16_t *input, const int8_t *filter,
                        const void *bias, int16_t *output, int8_t *scratch);
mcc_status mcc_depthwise_conv_s16(const mcc_depthwise_conv_s16_params *p, const int16_t *input,
                                  const int8_t *filter, const void *bias, int16_t *output,
                                  int8_t *scratch);
mcc_status mcc_fully_connected_s16(const mcc_fully_connected_s16_params *p, const int16_t *input,
                                   const int8_t *filter, const void *bias, int16_t *output,
                                   int8_t *scratch);
mcc_status mcc_avg_pool_s16(const mcc_pool_s16_params *p, const int16_t *input, int16_t *output);
mcc_status mcc_max_pool_s16(const mcc_pool_s16_params *p, const int16_t *input, int16_t *output);
mcc_status mcc_add_s16(const mcc_add_s16_params *p, const int16_t *input1, const int16_t *input2,
                       int16_t *output);
mcc_status mcc_mul_s16(const mcc_mul_s16_params *p, const int16_t *input1, const int16_t *input2,
                       int16_t *output);
mcc_status mcc_mean_s16(const mcc_mean_s16_params *p, const int16_t *input, int16_t *output);
mcc_status mcc_pad_s16(const mcc_pad_s16_params *p, const int16_t *input, int16_t *output);
mcc_status mcc_softmax_s16(const mcc_softmax_s16_params *p, const int16_t *input,
                           int16_t *output);
mcc_status mcc_quantize_f32_s16(const mcc_quantize_s16_params *p, const float *input,
                                int16_t *output);
mcc_status mcc_requantize_s16(const mcc_requantize_s16_params *p, const void *input,
                              void *output);
mcc_status mcc_dequantize_s16_f32(const mcc_dequantize_s16_params *p, const int16_t *input,
                                  float *output);

/* LOGISTIC / TANH int16 (TFLite's int16 kernels): input zero point 0, output scale 1/32768. */
typedef struct {
    int32_t size;
    int32_t input_multiplier;  /* the input to steps of 1 / (3 * 4096): (x * m + round) >> s */
    int32_t input_left_shift;  /* a right shift, s (TFLite's name) */
    const int32_t *sigmoid_lut; /* [256]: sigmoid(i / 24), unsigned Q0.16 */
} mcc_logistic_s16_params;
typedef mcc_logistic_s16_params mcc_tanh_s16_params;

mcc_status mcc_logistic_s16(const mcc_logistic_s16_params *p, const int16_t *input,
                            int16_t *output);
mcc_status mcc_tanh_s16(const mcc_tanh_s16_params *p, const int16_t *input, int16_t *output);

#ifdef __cplusplus
}
#endif

/* Float32-activation kernels (PTQ dynamic): structs and prototypes. */
#include "mcc_nn_float.h"

#endif /* MCC_NN_H */
