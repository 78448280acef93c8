"""Validation: run the generated C and the TFLM reference interpreter on the same inputs."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .api import check_inputs, compile, load_model, random_inputs
from .options import CompileOptions
from .sim import host


@dataclass(frozen=True)
class FirstDifference:
    op_index: int
    kind: str
    max_abs_diff: float
    item: int


@dataclass(frozen=True)
class ValidateResult:
    model: str
    n: int
    exact: int
    max_abs_diff: float
    first_difference: FirstDifference | None

    @property
    def exact_fraction(self) -> float:
        return self.exact / self.n if self.n else 1.0


def _diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a.astype(np.float64) - b.astype(np.float64))


def validate(model: str | Path, target: str = "host", n: int = 100, inputs: np.ndarray | None = None,
             seed: int = 0) -> ValidateResult:
    """Compare mcc's C with TFLM on ``inputs`` (if given) plus ``n`` random inputs."""
    from .oracle.tflm import run_tflm

    g = load_model(model)
    x_in = g.tensors[g.inputs[0]]
    parts = []
    if inputs is not None:
        parts.append(check_inputs(inputs, x_in.shape, x_in.dtype))
    if n > 0:
        parts.append(random_inputs(g, n, seed))
    if not parts:
        raise ValueError("nothing to validate: n == 0 and no inputs")
    x = np.concatenate(parts)
    y_t = g.tensors[g.outputs[0]]
    with tempfile.TemporaryDirectory(prefix="mcc-validate-") as tmp:
        out = Path(tmp) / "out"
        compile(model, out, CompileOptions(target=target))
        y_c = host.run(out, x, y_t.shape, y_t.dtype)
        y_ref = run_tflm(model, x).outputs.reshape(y_c.shape)
        same = np.array([np.array_equal(a, b) for a, b in zip(y_c, y_ref)])
        first = None
        if not same.all():
            item = int(np.flatnonzero(~same)[0])
            first = _first_difference(g, model, out, x[item:item + 1], item)
    d = _diff(y_c, y_ref)
    return ValidateResult(str(model), len(x), int(same.sum()), float(d.max()) if d.size else 0.0, first)


def _first_difference(g, model, outdir, x1: np.ndarray, item: int) -> FirstDifference | None:
    """Trace every op's output in C and in TFLM for one input; name the first op that differs."""
    from .oracle.tflm import run_tflm

    y_t = g.tensors[g.outputs[0]]
    _, traces = host.run(outdir, x1, y_t.shape, y_t.dtype, trace=True)
    ref = run_tflm(model, x1, keep_intermediates=True).intermediates
    index = g.meta.get("tflite_index", {})
    for i, op in enumerate(g.ops):
        if i not in traces[0]:
            continue
        t = g.tensors[op.outputs[0]]
        ours = np.frombuffer(traces[0][i], dtype=t.dtype)
        theirs = ref.get(index.get(t.name, -1))
        if theirs is None:
            continue
        theirs = np.asarray(theirs).reshape(-1)
        if not np.array_equal(ours, theirs):
            return FirstDifference(i, op.kind, float(_diff(ours, theirs).max()), item)
    return None
