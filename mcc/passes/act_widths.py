"""act_widths: a float32 graph, calibrated ranges and a width per activation tensor (8 or 16 bits)
-> one quantized graph mixing int8 and 16x8 ops, with QUANTIZE (requantize) ops where the width
changes.

Each op runs at the width of its output tensor, entirely: an 8-bit op is the op of the int8 graph
(``mcc.passes.quantize``: int8 asymmetric activations, int32 bias), a 16-bit op the op of the 16x8
graph (``mcc.passes.quantize16``: int16 symmetric activations, int64 bias), both built from the
same float graph and ranges, so every op keeps the parameters (same-scale groups, fixed SOFTMAX
output scale) its own quantizer gives it. A tensor is stored at its width; a consumer at the other
width reads a converted copy made once by a QUANTIZE op (int8 -> int16 or int16 -> int8, TFLite's
Requantize, which TFLM runs: ``mcc_requantize_s16``), named ``<tensor>_int16`` / ``<tensor>_int8``,
with the parameters the consumer's width gives the tensor.

All 8 bits gives the int8 graph (with the input rescale not folded) and all 16 bits the 16x8 one,
plus nothing else. ``io="float"``: QUANTIZE / DEQUANTIZE at the edges at the widths of the graph
input and output; ``io="int8"``: the graph input and output are int8 (converted where their
tensors are 16 bits).

LOGISTIC has no 16x8 kernel: asking for its output at 16 bits is an error.
"""

from __future__ import annotations

from typing import Mapping

from ..errors import MccError
from ..ir import Graph, NoAttrs, Op, Tensor, verify
from ._graphutil import fresh_name
from .quantize import quantize
from .quantize16 import quantize16

WIDTHS = (8, 16)
NO_16 = ("LOGISTIC",)
DTYPE = {8: "int8", 16: "int16"}


def widenable(graph: Graph) -> list[str]:
    """The activation tensors of the float ``graph`` that may be 16 bits (in graph order): every
    op output except those of ops without a 16x8 kernel, and the graph input."""
    names = [graph.inputs[0]]
    names += [op.outputs[0] for op in graph.ops if op.kind not in NO_16]
    return list(dict.fromkeys(names))


def check_widths(graph: Graph, widths: Mapping[str, int]) -> dict[str, int]:
    """Every activation of ``graph`` -> 8 or 16 (8 where ``widths`` does not say)."""
    acts = set(graph.activations())
    unknown = sorted(set(widths) - acts)
    if unknown:
        raise MccError(f"activation widths name tensors the model does not have: {', '.join(unknown[:5])}")
    bad = sorted(n for n, w in widths.items() if w not in WIDTHS)
    if bad:
        raise MccError(f"activation width of {bad[0]} must be 8 or 16, got {widths[bad[0]]}")
    out = {n: int(widths.get(n, 8)) for n in graph.activations()}
    for op in graph.ops:
        if op.kind in NO_16 and out[op.outputs[0]] == 16:
            raise MccError(f"{op.kind} {op.name or op.outputs[0]} has no 16-bit kernel: its output "
                           "must stay 8 bits")
    return out


def quantized_pair(graph: Graph, ranges: dict, per_channel: bool = True,
                   dense_per_channel: bool | None = None) -> dict[int, Graph]:
    """{8: the int8 graph, 16: the 16x8 graph} of the float ``graph``: the two fully quantized
    versions a mixed graph takes its ops from (8-bit ops cannot compute a 16-bit output nor 16-bit
    ops an 8-bit one: an op's width is its output's). Callers building many mixed graphs of one
    model compute it once and pass it to ``quantize_mixed``."""
    return {8: quantize(graph, ranges, per_channel=per_channel, io="int8", fold_input_rescale=False,
                        dense_per_channel=dense_per_channel),
            16: quantize16(graph, ranges, per_channel=per_channel, io="int16",
                           dense_per_channel=dense_per_channel)}


