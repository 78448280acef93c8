"""Programs with tensor views: lifetimes, in-place execution and arena placement.

A :class:`Program` is what the code generator runs: a graph (ops in execution order), one kernel
params record per op (None for a view op such as RESHAPE) and a table of *views*: a tensor that is
stored inside another tensor's bytes at a byte offset. Views come from

* RESHAPE (the output is its input, offset 0),
* in-place execution (an elementwise op writes its output over an input that dies at that op),
* patch-based execution (``mcc.planner.patch``: a band of rows of a full tensor).

Storage is owned by *root* tensors; a root's lifetime runs from the first op that writes any of its
views to the last op that reads any of them, and its size covers every view. Roots and per-op
scratch are then placed with the first-fit placement of ``mcc.planner.arena``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..ir import Graph
from ..lower import params as P
from .arena import ArenaPlan, Buffer, _align, lower_bound, place_first_fit


@dataclass(frozen=True)
class Program:
    graph: Graph
    records: tuple
    views: dict = field(default_factory=dict)  # tensor -> (storage tensor, byte offset)

    def root(self, t: str) -> tuple[str, int]:
        """The tensor owning ``t``'s storage and ``t``'s byte offset in it."""
        off = 0
        while t in self.views:
            t, o = self.views[t]
            off += o
        return t, off


@dataclass(frozen=True)
class MemoryPlan(ArenaPlan):
    """An arena plan whose tensors may be views at an offset inside a buffer."""
    tensor_offsets: dict = field(default_factory=dict)  # tensor -> byte offset in the arena

    def offset_of(self, tensor: str) -> int:
        return self.tensor_offsets[tensor]


def program_of(g: Graph, records) -> Program:
    """The straightforward program of ``g``: RESHAPE outputs are views of their inputs."""
    views = {op.outputs[0]: (op.inputs[0], 0) for op in g.ops if op.kind == "RESHAPE"}
    return Program(g, tuple(records), views)


def _activation_names(g: Graph) -> list[str]:
    names = list(g.activations())
    seen = set(names)
    for op in g.ops:  # views read by an op but written by none (bands of a full tensor)
        for t in op.inputs:
            if t is not None and not g.tensors[t].is_const and t not in seen:
                seen.add(t)
                names.append(t)
    return names


def root_lifetimes(prog: Program, scratch: dict[int, int]) -> list[Buffer]:
    """One buffer per storage root (with every tensor it holds), then one per op's scratch."""
    g = prog.graph
    n = len(g.ops)
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    size: dict[str, int] = {}
    members: dict[str, list[str]] = {}
    for t in _activation_names(g):
        r, off = prog.root(t)
        members.setdefault(r, []).append(t)
        size[r] = max(size.get(r, 0), off + g.tensors[t].nbytes)
        first.setdefault(r, n)
        last.setdefault(r, 0)
    for t in g.inputs:
        first[prog.root(t)[0]] = 0
    for i, op in enumerate(g.ops):
        for t in op.outputs:
            r = prog.root(t)[0]
            first[r] = min(first[r], i)
            last[r] = max(last[r], i)
        for t in op.inputs:
            if t is not None and not g.tensors[t].is_const:
                r = prog.root(t)[0]
                last[r] = max(last[r], i)
                first[r] = min(first[r], i)
    for t in g.outputs:
        last[prog.root(t)[0]] = n
    bufs = [Buffer(r, tuple(ts), size[r], first[r], last[r]) for r, ts in members.items()]
    bufs += [Buffer(f"scratch:{i}", (), b, i, i) for i, b in sorted(scratch.items()) if b > 0]
    return bufs


def plan_program(prog: Program, scratch: dict[int, int]) -> MemoryPlan:
    """First-fit placement of the program's roots and scratch; every tensor gets an arena offset."""
    bufs = root_lifetimes(prog, scratch)
    placed = place_first_fit(bufs)
    arena = max((_align(b.offset + b.size) for b in placed), default=0)
    lb, peak = lower_bound(bufs, len(prog.graph.ops))
    where = {b.name: b.offset for b in placed}
    offsets = {}
    for t in _activation_names(prog.graph):
        r, off = prog.root(t)
        offsets[t] = where[r] + off
    return MemoryPlan(tuple(placed), arena, lb, peak, offsets)


# --- in-place execution --------------------------------------------------------------------------


def _contiguous(shape4) -> tuple[int, int, int, int]:
    return tuple(int(np.prod(shape4[i + 1:], dtype=np.int64)) for i in range(4))


def inplace_candidates(op, record) -> tuple[int, ...]:
    """Inputs (by position) the op's C kernel may overwrite with its output.

    ``mcc_add_s8`` reads element i of both inputs before it writes output element i, walking the
    three in the same order; with no broadcasting (both inputs have the output's contiguous
    strides) output i lands exactly on input i, so writing over an input is safe. Broadcast ADD,
    MUL and every other kernel are left out-of-place. ``mcc_requantize_s8`` (int8 QUANTIZE) reads
    input[i] and then writes output[i] in one loop: safe as well."""
    if isinstance(record, P.RequantizeParams):
        return (0,)
    if isinstance(record, P.AddParams):
        s = record.shape
        full = _contiguous(s.out_dims)
        if tuple(s.in1_strides) == full and tuple(s.in2_strides) == full:
            return (0, 1)
    return ()


def apply_inplace(prog: Program) -> Program:
    """Let each in-place-safe op write over an input whose storage dies at that op."""
    g = prog.graph
    views = dict(prog.views)
    cur = Program(g, prog.records, views)
    n = len(g.ops)
    outputs = {cur.root(t)[0] for t in g.outputs}
    for i, (op, rec) in enumerate(zip(g.ops, prog.records)):
        cands = inplace_candidates(op, rec)
        if not cands:
            continue
        out = op.outputs[0]
        if out in views or out in g.outputs:
            continue
        roots = [cur.root(t)[0] for t in op.inputs]
        for k in cands:
            t = op.inputs[k]
            r = roots[k]
            if r in outputs or g.tensors[t].nbytes != g.tensors[out].nbytes:
                continue
            if any(roots[j] == r and op.inputs[j] != t for j in range(len(op.inputs)) if j != k):
                continue  # the other input is another view of the same storage
            if _last_use(cur, r, n) != i:
                continue
            views[out] = (t, 0)
            break
    return Program(g, prog.records, views)


def _last_use(prog: Program, root: str, n: int) -> int:
    g = prog.graph
    last = -1
    for i, op in enumerate(g.ops):
        for t in list(op.inputs) + list(op.outputs):
            if t is not None and not g.tensors[t].is_const and prog.root(t)[0] == root:
                last = i
    for t in g.outputs:
        if prog.root(t)[0] == root:
            last = n
    return last


def reorder(prog: Program, order: list[int]) -> Program:
    g = prog.graph
    return Program(g.replace(ops=tuple(g.ops[i] for i in order)),
                   tuple(prog.records[i] for i in order), dict(prog.views))


def with_records(prog: Program, records) -> Program:
    return replace(prog, records=tuple(records))
