"""Subprocess side of the TFLM oracle. Not a public API: run by mcc.oracle.tflm only.

    python -m mcc.oracle._worker run   MODEL WORKDIR [--intermediates] [--arena-size N] [--no-reset]
    python -m mcc.oracle._worker arena MODEL WORKDIR

Reads inputs from WORKDIR/in_<k>.npy (one array per model input, leading axis = sample), writes
WORKDIR/out_<k>.npy, WORKDIR/intermediates.npz (keys "t<tensor index>") and WORKDIR/result.json.
A Python-level failure is written to WORKDIR/error.json ({"kind", "message"}) with exit code 3;
a crash inside TFLM (segfault, abort) just kills this process, which the parent reports.

Everything TFLM prints goes to this process's stdout/stderr, which the parent captures; the
allocation report is captured at the file-descriptor level because it is printed from C++.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import re
import sys
import tempfile
import traceback

import numpy as np

_ALLOC_RE = re.compile(r"Arena allocation (total|head|tail) (\d+) bytes")


# tflite TensorType -> bytes per element (FLOAT32, FLOAT16, INT32, UINT8, BOOL, INT16, INT8, INT4)
_ELEM_BYTES = {0: 4, 1: 2, 2: 4, 3: 1, 6: 1, 7: 2, 9: 1, 17: 1}


class _InputError(Exception):
    """The caller's input arrays do not fit the model."""


def _model_info(model_bytes: bytes) -> dict:
    """Inputs, outputs and non-constant tensors of subgraph 0, from the flatbuffer."""
    import tflite

    model = tflite.Model.GetRootAsModel(model_bytes, 0)
    if model.SubgraphsLength() < 1:
        raise ValueError("model has no subgraph")
    sg = model.Subgraphs(0)
    nonconst = []
    nbytes = 0
    for i in range(sg.TensorsLength()):
        t = sg.Tensors(i)
        buf = model.Buffers(t.Buffer()) if t.Buffer() < model.BuffersLength() else None
        has_data = buf is not None and (buf.DataLength() > 0 or buf.Offset() > 1)
        if has_data and not t.IsVariable():
            continue
        nonconst.append(i)
        shape = t.ShapeAsNumpy() if t.ShapeLength() else np.zeros(0, np.int32)
        nbytes += int(np.prod(np.maximum(shape, 1))) * _ELEM_BYTES.get(t.Type(), 8)
    return {
        "inputs": [int(v) for v in sg.InputsAsNumpy()] if sg.InputsLength() else [],
        "outputs": [int(v) for v in sg.OutputsAsNumpy()] if sg.OutputsLength() else [],
        "nonconst": nonconst,
        "nonconst_bytes": nbytes,
    }


def _round16(n: int) -> int:
    return (n + 15) // 16 * 16


def _make_interpreter(runtime, model_bytes, arena_size, preserve):
    config = (
        runtime.InterpreterConfig.kPreserveAllTensors
        if preserve
        else runtime.InterpreterConfig.kAllocationRecording
    )
    return runtime.Interpreter.from_bytes(
        model_bytes, arena_size=arena_size, intrepreter_config=config
    )


def _interpreter_with_retry(runtime, model_bytes, info, arena_size, preserve):
    """A given arena size is used as is; otherwise start generous and double on failure."""
    if arena_size is not None:
        return _make_interpreter(runtime, model_bytes, arena_size, preserve), arena_size
    # A multiple of 16: TFLM aligns the arena's end down to 16 bytes and counts the cut in its
    # "total", so an odd size would inflate tflm_arena_bytes by up to 15 bytes.
    size = _round16(2 * info["nonconst_bytes"] + 2 * len(model_bytes) + 64 * 1024)
    for attempt in range(5):
        try:
            return _make_interpreter(runtime, model_bytes, size, preserve), size
        except RuntimeError as exc:
            if "allocate" not in str(exc).lower() or attempt == 4:
                raise
            size *= 4
    raise AssertionError("unreachable")


def _batched(arrays: list[np.ndarray], shape) -> np.ndarray:
    """Stack per-sample arrays; drop the model's batch axis when it is 1."""
    out = np.stack(arrays)
    if len(shape) >= 1 and int(shape[0]) == 1 and out.ndim >= 2:
        out = out.reshape((out.shape[0],) + tuple(out.shape[2:]))
    return out