def quantize_mixed(graph: Graph, ranges: dict, widths: Mapping[str, int], per_channel: bool = True,
                   io: str = "float", dense_per_channel: bool | None = None,
                   pair: dict[int, Graph] | None = None) -> Graph:
    """The mixed-width version of the float ``graph`` (see the module doc); ``pair``: the
    ``quantized_pair`` of ``graph``, ``ranges`` and these options, when the caller has it."""
    if io not in ("float", "int8"):
        raise MccError(f"io must be 'float' or 'int8' for mixed activation widths, got {io!r}")
    w = check_widths(graph, widths)
    q = pair if pair is not None else quantized_pair(graph, ranges, per_channel, dense_per_channel)
    by_name = {bits: {op.outputs[0]: op for op in qg.ops} for bits, qg in q.items()}
    tensors: dict[str, Tensor] = {}
    ops: list[Op] = []
    used = set(graph.tensors)

    def fresh(base: str) -> str:
        name = fresh_name(base, used)
        used.add(name)
        return name

    converted: dict[tuple[str, int], str] = {}

    def at(name: str, bits: int) -> str:
        """``name`` (stored at w[name]) as a tensor of ``bits``: itself or a converted copy."""
        if w[name] == bits:
            return name
        if (name, bits) not in converted:
            t = q[bits].tensors[name]
            c = fresh(f"{name}_{DTYPE[bits]}")
            tensors[c] = Tensor(c, t.shape, t.dtype, t.quant)
            ops.append(Op("QUANTIZE", (name,), (c,), NoAttrs(), name=f"{c}_requantize"))
            converted[(name, bits)] = c
        return converted[(name, bits)]

    for n in graph.activations():
        tensors[n] = q[w[n]].tensors[n]
    x, y = graph.inputs[0], graph.outputs[0]
    gx, gy = x, y
    if io == "float":
        gx, gy = fresh(f"{x}_float"), fresh(f"{y}_float")
        tensors[gx] = Tensor(gx, graph.tensors[x].shape, "float32")
        tensors[gy] = Tensor(gy, graph.tensors[y].shape, "float32")
        ops.append(Op("QUANTIZE", (gx,), (x,), NoAttrs(), name=f"{x}_quantize"))
    elif w[x] == 16:  # int8 graph input, converted to the 16-bit tensor x
        gx = fresh(f"{x}_int8")
        t = q[8].tensors[x]
        tensors[gx] = Tensor(gx, t.shape, "int8", t.quant)
        ops.append(Op("QUANTIZE", (gx,), (x,), NoAttrs(), name=f"{x}_requantize"))
    for op in graph.ops:
        bits = w[op.outputs[0]]
        qop = by_name[bits][op.outputs[0]]
        ins = []
        for n in qop.inputs:
            if n is None:
                ins.append(None)
            elif n in w:  # an activation
                ins.append(at(n, bits))
            else:  # a constant of the op's width (renamed when the other width has the name)
                t = q[bits].tensors[n]
                name = n if n not in tensors else fresh(f"{n}_w{bits}")
                tensors[name] = Tensor(name, t.shape, t.dtype, t.quant, t.data)
                ins.append(name)
        ops.append(Op(qop.kind, tuple(ins), qop.outputs, qop.attrs, name=qop.name))
    if io == "float":
        ops.append(Op("DEQUANTIZE", (y,), (gy,), NoAttrs(), name=f"{y}_dequantize"))
    elif w[y] == 16:
        gy = at(y, 8)
    meta = dict(q[8].meta, quantized="mixed", activation_widths={n: w[n] for n in sorted(w)}, io=io,
                symmetric_activations=False, input_rescale_folded=False)
    live = {n for op in ops for n in (*op.inputs, *op.outputs) if n is not None} | {gx, gy}
    out = Graph({n: t for n, t in tensors.items() if n in live}, tuple(ops), (gx,), (gy,), meta)
    return verify(out)
