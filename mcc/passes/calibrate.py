"""calibrate: run the float interpreter over the representative set and collect per-tensor ranges.

``calibrate(graph, data, method)`` returns {tensor name: (min, max)} for every activation tensor
(the graph input and every op output). ``data`` is anything ``mcc.quant.data`` accepts. The
calibrator (``mcc.quant.calibrators``) may need several passes over the data (histogram
methods: min/max first, then the histogram); a rich progress bar shows them on a terminal.
"""

from __future__ import annotations

import sys

import numpy as np

from ..errors import MccError, ModelFormatError
from ..ir import Graph
from ..quant.calibrators import make_calibrator
from ..quant.data import batches, load_calibration_data
from ..reference import float_interp


def check_float_graph(g: Graph) -> None:
    """The graph must be a float32 model with one input and one output."""
    if len(g.inputs) != 1:
        raise ModelFormatError(f"the model has {len(g.inputs)} inputs; mcc quantizes models with exactly one")
    if len(g.outputs) != 1:
        raise ModelFormatError(f"the model has {len(g.outputs)} outputs; mcc quantizes models with exactly one")
    for n in g.activations():
        if g.tensors[n].dtype != "float32":
            raise ModelFormatError(f"tensor {n} is {g.tensors[n].dtype}: the graph is already quantized")
    for n in g.constants():
        t = g.tensors[n]
        if t.dtype != "float32":
            raise ModelFormatError(f"constant {n} is {t.dtype}: the graph is already quantized")
        if not np.all(np.isfinite(t.data)):
            raise ModelFormatError(f"constant {n} contains NaN or inf")


def _progress(enabled: bool):
    if not enabled:
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(file=sys.stderr)
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=True,
                    disable=not console.is_terminal)


def tflite_inplace_ranges(g: Graph, ranges: dict) -> dict:
    """Emulate the TFLite calibrator's in-place ADD artifact on ``ranges``.

    TFLite's arena planner lets an ADD write its output over one input (the first of input 0 /
    input 1 that has no other reader, is not a graph input, and has the output's size), and the
    calibrator logs an op's inputs after running it, so that input's recorded range also covers
    the ADD's output. The converter's int8 models carry this widened range; reproducing it makes
    mcc's MinMax parameters match the converter's.
    """
    out = dict(ranges)
    users = g.consumers()
    for op in g.ops:
        if op.kind != "ADD" or op.outputs[0] in g.outputs:
            continue
        y = g.tensors[op.outputs[0]]
        for name in op.inputs[:2]:
            t = g.tensors[name]
            if t.is_const or name in g.inputs or name in g.outputs or len(users.get(name, [])) != 1 \
                    or t.size != y.size or t.size <= 1:
                continue
            lo, hi = ranges[name]
            ylo, yhi = ranges[y.name]
            out[name] = (min(lo, ylo), max(hi, yhi))
            break
    return out


def calibrate(graph: Graph, data, method: str = "minmax", batch_size: int = 32,
              progress: bool = True, tflite_compat: bool = False,
              **options) -> dict[str, tuple[float, float]]:
    """Ranges of every activation tensor of the float ``graph`` over ``data``.

    ``tflite_compat`` applies ``tflite_inplace_ranges`` (the converter's in-place ADD artifact).
    """
    check_float_graph(graph)
    x = load_calibration_data(data, graph.tensors[graph.inputs[0]].shape)
    cal = make_calibrator(method, **options)
    if batch_size < 1:
        raise MccError(f"batch_size must be positive, got {batch_size}")
    n_batches = (x.shape[0] + batch_size - 1) // batch_size
    bar = _progress(progress)
    if bar is not None:
        bar.start()
    try:
        for p in range(cal.passes):
            task = bar.add_task(f"calibrating ({method}, pass {p + 1}/{cal.passes})", total=n_batches) \
                if bar is not None else None
            for batch in batches(x, batch_size):
                for name, value in float_interp.iter_run(graph, [batch]):
                    cal.observe(name, value, p)
                if bar is not None:
                    bar.advance(task)
    finally:
        if bar is not None:
            bar.stop()
    ranges = cal.ranges()
    if tflite_compat:
        ranges = tflite_inplace_ranges(graph, ranges)
    missing = [n for n in graph.activations() if n not in ranges]
    if missing:  # cannot happen: every activation is observed
        raise RuntimeError(f"no range for {missing[0]}")
    return ranges
