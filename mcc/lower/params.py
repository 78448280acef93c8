"""Kernel parameter records: the contract between the IR, the numpy reference kernels and the C kernels.

Every number a kernel needs is computed in Python (``mcc.lower.lowering``) and stored here; the
numpy reference kernels (``mcc.reference.kernels``) and the C kernels (``firmware/``) consume the
same record. Each class mirrors one C struct in ``firmware/include/mcc_nn.h`` field for field
(same names, same order). Shapes are NHWC; shift convention everywhere: positive = left shift.

Per-channel arrays (``multiplier``, ``shift``) are int32 numpy arrays; in C they are pointers to
``static const int32_t`` arrays emitted next to the call site.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ConvParams:
    """CONV_2D int8, per-channel requantization. Weights OHWI int8, bias int32 (or absent)."""
    input_n: int
    input_h: int
    input_w: int
    input_c: int
    filter_h: int
    filter_w: int
    output_h: int
    output_w: int
    output_c: int
    stride_h: int
    stride_w: int
    dilation_h: int
    dilation_w: int
    pad_h: int          # top/left padding (TFLite: total padding // 2)
    pad_w: int
    input_offset: int   # = -input zero point
    output_offset: int  # = output zero point
    act_min: int
    act_max: int
    multiplier: np.ndarray  # int32[output_c]
    shift: np.ndarray       # int32[output_c]


@dataclass(frozen=True)
class DepthwiseConvParams:
    """DEPTHWISE_CONV_2D int8. Weights 1HWC with C = input_c * depth_multiplier."""
    input_n: int
    input_h: int
    input_w: int
    input_c: int
    filter_h: int
    filter_w: int
    output_h: int
    output_w: int
    output_c: int
    depth_multiplier: int
    stride_h: int
    stride_w: int
    dilation_h: int
    dilation_w: int
    pad_h: int
    pad_w: int
    input_offset: int
    output_offset: int
    act_min: int
    act_max: int
    multiplier: np.ndarray  # int32[output_c]
    shift: np.ndarray       # int32[output_c]


@dataclass(frozen=True)
class FullyConnectedParams:
    """FULLY_CONNECTED int8. Weights (output_size, accum_depth); per-tensor when per_channel == 0
    (multiplier/shift have one element) else one element per output."""
    batches: int
    accum_depth: int
    output_size: int
    input_offset: int
    filter_offset: int  # = -weight zero point (0 for symmetric weights)
    output_offset: int
    act_min: int
    act_max: int
    per_channel: int
    multiplier: np.ndarray
    shift: np.ndarray


@dataclass(frozen=True)
class PoolParams:
    """AVERAGE_POOL_2D and MAX_POOL_2D int8 (input and output share quantization)."""
    input_n: int
    input_h: int
    input_w: int
    channels: int
    output_h: int
    output_w: int
    filter_h: int
    filter_w: int
    stride_h: int
    stride_w: int
    pad_h: int
    pad_w: int
    act_min: int
    act_max: int


@dataclass(frozen=True)
class BroadcastShape:
    """Up to 4-D broadcasting, shapes right-aligned to 4 dims; input strides are 0 on broadcast dims."""
    out_dims: tuple[int, int, int, int]
    in1_strides: tuple[int, int, int, int]
    in2_strides: tuple[int, int, int, int]


@dataclass(frozen=True)
class AddParams:
    """ADD int8 as in TFLite: inputs rescaled to a common scale with ``left_shift`` headroom."""
    shape: BroadcastShape
    input1_offset: int
    input2_offset: int
    output_offset: int
    left_shift: int
    input1_multiplier: int
    input1_shift: int
    input2_multiplier: int
    input2_shift: int
    output_multiplier: int
    output_shift: int
    act_min: int
    act_max: int


@dataclass(frozen=True)
class MulParams:
    shape: BroadcastShape
    input1_offset: int
    input2_offset: int
    output_offset: int
    output_multiplier: int
    output_shift: int
    act_min: int
    act_max: int


@dataclass(frozen=True)
class SoftmaxParams:
    """SOFTMAX int8 -> int8 over the last axis (gemmlowp fixed-point exp, as the TFLite reference)."""
    rows: int
    row_size: int
    input_multiplier: int
    input_left_shift: int
    diff_min: int
    output_offset: int


@dataclass(frozen=True)
class LogisticParams:
    size: int
    input_zero_point: int
    input_range_radius: int
    input_multiplier: int
    input_left_shift: int


@dataclass(frozen=True)
class TanhParams(LogisticParams):
    """TANH int8 (same fields as LogisticParams; output scale 1/128, zero point 0)."""


@dataclass(frozen=True)
class MeanParams:
    """MEAN int8 over one contiguous block of axes: input viewed as (outer, reduce, inner)."""
    outer: int
    reduce: int
    inner: int
    input_offset: int
    output_offset: int
    multiplier: int
    shift: int


@dataclass(frozen=True)
class PadParams:
    """PAD int8, up to 4-D (right-aligned): output[i] = input[i - before] or pad_value."""
    input_dims: tuple[int, int, int, int]
    before: tuple[int, int, int, int]
    after: tuple[int, int, int, int]
    pad_value: int


@dataclass(frozen=True)
class ConcatParams:
    """CONCATENATION: input k is copied as ``outer`` rows of ``copy_sizes[k]`` elements."""
    outer: int
    copy_sizes: tuple[int, ...]
    element_size: int


@dataclass(frozen=True)
class QuantizeParams:
    """QUANTIZE float32 -> int8/int16 (scale is the float32 scale, as a Python float)."""
    size: int
    scale: float
    zero_point: int
    qmin: int
    qmax: int


@dataclass(frozen=True)
class RequantizeParams:
    """QUANTIZE int8 -> int8 (rescale)."""
    size: int
    input_offset: int
    output_offset: int
    multiplier: int
    shift: int
    qmin: int
    qmax: int


@dataclass(frozen=True)
class DequantizeParams:
    """DEQUANTIZE int8/int16 -> float32."""
    size: int
    scale: float
    zero_point: int


@dataclass(frozen=True)
class ConvPackedParams:
    """CONV_2D with packed sub-byte weights (``mcc.lower.packing``): the int8 record, and each
    output channel's storage width (uint8[output_c], 8, 4 or 2)."""
    conv: ConvParams
    weight_bits: np.ndarray


