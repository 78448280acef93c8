"""Typed, frozen attributes, one class per operator kind.

``activation`` is the fused activation by name (NONE, RELU, RELU6, RELU_N1_TO_1); its integer
clamp range is derived from the output quantization by ``mcc.lower.lowering.activation_range``.
"""

from __future__ import annotations

from dataclasses import dataclass

ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")


@dataclass(frozen=True)
class NoAttrs:
    pass


@dataclass(frozen=True)
class Conv2DAttrs:
    stride: tuple[int, int] = (1, 1)
    dilation: tuple[int, int] = (1, 1)
    padding: str = "VALID"  # SAME or VALID
    activation: str = "NONE"


@dataclass(frozen=True)
class DepthwiseConv2DAttrs:
    stride: tuple[int, int] = (1, 1)
    dilation: tuple[int, int] = (1, 1)
    padding: str = "VALID"
    depth_multiplier: int = 1
    activation: str = "NONE"


@dataclass(frozen=True)
class FullyConnectedAttrs:
    activation: str = "NONE"
    keep_num_dims: bool = False


@dataclass(frozen=True)
class Pool2DAttrs:
    filter: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    padding: str = "VALID"
    activation: str = "NONE"


@dataclass(frozen=True)
class ElementwiseAttrs:
    """ADD and MUL."""
    activation: str = "NONE"


@dataclass(frozen=True)
class SoftmaxAttrs:
    beta: float = 1.0


@dataclass(frozen=True)
class ReshapeAttrs:
    shape: tuple[int, ...] = ()


@dataclass(frozen=True)
class MeanAttrs:
    axes: tuple[int, ...] = ()
    keep_dims: bool = False


@dataclass(frozen=True)
class PadAttrs:
    """Per-dimension (before, after) padding; the pad value is the output zero point."""
    paddings: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class ConcatAttrs:
    axis: int = -1
    activation: str = "NONE"


ATTRS_BY_KIND = {
    "CONV_2D": Conv2DAttrs,
    "DEPTHWISE_CONV_2D": DepthwiseConv2DAttrs,
    "FULLY_CONNECTED": FullyConnectedAttrs,
    "AVERAGE_POOL_2D": Pool2DAttrs,
    "MAX_POOL_2D": Pool2DAttrs,
    "ADD": ElementwiseAttrs,
    "MUL": ElementwiseAttrs,
    "SOFTMAX": SoftmaxAttrs,
    "RESHAPE": ReshapeAttrs,
    "MEAN": MeanAttrs,
    "PAD": PadAttrs,
    "CONCATENATION": ConcatAttrs,
    "LOGISTIC": NoAttrs,
    "QUANTIZE": NoAttrs,
    "DEQUANTIZE": NoAttrs,
    "TANH": NoAttrs,
}
