"""Per-layer figures: op, shapes, MACs, weight bytes, activation bytes."""

from __future__ import annotations

from dataclasses import dataclass

from ..ir import Graph
from ..planner import ArenaPlan


@dataclass(frozen=True)
class LayerInfo:
    index: int
    kind: str
    input_shapes: tuple[tuple[int, ...], ...]
    output_shape: tuple[int, ...]
    macs: int
    weight_bytes: int
    activation_bytes: int  # bytes of the op's non-constant inputs and outputs
    live_bytes: int        # bytes of all buffers live while the op runs

    def as_dict(self) -> dict:
        return {"index": self.index, "op": self.kind, "input_shapes": [list(s) for s in self.input_shapes],
                "output_shape": list(self.output_shape), "macs": self.macs, "weight_bytes": self.weight_bytes,
                "activation_bytes": self.activation_bytes, "live_bytes": self.live_bytes}


def _macs(g: Graph, op) -> int:
    out = g.tensors[op.outputs[0]]
    n_out = out.size
    if op.kind == "CONV_2D":
        w = g.tensors[op.inputs[1]]
        return n_out * w.shape[1] * w.shape[2] * w.shape[3]
    if op.kind == "DEPTHWISE_CONV_2D":
        w = g.tensors[op.inputs[1]]
        return n_out * w.shape[1] * w.shape[2]
    if op.kind == "FULLY_CONNECTED":
        return n_out * g.tensors[op.inputs[1]].shape[1]
    return 0


def layer_table(g: Graph, plan: ArenaPlan) -> list[LayerInfo]:
    rows = []
    for i, op in enumerate(g.ops):
        ins = [g.tensors[t] for t in op.inputs if t is not None]
        acts = [t for t in ins if not t.is_const] + [g.tensors[t] for t in op.outputs]
        live = sum(b.size for b in plan.buffers if b.first <= i <= b.last)
        rows.append(LayerInfo(
            i, op.kind, tuple(t.shape for t in ins if not t.is_const), g.tensors[op.outputs[0]].shape,
            int(_macs(g, op)), int(sum(t.nbytes for t in ins if t.is_const)),
            int(sum(t.nbytes for t in acts)), int(live)))
    return rows
