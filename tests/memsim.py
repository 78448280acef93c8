"""Independent checks of arena plans (they use only op order, tensor offsets and kernel records,
never the planner's own notion of roots, views or lifetimes).

* ``simulate``: run a program on a real byte arena in numpy: every op reads its inputs from the
  arena at the plan's offsets and writes its output there (the reference kernels on the op's
  record). A plan that lets a buffer be overwritten while still needed gives wrong outputs.
* ``overlaps``: pairs of tensors that share bytes while both hold live data, from per-tensor
  lifetimes computed here; with the aliasing each kernel allows (RESHAPE, in-place ADD) named.
"""

from __future__ import annotations

import numpy as np

from mcc.reference.interp import _RUNNERS


def simulate(prog, plan, x: np.ndarray) -> np.ndarray:
    g = prog.graph
    arena = np.zeros(plan.arena_bytes + 64, dtype=np.uint8)

    def put(name, arr):
        off = plan.offset_of(name)
        b = np.ascontiguousarray(arr).view(np.uint8).reshape(-1)
        assert off + b.size <= plan.arena_bytes, f"{name} ends past the arena"
        arena[off:off + b.size] = b

    def get(name):
        t = g.tensors[name]
        off = plan.offset_of(name)
        return arena[off:off + t.nbytes].copy().view(t.dtype).reshape(t.shape)

    put(g.inputs[0], x.astype(g.tensors[g.inputs[0]].dtype))
    for op, rec in zip(g.ops, prog.records):
        if rec is None:
            assert op.kind == "RESHAPE"
            continue
        args = [None if n is None else g.tensors[n].data if g.tensors[n].is_const else get(n)
                for n in op.inputs]
        out = g.tensors[op.outputs[0]]
        put(op.outputs[0], _RUNNERS[op.kind](rec, args).reshape(out.shape).astype(out.dtype))
    return get(g.outputs[0])


def tensor_lifetimes(g) -> dict[str, tuple[int, int]]:
    """Per tensor: [op that writes it (0: graph input), last op that reads it (n: graph output)]."""
    n = len(g.ops)
    life = {t: [0, 0] for t in g.inputs}
    for i, op in enumerate(g.ops):
        for t in op.outputs:
            life[t] = [i, i]
        for t in op.inputs:
            if t is not None and t in life:
                life[t][1] = max(life[t][1], i)
    for t in g.outputs:
        life[t][1] = n
    return {t: tuple(v) for t, v in life.items()}


def overlaps(g, plan) -> list[tuple[str, str]]:
    """Tensors live at the same op whose byte ranges intersect, except a RESHAPE output with its
    input and an ADD or int8 QUANTIZE output with an input it reads for the last time (in place)."""
    life = tensor_lifetimes(g)
    allowed = set()
    for i, op in enumerate(g.ops):
        if op.kind == "RESHAPE":
            allowed.add(frozenset((op.inputs[0], op.outputs[0])))
        if op.kind == "ADD" or (op.kind == "QUANTIZE" and g.tensors[op.inputs[0]].dtype == "int8"):
            for t in op.inputs:
                if life[t][1] == i and g.tensors[t].shape == g.tensors[op.outputs[0]].shape:
                    allowed.add(frozenset((t, op.outputs[0])))
    # RESHAPE chains: a tensor and every reshape of it are one value
    names = sorted(life)
    bad = []
    for a_i, a in enumerate(names):
        for b in names[a_i + 1:]:
            (fa, la), (fb, lb) = life[a], life[b]
            if not (fa <= lb and fb <= la):
                continue
            oa, ob = plan.offset_of(a), plan.offset_of(b)
            if oa < ob + g.tensors[b].nbytes and ob < oa + g.tensors[a].nbytes:
                if frozenset((a, b)) not in allowed and not _same_value(g, a, b):
                    bad.append((a, b))
    return bad


def _same_value(g, a, b) -> bool:
    src = {op.outputs[0]: op.inputs[0] for op in g.ops if op.kind == "RESHAPE"}

    def base(t):
        while t in src:
            t = src[t]
        return t
    return base(a) == base(b)


def scratch_overlaps(g, plan) -> list[tuple[int, str]]:
    """(op, tensor) pairs where op i's scratch shares bytes with a tensor live at op i."""
    life = tensor_lifetimes(g)
    bad = []
    for i in range(len(g.ops)):
        s = plan.scratch(i)
        if s is None:
            continue
        for t, (f, last) in life.items():
            o = plan.offset_of(t)
            if f <= i <= last and o < s.offset + s.size and s.offset < o + g.tensors[t].nbytes:
                bad.append((i, t))
    return bad
