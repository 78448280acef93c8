"""Validation: run the generated C and the TFLM reference interpreter on the same inputs."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .api import check_inputs, compile_graph, is_keras, load_model, random_inputs
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
    reference: str = "TFLM"
    criterion: str = "bit-exact with"  # PTQ dynamic: "within the float32 rounding bound of"

    @property
    def exact_fraction(self) -> float:
        return self.exact / self.n if self.n else 1.0


def _diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a.astype(np.float64) - b.astype(np.float64))


def validate(model: str | Path, target: str = "host", n: int = 100, inputs: np.ndarray | None = None,
             seed: int = 0, options: CompileOptions | None = None) -> ValidateResult:
    """Compare mcc's C with the reference on ``inputs`` (if given) plus ``n`` random inputs.

    The reference is TFLM for an int8 .tflite model. A Keras model is quantized by mcc, so no
    .tflite exists for TFLM to run: its reference is mcc's numpy integer interpreter, which is
    bit-exact with TFLM on every tensor of every TFLite model in the test suite."""
    options = options or CompileOptions(target=target)
    g = load_model(model, options)
    x_in = g.tensors[g.inputs[0]]
    parts = []
    if inputs is not None:
        parts.append(check_inputs(inputs, x_in.shape, x_in.dtype))
    if n > 0:
        parts.append(random_inputs(g, n, seed))
    if not parts:
        raise ValueError("nothing to validate: n == 0 and no inputs")
    x = np.concatenate(parts)
    if g.meta.get("quantized") == "dynamic":  # float activations: compared within a rounding bound
        from .validate_dynamic import validate_hybrid
        return validate_hybrid(g, str(model), x)
    y_t = g.tensors[g.outputs[0]]
    keras = is_keras(model)
    with tempfile.TemporaryDirectory(prefix="mcc-validate-") as tmp:
        out = Path(tmp) / "out"
        r = compile_graph(g, out, CompileOptions(target="host"), Path(model).name)
        y_c = host.run(r.outdir, x, y_t.shape, y_t.dtype)
        y_ref = _reference_outputs(g, model, x, keras).reshape(y_c.shape)
        same = np.array([np.array_equal(a, b) for a, b in zip(y_c, y_ref)])
        first = None
        if not same.all():
            item = int(np.flatnonzero(~same)[0])
            # per-op traces follow the model's op order: rebuild with the first-fit plan for them
            out = Path(tmp) / "trace"
            compile_graph(g, out, CompileOptions(target="host", memory="firstfit"), Path(model).name)
            first = _first_difference(g, model, out, x[item:item + 1], item, keras)
    d = _diff(y_c, y_ref)
    return ValidateResult(str(model), len(x), int(same.sum()), float(d.max()) if d.size else 0.0, first,
                          "mcc numpy reference (TFLM-exact)" if keras else "TFLM")


def _reference_outputs(g, model, x: np.ndarray, keras: bool) -> np.ndarray:
    if keras:  # the whole batch in one pass of the integer interpreter
        from .passes.rebatch import rebatch
        from .reference.interp import run as interp_run
        return interp_run(rebatch(g, len(x)), [x.reshape((len(x),) + g.tensors[g.inputs[0]].shape[1:])])[0]
    from .oracle.tflm import run_tflm
    return run_tflm(model, x).outputs


def _first_difference(g, model, outdir, x1: np.ndarray, item: int, keras: bool) -> FirstDifference | None:
    """Trace every op's output in C and in the reference for one input; name the first op that differs."""
    y_t = g.tensors[g.outputs[0]]
    _, traces = host.run(outdir, x1, y_t.shape, y_t.dtype, trace=True)
    if keras:
        from .reference.interp import run as interp_run
        ref = interp_run(g, [x1[0]], keep_all=True)
        index = {n: n for n in ref}
    else:
        from .oracle.tflm import run_tflm
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
