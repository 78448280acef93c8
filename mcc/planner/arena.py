"""Arena planning: lifetimes from the op order, then largest-first into the first gap.

A *buffer* is one region of the arena: an activation tensor (tensors joined by a RESHAPE share a
buffer, since a reshape is a view) or the scratch space of one op. Its lifetime is the closed
interval of op indices during which it must hold data: from the op that writes it (0 for graph
inputs) to the last op that reads it (the op count for graph outputs, which are read after the run).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ir import Graph

ALIGN = 16


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


@dataclass(frozen=True)
class Buffer:
    name: str                 # the buffer's representative tensor, or "scratch:<op index>"
    tensors: tuple[str, ...]  # tensors stored here (empty for scratch)
    size: int                 # bytes
    first: int
    last: int
    offset: int = -1

    def overlaps(self, other: "Buffer") -> bool:
        return self.first <= other.last and other.first <= self.last


@dataclass(frozen=True)
class ArenaPlan:
    buffers: tuple[Buffer, ...]
    arena_bytes: int
    lower_bound: int          # the largest sum of simultaneously live buffer sizes
    peak_op: int              # the op index where that sum is reached

    def offset_of(self, tensor: str) -> int:
        for b in self.buffers:
            if tensor in b.tensors:
                return b.offset
        raise KeyError(tensor)

    def scratch(self, op_index: int) -> Buffer | None:
        for b in self.buffers:
            if b.name == f"scratch:{op_index}":
                return b
        return None


def _views(g: Graph) -> dict[str, str]:
    """Map every activation tensor to the tensor that owns its storage (RESHAPE outputs alias)."""
    root: dict[str, str] = {t: t for t in g.activations()}
    for op in g.ops:
        if op.kind == "RESHAPE":
            root[op.outputs[0]] = root[op.inputs[0]]
    return root


def lifetimes(g: Graph, scratch: dict[int, int]) -> list[Buffer]:
    """Buffers with their lifetimes, in a deterministic order (activations, then scratch)."""
    root = _views(g)
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    members: dict[str, list[str]] = {}
    for t in g.activations():
        members.setdefault(root[t], []).append(t)
    for r in members:
        first[r] = len(g.ops)
        last[r] = 0
    for t in g.inputs:
        first[root[t]] = 0
    for i, op in enumerate(g.ops):
        for t in op.outputs:
            first[root[t]] = min(first[root[t]], i)
            last[root[t]] = max(last[root[t]], i)
        for t in op.inputs:
            if t is not None and t in root:
                last[root[t]] = max(last[root[t]], i)
    for t in g.outputs:
        last[root[t]] = len(g.ops)
    bufs = [Buffer(r, tuple(ts), max(g.tensors[t].nbytes for t in ts), first[r], last[r])
            for r, ts in members.items()]
    bufs += [Buffer(f"scratch:{i}", (), n, i, i) for i, n in sorted(scratch.items()) if n > 0]
    return bufs


def lower_bound(bufs: list[Buffer], n_ops: int) -> tuple[int, int]:
    """Largest total size of buffers live at the same op: no placement can use less."""
    best, where = 0, 0
    for i in range(n_ops + 1):
        live = sum(b.size for b in bufs if b.first <= i <= b.last)
        if live > best:
            best, where = live, i
    return best, where


def place_first_fit(bufs: list[Buffer]) -> list[Buffer]:
    """Largest first; each buffer goes into the lowest gap among placed buffers it overlaps in time."""
    order = sorted(bufs, key=lambda b: (-b.size, b.first, b.name))
    placed: list[Buffer] = []
    for b in order:
        busy = sorted((p.offset, p.offset + _align(p.size)) for p in placed if p.overlaps(b))
        offset = 0
        for start, end in busy:
            if offset + _align(b.size) <= start:
                break
            offset = max(offset, end)
        placed.append(Buffer(b.name, b.tensors, b.size, b.first, b.last, offset))
    index = {b.name: k for k, b in enumerate(bufs)}
    return sorted(placed, key=lambda b: index[b.name])


def plan_arena(g: Graph, scratch: dict[int, int] | None = None) -> ArenaPlan:
    """Plan the arena of ``g``; ``scratch`` maps op index -> scratch bytes that op needs."""
    bufs = lifetimes(g, scratch or {})
    placed = place_first_fit(bufs)
    arena = max((_align(b.offset + b.size) for b in placed), default=0)
    lb, peak = lower_bound(bufs, len(g.ops))
    return ArenaPlan(tuple(placed), arena, lb, peak)
