"""TFLite Micro's reference interpreter as an oracle, always run in a subprocess.

A bad model or a too-small arena can crash TFLM (segfault, abort) and with it the process that
hosts it, so every call here starts ``python -m mcc.oracle._worker`` and exchanges data through
.npy files in a temporary directory. One subprocess serves a whole batch: the interpreter is
created once and invoked once per sample.

Batch convention: ``inputs`` has the sample on axis 0; each sample is reshaped to the model's
input shape (so (N, 49, 10, 1), (N, 1, 49, 10, 1) and (N, 490) all work for a 1x49x10x1 model).
Result arrays have the sample on axis 0 followed by the tensor's shape without its batch axis
when that axis is 1: a 1x12 output gives (N, 12); a 1x25x5x64 activation gives (N, 25, 5, 64).

State: TFLM keeps no state between invocations for models without variable tensors (checked: the
same input gives the same output before and after other inputs). ``reset=True`` (the default)
still calls ``Interpreter.reset()`` before every sample after the first, so stateful models
(variable tensors) also see each sample as the first one; pass ``reset=False`` to stream.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from mcc.errors import InputDataError, MccError, ModelFormatError

_REPO_ROOT = str(Path(__file__).resolve().parents[2])
_TAIL_CHARS = 2000
DEFAULT_TIMEOUT_S = 600.0


class TflmError(MccError):
    """TFLM rejected the model or crashed on it (message carries the subprocess's stderr tail)."""


@dataclass
class TflmResult:
    """Outputs of one batch run.

    outputs:        the first model output, shape (N, *output_shape without a batch axis of 1).
    all_outputs:    every model output in model order (all_outputs[0] is outputs).
    intermediates:  tensor index (subgraph 0) -> (N, ...) for every non-constant tensor
                    (model inputs and outputs included), or None when not requested.
    input_indices, output_indices: the tensor indices of the model's inputs and outputs.
    arena_size:     the arena size the interpreter ran with (not TFLM's need: see
                    tflm_arena_bytes).
    """

    outputs: np.ndarray
    all_outputs: list[np.ndarray]
    intermediates: dict[int, np.ndarray] | None = None
    input_indices: list[int] = field(default_factory=list)
    output_indices: list[int] = field(default_factory=list)
    arena_size: int = 0


@dataclass(frozen=True)
class TflmArenaReport:
    """TFLM's RecordingMicroAllocator report (bytes).

    total = head + tail, the arena the model actually uses:
      head: the non-persistent section, high-water mark of the memory planner's activation
            buffers plus kernel scratch buffers (and temporaries during Prepare);
      tail: the persistent section: TfLiteEvalTensor array, node/registration structs,
            persistent TfLiteTensors for inputs/outputs, kernels' persistent op data
            (per-channel multipliers and shifts, ...).
    total is the smallest ``arena_size`` with which TFLM allocates the model (checked on the
    MLPerf Tiny models: total works, total - 1 fails). On a device add up to 15 bytes when the
    arena buffer is not 16-byte aligned, since TFLM aligns the arena start.
    """

    total: int
    head: int
    tail: int
    text: str


def _worker_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    env["PYTHONPATH"] = os.pathsep.join(
        [_REPO_ROOT] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    )
    return env


def _worker_command() -> list[str]:
    # faulthandler: a segfault inside TFLM leaves a Python traceback in the stderr tail.
    return [sys.executable, "-X", "faulthandler", "-m", "mcc.oracle._worker"]


def _tail(text: str) -> str:
    text = text.strip()
    return text if len(text) <= _TAIL_CHARS else "..." + text[-_TAIL_CHARS:]


def _check_model_path(model_path) -> str:
    path = os.fspath(model_path)
    if not os.path.isfile(path):
        raise ModelFormatError(f"model file not found: {path}")
    return os.path.abspath(path)


def _run_worker(args: list[str], workdir: str, model: str, timeout: float | None) -> dict:
    cmd = [*_worker_command(), *args]
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, errors="replace",
            env=_worker_env(), timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        raise TflmError(f"TFLM on {model} did not finish within {timeout} s") from exc
    err_path = os.path.join(workdir, "error.json")
    if os.path.exists(err_path):
        with open(err_path) as f:
            err = json.load(f)
        if err["kind"] == "input":
            raise InputDataError(f"TFLM on {model}: {err['message']}")
        detail = _tail(proc.stderr + proc.stdout)
        raise TflmError(
            f"TFLM failed on {model}: {err['message']}" + (f"\n{detail}" if detail else "")
        )
    res_path = os.path.join(workdir, "result.json")
    if proc.returncode != 0 or not os.path.exists(res_path):
        rc = proc.returncode
        how = f"was killed by signal {-rc}" if rc < 0 else f"exited with code {rc}"
        raise TflmError(
            f"the TFLM subprocess {how} on {model} (bad model or arena too small)\n"
            f"{_tail(proc.stderr + proc.stdout)}"
        )
    with open(res_path) as f:
        return json.load(f)


def run_tflm(
    model_path,
    inputs: np.ndarray | Sequence[np.ndarray],
    keep_intermediates: bool = False,
    *,
    arena_size: int | None = None,
    reset: bool = True,
    timeout: float | None = DEFAULT_TIMEOUT_S,
) -> TflmResult:
    """Run the TFLM reference interpreter on a batch of inputs (axis 0 = sample).

    inputs: one array for a single-input model, or a sequence with one array per model input,
    in the model's input dtype (int8 for a fully quantized model; no conversion is done).
    arena_size: fixed TFLM arena in bytes; by default a generous size is chosen (and enlarged if
    allocation fails). keep_intermediates runs TFLM with kPreserveAllTensors and returns every
    non-constant tensor.
    """
    model = _check_model_path(model_path)
    arrays = [inputs] if isinstance(inputs, np.ndarray) else list(inputs)
    if not arrays or not all(isinstance(a, np.ndarray) for a in arrays):
        raise InputDataError("run_tflm wants a numpy array (or a sequence of them) as inputs")
    for a in arrays:
        if a.ndim < 1 or a.shape[0] == 0:
            raise InputDataError(
                f"inputs need a leading sample axis with at least one sample, got shape {a.shape}"
            )
    with tempfile.TemporaryDirectory(prefix="mcc_tflm_") as workdir:
        for k, a in enumerate(arrays):
            np.save(os.path.join(workdir, f"in_{k}.npy"), np.ascontiguousarray(a))
        args = ["run", model, workdir]
        if keep_intermediates:
            args.append("--intermediates")
        if arena_size is not None:
            args += ["--arena-size", str(int(arena_size))]
        if not reset:
            args.append("--no-reset")
        meta = _run_worker(args, workdir, model, timeout)
        outs = [
            np.load(os.path.join(workdir, f"out_{k}.npy")) for k in range(meta["n_outputs"])
        ]
        inter = None
        if keep_intermediates:
            with np.load(os.path.join(workdir, "intermediates.npz")) as z:
                inter = {int(key[1:]): z[key] for key in z.files}
    return TflmResult(
        outputs=outs[0] if outs else np.zeros((0,)),
        all_outputs=outs,
        intermediates=dict(sorted(inter.items())) if inter is not None else None,
        input_indices=list(meta["input_indices"]),
        output_indices=list(meta["output_indices"]),
        arena_size=int(meta["arena_size"]),
    )


def tflm_arena_report(model_path, *, timeout: float | None = DEFAULT_TIMEOUT_S) -> TflmArenaReport:
    """TFLM's arena report for the model (one invoke on zero inputs, then print_allocations)."""
    model = _check_model_path(model_path)
    with tempfile.TemporaryDirectory(prefix="mcc_tflm_") as workdir:
        meta = _run_worker(["arena", model, workdir], workdir, model, timeout)
    return TflmArenaReport(
        total=int(meta["total"]),
        head=int(meta.get("head", 0)),
        tail=int(meta.get("tail", 0)),
        text=meta["report"],
    )


def tflm_arena_bytes(model_path, *, timeout: float | None = DEFAULT_TIMEOUT_S) -> int:
    """The total arena TFLM uses for the model: head (planned activations + scratch) plus tail
    (persistent data); the smallest arena_size TFLM accepts for it. See TflmArenaReport."""
    return tflm_arena_report(model_path, timeout=timeout).total
