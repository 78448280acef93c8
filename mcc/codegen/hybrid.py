"""Which float C kernel runs each op of a hybrid (PTQ dynamic) graph, keyed by params record type
(and the weight width or the op kind where one record serves two kernels). No kernel takes a
scratch buffer."""

from __future__ import annotations

from ..lower import params as P
from .calls import KernelSpec, _binary, _unary, _weighted

_WEIGHTED = {
    P.HybridConvParams: ("mcc_conv_hybrid_f32_s{bits}", "mcc_hybrid_conv_params"),
    P.HybridDepthwiseConvParams: ("mcc_depthwise_conv_hybrid_f32_s{bits}", "mcc_hybrid_depthwise_conv_params"),
    P.HybridFullyConnectedParams: ("mcc_fully_connected_hybrid_f32_s{bits}", "mcc_hybrid_fully_connected_params"),
}
_BY_KIND = {
    ("AVERAGE_POOL_2D", P.FloatPoolParams): KernelSpec("mcc_avg_pool_f32", "mcc_float_pool_params", _unary),
    ("MAX_POOL_2D", P.FloatPoolParams): KernelSpec("mcc_max_pool_f32", "mcc_float_pool_params", _unary),
    ("ADD", P.FloatBinaryParams): KernelSpec("mcc_add_f32", "mcc_float_binary_params", _binary),
    ("MUL", P.FloatBinaryParams): KernelSpec("mcc_mul_f32", "mcc_float_binary_params", _binary),
}
_OTHERS = {
    P.FloatSoftmaxParams: KernelSpec("mcc_softmax_f32", "mcc_float_softmax_params", _unary),
    P.FloatLogisticParams: KernelSpec("mcc_logistic_f32", "mcc_float_logistic_params", _unary),
    P.FloatMeanParams: KernelSpec("mcc_mean_f32", "mcc_float_mean_params", _unary),
    P.FloatPadParams: KernelSpec("mcc_pad_f32", "mcc_float_pad_params", _unary),
}


def hybrid_kernel(op_kind: str, record) -> KernelSpec | None:
    """The kernel of a float/hybrid params record, or None for any other record."""
    t = type(record)
    if t in _WEIGHTED:
        function, struct = _WEIGHTED[t]
        return KernelSpec(function.format(bits=record.weight_bits), struct, _weighted)
    if (op_kind, t) in _BY_KIND:
        return _BY_KIND[(op_kind, t)]
    return _OTHERS.get(t)


# Every C function this module can select (the test of one file per kernel lists them).
FUNCTIONS = tuple(sorted(
    [f.format(bits=b) for f, _ in _WEIGHTED.values() for b in (8, 16)]
    + [k.function for k in list(_BY_KIND.values()) + list(_OTHERS.values())]))