@dataclass(frozen=True)
class DepthwiseConvPackedParams:
    """DEPTHWISE_CONV_2D with packed sub-byte weights (channel c's row: its H*W taps)."""
    conv: DepthwiseConvParams
    weight_bits: np.ndarray


@dataclass(frozen=True)
class FullyConnectedPackedParams:
    """FULLY_CONNECTED with packed sub-byte weights (one width per output row)."""
    fc: FullyConnectedParams
    weight_bits: np.ndarray


# --- 16x8: int16 activations (zero point 0) with int8 weights and int64 biases ----------------
# The records below are consumed by ``mcc.reference.kernels16`` and the ``mcc_*_s16`` C kernels.
# int16 activations are symmetric, so the conv-like records carry no offsets.


@dataclass(frozen=True)
class ConvS16Params:
    """CONV_2D 16x8: int64 accumulator and bias, int64 MultiplyByQuantizedMultiplier."""
    input_n: int
    input_h: int
    input_w: int
    input_c: int
    filter_h: int
    filter_w: int
    output_h: int
    output_w: int
    output_c: int
    stride_h: int
    stride_w: int
    dilation_h: int
    dilation_w: int
    pad_h: int
    pad_w: int
    act_min: int
    act_max: int
    multiplier: np.ndarray  # int32[output_c]
    shift: np.ndarray       # int32[output_c]
    bias_bits: int = 64     # 64: int64 bias and requantize64; 32: int32 bias, accumulator, requantize


@dataclass(frozen=True)
class DepthwiseConvS16Params:
    """DEPTHWISE_CONV_2D 16x8."""
    input_n: int
    input_h: int
    input_w: int
    input_c: int
    filter_h: int
    filter_w: int
    output_h: int
    output_w: int
    output_c: int
    depth_multiplier: int
    stride_h: int
    stride_w: int
    dilation_h: int
    dilation_w: int
    pad_h: int
    pad_w: int
    act_min: int
    act_max: int
    multiplier: np.ndarray  # int32[output_c]
    shift: np.ndarray       # int32[output_c]
    bias_bits: int = 64     # as ConvS16Params.bias_bits


@dataclass(frozen=True)
class FullyConnectedS16Params:
    """FULLY_CONNECTED 16x8; per-tensor when per_channel == 0 (one multiplier/shift)."""
    batches: int
    accum_depth: int
    output_size: int
    act_min: int
    act_max: int
    per_channel: int
    multiplier: np.ndarray
    shift: np.ndarray
    bias_bits: int = 64     # as ConvS16Params.bias_bits


@dataclass(frozen=True)
class PoolS16Params(PoolParams):
    """AVERAGE_POOL_2D / MAX_POOL_2D int16 (same fields as PoolParams)."""


@dataclass(frozen=True)
class AddS16Params(AddParams):
    """ADD int16: TFLM's general-scale path with left_shift 15 (same fields as AddParams)."""


@dataclass(frozen=True)
class MulS16Params(MulParams):
    """MUL int16 (same fields as MulParams)."""


@dataclass(frozen=True)
class MeanS16Params(MeanParams):
    """MEAN int16 (same fields as MeanParams), clamped to the int16 range."""


@dataclass(frozen=True)
class PadS16Params(PadParams):
    """PAD int16 (same fields as PadParams)."""


@dataclass(frozen=True)
class SoftmaxS16Params:
    """SOFTMAX int16 as TFLM's LUT path: exp over [-10, 0] and 1/(1+x) over [0, 1], 513-entry
    int16 tables with linear interpolation (stored as int32 arrays)."""
    rows: int
    row_size: int
    input_multiplier: int
    input_left_shift: int
    exp_lut: np.ndarray                  # int32[513]
    one_over_one_plus_x_lut: np.ndarray  # int32[513]


