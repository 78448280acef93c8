"""Build the generated host project with make and run it on a batch of inputs."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from ..errors import MccError

BINARIES = {"runner": "build/mcc_runner", "trace": "build/mcc_runner_trace", "sanitize": "build/mcc_runner_asan"}
TARGETS = {"runner": "all", "trace": "trace", "sanitize": "sanitize"}


def build(outdir: str | Path, variant: str = "runner") -> Path:
    """Run make (it rebuilds only what is stale); return the runner binary."""
    outdir = Path(outdir)
    if shutil.which("make") is None or shutil.which("cc") is None:
        raise MccError("building for the host needs `make` and a C compiler (apt-get install build-essential)")
    proc = subprocess.run(["make", "-s", TARGETS[variant]], cwd=outdir, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise MccError(f"building {outdir} failed:\n{tail}")
    return outdir / BINARIES[variant]


def run(outdir: str | Path, x: np.ndarray, out_shape: tuple, out_dtype: str, variant: str = "runner",
        trace: bool = False):
    """Run the model on every item of ``x`` (already validated: shape (N, *input_shape)).

    Returns the outputs (N, *out_shape), and with ``trace`` also a list (one per item) of
    {op index: raw bytes of that op's output}.
    """
    binary = build(outdir, "trace" if trace else variant)
    n = x.shape[0]
    with tempfile.TemporaryDirectory(prefix="mcc-run-") as tmp:
        tin, tout, ttrace = Path(tmp, "in.bin"), Path(tmp, "out.bin"), Path(tmp, "trace.bin")
        np.ascontiguousarray(x).tofile(tin)
        cmd = [str(binary.resolve()), str(tin), str(tout), str(n)] + ([str(ttrace)] if trace else [])
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise MccError(f"the generated program failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}")
        y = np.fromfile(tout, dtype=out_dtype).reshape((n,) + tuple(out_shape))
        if not trace:
            return y
        return y, _read_trace(ttrace.read_bytes(), n)


def _read_trace(buf: bytes, n: int) -> list[dict[int, bytes]]:
    items: list[dict[int, bytes]] = []
    pos, current = 0, None
    while pos < len(buf):
        idx, size = np.frombuffer(buf, dtype=np.int32, count=2, offset=pos)
        pos += 8
        if current is None or int(idx) in current:
            current = {}
            items.append(current)
        current[int(idx)] = buf[pos:pos + int(size)]
        pos += int(size)
    if len(items) != n:
        raise MccError(f"trace holds {len(items)} items, expected {n}")
    return items