def _cmd_run(model_bytes, workdir, args):
    from tflite_micro.python.tflite_micro import runtime

    info = _model_info(model_bytes)
    n_in = len(info["inputs"])
    inputs = []
    for k in range(n_in):
        path = os.path.join(workdir, f"in_{k}.npy")
        if not os.path.exists(path):
            raise _InputError(f"the model has {n_in} inputs but input {k} was not given")
        inputs.append(np.load(path, allow_pickle=False))
    if os.path.exists(os.path.join(workdir, f"in_{n_in}.npy")):
        raise _InputError(f"more input arrays were given than the model's {n_in} inputs")
    n = inputs[0].shape[0] if inputs else 0
    if any(a.shape[0] != n for a in inputs):
        raise _InputError("all input arrays must have the same number of samples (axis 0)")

    it, arena = _interpreter_with_retry(
        runtime, model_bytes, info, args.arena_size, preserve=args.intermediates
    )
    in_details = [it.get_input_details(k) for k in range(n_in)]
    for k, (a, d) in enumerate(zip(inputs, in_details)):
        shape = tuple(int(s) for s in d["shape"])
        if np.dtype(a.dtype) != np.dtype(d["dtype"]):
            raise _InputError(
                f"input {k}: got dtype {a.dtype}, the model wants {np.dtype(d['dtype'])}"
            )
        per = int(np.prod(a.shape[1:])) if a.ndim > 1 else 1
        if per != int(np.prod(shape)):
            raise _InputError(
                f"input {k}: each sample has shape {a.shape[1:]} ({per} values), "
                f"the model input has shape {list(shape)}"
            )

    n_out = len(info["outputs"])
    outs: list[list[np.ndarray]] = [[] for _ in range(n_out)]
    out_shapes = [None] * n_out
    inter: dict[int, list[np.ndarray]] = {i: [] for i in info["nonconst"]}
    inter_shapes: dict[int, tuple] = {}
    for s in range(n):
        if s > 0 and args.reset:
            it.reset()
        for k, (a, d) in enumerate(zip(inputs, in_details)):
            it.set_input(np.ascontiguousarray(a[s]).reshape(tuple(d["shape"])), k)
        it.invoke()
        for k in range(n_out):
            o = np.array(it.get_output(k), copy=True)
            out_shapes[k] = o.shape
            outs[k].append(o)
        if args.intermediates:
            for i in info["nonconst"]:
                t = it.GetTensor(i, 0)
                data = t["tensor_data"] if isinstance(t, dict) else t
                data = np.array(data, copy=True)
                inter_shapes[i] = data.shape
                inter[i].append(data)

    for k in range(n_out):
        if n:
            np.save(os.path.join(workdir, f"out_{k}.npy"), _batched(outs[k], out_shapes[k]))
    if args.intermediates and n:
        np.savez(
            os.path.join(workdir, "intermediates.npz"),
            **{f"t{i}": _batched(v, inter_shapes[i]) for i, v in inter.items()},
        )
    return {"n_samples": n, "n_outputs": n_out, "arena_size": arena,
            "input_indices": info["inputs"], "output_indices": info["outputs"]}


def _capture_fds(fn):
    """Run fn() with C-level stdout and stderr redirected to a file; return what was printed."""
    libc = ctypes.CDLL(None)
    sys.stdout.flush()
    sys.stderr.flush()
    libc.fflush(None)
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile() as f:
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
        try:
            fn()
            sys.stdout.flush()
            sys.stderr.flush()
            libc.fflush(None)
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
        f.seek(0)
        return f.read().decode("utf-8", "replace")


def _cmd_arena(model_bytes, workdir, args):
    from tflite_micro.python.tflite_micro import runtime

    info = _model_info(model_bytes)
    it, arena = _interpreter_with_retry(runtime, model_bytes, info, args.arena_size, False)
    for k in range(len(info["inputs"])):
        d = it.get_input_details(k)
        it.set_input(np.zeros(tuple(d["shape"]), d["dtype"]), k)
    it.invoke()
    text = _capture_fds(it.print_allocations)
    found = {m.group(1): int(m.group(2)) for m in _ALLOC_RE.finditer(text)}
    if "total" not in found:
        raise RuntimeError(f"no arena total in TFLM's allocation report:\n{text}")
    return {"arena_size": arena, "report": text, **found}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="mcc.oracle._worker")
    p.add_argument("command", choices=["run", "arena"])
    p.add_argument("model")
    p.add_argument("workdir")
    p.add_argument("--intermediates", action="store_true")
    p.add_argument("--arena-size", type=int, default=None)
    p.add_argument("--no-reset", dest="reset", action="store_false")
    args = p.parse_args(argv)
    try:
        with open(args.model, "rb") as f:
            model_bytes = f.read()
        cmd = _cmd_run if args.command == "run" else _cmd_arena
        result = cmd(model_bytes, args.workdir, args)
    except _InputError as exc:
        _write_error(args.workdir, "input", str(exc))
        return 3
    except Exception as exc:  # reported to the parent, which raises a clean error
        _write_error(args.workdir, "tflm", f"{type(exc).__name__}: {exc}",
                     traceback.format_exc())
        return 3
    with open(os.path.join(args.workdir, "result.json"), "w") as f:
        json.dump(result, f)
    return 0


def _write_error(workdir, kind, message, tb=""):
    with open(os.path.join(workdir, "error.json"), "w") as f:
        json.dump({"kind": kind, "message": message, "traceback": tb}, f)


if __name__ == "__main__":
    sys.exit(main())
