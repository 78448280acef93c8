"""Which C kernel runs each lowered op, and with which arguments.

The registry is keyed by the type of the params record that ``mcc.lower.lower_op`` returns (so
QUANTIZE maps to the float quantizer or to the int8 requantizer depending on its input).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..lower import params as P


@dataclass(frozen=True)
class KernelSpec:
    function: str   # C function, also the name of its source file in firmware/src
    struct: str     # C params struct type
    args: Callable  # (op, ptr) -> list of C argument expressions after the params pointer
    scratch: bool = False  # takes a scratch pointer as its last argument


def _weighted(op, ptr):
    bias = ptr(op.inputs[2]) if len(op.inputs) > 2 and op.inputs[2] is not None else "NULL"
    return [ptr(op.inputs[0]), ptr(op.inputs[1]), bias, ptr(op.outputs[0], out=True)]


def _unary(op, ptr):
    return [ptr(op.inputs[0]), ptr(op.outputs[0], out=True)]


def _binary(op, ptr):
    return [ptr(op.inputs[0]), ptr(op.inputs[1]), ptr(op.outputs[0], out=True)]


def _concat(op, ptr):
    return [ptr.list(op.inputs), str(len(op.inputs)), ptr(op.outputs[0], out=True)]


KERNELS: dict[type, KernelSpec] = {
    P.ConvParams: KernelSpec("mcc_conv_s8", "mcc_conv_params", _weighted, scratch=True),
    P.DepthwiseConvParams: KernelSpec("mcc_depthwise_conv_s8", "mcc_depthwise_conv_params", _weighted, scratch=True),
    P.FullyConnectedParams: KernelSpec("mcc_fully_connected_s8", "mcc_fully_connected_params", _weighted, scratch=True),
    P.SoftmaxParams: KernelSpec("mcc_softmax_s8", "mcc_softmax_params", _unary),
    P.LogisticParams: KernelSpec("mcc_logistic_s8", "mcc_logistic_params", _unary),
    P.TanhParams: KernelSpec("mcc_tanh_s8", "mcc_tanh_params", _unary),
    P.MeanParams: KernelSpec("mcc_mean_s8", "mcc_mean_params", _unary),
    P.PadParams: KernelSpec("mcc_pad_s8", "mcc_pad_params", _unary),
    P.ConcatParams: KernelSpec("mcc_concat", "mcc_concat_params", _concat),
    P.QuantizeParams: KernelSpec("mcc_quantize_f32_s8", "mcc_quantize_params", _unary),
    P.RequantizeParams: KernelSpec("mcc_requantize_s8", "mcc_requantize_params", _unary),
    P.DequantizeParams: KernelSpec("mcc_dequantize_s8_f32", "mcc_dequantize_params", _unary),
    P.AddParams: KernelSpec("mcc_add_s8", "mcc_add_params", _binary),
    P.MulParams: KernelSpec("mcc_mul_s8", "mcc_mul_params", _binary),
    P.ConvPackedParams: KernelSpec("mcc_conv_packed", "mcc_conv_packed_params", _weighted, scratch=True),
    P.DepthwiseConvPackedParams: KernelSpec("mcc_depthwise_conv_packed", "mcc_depthwise_conv_packed_params",
                                            _weighted, scratch=True),
    P.FullyConnectedPackedParams: KernelSpec("mcc_fully_connected_packed", "mcc_fully_connected_packed_params",
                                             _weighted, scratch=True),
}

# Unstructured-sparse weights (mcc.lower.sparse_layers): the dense structs, a stream as the filter
from ..lower.sparse_layers import SparseConvParams, SparseFullyConnectedParams  # noqa: E402
KERNELS[SparseConvParams] = KernelSpec("mcc_conv_1x1_sparse_s8", "mcc_conv_params", _weighted, scratch=True)
KERNELS[SparseFullyConnectedParams] = KernelSpec("mcc_fully_connected_sparse_s8", "mcc_fully_connected_params",
                                                 _weighted, scratch=True)

# Pooling shares one params record; the op kind picks the kernel.
POOL_KERNELS = {
    "AVERAGE_POOL_2D": KernelSpec("mcc_avg_pool_s8", "mcc_pool_params", _unary),
    "MAX_POOL_2D": KernelSpec("mcc_max_pool_s8", "mcc_pool_params", _unary),
}


def kernel_for(op, record) -> KernelSpec:
    from .calls16 import kernel16_for  # 16x8 records first (some subclass the int8 ones)
    spec16 = kernel16_for(op.kind, record)
    if spec16 is not None:
        return spec16
    from .hybrid import hybrid_kernel  # float / hybrid (PTQ dynamic) kernels
    spec = hybrid_kernel(op.kind, record)
    if spec is not None:
        return spec
    if isinstance(record, P.PoolParams):
        return POOL_KERNELS[op.kind]
    return KERNELS[type(record)]
