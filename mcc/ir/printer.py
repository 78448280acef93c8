"""A plain-text listing of a graph, for debugging and golden tests."""

from __future__ import annotations

from .graph import Graph


def _tdesc(g: Graph, name: str | None) -> str:
    if name is None:
        return "-"
    t = g.tensors[name]
    q = ""
    if t.quant is not None:
        if len(t.quant.scale) == 1:
            q = f" s={t.quant.scale[0]:.6g} zp={t.quant.zero_point[0]}"
        else:
            q = f" per-channel[{len(t.quant.scale)}]"
    c = " const" if t.is_const else ""
    return f"{name}:{t.dtype}{list(t.shape)}{q}{c}"


def format_graph(g: Graph) -> str:
    lines = [f"inputs: {', '.join(_tdesc(g, n) for n in g.inputs)}"]
    for i, op in enumerate(g.ops):
        ins = ", ".join(_tdesc(g, n) for n in op.inputs)
        outs = ", ".join(_tdesc(g, n) for n in op.outputs)
        lines.append(f"{i:3d} {op.kind} {op.attrs}\n      in: {ins}\n      out: {outs}")
    lines.append(f"outputs: {', '.join(_tdesc(g, n) for n in g.outputs)}")
    return "\n".join(lines)
