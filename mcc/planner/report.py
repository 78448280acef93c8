"""Memory plan report: the steps (first fit, order search, in-place, patches), the lower bound,
the patch stage, and the plan's buffers; as a dict for mcc.json and as rich tables."""

from __future__ import annotations

from rich.table import Table


def memory_summary(mem) -> dict:
    """A JSON-able summary of a ``MemoryResult``."""
    d = {
        "steps": {k: {"arena_bytes": p.arena_bytes, "lower_bound": p.lower_bound}
                  for k, p in mem.steps.items()},
        "arena_bytes": mem.plan.arena_bytes, "lower_bound": mem.plan.lower_bound,
        "peak_op": mem.plan.peak_op,
        "order": list(mem.order.order), "order_exact": mem.order.exact, "order_states": mem.order.states,
        "inplace": inplace_ops(mem.program),
        "patch": None,
    }
    if mem.patch is not None:
        p = mem.patch
        d["patch"] = {"stage_end": p.stage_end, "bands": p.bands, "output": p.output,
                      "stage_macs": p.stage_macs, "patched_macs": p.macs,
                      "recompute_overhead": round(p.overhead, 4)}
    return d


def steps_table(mem, title: str = "memory plan") -> Table:
    t = Table(title=title)
    for c in ("step", "arena B", "lower bound B", "vs first fit"):
        t.add_column(c, justify="left" if c == "step" else "right")
    base = mem.steps["first fit"].arena_bytes
    for k, p in mem.steps.items():
        t.add_row(k, f"{p.arena_bytes:,}", f"{p.lower_bound:,}", f"{p.arena_bytes / base:.3f}")
    return t


def plan_lines(mem) -> list[str]:
    """One line each on the order, the in-place ops and the patch stage."""
    lines = [f"op order: {' '.join(map(str, mem.order.order))} "
             f"({'optimal' if mem.order.exact else 'beam search'}, {mem.order.states} states)"]
    s = memory_summary(mem)
    lines.append(f"in-place ops: {', '.join(s['inplace']) or 'none'}")
    if mem.patch is not None:
        p = mem.patch
        lines.append(f"patch-based: ops 0..{p.stage_end} in {p.bands} row bands; stage MACs "
                     f"{p.stage_macs:,} -> {p.macs:,} (+{100 * p.overhead:.1f} % recompute)")
    else:
        lines.append("patch-based: not used (no gain)")
    return lines


def inplace_ops(prog) -> list[str]:
    """Names of the ops that write their output over one of their inputs."""
    return [op.name for op in prog.graph.ops if op.kind != "RESHAPE" and op.outputs[0] in prog.views
            and prog.views[op.outputs[0]][0] in op.inputs]
