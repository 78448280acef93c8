"""Validation of hybrid (PTQ dynamic) models: TFLM has no kernels for them, so the reference is
mcc's float64 numpy evaluation of the hybrid IR (``mcc.reference.hybrid``). Every operator of the
generated C is recomputed from the C's own inputs (host trace build) and must lie within its
float32 rounding bound; an input counts as passing when every operator does."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from .api import compile_graph
from .ir import Graph
from .options import CompileOptions
from .reference import hybrid
from .sim import host
from .validate import FirstDifference, ValidateResult


def validate_hybrid(g: Graph, model: str, x: np.ndarray) -> ValidateResult:
    """Compile ``g`` for the host, run it on ``x`` (N, *input_shape) with traces, check every op."""
    x_t, y_t = g.tensors[g.inputs[0]], g.tensors[g.outputs[0]]
    x = np.asarray(x, np.float32).reshape((len(x),) + tuple(x_t.shape))
    with tempfile.TemporaryDirectory(prefix="mcc-validate-") as tmp:
        # first fit keeps the model's op order, so that the trace lines up with the model's ops
        r = compile_graph(g, Path(tmp) / "out", CompileOptions(target="host", memory="firstfit"), Path(model).name)
        y_c, traces = host.run(r.outdir, x, y_t.shape, y_t.dtype, trace=True)
    checks = hybrid.check_traces(g, x, traces)
    failing = sorted({k for c in checks for k in c.failing})
    first = None
    if failing:
        c = next(c for c in checks if failing[0] in c.failing)
        first = FirstDifference(c.index, c.kind, c.max_abs_diff, failing[0])
    y_ref = hybrid.run(g, x).reshape(y_c.shape)
    d = np.abs(y_c.astype(np.float64) - y_ref)
    return ValidateResult(model, len(x), len(x) - len(failing),
                          float(d.max()) if d.size else 0.0, first,
                          "the float64 reference of the hybrid IR", "within the float32 rounding bound of")
