"""QAT at per-channel weight widths (a plan's 8/4/2 bits), exported with those widths.

    from mcc.optimize.qat_widths import qat_widths_model, export_widths
    from mcc.optimize.qat import fine_tune

    qat = qat_widths_model(model, plan.widths)   # weight tensor -> width per output channel
    fine_tune(qat, x_train, y_train, epochs=1)
    g = export_widths(qat)                       # int8 IR, the plan's widths; compile it like any graph

The model is mcc.optimize.qat's (the float IR run with keras.ops, activations fake-quantized to
int8 with EMA ranges, int32 biases fake-quantized at input scale x weight scale), except that the
weights of output channel c of a weight tensor are fake-quantized at the width the plan gives it:
symmetric, integer range +-(2^(b_c-1)-1), scale max|w_c| / (2^(b_c-1)-1), straight-through.
Tensors the plan does not name stay at 8 bits.

Export: the float IR with the trained weights is quantized with the learned ranges (as
``qat.export`` does), then ``set_weight_bits`` sets the plan's widths from the trained float
weights, which is the same rounding as the fake quantization (scale max|w_c| / qmax in float32,
round half away from zero), with the int32 biases at input scale x the new weight scales. The
result carries the widths (``QuantParams.widths``) the packed kernels use, and passes ``verify``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from keras import ops

from ..errors import MccError
from ..ir import Graph, Tensor, verify
from ..passes.weight_bits import WIDTHS, channel_rows, requantize_channels, set_weight_bits, _from_rows
from ..quant import params as Q
from .qat import LINEAR, WEIGHT_AXIS, QATModel, _safe


def _normalize(graph: Graph, widths: Mapping[str, int | Sequence[int]]) -> dict[str, tuple[int, ...]]:
    names = {op.inputs[1]: op for op in graph.ops if op.kind in LINEAR}
    unknown = sorted(set(widths) - set(names))
    if unknown:
        raise MccError(f"QAT widths: {unknown[0]!r} is not a convolution or fully connected weight tensor of the "
                       f"model (weights: {', '.join(sorted(names))})")
    out = {}
    for name, op in names.items():
        n = graph.tensors[name].shape[WEIGHT_AXIS[op.kind]]
        ws = widths.get(name, 8)
        ws = (int(ws),) * n if np.isscalar(ws) else tuple(int(b) for b in ws)
        if len(ws) != n:
            raise MccError(f"QAT widths: {name} has {n} output channels, got {len(ws)} widths")
        bad = sorted({b for b in ws if b not in WIDTHS})
        if bad:
            raise MccError(f"QAT widths: {name}: weight widths must be 8, 4 or 2 bits, got {bad}")
        out[name] = ws
    return out


class WidthsQATModel(QATModel):
    """QATModel whose weights are fake-quantized per output channel at the given widths."""

    def __init__(self, graph: Graph, widths: Mapping[str, Sequence[int]], **kwargs):
        super().__init__(graph, bits=8, **kwargs)
        self.widths = _normalize(graph, widths)
        self.qmax = {op.outputs[0]: np.array([(1 << (b - 1)) - 1 for b in self.widths[op.inputs[1]]], np.float32)
                     for op in graph.ops if op.kind in LINEAR}

    def _weight_qmax(self, op, ndim: int):
        """Each output channel's largest weight integer at its width, shaped against the weights."""
        shape = [1] * ndim
        shape[WEIGHT_AXIS[op.kind]] = -1
        return ops.reshape(ops.convert_to_tensor(self.qmax[op.outputs[0]]), shape)

    def float_graph(self, quantized_weights: bool = True) -> Graph:
        """The float IR with the current weights (rounded at the per-channel widths by default)."""
        g = super().float_graph(quantized_weights=False)
        if not quantized_weights:
            return g
        tensors = dict(g.tensors)
        for op in g.ops:
            if op.kind not in LINEAR:
                continue
            t = g.tensors[op.inputs[1]]
            axis = WEIGHT_AXIS[op.kind]
            rows = channel_rows(t.data, axis).astype(np.float64)
            ws = self.widths[op.inputs[1]]
            # 8-bit channels through the same per-channel formula (requantize_channels leaves them as given)
            q, s = requantize_channels(np.zeros(rows.shape, np.int8), np.ones(len(ws)),
                                       tuple(4 if b == 8 else b for b in ws), rows)
            for c, b in enumerate(ws):
                if b == 8:
                    m = float(np.abs(rows[c]).max()) if rows[c].size else 0.0
                    s[c] = float(np.float32(max(m, Q.NEAR_ZERO / 2) / 127))
                    q[c] = np.clip(Q.round_half_away(rows[c] / s[c]), -127, 127)
            deq = (q.astype(np.float64) * s[:, None]).astype(np.float32)
            tensors[t.name] = Tensor(t.name, t.shape, "float32", None, _from_rows(deq, t.shape, axis))
        return verify(g.replace(tensors=tensors))


