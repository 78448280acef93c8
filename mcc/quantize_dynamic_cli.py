"""`mcc quantize --dynamic`: the weight table of a hybrid model and, with --eval, its accuracy."""

from __future__ import annotations

import numpy as np
from rich.table import Table

from .errors import MccError


def predict_hybrid(g, x: np.ndarray, chunk: int = 500) -> np.ndarray:
    """Outputs (N, classes) of a hybrid graph: the float64 reference (``mcc.reference.hybrid``)."""
    from .reference import hybrid

    return np.concatenate([hybrid.run(g, x[i:i + chunk]).reshape(len(x[i:i + chunk]), -1)
                           for i in range(0, len(x), chunk)])


def quantize_dynamic_cmd(model: str, weight_bits: int, io: str, eval_path: str | None, console) -> None:
    from .cli import _labelled
    from .evaluate import predict_float, top1
    from .frontend.keras import load_keras
    from .quantize_dynamic_api import quantize_dynamic_model

    if io != "float":
        raise MccError("dynamic quantization keeps float32 input and output; --io int8 needs static quantization")
    g = load_keras(model)
    q = quantize_dynamic_model(g, weight_bits)
    t = Table(title=f"{model}: PTQ dynamic, int{weight_bits} per-channel weights, float32 activations")
    for c in ("op", "weights", "dtype", "channels", "min scale", "max scale", "bytes", "float bytes"):
        t.add_column(c, justify="left" if c in ("op", "weights", "dtype") else "right")
    total = total_f = 0
    for op in q.ops:
        if op.kind not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            continue
        w = q.tensors[op.inputs[1]]
        s = w.quant.scale
        total, total_f = total + w.nbytes, total_f + 4 * w.size
        t.add_row(op.kind, w.name[:48], w.dtype, str(len(s)), f"{min(s):.4g}", f"{max(s):.4g}",
                  f"{w.nbytes:,}", f"{4 * w.size:,}")
    t.add_row("total", "", "", "", "", "", f"{total:,}", f"{total_f:,}")
    console.print(t)
    if eval_path:
        x, y = _labelled(eval_path)
        x = x.reshape((len(x),) + tuple(g.tensors[g.inputs[0]].shape[1:]))
        acc_f, acc_q = top1(predict_float(g, x), y), top1(predict_hybrid(q, x), y)
        console.print(f"top-1 on {len(x)} labelled inputs: float {100 * acc_f:.2f} %, dynamic int{weight_bits} "
                      f"{100 * acc_q:.2f} % ({100 * (acc_q - acc_f):+.2f} pp)")
