"""Patch-based execution (MCUNetV2-style, in row bands) of the first high-resolution layers.

A *stage* is a prefix of the program, ops 0..e, that reads only the graph input and whose only
tensor read after it is the output T of op e (4-D NHWC). T's rows are split into n bands; for each
band the stage runs op by op on the band's receptive field: walking the stage backwards, every
tensor gets the (hull of the) rows its consumers need, clipped to the image. Each op of a band is
the original kernel on a smaller image:

* convolution, depthwise convolution, pooling: ``input_h`` = the rows it reads, ``output_h`` = the
  rows it writes, ``pad_h`` = the top padding left inside that window (``pad_h + lo - a * stride``,
  non-negative; bottom padding is implicit in the kernels' row bounds check, so interior bands read
  real rows only and border bands see exactly the original padding);
* elementwise ops (ADD without broadcast, QUANTIZE): the same rows of their inputs.

Bands span the full width, so a band of any tensor is contiguous in memory: the stage reads its
input as a view into the full input tensor and writes op e's band straight into T (views at a byte
offset, see ``mcc.planner.schedule``). Intermediate bands are separate small tensors that the
arena planner overlaps from band to band. Rows in the halo of two bands are recomputed; the plan
reports the extra MACs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ..ir import Graph, Op, Tensor
from ..lower import params as P
from .schedule import Program

_SPATIAL = (P.ConvParams, P.DepthwiseConvParams, P.PoolParams)


@dataclass(frozen=True)
class PatchInfo:
    stage_end: int      # index of the stage's last op in the unpatched program
    bands: int
    output: str         # the stage output T
    macs: int           # MACs of the patched program's stage
    stage_macs: int     # MACs of the same ops unpatched

    @property
    def overhead(self) -> float:
        return self.macs / self.stage_macs - 1 if self.stage_macs else 0.0


def _patchable(op, rec) -> bool:
    if isinstance(rec, _SPATIAL):
        return rec.input_n == 1
    if isinstance(rec, P.AddParams):
        full = _contiguous(rec.shape.out_dims)
        return tuple(rec.shape.in1_strides) == full and tuple(rec.shape.in2_strides) == full
    return isinstance(rec, (P.QuantizeParams, P.RequantizeParams))


def _contiguous(d) -> tuple:
    return (d[1] * d[2] * d[3], d[2] * d[3], d[3], 1)


def stage_ends(prog: Program) -> list[int]:
    """Op indices e such that ops 0..e form a stage that can be patched."""
    g = prog.graph
    acts = set(g.activations())
    produced: set[str] = set()
    ends = []
    for e, (op, rec) in enumerate(zip(g.ops, prog.records)):
        if rec is None or not _patchable(op, rec) or len(op.outputs) != 1:
            break
        if any(t in prog.views for t in op.outputs):
            break
        for t in op.inputs:
            if t in acts and t not in produced and t not in g.inputs:
                return ends
        produced.update(op.outputs)
        if any(len(g.tensors[t].shape) != 4 for t in op.outputs):
            break
        later = {t for o in g.ops[e + 1:] for t in o.inputs if t is not None} | set(g.outputs)
        escaping = produced & later
        if escaping == {op.outputs[0]} and op.outputs[0] not in g.outputs and e > 0:
            ends.append(e)
    return ends


def _in_rows(rec, a: int, b: int, h_in: int) -> tuple[int, int]:
    """Rows [lo, hi) of the input that output rows [a, b) read (clipped to the image)."""
    if isinstance(rec, _SPATIAL):
        if isinstance(rec, P.PoolParams):
            fh, dh = rec.filter_h, 1
        else:
            fh, dh = rec.filter_h, rec.dilation_h
        lo = a * rec.stride_h - rec.pad_h
        hi = (b - 1) * rec.stride_h - rec.pad_h + (fh - 1) * dh + 1
        return max(lo, 0), min(hi, h_in)
    return a, b


def _band_record(rec, a: int, b: int, lo: int, hi: int, width_elems: int):
    if isinstance(rec, _SPATIAL):
        pad = rec.pad_h + lo - a * rec.stride_h
        assert pad >= 0
        return replace(rec, input_h=hi - lo, output_h=b - a, pad_h=pad)
    if isinstance(rec, P.AddParams):
        d = (1, b - a, rec.shape.out_dims[2], rec.shape.out_dims[3])
        return replace(rec, shape=P.BroadcastShape(d, _contiguous(d), _contiguous(d)))
    return replace(rec, size=(b - a) * width_elems)


def _macs(rec) -> int:
    if isinstance(rec, P.ConvParams):
        return rec.output_h * rec.output_w * rec.output_c * rec.filter_h * rec.filter_w * rec.input_c
    if isinstance(rec, P.DepthwiseConvParams):
        return rec.output_h * rec.output_w * rec.output_c * rec.filter_h * rec.filter_w
    return 0


def _band_tensor(t: Tensor, name: str, rows: int) -> Tensor:
    return Tensor(name, (1, rows) + tuple(t.shape[2:]), t.dtype, t.quant)


def patch_program(prog: Program, stage_end: int, bands: int) -> tuple[Program, PatchInfo]:
    """``prog`` with ops 0..stage_end run in ``bands`` row bands of the stage output."""
    g = prog.graph
    stage = list(range(stage_end + 1))
    out_t = g.ops[stage_end].outputs[0]
    height = g.tensors[out_t].shape[1]
    bands = max(1, min(bands, height))
    step = math.ceil(height / bands)
    edges = [(y, min(y + step, height)) for y in range(0, height, step)]
    tensors = dict(g.tensors)
    views = dict(prog.views)
    ops: list[Op] = []
    records: list = []
    macs = 0

    def row_bytes(name):
        t = g.tensors[name]
        return t.nbytes // t.shape[1]

    for k, (y0, y1) in enumerate(edges):
        need: dict[str, tuple[int, int]] = {out_t: (y0, y1)}
        reads: dict[tuple[int, int], tuple[int, int]] = {}
        for i in reversed(stage):
            op, rec = g.ops[i], prog.records[i]
            a, b = need[op.outputs[0]]
            for j, t in enumerate(op.inputs):
                if t is None or g.tensors[t].is_const:
                    continue
                lo, hi = _in_rows(rec, a, b, g.tensors[t].shape[1])
                reads[(i, j)] = (lo, hi)
                c, e = need.get(t, (lo, hi))
                need[t] = (min(c, lo), max(e, hi))
        for i in stage:
            op, rec = g.ops[i], prog.records[i]
            out = op.outputs[0]
            a, b = need[out]
            oname = f"{out}@p{k}"
            tensors[oname] = _band_tensor(g.tensors[out], oname, b - a)
            if out == out_t:
                views[oname] = (out_t, a * row_bytes(out_t))
            ins = []
            for j, t in enumerate(op.inputs):
                if t is None or g.tensors[t].is_const:
                    ins.append(t)
                    continue
                lo, hi = reads[(i, j)]
                if t in g.inputs:  # a band of the full input
                    base, c = t, 0
                else:
                    base, c = f"{t}@p{k}", need[t][0]
                if t not in g.inputs and (lo, hi) == need[t]:
                    ins.append(base)
                    continue
                vname = f"{t}@p{k}r{lo}-{hi}"
                if vname not in tensors:
                    tensors[vname] = _band_tensor(g.tensors[t], vname, hi - lo)
                    views[vname] = (base, (lo - c) * row_bytes(t))
                ins.append(vname)
            t_in = next(t for t in op.inputs if t is not None and not g.tensors[t].is_const)
            lo, hi = reads[(i, op.inputs.index(t_in))]
            w = g.tensors[out].size // g.tensors[out].shape[1]
            brec = _band_record(rec, a, b, lo, hi, w)
            ops.append(Op(op.kind, tuple(ins), (oname,), op.attrs, f"{op.name}_p{k}"))
            records.append(brec)
            macs += _macs(brec)
    ops += list(g.ops[stage_end + 1:])
    records += list(prog.records[stage_end + 1:])
    used = {t for op in ops for t in list(op.inputs) + list(op.outputs) if t is not None}
    used |= set(g.inputs) | set(g.outputs)
    g2 = Graph({n: t for n, t in tensors.items() if n in used}, tuple(ops), g.inputs, g.outputs,
               dict(g.meta))
    views = {t: v for t, v in views.items() if t in used}
    stage_macs = sum(_macs(prog.records[i]) for i in stage)
    return Program(g2, tuple(records), views), PatchInfo(stage_end, len(edges), out_t, macs, stage_macs)
