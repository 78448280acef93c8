"""Per-channel sensitivity of an int8 model to narrower weights, from calibration data.

The measure is output error, without gradients (the Fisher estimate is mcc.planner.fisher). For
each weight layer L and width b in (4, 2):

1. Layer-output error per channel. Channel c's weights quantized to b bits (exactly as
   ``set_weight_bits`` does it, from the float weights when given) change by dW_c; the change of
   the layer's output channel c is the linear op applied to the layer's real input with dW_c
   (output channel c of a convolution or fully connected layer depends on its own weights only).
   ``e[c, b]`` is its mean square over the calibration inputs and output positions. The layer's
   real input comes from a run of the numpy reference interpreter (the TFLM-exact int8 model).
2. Model-output error of the layer. The whole layer quantized to b bits, the int8 model run again
   with the reference interpreter: ``M[L, b]`` is the mean over inputs of the squared change of the
   dequantized model output (summed over its elements).
3. ``sens[c, b] = M[L, b] * e[c, b] / sum_c e[c, b]``: the layer's measured effect on the model
   output, shared among its channels by their share of the layer-output error. So sensitivities
   of different layers are comparable (they are in model-output units) while each channel is
   still told apart. 8 bits is the reference (0). Sensitivity at 2 bits is at least that at 4.

The model output compared in 2. and 3. is, with ``at``: the dequantized output ("output"), the
logits, i.e. the input of the final SOFTMAX ("logits", squared change), or the KL divergence of
their softmax from the int8 model's ("kl"); ``sensitivities`` gives all three from the same runs.

It costs 2 reference runs per weight layer plus one, on ``n`` calibration inputs.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputDataError
from ..ir import Graph
from ..passes.rebatch import rebatch
from ..passes.weight_bits import WEIGHT_AXIS, channel_rows, requantize_channels, set_weight_bits, weight_ops
from ..reference import float_interp, interp
from .bits import WIDTHS


def graph_inputs(g: Graph, x: np.ndarray) -> np.ndarray:
    """Float calibration inputs (N, ...) as the graph's input tensor type (quantized if int8)."""
    t = g.tensors[g.inputs[0]]
    x = np.asarray(x)
    if x.size // max(len(x), 1) != int(np.prod(t.shape[1:])):
        raise InputDataError(f"calibration inputs have shape {x.shape}; the model takes (N, "
                             f"{', '.join(map(str, t.shape[1:]))})")
    x = x.reshape((len(x),) + tuple(t.shape[1:]))
    if t.dtype == "float32":
        return x.astype(np.float32)
    if x.dtype == np.dtype(t.dtype):
        return x
    q = t.quant
    return np.clip(np.round(x.astype(np.float32) / q.s) + q.zp, -128, 127).astype(np.int8)


def _dequant(g: Graph, name: str, v: np.ndarray) -> np.ndarray:
    t = g.tensors[name]
    if t.dtype == "float32":
        return np.asarray(v, np.float32)
    return (t.quant.s * (v.astype(np.float32) - t.quant.zp)).astype(np.float32)


def model_output(g: Graph, x: np.ndarray) -> np.ndarray:
    """Dequantized model outputs (N, -1) on graph-typed inputs ``x``."""
    y = interp.run(rebatch(g, len(x)), [x])[0]
    return _dequant(g, g.outputs[0], y).reshape(len(x), -1)


MEASURES = ("output", "logits", "kl")


PASS_THROUGH = ("DEQUANTIZE", "QUANTIZE", "RESHAPE")


def final_softmax(g: Graph):
    """The SOFTMAX op that makes the model output (through DEQUANTIZE / QUANTIZE / RESHAPE), or None."""
    name = g.outputs[0]
    while True:
        op = next((o for o in g.ops if name in o.outputs), None)
        if op is None:
            return None
        if op.kind == "SOFTMAX":
            return op
        if op.kind not in PASS_THROUGH:
            return None
        name = op.inputs[0]


def logits_tensor(g: Graph) -> str:
    """The input of the model's final SOFTMAX (its logits), else the model output."""
    op = final_softmax(g)
    return g.outputs[0] if op is None else op.inputs[0]


def measured(g: Graph, x: np.ndarray, at: str = "output", env: dict | None = None) -> np.ndarray:
    """(N, -1) dequantized values the sensitivity compares: the model output, or its logits ("logits"
    and "kl"; see ``logits_tensor``). ``env``: a ``keep_all`` run of ``g`` on ``x`` to read them from."""
    if at not in MEASURES:
        raise ValueError(f"at must be one of {', '.join(MEASURES)}, got {at!r}")
    name = g.outputs[0] if at == "output" else logits_tensor(g)
    if env is None:
        env = interp.run(rebatch(g, len(x)), [x], keep_all=name != g.outputs[0])
        if not isinstance(env, dict):
            env = {g.outputs[0]: env[0]}
    return _dequant(g, name, env[name]).reshape(len(x), -1).astype(np.float64)