def qat_widths_model(model, widths: Mapping[str, int | Sequence[int]], ema_decay: float = 0.99,
                     calib_data=None, calib_samples: int = 512) -> WidthsQATModel:
    """A new QAT Keras model of ``model`` (a keras.Model, a .keras/.h5 path or a float IR Graph) with
    weights fake-quantized at ``widths`` (weight tensor -> width or widths per output channel, e.g. a
    plan's ``widths``; others 8 bits). The user's model is not modified."""
    if isinstance(model, Graph):
        from ..passes.pipeline import run_float_passes
        g = run_float_passes(model)
    else:
        from ..frontend.keras import load_keras
        g = load_keras(model)
    if len(g.inputs) != 1 or len(g.outputs) != 1:
        raise MccError("QAT supports models with one input and one output")
    qat = WidthsQATModel(g, widths, ema_decay=ema_decay, name=f"qatw_{_safe(str(g.meta.get('source', 'model')))}")
    shape = g.tensors[g.inputs[0]].shape
    qat(np.zeros((1,) + tuple(shape[1:]), np.float32))
    if calib_data is not None:
        qat.init_ranges(np.asarray(calib_data, np.float32), calib_samples)
    return qat


def export_widths(qat: WidthsQATModel, io: str = "float", fold_input_rescale: bool = True) -> Graph:
    """The int8 IR graph of a trained per-channel-width QAT model, carrying its widths (verified)."""
    from ..passes.quantize import quantize

    fg = qat.float_graph(quantized_weights=False)
    q = quantize(fg, qat.ranges(), per_channel=True, io=io, fold_input_rescale=fold_input_rescale)
    names = {op.inputs[1] for op in q.ops if op.kind in LINEAR}
    missing = sorted(set(qat.widths) - names)
    if missing:  # cannot happen: quantize keeps every linear op and its weight names
        raise MccError(f"QAT export: the quantized graph has no weight tensor {missing[0]!r}")
    narrow = {k: v for k, v in qat.widths.items() if any(b != 8 for b in v)}
    g = set_weight_bits(q, narrow, float_graph=fg) if narrow else q
    meta = dict(g.meta, qat={"weight_bits": "per-channel", "activation_bits": 8, "ema_decay": qat.ema_decay})
    return verify(g.replace(meta=meta))


def plan_qat(g_float: Graph, plan_path, x, y, epochs: int, learning_rate: float, io: str = "float",
             target: str | None = None, freeze_bn_epoch: int = 0) -> Graph:
    """`mcc qat --plan`: QAT of the float IR at a plan's widths, exported with them."""
    from ..errors import InputDataError
    from ..planner.plan import read_plan
    from .qat import fine_tune

    if freeze_bn_epoch:
        raise MccError("--freeze-bn-epoch is not supported with --plan (the BatchNorm is folded before QAT)")
    p = read_plan(plan_path)
    if target is not None and target != "host" and p.target != target:
        raise InputDataError(f"{plan_path} was planned for {p.target}; train with -t {p.target} or plan again "
                             f"for {target}")
    qat = qat_widths_model(g_float, p.widths)
    fine_tune(qat, x, y, epochs=epochs, learning_rate=learning_rate)
    return export_widths(qat, io=io)
