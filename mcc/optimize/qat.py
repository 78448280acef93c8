"""Quantization-aware training (QAT) on Keras 3, exported to mcc's int8 IR.

    from mcc.optimize import qat_model, fine_tune, export

    qat = qat_model(model, bits=8)           # a new Keras model; ``model`` is not modified
    fine_tune(qat, x_train, y_train, epochs=1)
    g = export(qat)                          # verified int8 IR graph, ready for lowering

How it works
------------
The QAT model is built from mcc's *float IR* of the user's model (``load_keras``: BatchNorm
folded into the convolutions, activations fused, Rescaling kept as MUL/ADD), not by cloning Keras
layers. Its ``call`` runs the IR ops with ``keras.ops`` on trainable copies of the IR weights, so
every tensor mcc quantizes gets a fake-quantization node at exactly the place the int8 kernels
round (after the fused activation; SeparableConv2D's inner depthwise output too), and the learned
ranges are keyed by the IR tensor names that ``mcc.passes.quantize.quantize`` expects.

- Weights of CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED: symmetric per output channel,
  integer range +-(2^(bits-1)-1), scale max|w| / (2^(bits-1)-1); straight-through estimator
  ``w + stop_gradient(q(w) - w)``. Biases stay float (int32 at export).
- Activations (every op output and the graph input): asymmetric int8 with TFLite's parameters
  (``mcc.quant.params.activation_params``) from a min/max tracked by an exponential moving
  average during training (initialized from a min/max calibration on the first batches of the
  training data). Tensors that mcc makes share parameters (max/avg pool, reshape, pad,
  concatenation groups) use the union of their ranges, as ``quantize`` does. SOFTMAX / LOGISTIC
  outputs use the fixed scale 1/256, zero point -128.
- Biases: fake-quantized as the kernels hold them, int32 at input scale x weight scale
  (``quantize_bias``), with TFLite's activation zero points and round-half-away rounding (the
  kernels' and the exporter's), so that the forward pass follows the integer pipeline.
- Inference (``predict``, ``tensors``, ``layer``) rounds as the int8 kernels do
  (``kernel_rounding``, ``mcc.optimize.qat_int``): the scales are the exported float32 values,
  conv / dense / MEAN / ADD / MUL outputs are the kernels' requantized integers (TFLite's Q31
  multiplier and its double rounding), so every int8 tensor of the QAT forward pass equals the
  exported graph's (the softmax output within 1 LSB: float softmax vs the kernel's fixed-point exp).
- BatchNorm: by default (``freeze_bn_epoch=0``) folded before QAT with the model's moving
  statistics, i.e. frozen from the start. With ``freeze_bn_epoch=N > 0`` a conv / dense followed
  by a BatchNormalization in the user's Keras model trains, until epoch N, with the BN folded
  using the batch statistics (``mcc.optimize.qat_bn``: the folded weights are fake-quantized, the
  output equals conv + BN with batch statistics, the moving statistics are updated), and from
  epoch N on with the frozen moving statistics. Export always folds the moving statistics.
- Export: the float IR with the trained weights, the EMA ranges through ``quantize``; the weight
  tensors are then replaced by the QAT integers and scales (for bits < 8 they hold values in
  +-(2^(bits-1)-1), stored as int8) and the int32 biases recomputed at input x weight scale.

Limits: one input, one output (as mcc); the QAT model is a subclassed keras.Model (save it with
``save_weights``, not ``model.save``); Dropout is gone (the IR has none).
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402
import keras  # noqa: E402
from keras import ops  # noqa: E402

from ..errors import MccError, UnsupportedOperatorError  # noqa: E402
from ..ir import Graph, QuantParams, Tensor, verify  # noqa: E402
from ..quant import params as Q  # noqa: E402
from . import qat_int  # noqa: E402
from .qat_bn import BNFold, check_freeze_bn_epoch, find_bn_folds, fold_moving_np  # noqa: E402

LINEAR = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
FIXED = ("SOFTMAX", "LOGISTIC")
WEIGHT_AXIS = {"CONV_2D": 0, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 0}
SUPPORTED = LINEAR + FIXED + ("ADD", "MUL", "MAX_POOL_2D", "AVERAGE_POOL_2D", "MEAN", "PAD",
                              "CONCATENATION", "RESHAPE")


def _qmax(bits: int) -> int:
    return (1 << (bits - 1)) - 1


def _reduce_axes(kind: str, ndim: int) -> tuple[int, ...]:
    axis = WEIGHT_AXIS[kind]
    return tuple(a for a in range(ndim) if a != axis)


# ----------------------------------------------------------------------------- fake quantization
round_half_away = qat_int.round_half_away  # keras.ops, ties away from zero (the kernels' rounding)


def weight_scales(w, kind: str, qmax):
    """Per-output-channel symmetric scales max|w| / qmax, broadcastable against ``w``; ``qmax`` (the
    largest weight integer, 2^(bits-1)-1) is a number or a tensor broadcastable against ``w``
    (per-channel widths)."""
    m = ops.max(ops.abs(w), axis=_reduce_axes(kind, len(w.shape)), keepdims=True)
    return ops.maximum(m, Q.NEAR_ZERO / 2) / qmax


def fake_quant_weights(w, s, qmax):
    """Symmetric fake quantization of ``w`` at the scales ``s`` with a straight-through gradient."""
    q = ops.clip(round_half_away(w / s), -qmax, qmax) * s
    return w + ops.stop_gradient(q - w)


def fake_quant_bias(b, scale):
    """The int32 bias of the kernels: round(b / (s_in * s_w)) at scale s_in * s_w, straight-through."""
    q = round_half_away(b / scale) * scale
    return b + ops.stop_gradient(q - b)


def activation_qparams(lo, hi):
    """(scale, zero point) of an int8 tensor over [lo, hi], exactly as ``mcc.quant.params.activation_params``
    computes them for the export: in float64 (a range narrower than NEAR_ZERO widened, zero point
    from the end with the smaller rounding error, rounded half away from zero, clamped to
    [-128, 127]), the scale then rounded to float32. Returned as float32 tensors."""
    lo, hi = ops.cast(lo, "float64"), ops.cast(hi, "float64")
    narrow = hi - lo <= Q.NEAR_ZERO
    lo = ops.where(narrow, ops.minimum(lo, -Q.NEAR_ZERO / 2), lo)
    hi = ops.where(narrow, ops.maximum(hi, Q.NEAR_ZERO / 2), hi)
    lo = ops.minimum(lo, 0.0)
    hi = ops.maximum(hi, 0.0)
    s = (hi - lo) / 255.0
    zp_min, err_min = -128.0 - lo / s, 128.0 + ops.abs(lo / s)
    zp_max, err_max = 127.0 - hi / s, 127.0 + ops.abs(hi / s)
    zp = ops.where(err_min < err_max, zp_min, zp_max)
    zp = ops.clip(round_half_away(zp), -128.0, 127.0)
    return ops.cast(s, "float32"), ops.cast(zp, "float32")


def fake_quant_act(x, lo, hi, round_stored: bool = False):
    """int8 asymmetric fake quantization over [lo, hi] (TFLite parameters), straight-through.

    The kernels round ``x / s`` and then add the zero point, except average pooling, which
    rounds the mean of the stored int8 values, i.e. ``x / s + zp`` (``round_stored``)."""
    s, zp = activation_qparams(lo, hi)
    if round_stored:
        q = ops.clip(round_half_away(x / s + zp), -128.0, 127.0)
    else:
        q = ops.clip(round_half_away(x / s) + zp, -128.0, 127.0)
    y = (q - zp) * s
    return x + ops.stop_gradient(y - x)


def quantize_weights_np(w: np.ndarray, kind: str, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """(integer values in +-(2^(bits-1)-1), float32 per-channel scales) of IR-layout weights."""
    axis = WEIGHT_AXIS[kind]
    a = np.moveaxis(np.abs(w.astype(np.float64)), axis, 0).reshape(w.shape[axis], -1).max(axis=1)
    scales = np.array([float(np.float32(v)) for v in np.maximum(a, Q.NEAR_ZERO / 2) / _qmax(bits)])
    shape = [1] * w.ndim
    shape[axis] = scales.size
    k = np.clip(Q.round_half_away(w.astype(np.float64) / scales.reshape(shape)), -_qmax(bits), _qmax(bits))
    return k.astype(np.int8), scales


def _activation(x, act: str):
    if act == "NONE":
        return x
    if act == "RELU":
        return ops.relu(x)
    if act == "RELU6":
        return ops.clip(x, 0.0, 6.0)
    if act == "RELU_N1_TO_1":
        return ops.clip(x, -1.0, 1.0)
    raise UnsupportedOperatorError(f"unknown fused activation {act}")


def _groups(g: Graph) -> dict[str, list[str]]:
    from ..passes.quantize import _groups as groups
    return groups(g)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in name)


# ----------------------------------------------------------------------------- the QAT model
class QATModel(keras.Model):
    """The float IR graph run with keras.ops, weights and activations fake-quantized."""

    def __init__(self, graph: Graph, bits: int = 8, ema_decay: float = 0.99, quantize_bias: bool = True,
                 bn_folds: dict[str, BNFold] | None = None, freeze_bn_epoch: int = 0,
                 kernel_rounding: bool = True, **kwargs):
        super().__init__(**kwargs)
        # inference: the values of conv / dense / MEAN / ADD / MUL rounded as the int8 kernels
        # round them (mcc.optimize.qat_int); False: one exact rounding per fake-quantization node
        self.kernel_rounding = bool(kernel_rounding)
        self.freeze_bn_epoch = check_freeze_bn_epoch(freeze_bn_epoch)
        self.bn_folds = dict(bn_folds or {})
        self.quantize_bias = quantize_bias
        if not 2 <= bits <= 8:
            raise MccError(f"bits must be in 2..8, got {bits}")
        for op in graph.ops:
            if op.kind not in SUPPORTED:
                raise UnsupportedOperatorError(f"QAT does not support {op.kind} ({op.name})")
        self.graph = graph
        self.bits = bits
        self.ema_decay = ema_decay
        self.groups = _groups(graph)
        self.fixed = {op.outputs[0] for op in graph.ops if op.kind in FIXED}
        self.w: dict[str, keras.Variable] = {}
        self.b: dict[str, keras.Variable] = {}
        for i, op in enumerate(graph.ops):
            if op.kind not in LINEAR:
                continue
            w = graph.tensors[op.inputs[1]].data
            n_out = w.shape[WEIGHT_AXIS[op.kind]]
            bias = graph.tensors[op.inputs[2]].data if len(op.inputs) > 2 and op.inputs[2] is not None \
                else np.zeros(n_out, np.float32)
            f = self.bn_folds.get(op.outputs[0])
            if f is not None:  # train the raw weights and the BN (qat_bn)
                w, bias = f.w, f.b
                self._add_bn_weights(i, op, f)
            self.w[op.outputs[0]] = self.add_weight(shape=w.shape, name=f"w{i}_{_safe(op.name)}",
                                                    initializer=keras.initializers.Constant(w))
            self.b[op.outputs[0]] = self.add_weight(shape=bias.shape, name=f"b{i}_{_safe(op.name)}",
                                                    initializer=keras.initializers.Constant(bias))
        self.lo: dict[str, keras.Variable] = {}
        self.hi: dict[str, keras.Variable] = {}
        for n in graph.activations():
            if n in self.fixed:
                continue
            self.lo[n] = self.add_weight(shape=(), name=f"min_{_safe(n)}", trainable=False,
                                         initializer="zeros")
            self.hi[n] = self.add_weight(shape=(), name=f"max_{_safe(n)}", trainable=False,
                                         initializer="ones")
        self.initialized = self.add_weight(shape=(), name="ranges_initialized", trainable=False,
                                           initializer="zeros")
        # 1.0 once the BN statistics are frozen (fine_tune sets it at epoch freeze_bn_epoch)
        self.bn_frozen = self.add_weight(shape=(), name="bn_frozen", trainable=False,
                                         initializer=keras.initializers.Constant(
                                             0.0 if self.bn_folds and self.freeze_bn_epoch > 0 else 1.0))
        self.tracked_names = list(self.lo)

    def _add_bn_weights(self, i: int, op, f: BNFold) -> None:
        if not hasattr(self, "bn_gamma"):
            self.bn_gamma, self.bn_beta, self.bn_mean, self.bn_var = {}, {}, {}, {}
        key, s = op.outputs[0], _safe(op.name)
        c = keras.initializers.Constant
        self.bn_gamma[key] = self.add_weight(shape=f.gamma.shape, name=f"gamma{i}_{s}", trainable=f.scale,
                                             initializer=c(f.gamma))
        self.bn_beta[key] = self.add_weight(shape=f.beta.shape, name=f"beta{i}_{s}", trainable=f.center,
                                            initializer=c(f.beta))
        self.bn_mean[key] = self.add_weight(shape=f.mean.shape, name=f"moving_mean{i}_{s}", trainable=False,
                                            initializer=c(f.mean))
        self.bn_var[key] = self.add_weight(shape=f.var.shape, name=f"moving_var{i}_{s}", trainable=False,
                                           initializer=c(f.var))

    def freeze_bn(self) -> None:
        """Fold the BatchNorms with their (now frozen) moving statistics from here on."""
        self.bn_frozen.assign(1.0)

    def bn_statistics(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """(moving mean, moving variance) of every BN trained folded, by linear-op output name."""
        return {k: (np.asarray(self.bn_mean[k].numpy()), np.asarray(self.bn_var[k].numpy()))
                for k in self.bn_folds}

    def _folded(self, op, x, training: bool):
        """(w, b) of a linear op, the BN folded in (batch statistics of ``x`` while training before the
        freeze, then the moving statistics; the moving statistics follow the batch while not frozen)."""
        key = op.outputs[0]
        w, b = self.w[key], self.b[key]
        if key not in self.bn_folds:
            return w, b
        f = self.bn_folds[key]
        gamma, beta, mm, mv = self.bn_gamma[key], self.bn_beta[key], self.bn_mean[key], self.bn_var[key]
        mu, var = mm - b, mv  # the moving mean is of W x + b
        if training:
            y = self._linear(op.kind, op.attrs, x, w)
            axes = tuple(range(len(y.shape) - 1))
            bmean = ops.mean(y, axis=axes)
            bvar = ops.mean(ops.square(y - bmean), axis=axes)
            fr = self.bn_frozen
            mu = fr * mu + (1.0 - fr) * bmean
            var = fr * var + (1.0 - fr) * bvar
            m = f.momentum
            upd = 1.0 - fr  # 0 once frozen: the moving statistics stop changing
            self.bn_mean[key].assign(mm + upd * (1.0 - m) * (ops.stop_gradient(bmean + b) - mm))
            self.bn_var[key].assign(mv + upd * (1.0 - m) * (ops.stop_gradient(bvar) - mv))
        k = gamma / ops.sqrt(var + f.epsilon)
        shape = [1] * len(w.shape)
        shape[WEIGHT_AXIS[op.kind]] = -1
        return w * ops.reshape(k, shape), beta - mu * k

    def folded_weights_np(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """(w, b) of a linear op as exported: a BN folded with the moving statistics (as fold_bn)."""
        w = np.asarray(self.w[key].numpy(), np.float32)
        b = np.asarray(self.b[key].numpy(), np.float32)
        if key not in self.bn_folds:
            return w, b
        f = self.bn_folds[key]
        return fold_moving_np(f.kind, w, b, self.bn_gamma[key].numpy(), self.bn_beta[key].numpy(),
                              self.bn_mean[key].numpy(), self.bn_var[key].numpy(), f.epsilon)

    @property
    def ends_in_softmax(self) -> bool:
        """The output is a probability (for ``mcc.optimize.trainer``'s choice of loss)."""
        return self.graph.ops[-1].kind == "SOFTMAX"

    # ---- ranges
    def init_ranges(self, x: np.ndarray, max_samples: int = 512) -> None:
        """Set the EMA ranges to a min/max calibration of the *current* float weights on ``x``."""
        from ..passes.calibrate import calibrate
        ranges = calibrate(self.float_graph(quantized_weights=True), np.asarray(x[:max_samples], np.float32),
                           "minmax", progress=False)
        for n in self.lo:
            self.lo[n].assign(float(ranges[n][0]))
            self.hi[n].assign(float(ranges[n][1]))
        self.initialized.assign(1.0)

    def ranges(self) -> dict[str, tuple[float, float]]:
        """The learned range of every tracked activation tensor, keyed by IR tensor name."""
        out = {n: (float(self.lo[n].numpy()), float(self.hi[n].numpy())) for n in self.lo}
        for n in self.fixed:
            out[n] = (0.0, 255.0 / 256)
        return out

    def _fq(self, name: str, x, training: bool, round_stored: bool = False):
        if name in self.fixed:
            return fake_quant_act(x, 0.0, 255.0 / 256)
        if training:
            d = self.ema_decay
            axes = tuple(range(len(x.shape)))
            bmin, bmax = ops.stop_gradient(ops.min(x, axis=axes)), ops.stop_gradient(ops.max(x, axis=axes))
            self.lo[name].assign(d * self.lo[name] + (1 - d) * bmin)
            self.hi[name].assign(d * self.hi[name] + (1 - d) * bmax)
        return fake_quant_act(x, *self._group_range(name), round_stored=round_stored)

    def _group_range(self, name: str):
        """The range of ``name``'s parameter-sharing group (the union, as ``quantize`` takes it)."""
        members = [m for m in self.groups[name] if m in self.lo]
        lo, hi = self.lo[members[0]], self.hi[members[0]]
        for m in members[1:]:
            lo, hi = ops.minimum(lo, self.lo[m]), ops.maximum(hi, self.hi[m])
        return lo, hi

    def _input_scale(self, name: str):
        if name in self.fixed:
            return 1.0 / 256
        return activation_qparams(*self._group_range(name))[0]

    # ---- forward
    def _const(self, name: str):
        return ops.convert_to_tensor(self.graph.tensors[name].data)

    @staticmethod
    def _linear(k: str, a, x, wq):
        if k == "CONV_2D":  # OHWI -> HWIO
            return ops.conv(x, ops.transpose(wq, (1, 2, 3, 0)), strides=a.stride,
                            padding=a.padding.lower(), dilation_rate=a.dilation)
        if k == "DEPTHWISE_CONV_2D":  # 1HWC (C = in * dm) -> (H, W, in, dm)
            _, h, w, c = wq.shape
            dm = a.depth_multiplier
            return ops.depthwise_conv(x, ops.reshape(wq, (h, w, c // dm, dm)), strides=a.stride,
                                      padding=a.padding.lower(), dilation_rate=a.dilation)
        return ops.matmul(ops.reshape(x, (-1, wq.shape[1])), ops.transpose(wq))

    def _weight_qmax(self, op, ndim: int):
        """The largest weight integer of each of ``op``'s output channels: a number here (every
        channel at ``bits``); a subclass with per-channel widths returns a tensor broadcastable
        against the ``ndim``-dimensional weights."""
        return float(_qmax(self.bits))

    def _run_linear(self, op, args, training: bool = False):
        """(float output, (accumulator, input scale, weight scales)) of a conv / dense op; the
        accumulator (int64, with the int32 bias; None without ``kernel_rounding``) is what the
        int8 kernel sums."""
        k, a = op.kind, op.attrs
        w, b = self._folded(op, args[0], training)
        qmax = self._weight_qmax(op, len(w.shape))
        s = weight_scales(w, k, qmax)
        wq = fake_quant_weights(w, s, qmax)
        s_w = ops.reshape(s, (-1,))
        s_in = self._input_scale(op.inputs[0])
        acc = None
        if self.kernel_rounding and not training:
            acc = ops.stop_gradient(self._accumulator(op, args[0], w, b, s, qmax, s_in))
        if self.quantize_bias:  # the int32 bias at input scale x weight scale, as exported
            b = fake_quant_bias(b, s_in * s_w)
        return self._linear(k, a, args[0], wq) + b, (acc, s_in, s_w)

    def _accumulator(self, op, x, w, b, s, qmax, s_in):
        """The exact int32 accumulator of the int8 kernel (int64 tensor): the conv / dense of the
        input integers (q - zp) and the weight integers (``w`` at the scales ``s``, within
        +-``qmax``), in float64 (exact), plus the int32 bias round(b / f32(s_in * s_w))
        (``quantize_bias``)."""
        q64 = qmax if isinstance(qmax, float) else ops.cast(qmax, "float64")
        kw = ops.clip(round_half_away(ops.cast(w, "float64") / ops.cast(s, "float64")), -q64, q64)
        xi = ops.cast(qat_int.grid(x, s_in), "float64")
        s_b = ops.cast(s_in * ops.reshape(s, (-1,)), "float64")
        b_int = round_half_away(ops.cast(b, "float64") / s_b)
        return ops.cast(self._linear(op.kind, op.attrs, xi, kw) + b_int, "int64")

    def _kernel_output(self, op, args, linear):
        """The forward value of ``op``'s output as the int8 kernel computes it (dequantized), or
        None for an op whose rounding the plain fake quantization already matches."""
        k, a = op.kind, op.attrs
        name = op.outputs[0]
        act = getattr(a, "activation", "NONE")
        if name in self.fixed or name not in self.lo:
            return None
        s_out, zp_out = activation_qparams(*self._group_range(name))
        if k in LINEAR:
            acc, s_in, s_w = linear
            return qat_int.linear_output(acc, s_in, s_w, s_out, zp_out, act)
        if k == "MEAN":
            rank = len(args[0].shape)
            axes = tuple(sorted({int(x) % rank for x in a.axes}))
            return qat_int.mean_output(args[0], axes, a.keep_dims, self._input_scale(op.inputs[0]),
                                       s_out, zp_out)
        if k in ("ADD", "MUL") and all(n in self.lo or n in self.fixed for n in op.inputs):
            fn = qat_int.add_output if k == "ADD" else qat_int.mul_output
            s_a, s_b = (self._input_scale(n) for n in op.inputs)
            return fn(args[0], args[1], s_a, s_b, s_out, zp_out, act)
        return None

    def layer(self, op, args, training: bool = False):
        """One op of the quantized forward pass on its (fake-quantized) inputs ``args``: the float
        op, its fused activation, the fake quantization of its output. At inference, with
        ``kernel_rounding``, the value of a conv / dense / MEAN / ADD / MUL output is the int8
        kernel's (its double rounding; the gradient would stay the float op's, straight through).
        Training keeps the single rounding of the fake quantization (cheaper; the two differ by at
        most one LSB on a few % of the elements)."""
        linear = None
        if op.kind in LINEAR:
            y, linear = self._run_linear(op, args, training)
        else:
            y = self._run_op(op, args, training)
        y = _activation(y, getattr(op.attrs, "activation", "NONE"))
        shape = (-1,) + tuple(self.graph.tensors[op.outputs[0]].shape[1:])
        y = ops.reshape(y, shape)
        yq = self._fq(op.outputs[0], y, training, op.kind == "AVERAGE_POOL_2D")
        if not self.kernel_rounding or training:
            return yq
        exact = self._kernel_output(op, args, linear)
        if exact is None:
            return yq
        return yq + ops.stop_gradient(ops.reshape(exact, shape) - yq)

    def _run_op(self, op, args, training: bool = False):
        k, a = op.kind, op.attrs
        if k in LINEAR:
            return self._run_linear(op, args, training)[0]
        if k == "ADD":
            return args[0] + args[1]
        if k == "MUL":
            return args[0] * args[1]
        if k == "MAX_POOL_2D":
            return ops.max_pool(args[0], a.filter, a.stride, a.padding.lower())
        if k == "AVERAGE_POOL_2D":
            return ops.average_pool(args[0], a.filter, a.stride, a.padding.lower())
        if k == "MEAN":
            return ops.mean(args[0], axis=tuple(a.axes), keepdims=a.keep_dims)
        if k == "PAD":
            return ops.pad(args[0], a.paddings)
        if k == "CONCATENATION":
            return ops.concatenate(args, axis=a.axis)
        if k == "RESHAPE":
            return args[0]
        if k == "SOFTMAX":
            return ops.softmax(args[0] * a.beta, axis=-1)
        if k == "LOGISTIC":
            return ops.sigmoid(args[0])
        raise UnsupportedOperatorError(f"QAT does not support {k}")

    def call(self, x, training=False):
        return self._forward(x, training)

    def _forward(self, x, training=False, capture: dict | None = None):
        g = self.graph
        x = ops.cast(x, "float32")
        env = {g.inputs[0]: self._fq(g.inputs[0], x, training)}
        for op in g.ops:
            args = []
            for n in op.inputs:
                if n is None:
                    continue
                if n in env:
                    args.append(env[n])
                elif op.kind not in LINEAR:
                    args.append(self._const(n))
            env[op.outputs[0]] = self.layer(op, args, training)
        if capture is not None:
            capture.update(env)
        return env[g.outputs[0]]

    def tensors(self, x) -> dict[str, np.ndarray]:
        """Every fake-quantized activation of the inference forward pass on ``x``, by IR tensor name
        (compare with ``mcc.reference.interp.run(..., keep_all=True)`` of the exported graph)."""
        env: dict = {}
        self._forward(ops.convert_to_tensor(np.asarray(x, np.float32)), False, env)
        return {n: np.asarray(ops.convert_to_numpy(v)) for n, v in env.items()}

    # ---- float views
    def float_graph(self, quantized_weights: bool = True) -> Graph:
        """The float IR with the current weights (fake-quantized, i.e. already rounded, by default)."""
        g = self.graph
        tensors = dict(g.tensors)
        for op in g.ops:
            if op.kind not in LINEAR:
                continue
            w, b = self.folded_weights_np(op.outputs[0])
            if quantized_weights:
                k, s = quantize_weights_np(w, op.kind, self.bits)
                shape = [1] * w.ndim
                shape[WEIGHT_AXIS[op.kind]] = s.size
                w = (k.astype(np.float64) * s.reshape(shape)).astype(np.float32)
            t = g.tensors[op.inputs[1]]
            tensors[t.name] = Tensor(t.name, t.shape, "float32", None, w)
            if len(op.inputs) > 2 and op.inputs[2] is not None:
                tb = g.tensors[op.inputs[2]]
                tensors[tb.name] = Tensor(tb.name, tb.shape, "float32", None, b)
            elif np.any(b != 0):  # a bias learned where the model had none
                name = f"{op.outputs[0]}_bias"
                tensors[name] = Tensor(name, b.shape, "float32", None, b)
        ops_ = []
        for op in g.ops:
            if op.kind in LINEAR and (len(op.inputs) < 3 or op.inputs[2] is None) \
                    and f"{op.outputs[0]}_bias" in tensors:
                op = type(op)(op.kind, (op.inputs[0], op.inputs[1], f"{op.outputs[0]}_bias"), op.outputs,
                              op.attrs, name=op.name)
            ops_.append(op)
        return verify(Graph(tensors, tuple(ops_), g.inputs, g.outputs, dict(g.meta, qat_bits=self.bits)))


# ----------------------------------------------------------------------------- public API
def qat_model(model, bits: int = 8, ema_decay: float = 0.99, calib_data=None,
              calib_samples: int = 512, freeze_bn_epoch: int = 0, kernel_rounding: bool = True) -> QATModel:
    """A new QAT Keras model for ``model`` (a keras.Model, a .keras/.h5 path or a float IR Graph).

    ``calib_data`` (array (N, *input shape)), if given, initializes the activation ranges with a
    min/max calibration on its first ``calib_samples`` samples; otherwise ``fine_tune`` does it on
    the training data (before either, every range is [0, 1]).
    The user's model is never modified (``load_keras`` copies its weights; BatchNorm is folded
    with its moving statistics). ``bits`` (2..8) is the weight precision; activations are 8-bit.
    ``freeze_bn_epoch`` (>= 0; a Keras model only, an IR graph has its BN folded already): with
    N > 0, every conv / dense followed by a BatchNormalization trains with the BN folded using the
    batch statistics until ``fine_tune``'s epoch N, then with the frozen moving statistics.
    ``kernel_rounding`` (default): at inference the values of conv / dense / MEAN / ADD / MUL are
    rounded as the int8 kernels round them (``mcc.optimize.qat_int``), so the QAT model's
    quantized forward pass is the exported integer pipeline; False: fake quantization only
    (training always uses the fake quantization's single rounding).
    """
    freeze_bn_epoch = check_freeze_bn_epoch(freeze_bn_epoch)
    if isinstance(model, Graph):
        from ..passes.pipeline import run_float_passes
        g = run_float_passes(model)
    else:
        from ..frontend.keras import load_keras
        g = load_keras(model)
    if len(g.inputs) != 1 or len(g.outputs) != 1:
        raise MccError("QAT supports models with one input and one output")
    name = f"qat{bits}_{_safe(str(g.meta.get('source', 'model')))}"
    folds = find_bn_folds(model, g) if freeze_bn_epoch > 0 and not isinstance(model, Graph) else {}
    qat = QATModel(g, bits=bits, ema_decay=ema_decay, bn_folds=folds, freeze_bn_epoch=freeze_bn_epoch,
                   kernel_rounding=kernel_rounding, name=name)
    shape = g.tensors[g.inputs[0]].shape
    qat(np.zeros((1,) + tuple(shape[1:]), np.float32))  # build
    if calib_data is not None:
        qat.init_ranges(np.asarray(calib_data, np.float32), calib_samples)
    return qat


def fine_tune(qat: QATModel, x, y, epochs: int = 1, batch_size: int = 64, learning_rate: float = 5e-4,
              loss="sparse_categorical_crossentropy", metrics=("accuracy",), validation_data=None,
              verbose="auto", init_samples: int = 512, trainer=None, freeze_bn_epoch: int | None = None):
    """Train ``qat`` with ``fit`` (Keras progress bar; ``verbose=0`` for none). Returns the History.

    The activation ranges start from a min/max calibration on ``x[:init_samples]`` (once) and
    follow an EMA of the batch min/max while training. ``trainer`` (``mcc.optimize.trainer``
    protocol, e.g. a distillation trainer) replaces the default compile-and-fit: it gets the QAT
    model and trains it with its own loss (``learning_rate``, ``loss`` and ``metrics`` are then its
    business).
    ``freeze_bn_epoch`` (default: the one given to ``qat_model``) is the epoch of this call (from
    0) at whose start the BatchNorm statistics freeze (see ``qat_model``).
    """
    freeze = qat.freeze_bn_epoch if freeze_bn_epoch is None else check_freeze_bn_epoch(freeze_bn_epoch)
    callbacks = [_FreezeBN(qat, freeze)] if qat.bn_folds else []
    x = np.asarray(x, np.float32)
    if float(qat.initialized.numpy()) == 0.0:
        qat.init_ranges(x, init_samples)
    if trainer is not None:
        return trainer.fit(qat, x, y, epochs=epochs, batch_size=batch_size, callbacks=tuple(callbacks),
                           validation_data=validation_data, verbose=0 if verbose == "auto" else verbose)
    qat.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss, metrics=list(metrics or []))
    return qat.fit(x, y, batch_size=batch_size, epochs=epochs, validation_data=validation_data,
                   verbose=verbose, callbacks=callbacks)


class _FreezeBN(keras.callbacks.Callback):
    """Freezes the BatchNorm statistics of ``qat`` at the start of epoch ``epoch``."""

    def __init__(self, qat: QATModel, epoch: int):
        super().__init__()
        self.qat, self.epoch = qat, epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch >= self.epoch:
            self.qat.freeze_bn()


def export(qat: QATModel, io: str = "float", fold_input_rescale: bool = True) -> Graph:
    """The int8 IR graph of a trained QAT model (verified; lower/compile it like any PTQ graph)."""
    from ..passes.quantize import quantize

    fg = qat.float_graph(quantized_weights=True)
    q = quantize(fg, qat.ranges(), per_channel=True, io=io, fold_input_rescale=fold_input_rescale)
    # Replace the weights by the QAT integers and scales (bits < 8: values in +-(2^(bits-1)-1)).
    lin_f = [op for op in qat.graph.ops if op.kind in LINEAR]
    lin_q = [op for op in q.ops if op.kind in LINEAR]
    if len(lin_f) != len(lin_q):  # cannot happen: quantize keeps every linear op
        raise RuntimeError("export: linear ops do not match")
    tensors = dict(q.tensors)
    for fop, qop in zip(lin_f, lin_q):
        w, fb = qat.folded_weights_np(fop.outputs[0])
        k, s = quantize_weights_np(w, fop.kind, qat.bits)
        axis = WEIGHT_AXIS[fop.kind]
        wt = q.tensors[qop.inputs[1]]
        tensors[wt.name] = Tensor(wt.name, wt.shape, "int8", Q.weight_params(s, axis), k)
        if len(qop.inputs) > 2 and qop.inputs[2] is not None:
            bt = q.tensors[qop.inputs[2]]
            s_in = q.tensors[qop.inputs[0]].quant.s
            bs = Q.bias_scales(s_in, s)
            bq = QuantParams(tuple(float(v) for v in bs), (0,) * len(bs), 0 if len(bs) > 1 else None)
            tensors[bt.name] = Tensor(bt.name, bt.shape, "int32", bq, Q.quantize_bias(fb, bs))
    meta = dict(q.meta, qat={"weight_bits": qat.bits, "activation_bits": 8, "ema_decay": qat.ema_decay})
    return verify(Graph(tensors, q.ops, q.inputs, q.outputs, meta))
