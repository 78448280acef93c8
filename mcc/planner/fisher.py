"""Per-channel Fisher sensitivity of a model to narrower weights (diagonal Fisher x quantization error).

For weight tensor W of a convolution / depthwise / fully connected op, output channel c and width b:

    F[c, b] = sum_n sum_k (dL_n / dW_ck)^2 * (W_ck - Q_b(W_ck))^2

over calibration samples n and the channel's weights k. ``L_n`` is the cross-entropy of sample n
against its label, or, without labels, against the float model's own top-1 prediction (the
cross-entropy against its full predicted distribution has a zero gradient). The gradients are of
the float model: the float IR that the int8 graph was quantized from (``load_keras``: BatchNorm
folded, so W is exactly the tensor the quantizer rounds), run with keras.ops as a Keras 3 model
(mcc.optimize.qat's graph runner without fake quantization) and differentiated with
tf.GradientTape, one sample at a time (the Fisher sums squared per-sample gradients).
``Q_b`` is the rounding ``set_weight_bits`` applies: symmetric per channel, scale max|W_c| /
(2^(b-1)-1) from the float weights; ``Q_8`` is the int8 model's own weights.

Under the second-order (diagonal Fisher) model of the loss, the expected loss increase of channel c
at width b over the int8 model is proportional to ``F[c, b] - F[c, 8]``, which is the planner's
sensitivity (``fisher_sensitivity``; 0 at 8 bits, and at 2 bits at least that at 4 bits as the
output-error measure does). Terms of different channels add, which is what the integer program
assumes.
"""

from __future__ import annotations

import numpy as np

from ..errors import MccError
from ..ir import Graph
from ..passes.weight_bits import WEIGHT_AXIS, channel_rows, requantize_channels, weight_ops
from .bits import WIDTHS
from .sensitivity import _progress


class FisherError(MccError):
    """The Fisher sensitivity cannot be computed for this model."""


def _float_model(float_graph: Graph):
    """A Keras 3 model running the float IR (weights keyed by op output), no fake quantization."""
    from ..optimize.qat import QATModel

    class FloatIRModel(QATModel):
        def _fq(self, name, x, training, round_stored=False):
            return x

        def _run_linear(self, op, args, training=False):
            y = self._linear(op.kind, op.attrs, args[0], self.w[op.outputs[0]]) + self.b[op.outputs[0]]
            return y, None

    m = FloatIRModel(float_graph, bits=8, kernel_rounding=False, name="mcc_fisher_float_ir")
    shape = float_graph.tensors[float_graph.inputs[0]].shape
    m(np.zeros((1,) + tuple(shape[1:]), np.float32))
    return m


def squared_gradients(float_graph: Graph, x: np.ndarray, labels: np.ndarray | None = None,
                      names: list[str] | None = None, progress: bool = False) -> dict[str, np.ndarray]:
    """Weight tensor name -> sum over samples of the squared per-sample gradient of the loss
    (the diagonal empirical Fisher), in the IR layout of the weight tensor."""
    import tensorflow as tf
    from keras import ops

    if len(float_graph.inputs) != 1 or len(float_graph.outputs) != 1:
        raise FisherError("the Fisher sensitivity needs a model with one input and one output")
    try:
        model = _float_model(float_graph)
    except MccError as e:
        raise FisherError(f"the Fisher sensitivity cannot run this model in Keras: {e}") from None
    lin = [op for op in float_graph.ops if op.kind in WEIGHT_AXIS and op.outputs[0] in model.w]
    by_name = {op.inputs[1]: op.outputs[0] for op in lin}
    names = list(by_name) if names is None else [n for n in names if n in by_name]
    variables = [model.w[by_name[n]] for n in names]
    softmax_out = float_graph.ops[-1].kind == "SOFTMAX" and float_graph.ops[-1].outputs[0] == float_graph.outputs[0]
    shape = tuple(float_graph.tensors[float_graph.inputs[0]].shape[1:])
    x = np.asarray(x, np.float32).reshape((len(x),) + shape)
    if labels is None:
        labels = np.argmax(np.asarray(ops.convert_to_numpy(model(x))).reshape(len(x), -1), axis=1)
    labels = np.asarray(labels).reshape(-1).astype(np.int32)
    if len(labels) != len(x):
        raise FisherError(f"{len(x)} calibration inputs but {len(labels)} labels")

    @tf.function(reduce_retracing=True)
    def grads(xi, yi):
        with tf.GradientTape() as tape:
            out = tf.reshape(model(xi), (1, -1))
            if softmax_out:
                loss = -tf.math.log(tf.maximum(tf.gather(out[0], yi), 1e-12))
            else:  # logits
                loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=[yi], logits=out)[0]
        return tape.gradient(loss, variables)

    acc = [np.zeros(tuple(v.shape), np.float64) for v in variables]
    track = _progress(progress, len(x))
    for i in range(len(x)):
        for a, gr in zip(acc, grads(tf.constant(x[i:i + 1]), tf.constant(labels[i]))):
            if gr is not None:
                a += np.asarray(gr, np.float64) ** 2
        track()
    return dict(zip(names, acc))


