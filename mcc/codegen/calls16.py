"""The 16x8 kernels (int16 activations, int8 weights): record type -> C kernel, as in
``mcc.codegen.calls``. They have no DSP variants and need no scratch (the conv-like ones still
take a scratch pointer argument, NULL, for a uniform call)."""

from __future__ import annotations

from ..lower import params as P
from .calls import KernelSpec, _binary, _unary, _weighted

KERNELS16: dict[type, KernelSpec] = {
    P.ConvS16Params: KernelSpec("mcc_conv_s16", "mcc_conv_s16_params", _weighted, scratch=True),
    P.DepthwiseConvS16Params: KernelSpec("mcc_depthwise_conv_s16", "mcc_depthwise_conv_s16_params",
                                         _weighted, scratch=True),
    P.FullyConnectedS16Params: KernelSpec("mcc_fully_connected_s16", "mcc_fully_connected_s16_params",
                                          _weighted, scratch=True),
    P.AddS16Params: KernelSpec("mcc_add_s16", "mcc_add_s16_params", _binary),
    P.MulS16Params: KernelSpec("mcc_mul_s16", "mcc_mul_s16_params", _binary),
    P.MeanS16Params: KernelSpec("mcc_mean_s16", "mcc_mean_s16_params", _unary),
    P.PadS16Params: KernelSpec("mcc_pad_s16", "mcc_pad_s16_params", _unary),
    P.SoftmaxS16Params: KernelSpec("mcc_softmax_s16", "mcc_softmax_s16_params", _unary),
    P.QuantizeS16Params: KernelSpec("mcc_quantize_f32_s16", "mcc_quantize_s16_params", _unary),
    P.RequantizeS16Params: KernelSpec("mcc_requantize_s16", "mcc_requantize_s16_params", _unary),
    P.DequantizeS16Params: KernelSpec("mcc_dequantize_s16_f32", "mcc_dequantize_s16_params", _unary),
    P.LogisticS16Params: KernelSpec("mcc_logistic_s16", "mcc_logistic_s16_params", _unary),
    P.TanhS16Params: KernelSpec("mcc_tanh_s16", "mcc_tanh_s16_params", _unary),
}

POOL_KERNELS16 = {
    "AVERAGE_POOL_2D": KernelSpec("mcc_avg_pool_s16", "mcc_pool_s16_params", _unary),
    "MAX_POOL_2D": KernelSpec("mcc_max_pool_s16", "mcc_pool_s16_params", _unary),
}


def kernel16_for(op_kind: str, record) -> KernelSpec | None:
    """The 16x8 kernel of ``record``, or None when it is not a 16x8 record."""
    if type(record) is P.PoolS16Params:
        if op_kind not in POOL_KERNELS16:
            raise ValueError(f"no int16 pooling kernel for operator {op_kind}")
        return POOL_KERNELS16[op_kind]
    return KERNELS16.get(type(record))
