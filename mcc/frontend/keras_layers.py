"""Keras 3 layer translators: one function per layer class, registered by class.

Each translator gets the graph builder, the layer and the IR names of its inputs and returns
the IR names of its outputs. Weights are copied out of the layer (``np.array(..., copy=True)``),
never edited in place, and laid out as the IR wants them: OHWI convolution weights, 1HWC
depthwise weights, (out, in) dense weights, float32. Every conv, depthwise and dense op gets a
bias (zeros when the layer has none), as the TFLite converter does.

The frontend translates literally; the float passes then optimize:
- BatchNormalization -> MUL + ADD with per-channel constants; ``fold_bn`` folds them into the
  preceding CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED;
- a standalone ReLU / ReLU6 -> an identity op carrying the fused activation (MAX_POOL_2D 1x1 on
  4-D tensors, MUL by 1.0 otherwise); ``fuse_activation`` moves it into the producer;
- sigmoid -> LOGISTIC, tanh -> TANH, softmax -> SOFTMAX; hard-swish, hard-sigmoid and leaky ReLU are
  decomposed into ADD / MUL with RELU or RELU6 clamps (the IR has no such kinds);
- Conv1D and the 1-D pools run as 2-D ops with H=1 between two RESHAPEs, as TFLite does.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..errors import ModelFormatError, UnsupportedOperatorError
from ..ir import (ConcatAttrs, Conv2DAttrs, DepthwiseConv2DAttrs, ElementwiseAttrs,
                  FullyConnectedAttrs, MeanAttrs, PadAttrs, Pool2DAttrs, ReshapeAttrs,
                  SoftmaxAttrs)
from .keras_build import (GraphBuilder, activation_name, affine, as_pair, conv_out, emit_activation,
                          identity_act, where, with_activation)

Translator = Callable[[GraphBuilder, object, list], list]
TRANSLATORS: dict[type, Translator] = {}


def _register(*class_names: str):
    """Register a translator for keras.layers.<name> (classes missing in this Keras are skipped)."""
    def deco(fn):
        import keras
        for n in class_names:
            cls = getattr(keras.layers, n, None)
            if cls is not None:
                TRANSLATORS[cls] = fn
        return fn
    return deco


def weight(layer, attr: str) -> np.ndarray:
    """A float32 copy of one layer variable, checked to be finite."""
    import keras
    var = getattr(layer, attr)
    arr = np.array(keras.ops.convert_to_numpy(var), dtype=np.float32, copy=True)
    if not np.all(np.isfinite(arr)):
        raise ModelFormatError(f"{where(layer)}: weight {attr!r} contains NaN or inf")
    return arr


def _bias(layer, n: int) -> np.ndarray:
    return weight(layer, "bias") if getattr(layer, "use_bias", False) else np.zeros(n, np.float32)


def _channels_last(layer):
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        raise UnsupportedOperatorError(f"{where(layer)}: data_format={layer.data_format!r}; "
                                       "only channels_last is supported")


# --- convolutions ----------------------------------------------------------------------------


def _conv2d_core(b, layer, x, kernel_ohwi, bias, stride, dilation, padding, base):
    n, h, w, _ = b.shape(x)
    oh = conv_out(padding, h, kernel_ohwi.shape[1], stride[0], dilation[0])
    ow = conv_out(padding, w, kernel_ohwi.shape[2], stride[1], dilation[1])
    ins = [x, b.const(base + "_w", kernel_ohwi), b.const(base + "_b", bias)]
    return with_activation(b, layer, "CONV_2D", ins, (n, oh, ow, kernel_ohwi.shape[0]),
                           lambda a: Conv2DAttrs(stride, dilation, padding, a), base)


@_register("Conv2D")
def conv2d(b, layer, xs):
    _channels_last(layer)
    if getattr(layer, "groups", 1) != 1:
        raise UnsupportedOperatorError(f"{where(layer)}: grouped convolution (groups={layer.groups}) "
                                       "is not supported")
    k = weight(layer, "kernel")  # HWIO
    return [_conv2d_core(b, layer, xs[0], k.transpose(3, 0, 1, 2), _bias(layer, k.shape[3]),
                         as_pair(layer.strides), as_pair(layer.dilation_rate),
                         layer.padding.upper(), layer.name)]


def _dw_core(b, x, kernel_hwcm, bias, stride, dilation, padding, base, layer, act_layer=True):
    n, h, w, c = b.shape(x)
    kh, kw, _, m = kernel_hwcm.shape
    oh = conv_out(padding, h, kh, stride[0], dilation[0])
    ow = conv_out(padding, w, kw, stride[1], dilation[1])
    ins = [x, b.const(base + "_w", kernel_hwcm.reshape(1, kh, kw, c * m)), b.const(base + "_b", bias)]
    attrs = lambda a: DepthwiseConv2DAttrs(stride, dilation, padding, m, a)  # noqa: E731
    if not act_layer:
        return b.op("DEPTHWISE_CONV_2D", ins, (n, oh, ow, c * m), attrs("NONE"), base)
    return with_activation(b, layer, "DEPTHWISE_CONV_2D", ins, (n, oh, ow, c * m), attrs, base)


@_register("DepthwiseConv2D")
def depthwise_conv2d(b, layer, xs):
    _channels_last(layer)
    k = weight(layer, "kernel" if hasattr(layer, "kernel") else "depthwise_kernel")
    bias = _bias(layer, k.shape[2] * k.shape[3])
    return [_dw_core(b, xs[0], k, bias, as_pair(layer.strides), as_pair(layer.dilation_rate),
                     layer.padding.upper(), layer.name, layer)]


@_register("SeparableConv2D")
def separable_conv2d(b, layer, xs):
    _channels_last(layer)
    dk = weight(layer, "depthwise_kernel")
    pk = weight(layer, "pointwise_kernel")  # (1, 1, C*M, F)
    mid = _dw_core(b, xs[0], dk, np.zeros(dk.shape[2] * dk.shape[3], np.float32),
                   as_pair(layer.strides), as_pair(layer.dilation_rate), layer.padding.upper(),
                   layer.name + "_dw", layer, act_layer=False)
    return [_conv2d_core(b, layer, mid, pk.transpose(3, 0, 1, 2), _bias(layer, pk.shape[3]),
                         (1, 1), (1, 1), "VALID", layer.name)]


def _to_2d(b, x, base) -> str:
    """(N, L, C) -> (N, 1, L, C), as TFLite runs 1-D convolutions and pools."""
    n, length, c = b.shape(x)
    return b.op("RESHAPE", [x], (n, 1, length, c), ReshapeAttrs((n, 1, length, c)), base + "_expand")


def _from_2d(b, y, base) -> str:
    n, _, length, c = b.shape(y)
    return b.op("RESHAPE", [y], (n, length, c), ReshapeAttrs((n, length, c)), base)


def _causal(b, layer, x, kernel: int, dilation: int) -> tuple[str, str]:
    if layer.padding != "causal":
        return x, layer.padding.upper()
    n, one, length, c = b.shape(x)
    left = (kernel - 1) * dilation
    y = b.op("PAD", [x], (n, one, length + left, c), PadAttrs(((0, 0), (0, 0), (left, 0), (0, 0))),
             layer.name + "_causal_pad")
    return y, "VALID"


@_register("Conv1D")
def conv1d(b, layer, xs):
    _channels_last(layer)
    if getattr(layer, "groups", 1) != 1:
        raise UnsupportedOperatorError(f"{where(layer)}: grouped convolution is not supported")
    k = weight(layer, "kernel")  # (K, I, O)
    d = as_pair(layer.dilation_rate)[0]
    x, padding = _causal(b, layer, _to_2d(b, xs[0], layer.name), k.shape[0], d)
    ohwi = k.transpose(2, 0, 1)[:, None, :, :]
    y = _conv2d_core(b, layer, x, ohwi, _bias(layer, k.shape[2]), (1, as_pair(layer.strides)[0]),
                     (1, d), padding, layer.name + "_2d")
    return [_from_2d(b, y, layer.name)]


@_register("DepthwiseConv1D")
def depthwise_conv1d(b, layer, xs):
    _channels_last(layer)
    k = weight(layer, "kernel")  # (K, C, M)
    d = as_pair(layer.dilation_rate)[0]
    x, padding = _causal(b, layer, _to_2d(b, xs[0], layer.name), k.shape[0], d)
    y = _dw_core(b, x, k[None], _bias(layer, k.shape[1] * k.shape[2]),
                 (1, as_pair(layer.strides)[0]), (1, d), padding, layer.name + "_2d", layer)
    return [_from_2d(b, y, layer.name)]


@_register("Dense")
def dense(b, layer, xs):
    k = weight(layer, "kernel")  # (in, out)
    shape = b.shape(xs[0])
    out = tuple(shape[:-1]) + (k.shape[1],)
    ins = [xs[0], b.const(layer.name + "_w", k.T.copy()), b.const(layer.name + "_b", _bias(layer, k.shape[1]))]
    return [with_activation(b, layer, "FULLY_CONNECTED", ins, out,
                            lambda a: FullyConnectedAttrs(a, len(shape) > 2), layer.name)]


@_register("BatchNormalization")
def batch_norm(b, layer, xs):
    rank = len(b.shape(xs[0]))
    if layer.axis % rank != rank - 1:
        raise UnsupportedOperatorError(f"{where(layer)}: BatchNormalization over axis {layer.axis} "
                                       "is not supported (only the last, channel axis)")
    var = weight(layer, "moving_variance").astype(np.float64)
    mean = weight(layer, "moving_mean").astype(np.float64)
    gamma = weight(layer, "gamma").astype(np.float64) if layer.scale else np.ones_like(var)
    beta = weight(layer, "beta").astype(np.float64) if layer.center else np.zeros_like(var)
    g = gamma / np.sqrt(var + layer.epsilon)
    return [affine(b, xs[0], g.astype(np.float32), (beta - mean * g).astype(np.float32), layer.name)]


# --- activations as layers -------------------------------------------------------------------


@_register("Activation")
def activation_layer(b, layer, xs):
    return [emit_activation(b, layer, xs[0], activation_name(layer, layer.activation), layer.name)]


@_register("ReLU")
def relu_layer(b, layer, xs):
    mv, slope, th = layer.max_value, float(layer.negative_slope), float(layer.threshold)
    if th == 0.0 and slope == 0.0 and mv is None:
        return [identity_act(b, xs[0], "RELU", layer.name)]
    if th == 0.0 and slope == 0.0 and float(mv) == 6.0:
        return [identity_act(b, xs[0], "RELU6", layer.name)]
    if th == 0.0 and mv is None:
        return [emit_activation(b, layer, xs[0], "leaky_relu", layer.name, slope)]
    raise UnsupportedOperatorError(
        f"{where(layer)}: ReLU(max_value={mv}, negative_slope={slope}, threshold={th}) is not supported "
        "(supported: plain ReLU, max_value=6, or a negative slope without max_value and threshold)")


@_register("LeakyReLU")
def leaky_relu_layer(b, layer, xs):
    return [emit_activation(b, layer, xs[0], "leaky_relu", layer.name, float(layer.negative_slope))]


@_register("Softmax")
def softmax_layer(b, layer, xs):
    axis = layer.axis if isinstance(layer.axis, int) else tuple(layer.axis)
    if axis not in (-1, len(b.shape(xs[0])) - 1, (-1,)):
        raise UnsupportedOperatorError(f"{where(layer)}: softmax over axis {layer.axis} is not supported "
                                       "(only the last axis)")
    return [b.op("SOFTMAX", [xs[0]], b.shape(xs[0]), SoftmaxAttrs(1.0), layer.name)]


# --- pooling and shape -----------------------------------------------------------------------


def _pool2d(kind):
    def tr(b, layer, xs):
        _channels_last(layer)
        n, h, w, c = b.shape(xs[0])
        f = as_pair(layer.pool_size)
        s = as_pair(layer.strides if layer.strides is not None else layer.pool_size)
        p = layer.padding.upper()
        shape = (n, conv_out(p, h, f[0], s[0]), conv_out(p, w, f[1], s[1]), c)
        return [b.op(kind, [xs[0]], shape, Pool2DAttrs(f, s, p), layer.name)]
    return tr


def _pool1d(kind):
    def tr(b, layer, xs):
        _channels_last(layer)
        x = _to_2d(b, xs[0], layer.name)
        n, _, length, c = b.shape(x)
        f, s = as_pair(layer.pool_size)[0], as_pair(layer.strides or layer.pool_size)[0]
        p = layer.padding.upper()
        y = b.op(kind, [x], (n, 1, conv_out(p, length, f, s), c), Pool2DAttrs((1, f), (1, s), p),
                 layer.name + "_2d")
        return [_from_2d(b, y, layer.name)]
    return tr


_register("MaxPooling2D")(_pool2d("MAX_POOL_2D"))
_register("AveragePooling2D")(_pool2d("AVERAGE_POOL_2D"))
_register("MaxPooling1D")(_pool1d("MAX_POOL_2D"))
_register("AveragePooling1D")(_pool1d("AVERAGE_POOL_2D"))


@_register("GlobalAveragePooling2D", "GlobalAveragePooling1D")
def global_avg_pool(b, layer, xs):
    _channels_last(layer)
    shape = b.shape(xs[0])
    axes = tuple(range(1, len(shape) - 1))
    keep = bool(getattr(layer, "keepdims", False))
    out = tuple(1 if i in axes else d for i, d in enumerate(shape)) if keep else (shape[0], shape[-1])
    return [b.op("MEAN", [xs[0]], out, MeanAttrs(axes, keep), layer.name)]


@_register("GlobalMaxPooling2D", "GlobalMaxPooling1D")
def global_max_pool(b, layer, xs):
    _channels_last(layer)
    x = xs[0] if len(b.shape(xs[0])) == 4 else _to_2d(b, xs[0], layer.name)
    n, h, w, c = b.shape(x)
    keep = bool(getattr(layer, "keepdims", False))
    y = b.op("MAX_POOL_2D", [x], (n, 1, 1, c), Pool2DAttrs((h, w), (h, w), "VALID"),
             layer.name if keep and len(b.shape(xs[0])) == 4 else layer.name + "_pool")
    if keep and len(b.shape(xs[0])) == 4:
        return [y]
    out = (n, 1, c) if keep else (n, c)
    return [b.op("RESHAPE", [y], out, ReshapeAttrs(out), layer.name)]


@_register("Flatten")
def flatten(b, layer, xs):
    shape = b.shape(xs[0])
    out = (shape[0], int(np.prod(shape[1:], dtype=np.int64)))
    return [b.reshape(xs[0], out, layer.name)]


@_register("Reshape")
def reshape(b, layer, xs):
    shape = b.shape(xs[0])
    target = list(layer.target_shape)
    if -1 in target:
        known = int(np.prod([d for d in target if d != -1], dtype=np.int64))
        target[target.index(-1)] = int(np.prod(shape[1:], dtype=np.int64)) // max(known, 1)
    return [b.reshape(xs[0], (shape[0],) + tuple(target), layer.name)]


@_register("ZeroPadding2D", "ZeroPadding1D")
def zero_padding(b, layer, xs):
    _channels_last(layer)
    shape = b.shape(xs[0])
    pads = layer.padding
    pads = (pads,) if len(shape) == 3 else pads  # 1-D: one (left, right) pair
    paddings = ((0, 0),) + tuple(tuple(int(v) for v in as_pair(p)) for p in pads) + ((0, 0),)
    out = tuple(d + p[0] + p[1] for d, p in zip(shape, paddings))
    return [b.op("PAD", [xs[0]], out, PadAttrs(paddings), layer.name)]


@_register("Rescaling")
def rescaling(b, layer, xs):
    c = b.shape(xs[0])[-1]

    def vec(v):
        a = np.array(v, dtype=np.float32).reshape(-1)
        if a.size not in (1, c):
            raise UnsupportedOperatorError(f"{where(layer)}: scale/offset of shape {np.shape(v)} "
                                           "(only a scalar or one value per channel)")
        return a

    scale, offset = vec(layer.scale), vec(layer.offset)
    mul = None if np.all(scale == 1.0) else scale
    add = None if np.all(offset == 0.0) else offset
    if mul is None and add is None:
        return [xs[0]]
    return [affine(b, xs[0], mul, add, layer.name)]


# --- merging ---------------------------------------------------------------------------------


def _chain(kind):
    def tr(b, layer, xs):
        if len(xs) < 2:
            raise ModelFormatError(f"{where(layer)}: needs at least two inputs")
        y = xs[0]
        shape = tuple(np.broadcast_shapes(*[b.shape(x) for x in xs]))
        for k, x in enumerate(xs[1:], 1):
            base = layer.name if k == len(xs) - 1 else f"{layer.name}_{k}"
            y = b.op(kind, [y, x], shape, ElementwiseAttrs(), base)
        return [y]
    return tr


_register("Add")(_chain("ADD"))
_register("Multiply")(_chain("MUL"))


@_register("Concatenate")
def concatenate(b, layer, xs):
    shapes = [b.shape(x) for x in xs]
    axis = layer.axis % len(shapes[0])
    out = list(shapes[0])
    out[axis] = sum(s[axis] for s in shapes)
    return [b.op("CONCATENATION", xs, tuple(out), ConcatAttrs(axis), layer.name)]


@_register("Dropout", "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise", "GaussianDropout",
           "AlphaDropout", "ActivityRegularization", "Identity")
def inference_identity(b, layer, xs):
    """Layers that do nothing at inference."""
    return list(xs)


def translator_for(layer) -> Translator | None:
    """The translator registered for the layer's class or its nearest registered base class."""
    for cls in type(layer).__mro__:
        if cls in TRANSLATORS:
            return TRANSLATORS[cls]
    return None


def supported_layers() -> list[str]:
    return sorted({cls.__name__ for cls in TRANSLATORS} | {"InputLayer"})