def output_change(y0: np.ndarray, yb: np.ndarray, at: str = "output") -> float:
    """Mean over inputs of the squared change of the outputs (``at`` "output" or "logits") or of the
    KL divergence KL(softmax(y0) || softmax(yb)) of the logits ("kl")."""
    if at != "kl":
        return float(((yb - y0) ** 2).sum(axis=1).mean())
    l0 = y0 - y0.max(axis=1, keepdims=True)
    lb = yb - yb.max(axis=1, keepdims=True)
    l0 = l0 - np.log(np.exp(l0).sum(axis=1, keepdims=True))
    lb = lb - np.log(np.exp(lb).sum(axis=1, keepdims=True))
    return float((np.exp(l0) * (l0 - lb)).sum(axis=1).mean())


def layer_errors(g: Graph, env: dict, op_index: int, float_graph: Graph | None = None) -> np.ndarray:
    """(channels, 3) mean square change of the op's output channels at each width (0 at 8 bits)."""
    op = g.ops[op_index]
    w = g.tensors[op.inputs[1]]
    axis = WEIGHT_AXIS[op.kind]
    n = w.shape[axis]
    x = _dequant(g, op.inputs[0], env[op.inputs[0]])
    scales = np.broadcast_to(np.asarray(w.quant.scale, np.float64), (n,))
    rows = channel_rows(w.data, axis).astype(np.float64)
    real = rows * scales[:, None]
    frows = None
    if float_graph is not None and w.name in float_graph.tensors and float_graph.tensors[w.name].is_const:
        fw = float_graph.tensors[w.name].data
        if tuple(fw.shape) == tuple(w.shape):
            frows = channel_rows(fw, axis).astype(np.float64)
    out = np.zeros((n, len(WIDTHS)))
    for j, b in enumerate(WIDTHS):
        if b == 8:
            continue
        q, s = requantize_channels(rows, scales, (b,) * n, frows)
        delta = q.astype(np.float64) * s[:, None] - real
        dw = np.moveaxis(delta.reshape((n,) + tuple(np.delete(w.shape, axis))), 0, axis).astype(np.float32)
        y = float_interp._RUNNERS[op.kind](op, [x, dw])  # the linear part only (no bias, no activation)
        y = np.asarray(y, np.float64).reshape(-1, n)
        out[:, j] = (y ** 2).mean(axis=0)
    return out


def sensitivity(g: Graph, calib: np.ndarray, float_graph: Graph | None = None, n: int = 64,
                progress: bool = False, at: str = "output") -> dict[str, np.ndarray]:
    """Weight tensor name -> (channels, 3) sensitivity at widths (8, 4, 2) (see the module doc);
    ``at``: the model-output error measured on the output, the logits or their KL (``measured``)."""
    return sensitivities(g, calib, float_graph, n, progress, (at,))[at]


def sensitivities(g: Graph, calib: np.ndarray, float_graph: Graph | None = None, n: int = 64,
                  progress: bool = False, ats: tuple[str, ...] = MEASURES) -> dict[str, dict[str, np.ndarray]]:
    """``sensitivity`` at each measure of ``ats`` ({measure: {weight tensor: (channels, 3)}}), from the
    same reference runs."""
    for at in ats:
        if at not in MEASURES:
            raise ValueError(f"at must be one of {', '.join(MEASURES)}, got {at!r}")
    x = graph_inputs(g, calib[:n])
    env = interp.run(rebatch(g, len(x)), [x], keep_all=True)
    y0 = {at: measured(g, x, at, env) for at in ats}
    ops = weight_ops(g)
    out: dict[str, dict[str, np.ndarray]] = {at: {} for at in ats}
    track = _progress(progress, len(ops))
    for i in ops:
        op = g.ops[i]
        name = op.inputs[1]
        if name in out[ats[0]]:
            continue
        e = layer_errors(g, env, i, float_graph)
        s = {at: np.zeros_like(e) for at in ats}
        for j, b in enumerate(WIDTHS):
            if b == 8:
                continue
            gb = set_weight_bits(g, {name: b}, float_graph)
            envb = interp.run(rebatch(gb, len(x)), [x], keep_all=True)
            total = e[:, j].sum()
            for at in ats:
                m = output_change(y0[at], measured(gb, x, at, envb), at)
                if total > 0:
                    s[at][:, j] = (m + 1e-12) * e[:, j] / total
        for at in ats:
            s[at][:, 2] = np.maximum(s[at][:, 2], s[at][:, 1])
            out[at][name] = s[at]
        track()
    return out


def _progress(enabled: bool, total: int):
    if not enabled:
        return lambda: None
    from rich.progress import Progress

    p = Progress(transient=True)
    p.start()
    task = p.add_task("sensitivity per layer", total=total)

    def step():
        p.advance(task)
        if p.tasks[task].completed >= total:
            p.stop()
    return step