def quantization_error(float_w: np.ndarray, axis: int, b: int, int8=None) -> np.ndarray:
    """(channels, K) squared error W - Q_b(W) of float weights (IR layout), per channel row.

    ``int8`` (values, per-channel scales) gives Q_8 as the int8 model holds it."""
    rows = channel_rows(np.asarray(float_w, np.float64), axis)
    n = rows.shape[0]
    if b == 8 and int8 is not None:
        q, s = int8
        deq = channel_rows(np.asarray(q), axis).astype(np.float64) * np.broadcast_to(np.asarray(s, np.float64), (n,))[:, None]
    else:
        q, s = requantize_channels(np.zeros(rows.shape, np.int8), np.ones(n), (b,) * n, rows)
        deq = q.astype(np.float64) * s[:, None]
    return (rows - deq) ** 2


def fisher_matrix(g: Graph, float_graph: Graph, sq_grads: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Weight tensor name -> (channels, 3) raw Fisher terms F[c, b] at widths (8, 4, 2)."""
    out = {}
    for i in weight_ops(g):
        op = g.ops[i]
        name = op.inputs[1]
        if name in out:
            continue
        if name not in sq_grads or name not in float_graph.tensors:
            raise FisherError(f"the float model has no weight tensor {name!r} of the int8 graph: the Fisher "
                              "sensitivity needs the float Keras model the int8 graph was quantized from")
        w = g.tensors[name]
        fw = np.asarray(float_graph.tensors[name].data, np.float64)
        if tuple(fw.shape) != tuple(w.shape):
            raise FisherError(f"{name}: float weights {fw.shape} do not match the int8 weights {w.shape}")
        axis = WEIGHT_AXIS[op.kind]
        g2 = channel_rows(sq_grads[name], axis)
        f = np.zeros((w.shape[axis], len(WIDTHS)))
        for j, b in enumerate(WIDTHS):
            f[:, j] = (g2 * quantization_error(fw, axis, b, (w.data, w.quant.scale))).sum(axis=1)
        out[name] = f
    return out


def fisher_sensitivity(g: Graph, calib: np.ndarray, float_graph: Graph | None, n: int = 64,
                       labels: np.ndarray | None = None, progress: bool = False) -> dict[str, np.ndarray]:
    """Weight tensor name -> (channels, 3) planner sensitivity at widths (8, 4, 2): F[c, b] - F[c, 8]
    (clipped at 0; 0 at 8 bits; the 2-bit value raised to the 4-bit one where lower)."""
    if float_graph is None:
        raise FisherError("the Fisher sensitivity needs the float model (a Keras model: its gradients); "
                          "use sensitivity='output' for an int8 .tflite")
    from .candidates import real_inputs

    x = real_inputs(g, np.asarray(calib)[:n])
    sq = squared_gradients(float_graph, x, None if labels is None else np.asarray(labels)[:n],
                           names=[g.ops[i].inputs[1] for i in weight_ops(g)], progress=progress)
    out = {}
    for name, f in fisher_matrix(g, float_graph, sq).items():
        s = np.maximum(f - f[:, :1], 0.0)
        s[:, 0] = 0.0
        s[:, 2] = np.maximum(s[:, 2], s[:, 1])
        out[name] = s
    return out

