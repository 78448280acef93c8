"""Lowering of CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED whose weights are narrower than 8 bits.

A weight tensor whose channels have widths other than all-8 (``QuantParams.widths``) is stored
packed (``mcc.lower.packing``) and run by the ``mcc_*_packed`` kernels: its op lowers to the int8
record of ``mcc.lower.lowering`` wrapped with the per-channel widths. Everything else lowers as
before. The numbers are those of the int8 record: the values are the same int8 values, only their
storage differs, so the numpy reference interpreter needs no change.
"""

from __future__ import annotations

import numpy as np

from ..errors import UnsupportedOperatorError
from ..ir import Graph, Op
from . import params as P
from .lowering import lower_op
from .packing import pack, packed_size

# op kind -> (channel axis of its weight tensor, packed record class)
PACKED_OPS = {
    "CONV_2D": (0, P.ConvPackedParams),
    "DEPTHWISE_CONV_2D": (3, P.DepthwiseConvPackedParams),
    "FULLY_CONNECTED": (0, P.FullyConnectedPackedParams),
}
PACKED_RECORDS = tuple(cls for _, cls in PACKED_OPS.values())


def weight_widths(g: Graph, op: Op) -> tuple[int, ...] | None:
    """The per-channel widths of ``op``'s weights when some are below 8 bits, else None."""
    if op.kind not in PACKED_OPS or len(op.inputs) < 2 or op.inputs[1] is None:
        return None
    w = g.tensors[op.inputs[1]]
    if w.quant is None or not w.is_const or w.dtype != "int8":  # int16 weights (PTQ dynamic) are not packed
        return None
    widths = tuple(int(b) for b in w.quant.widths(w.shape[PACKED_OPS[op.kind][0]]))
    return None if all(b >= 8 for b in widths) else widths


def lower_packed(g: Graph, op: Op):
    """``lower_op``, with sub-byte weights wrapped into the packed record."""
    rec = lower_op(g, op)
    widths = weight_widths(g, op)
    if widths is None:
        return rec
    w = g.tensors[op.inputs[1]]
    if any(z != 0 for z in w.quant.zero_point):
        raise UnsupportedOperatorError(
            f"{op.kind} {op.name or op.outputs[0]}: sub-byte weights must be symmetric (zero point 0)")
    return PACKED_OPS[op.kind][1](rec, np.asarray(widths, dtype=np.uint8))


def packed_tensors(g: Graph) -> dict[str, np.ndarray]:
    """{weight tensor name: its packed bytes (uint8)} for every sub-byte weight tensor of ``g``."""
    out: dict[str, np.ndarray] = {}
    for op in g.ops:
        widths = weight_widths(g, op)
        if widths is not None and op.inputs[1] not in out:
            w = g.tensors[op.inputs[1]]
            axis = PACKED_OPS[op.kind][0]
            data = pack(np.asarray(w.data), widths, axis)
            assert data.size == packed_size(w.shape, widths, axis)
            out[op.inputs[1]] = data
    return out


def stored_bytes(g: Graph, name: str) -> int:
    """Flash bytes of constant ``name`` as emitted (packed size for sub-byte weights)."""
    for op in g.ops:
        if len(op.inputs) > 1 and op.inputs[1] == name:
            widths = weight_widths(g, op)
            if widths is not None:
                return packed_size(g.tensors[name].shape, widths, PACKED_OPS[op.kind][0])
    return g.tensors[name].nbytes


def stored_weight_bytes(g: Graph) -> int:
    """Flash bytes of all constants of ``g`` as emitted."""
    return sum(stored_bytes(g, n) for n in g.constants())
