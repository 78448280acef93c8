"""Operator order search: the topological order of a branched graph with the lowest peak memory.

The peak of an order is the largest total size of the buffers live while one op runs (its inputs,
its outputs, every tensor computed earlier and read later, graph outputs, and the op's scratch);
with in-place execution an op that may write over a dying input adds no output buffer.

The memory while op v runs depends only on the *set* S of ops already done, so the best order is a
dynamic program over the downward-closed sets of the graph (exact: ``best[S + v] = min over
orders of max(best[S], mem(S, v))``). Chains and narrow residual graphs have few such sets; when a
layer of the search holds more than ``beam`` sets, the ones with the lowest (peak, live bytes) are
kept, which makes the search a beam search (then not guaranteed optimal; ``OrderResult.exact``
says which). Live bytes are carried from set to set, so one step costs O(op degree).
"""

from __future__ import annotations

from dataclasses import dataclass

from .schedule import Program, inplace_candidates


@dataclass(frozen=True)
class OrderResult:
    order: tuple[int, ...]   # op indices of the program, in the chosen execution order
    peak: int                # its peak live bytes (the lower bound of the reordered program)
    states: int              # downward-closed sets visited
    exact: bool              # no beam cut happened: the order is optimal


class _Model:
    """Roots, sizes and per-op reads/writes of a program, as bit masks over ops."""

    def __init__(self, prog: Program, scratch: dict[int, int], inplace: bool):
        g = prog.graph
        self.n = len(g.ops)
        root_of = {}
        size: dict[str, int] = {}
        for t in g.activations():
            r, off = prog.root(t)
            root_of[t] = r
            size[r] = max(size.get(r, 0), off + g.tensors[t].nbytes)
        self.roots = sorted(size)
        idx = {r: k for k, r in enumerate(self.roots)}
        self.size = [size[r] for r in self.roots]
        self.reads = [sorted({idx[root_of[t]] for t in op.inputs if t in root_of}) for op in g.ops]
        self.writes = [sorted({idx[root_of[t]] for t in op.outputs}) for op in g.ops]
        self.users = [0] * len(self.roots)
        self.writers = [0] * len(self.roots)
        for i in range(self.n):
            for r in self.reads[i]:
                self.users[r] |= 1 << i
            for r in self.writes[i]:
                self.writers[r] |= 1 << i
        self.inputs = {idx[prog.root(t)[0]] for t in g.inputs}
        self.outputs = {idx[prog.root(t)[0]] for t in g.outputs}
        self.scratch = [scratch.get(i, 0) for i in range(self.n)]
        prod = g.producers()
        self.preds = [0] * self.n
        for i, op in enumerate(g.ops):
            for t in op.inputs:
                if t is not None and t in prod:
                    self.preds[i] |= 1 << prod[t]
        # in-place: (input root, output root) pairs an op may share
        self.inplace = [[] for _ in range(self.n)]
        if inplace:
            for i, (op, rec) in enumerate(zip(g.ops, prog.records)):
                out = op.outputs[0]
                if out in g.outputs or out in prog.views:
                    continue
                for k in inplace_candidates(op, rec):
                    t = op.inputs[k]
                    if g.tensors[t].nbytes == g.tensors[out].nbytes:
                        self.inplace[i].append((idx[root_of[t]], idx[root_of[out]]))

    def is_live(self, r: int, done: int) -> bool:
        made = r in self.inputs or (self.writers[r] & done)
        return bool(made) and bool((self.users[r] & ~done) or r in self.outputs)

    def live_bytes(self, done: int) -> int:
        return sum(self.size[r] for r in range(len(self.roots)) if self.is_live(r, done))

    def step(self, done: int, live: int, v: int) -> tuple[int, int]:
        """(bytes while v runs, live bytes after it) from the live bytes before it."""
        new = [r for r in self.writes[v] if not self.is_live(r, done)]
        added = sum(self.size[r] for r in new)
        total = live + added
        for r_in, r_out in self.inplace[v]:
            if r_in in self.outputs or r_out not in new:
                continue
            rest = (self.users[r_in] | self.writers[r_in]) & ~done & ~(1 << v)
            if rest == 0:  # the input dies here: the output takes its place
                total -= self.size[r_out]
                break
        after = done | (1 << v)
        freed = sum(self.size[r] for r in set(self.reads[v]) | set(new)
                    if self.is_live(r, done) or r in new
                    if not self.is_live(r, after))
        return total + self.scratch[v], live + added - freed

    def peak(self, order) -> int:
        done, live, best = 0, self.live_bytes(0), 0
        for v in order:
            now, live = self.step(done, live, v)
            best = max(best, now)
            done |= 1 << v
        return best


def search_order(prog: Program, scratch: dict[int, int] | None = None, inplace: bool = True,
                 beam: int | None = None) -> OrderResult:
    """The topological order of ``prog``'s ops with the lowest peak (see the module doc).
    ``beam``: sets kept per layer (default 256, 64 above 48 ops, to bound the time on wide graphs)."""
    m = _Model(prog, scratch or {}, inplace)
    beam = beam if beam is not None else (256 if m.n <= 48 else 64)
    full = (1 << m.n) - 1
    layer = {0: (0, None, -1, m.live_bytes(0))}  # done set -> (peak, previous set, last op, live bytes)
    history = []
    states, exact = 1, True
    for _ in range(m.n):
        nxt: dict[int, tuple] = {}
        for done, (peak, _prev, _v, live) in layer.items():
            for v in range(m.n):
                bit = 1 << v
                if done & bit or (m.preds[v] & ~done):
                    continue
                now, after = m.step(done, live, v)
                p = max(peak, now)
                s = done | bit
                if s not in nxt or p < nxt[s][0] or (p == nxt[s][0] and v < nxt[s][2]):
                    nxt[s] = (p, done, v, after)
        states += len(nxt)
        if len(nxt) > beam:
            exact = False
            keep = sorted(nxt, key=lambda s: (nxt[s][0], nxt[s][3], s))[:beam]
            nxt = {s: nxt[s] for s in keep}
        history.append(nxt)
        layer = nxt
    order = []
    s = full
    for k in range(m.n - 1, -1, -1):
        _peak, prev, v, _live = history[k][s]
        order.append(v)
        s = prev
    order.reverse()
    return OrderResult(tuple(order), history[-1][full][0], states, exact)


def order_peak(prog: Program, order, scratch: dict[int, int] | None = None, inplace: bool = True) -> int:
    """The peak of one given order under the same memory model as the search."""
    return _Model(prog, scratch or {}, inplace).peak(order)
