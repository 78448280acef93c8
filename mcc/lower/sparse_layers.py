"""Choosing the unstructured-sparse kernels per layer, and the constants they read.

    sparse_records(g, records, has_dsp) -> records

After lowering, each FULLY_CONNECTED and 1x1 CONV_2D with int8 weights (symmetric, zero point 0)
is offered to ``mcc.lower.sparse.choose``: when the encoded weights are smaller in flash than the
dense int8 weights, or the sparse kernel's predicted executed instructions on this core (the DSP
model on DSP cores, the portable one elsewhere, the host included) are fewer than the dense
kernel's, its record is replaced by the same numbers in a ``Sparse*`` subclass. The subclass is
the choice: ``mcc.codegen.select.select_kernel`` maps it to ``mcc_fully_connected_sparse_s8`` /
``mcc_conv_1x1_sparse_s8`` (which take no scratch, so the memory planners give them none), and
the code generator emits the op's weight tensor as the encoded stream and its bias as the folded
bias (``sparse_constants``). The records keep every field of the dense ones (the C structs are the
same), so planners, patching and reports treat them as before.

A layer qualifies only when its weight and bias tensors are used by no other op (the stream and
the folded bias replace them in flash).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir import Graph, Op
from . import params as P
from . import sparse as S


@dataclass(frozen=True)
class SparseConvParams(P.ConvParams):
    """A 1x1 CONV_2D run by mcc_conv_1x1_sparse_s8 (same fields as ConvParams)."""


@dataclass(frozen=True)
class SparseFullyConnectedParams(P.FullyConnectedParams):
    """A FULLY_CONNECTED run by mcc_fully_connected_sparse_s8 (same fields)."""


SPARSE_RECORDS = {SparseConvParams: "mcc_conv_1x1_sparse_s8",
                  SparseFullyConnectedParams: "mcc_fully_connected_sparse_s8"}
_DENSE = {P.ConvParams: SparseConvParams, P.FullyConnectedParams: SparseFullyConnectedParams}


def _users(g: Graph) -> dict[str, int]:
    n: dict[str, int] = {}
    for op in g.ops:
        for t in op.inputs:
            if t is not None:
                n[t] = n.get(t, 0) + 1
    return n


def _candidate(g: Graph, op: Op, rec, users: dict[str, int]) -> bool:
    if type(rec) not in _DENSE or op.kind not in ("FULLY_CONNECTED", "CONV_2D"):
        return False
    if len(op.inputs) < 2 or op.inputs[1] is None:
        return False
    w = g.tensors[op.inputs[1]]
    if not w.is_const or w.dtype != "int8" or w.quant is None or any(z != 0 for z in w.quant.zero_point):
        return False
    if users.get(op.inputs[1], 0) != 1:
        return False
    bias = op.inputs[2] if len(op.inputs) > 2 else None
    if bias is not None:
        b = g.tensors[bias]
        if not b.is_const or b.dtype != "int32" or users.get(bias, 0) != 1:
            return False
    return True


def sparse_records(g: Graph, records: list, has_dsp: bool) -> list:
    """``records`` with the ops that run faster or smaller on a sparse kernel re-typed (see above)."""
    from ..codegen.select import select_sparse
    users = _users(g)
    out = []
    for op, rec in zip(g.ops, records):
        if rec is not None and _candidate(g, op, rec, users):
            w = np.asarray(g.tensors[op.inputs[1]].data)
            try:
                chosen = select_sparse(op.kind, rec, w, has_dsp)
            except S.SparseEncodingError:  # a row too long for the stream's uint16 counts: dense
                chosen = None
            if chosen is not None:
                rec = _DENSE[type(rec)](**{f: getattr(rec, f) for f in rec.__dataclass_fields__})
        out.append(rec)
    return out


@dataclass(frozen=True)
class SparseConstant:
    data: np.ndarray   # int8 stream or int32 folded bias
    comment: str


def sparse_constants(g: Graph, records: list) -> tuple[dict[str, SparseConstant], dict[int, SparseConstant]]:
    """({tensor name: what to emit instead} for the weights and biases of the sparse ops,
    {op index: the folded bias} for sparse ops without a bias tensor). Ops sharing a tensor (the
    row bands of one layer after patch-based execution) share its stream."""
    by_tensor: dict[str, SparseConstant] = {}
    no_bias: dict[int, SparseConstant] = {}
    for i, (op, rec) in enumerate(zip(g.ops, records)):
        if type(rec) not in SPARSE_RECORDS:
            continue
        wname = op.inputs[1]
        w = np.asarray(g.tensors[wname].data)
        bname = op.inputs[2] if len(op.inputs) > 2 else None
        bias = None if bname is None else np.asarray(g.tensors[bname].data)
        fb = S.folded_bias(bias, w, rec.input_offset)
        note = f"bias + input_offset ({rec.input_offset}) x row sums of the weights, for {SPARSE_RECORDS[type(rec)]}"
        if bname is None:
            no_bias[i] = SparseConstant(fb, note)
        else:
            by_tensor[bname] = SparseConstant(fb, note)
        if wname not in by_tensor:
            enc = S.encode(w)
            density = enc.nnz / w.size
            by_tensor[wname] = SparseConstant(
                enc.data, f"sparse encoding: density {100 * density:.1f} % ({enc.nnz} of {w.size} weights "
                f"nonzero), {enc.nbytes} bytes sparse vs {w.size} dense")
    return by_tensor, no_bias


def sparse_saved_bytes(g: Graph, records: list) -> int:
    """Flash bytes the sparse encodings save over the dense weights (negative when they cost;
    a folded bias without a bias tensor adds 4 bytes per row)."""
    by_tensor, no_bias = sparse_constants(g, records)
    saved = sum(g.tensors[n].nbytes - c.data.nbytes for n, c in by_tensor.items())
    return saved - sum(c.data.nbytes for c in no_bias.values())


def sparse_layer_bytes(layers: list, g: Graph, records: list) -> list:
    """``mcc.report.analysis.layer_table`` rows of ``g`` with the weight bytes of sparse ops as
    emitted (encoded stream + folded bias)."""
    import dataclasses

    by_tensor, no_bias = sparse_constants(g, records)
    out = []
    for i, (row, op) in enumerate(zip(layers, g.ops)):
        if type(records[i]) in SPARSE_RECORDS:
            consts = [t for t in op.inputs if t is not None and g.tensors[t].is_const]
            nbytes = sum(int(by_tensor[t].data.nbytes) if t in by_tensor else g.tensors[t].nbytes for t in consts)
            row = dataclasses.replace(row, weight_bytes=nbytes + (no_bias[i].data.nbytes if i in no_bias else 0))
        out.append(row)
    return out
