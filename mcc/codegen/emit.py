"""Build the code-generation context (every number and name, in Python) and render the templates."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import jinja2
import numpy as np

from ..ir import Graph
from ..lower.packed import packed_tensors
from ..lower.params import ConcatParams
from ..paths import FIRMWARE, TEMPLATES
from ..planner import ArenaPlan
from .calls import kernel_for
from .select import select_kernel
from .cvalues import C_TYPES, CArray, c_array_body, c_ident, c_initializer
from .support import with_support



@dataclass(frozen=True)
class TensorView:
    cname: str      # C identifier
    macro: str      # offset macro (activations) or symbol (constants)
    ctype: str
    source_name: str
    shape: tuple
    nbytes: int
    offset: int = -1


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


class _Pointers:
    """C expressions for tensor pointers inside mcc_model_run."""

    def __init__(self, views: dict[str, TensorView], locals_out: list[str], op_prefix: str):
        self.views = views
        self.locals_out = locals_out
        self.op_prefix = op_prefix

    def __call__(self, name: str, out: bool = False) -> str:
        v = self.views[name]
        if v.offset < 0:  # constant
            return v.macro
        const = "" if out else "const "
        return f"({const}{v.ctype} *)MCC_ARENA_PTR({v.macro})"

    def list(self, names) -> str:
        local = f"{self.op_prefix}_inputs"
        self.locals_out.append(
            f"const void *const {local}[{len(names)}] = {{" + ", ".join(
                f"MCC_ARENA_PTR({self.views[n].macro})" if self.views[n].offset >= 0 else self.views[n].macro
                for n in names) + "};")
        return local


def _view_inputs(g: Graph) -> list[str]:
    """Activations read by an op but written by none and not graph inputs: views at an offset into
    another tensor's storage (row bands of patch-based execution, ``mcc.planner.patch``)."""
    known = set(g.activations())
    seen: list[str] = []
    for op in g.ops:
        for n in op.inputs:
            if n is not None and not g.tensors[n].is_const and n not in known and n not in seen:
                seen.append(n)
    return seen


def _tensor_views(g: Graph, plan: ArenaPlan) -> dict[str, TensorView]:
    used: set[str] = set()
    views: dict[str, TensorView] = {}
    label: dict[str, str] = {}
    for k, n in enumerate(g.inputs):
        label[n] = "input" if len(g.inputs) == 1 else f"input{k}"
    for op in g.ops:
        for k, n in enumerate(op.outputs):
            label.setdefault(n, f"{op.name}_out" if len(op.outputs) == 1 else f"{op.name}_out{k}")
        roles = {"CONV_2D": ("in", "filter", "bias"), "DEPTHWISE_CONV_2D": ("in", "filter", "bias"),
                 "FULLY_CONNECTED": ("in", "weights", "bias")}.get(op.kind, ())
        for k, n in enumerate(op.inputs):
            if n is not None and g.tensors[n].is_const:
                role = roles[k] if k < len(roles) else f"const{k}"
                label.setdefault(n, f"{op.name}_{role}")
            elif n is not None:
                label.setdefault(n, f"{op.name}_in{k}")
    for n in g.activations() + g.constants() + _view_inputs(g):
        t = g.tensors[n]
        cname = c_ident(label[n], used)
        if t.is_const:
            views[n] = TensorView(cname, f"mcc_w_{cname}", C_TYPES[t.dtype], n, t.shape, t.nbytes)
        else:
            views[n] = TensorView(cname, f"MCC_OFF_{cname.upper()}", C_TYPES[t.dtype], n, t.shape,
                                  t.nbytes, plan.offset_of(n))
    return views


def _calls(g: Graph, plan: ArenaPlan, records: list, views: dict[str, TensorView], has_dsp: bool):
    calls, arrays, kernels, scratch_macros = [], [], set(), []
    for i, (op, rec) in enumerate(zip(g.ops, records)):
        if rec is None:  # a view: RESHAPE shares its input's storage
            calls.append({"index": i, "op": op, "comment": f"{op.kind}: a view of its input (no code)",
                          "struct": None})
            continue
        spec = kernel_for(op, rec)
        function = select_kernel(op.kind, rec, has_dsp)[0]
        kernels.add(function)
        prefix = op.name
        local_lines: list[str] = []
        ptr = _Pointers(views, local_lines, prefix)
        args = [f"&{prefix}_params"] + spec.args(op, ptr)
        if spec.scratch:
            sb = plan.scratch(i)
            if sb is not None:
                macro = f"MCC_OFF_{prefix.upper()}_SCRATCH"
                scratch_macros.append((macro, sb.offset, sb.size))
                args.append(f"(int8_t *)MCC_ARENA_PTR({macro})")
            else:
                args.append("NULL")
        if isinstance(rec, ConcatParams):  # a variable-length list: a pointer to an array in C
            rec = dataclasses.replace(rec, copy_sizes=np.asarray(rec.copy_sizes, dtype=np.int32))
        op_arrays: list[CArray] = []
        init = c_initializer(rec, prefix, op_arrays)
        arrays.extend(op_arrays)
        out = views[op.outputs[0]]
        calls.append({
            "index": i, "op": op, "struct": spec.struct, "function": function,
            "params_name": f"{prefix}_params", "init": init, "args": args, "locals": local_lines,
            "comment": f"{op.kind} -> {out.cname} {list(out.shape)}",
            "out_macro": out.macro, "out_bytes": out.nbytes,
        })
    return calls, arrays, with_support(kernels, has_dsp), scratch_macros


