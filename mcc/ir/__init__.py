"""mcc's typed intermediate representation."""

from .attrs import (
    ConcatAttrs, Conv2DAttrs, DepthwiseConv2DAttrs, ElementwiseAttrs, FullyConnectedAttrs,
    MeanAttrs, NoAttrs, PadAttrs, Pool2DAttrs, ReshapeAttrs, SoftmaxAttrs, ATTRS_BY_KIND,
)
from .graph import Graph, Op, QuantParams, Tensor
from .verify import verify, VerifyError
from .printer import format_graph

__all__ = [
    "ConcatAttrs", "Conv2DAttrs", "DepthwiseConv2DAttrs", "ElementwiseAttrs", "FullyConnectedAttrs",
    "MeanAttrs", "NoAttrs", "PadAttrs", "Pool2DAttrs", "ReshapeAttrs", "SoftmaxAttrs", "ATTRS_BY_KIND",
    "Graph", "Op", "QuantParams", "Tensor", "verify", "VerifyError", "format_graph",
]