@dataclass(frozen=True)
class QuantizeS16Params(QuantizeParams):
    """QUANTIZE float32 -> int16 (same fields as QuantizeParams)."""


@dataclass(frozen=True)
class RequantizeS16Params:
    """QUANTIZE between int8 and int16 (either side int16): element widths in bits (8 or 16)."""
    size: int
    input_bits: int
    output_bits: int
    input_offset: int
    output_offset: int
    multiplier: int
    shift: int
    qmin: int
    qmax: int


@dataclass(frozen=True)
class DequantizeS16Params(DequantizeParams):
    """DEQUANTIZE int16 -> float32 (same fields as DequantizeParams)."""


# --- hybrid (PTQ dynamic) and float kernels: float32 activations ----------------------------
# Weights int8 or int16 (``weight_bits``), symmetric, one float32 scale per output channel:
# y = scale[c] * sum(x * q) + bias[c] in float32, then clamped to [act_min, act_max] (the fused
# activation; +-FLT_MAX when none). ``scale`` is a float32 array (``const float *`` in C).


@dataclass(frozen=True)
class HybridConvParams:
    """CONV_2D with float32 input/output/bias and int8/int16 OHWI weights."""
    input_n: int
    input_h: int
    input_w: int
    input_c: int
    filter_h: int
    filter_w: int
    output_h: int
    output_w: int
    output_c: int
    stride_h: int
    stride_w: int
    dilation_h: int
    dilation_w: int
    pad_h: int
    pad_w: int
    weight_bits: int
    act_min: float
    act_max: float
    scale: np.ndarray  # float32[output_c]


@dataclass(frozen=True)
class HybridDepthwiseConvParams:
    """DEPTHWISE_CONV_2D with float32 activations and int8/int16 1HWC weights."""
    input_n: int
    input_h: int
    input_w: int
    input_c: int
    filter_h: int
    filter_w: int
    output_h: int
    output_w: int
    output_c: int
    depth_multiplier: int
    stride_h: int
    stride_w: int
    dilation_h: int
    dilation_w: int
    pad_h: int
    pad_w: int
    weight_bits: int
    act_min: float
    act_max: float
    scale: np.ndarray  # float32[output_c]


@dataclass(frozen=True)
class HybridFullyConnectedParams:
    """FULLY_CONNECTED with float32 activations and int8/int16 (output_size, accum_depth) weights."""
    batches: int
    accum_depth: int
    output_size: int
    weight_bits: int
    act_min: float
    act_max: float
    scale: np.ndarray  # float32[output_size]


@dataclass(frozen=True)
class FloatPoolParams:
    """AVERAGE_POOL_2D and MAX_POOL_2D float32."""
    input_n: int
    input_h: int
    input_w: int
    channels: int
    output_h: int
    output_w: int
    filter_h: int
    filter_w: int
    stride_h: int
    stride_w: int
    pad_h: int
    pad_w: int
    act_min: float
    act_max: float


@dataclass(frozen=True)
class FloatBinaryParams:
    """ADD and MUL float32 with up to 4-D broadcasting."""
    shape: BroadcastShape
    act_min: float
    act_max: float


@dataclass(frozen=True)
class FloatSoftmaxParams:
    """SOFTMAX float32 over the last axis: exp(beta * (x - max)) / sum."""
    rows: int
    row_size: int
    beta: float


@dataclass(frozen=True)
class FloatLogisticParams:
    size: int


@dataclass(frozen=True)
class FloatMeanParams:
    """MEAN float32 over one contiguous block of axes: input viewed as (outer, reduce, inner)."""
    outer: int
    reduce: int
    inner: int


@dataclass(frozen=True)
class FloatPadParams:
    """PAD float32, up to 4-D (right-aligned)."""
    input_dims: tuple[int, int, int, int]
    before: tuple[int, int, int, int]
    after: tuple[int, int, int, int]
    pad_value: float


# --- 16x8 LOGISTIC and TANH (TFLite's int16 sigmoid-table kernels) -------------------------


@dataclass(frozen=True)
class LogisticS16Params:
    """LOGISTIC int16 -> int16 (output scale 1/32768): x * input_multiplier, rounding right shift
    by input_left_shift (input scale 1/(3 * 4096)), then the 256-entry sigmoid table with linear
    interpolation over the low 9 bits of |x|."""
    size: int
    input_multiplier: int
    input_left_shift: int   # a right shift (TFLite's name)
    sigmoid_lut: np.ndarray  # int32[256]: sigmoid(i / 24) in unsigned Q0.16


@dataclass(frozen=True)
class TanhS16Params(LogisticS16Params):
    """TANH int16 -> int16 (output scale 1/32768): the same fields and table as LOGISTIC
    (tanh(x) = 2 sigmoid(2x) - 1: interpolation over the low 8 bits of |x|)."""