def _sparse_calls(calls: list, sparse: dict, folded: dict) -> list[dict]:
    """Notes the encoding on the calls of sparse kernels; returns the weights entries of the folded
    biases of sparse ops without a bias tensor (passed to their calls in place of NULL)."""
    out = []
    for c in calls:
        if c.get("function", "").endswith("_sparse_s8"):
            c["comment"] += f"; {sparse[c['op'].inputs[1]].comment}"
        if c["index"] in folded:
            data = folded[c["index"]].data
            symbol = f"mcc_w_{c['params_name'][:-len('_params')]}_folded_bias"
            c["args"][3] = symbol
            out.append({"symbol": symbol, "ctype": "int32_t", "count": int(data.size), "shape": [int(data.size)],
                        "source": folded[c["index"]].comment, "body": c_array_body(data)})
    return out


def _quant_macros(g: Graph, name: str, prefix: str) -> list[tuple[str, str]]:
    t = g.tensors[name]
    if t.quant is None:
        return []
    return [(f"{prefix}_SCALE", repr(float(t.quant.s)) + "f"), (f"{prefix}_ZERO_POINT", str(t.quant.zp))]


def generate(g: Graph, plan: ArenaPlan, records: list, model_name: str, source: str, target=None,
             has_dsp: bool = False) -> dict[str, str]:
    """Return {relative path: text}: the model library, the kernels it uses, and the build for
    ``target`` (a ``mcc.targets.Target``; None or host: Makefile + host harness; a board: the
    Cortex-M project of ``mcc.codegen.cortexm``)."""
    if len(g.inputs) != 1 or len(g.outputs) != 1:
        raise ValueError("one input and one output expected")
    views = _tensor_views(g, plan)
    packed = packed_tensors(g)  # sub-byte weights: emitted packed (uint8), as their kernels read them
    for n, data in packed.items():
        views[n] = dataclasses.replace(views[n], ctype="uint8_t", nbytes=int(data.size))
    from ..lower.sparse_layers import sparse_constants  # sparse ops: encoded weights, folded bias
    sparse, sparse_bias = sparse_constants(g, records)
    for n, c in sparse.items():
        views[n] = dataclasses.replace(views[n], nbytes=int(c.data.nbytes))
    calls, arrays, kernels, scratch_macros = _calls(g, plan, records, views, has_dsp)
    sparse_weights = _sparse_calls(calls, sparse, sparse_bias)
    inp, outp = views[g.inputs[0]], views[g.outputs[0]]
    seen_offsets: dict[str, int] = {}
    for n in g.activations() + _view_inputs(g):
        v = views[n]
        seen_offsets.setdefault(v.macro, v.offset)
    weights = []
    for n in g.constants():
        t, v = g.tensors[n], views[n]
        data = packed[n] if n in packed else sparse[n].data if n in sparse else np.asarray(t.data)
        what = f"{n} ({sparse[n].comment})" if n in sparse else n
        weights.append({"symbol": v.macro, "ctype": v.ctype, "count": int(data.size), "shape": list(t.shape),
                        "source": what, "body": c_array_body(data)})
    weights.extend(sparse_weights)
    ctx = {
        "model_name": model_name, "source": source,
        "arena_bytes": plan.arena_bytes, "lower_bound": plan.lower_bound,
        "input": inp, "output": outp,
        "input_count": g.tensors[g.inputs[0]].size, "output_count": g.tensors[g.outputs[0]].size,
        "input_quant": _quant_macros(g, g.inputs[0], "MCC_INPUT"),
        "output_quant": _quant_macros(g, g.outputs[0], "MCC_OUTPUT"),
        "offsets": list(seen_offsets.items()),
        "scratch_macros": scratch_macros,
        "calls": calls, "arrays": arrays, "weights": weights,
        "weight_bytes": sum(views[n].nbytes for n in g.constants()) + 4 * sum(w["count"] for w in sparse_weights),
        "kernels": kernels, "op_count": len(g.ops),
    }
    env = _env()
    files = {
        "mcc_model.h": env.get_template("model.h.j2").render(ctx),
        "mcc_model.c": env.get_template("model.c.j2").render(ctx),
        "mcc_weights.h": env.get_template("weights.h.j2").render(ctx),
        "mcc_weights.c": env.get_template("weights.c.j2").render(ctx),
    }
    if target is None or target.is_host:
        files["Makefile"] = env.get_template("Makefile.host.j2").render(ctx)
        files["main.c"] = (FIRMWARE / "harness" / "host_main.c").read_text()
    else:
        from .cortexm import cortexm_files
        from .fwsize import firmware_defines
        files.update(cortexm_files(target.board, {
            "model_name": model_name, "kernels": kernels, "arena_bytes": plan.arena_bytes,
            "defines": firmware_defines(g, records, has_dsp),
            "weight_bytes": ctx["weight_bytes"], "input_bytes": inp.nbytes, "output_bytes": outp.nbytes}))
        if target.board.emulator == "renode":
            from ..sim.renode import resc_script
            files[f"mcc_cortexm/{target.board.name}.resc"] = resc_script(
                target.board, "build/firmware.elf", "build/renode-uart.log")
    for h in sorted((FIRMWARE / "include").glob("*.h")):
        files[f"mcc_nn/include/{h.name}"] = h.read_text()
    for k in kernels:
        files[f"mcc_nn/src/{k}.c"] = (FIRMWARE / "src" / f"{k}.c").read_text()
    return files
