"""Predicted instructions per inference: a per-kernel linear cost model calibrated on the exact
counts of the QEMU instruction-counting plugin.

For each core and C kernel the model is ``instructions = a * MACs + b * output elements + c *
input elements`` (no constant term: with the few operators per kernel of the calibration models an
intercept extrapolated badly to models left out of the fit) (each op's figures from ``mcc.report.analysis``), fitted by non-negative least squares (no
cost is negative; few samples then cannot produce wild extrapolating terms) to the per-operator counts of
``mcc run --profile``. The coefficients live in ``data/instructions.json`` (written by
``benchmarks/bench_instructions.py``, which also reports the prediction error on models left out
of the fit). A kernel never seen on a core falls back to the same kernel on another core with the
same DSP feature, else 0 (and ``predict`` says how many ops it could not cost).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..ir import Graph

DATA = Path(__file__).with_name("data") / "instructions.json"


def features(g: Graph, has_dsp: bool):
    """[(op index, kernel, feature vector)] for the ops that run a kernel."""
    from .. import api
    from ..report.analysis import layer_table

    records = api.lower_graph(g)
    kernels = api.select_kernels(g, records, has_dsp)
    plan = api.plan_memory(g, records, has_dsp, kernels)
    rows = []
    for info, k in zip(layer_table(g, plan), kernels):
        if k is None:
            continue
        op = g.ops[info.index]
        outs = sum(g.tensors[n].size for n in op.outputs)
        ins = sum(g.tensors[n].size for n in op.inputs if n is not None and not g.tensors[n].is_const)
        rows.append((info.index, k, np.array([info.macs, outs, ins], dtype=np.float64)))
    return rows


def fit(samples: dict[str, list[tuple[np.ndarray, int]]]) -> dict[str, list[float]]:
    """Kernel -> coefficients from [(features, instructions)] per kernel."""
    out = {}
    for k, rows in sorted(samples.items()):
        a = np.stack([f for f, _ in rows])
        y = np.array([v for _, v in rows], np.float64)
        scale = np.maximum(np.abs(a).max(axis=0), 1.0)
        from scipy.optimize import nnls

        coef, _ = nnls(a / scale, y)
        out[k] = [float(c) for c in coef / scale]
    return out


def load() -> dict:
    return json.loads(DATA.read_text()) if DATA.exists() else {}


def predict(g: Graph, target: str, table: dict | None = None) -> int | None:
    """Instructions of one inference of ``g`` on ``target``; None without coefficients for its core."""
    from ..targets import get_target

    t = get_target(target)
    if t.is_host:
        return None
    table = load() if table is None else table
    core = t.board.core.name
    coefs = dict(table.get(core, {}))
    for other, c in sorted(table.items()):  # same kernel on a core with the same DSP feature
        if other != core and other in _DSP and _DSP.get(other) == t.has_dsp:
            for k, v in c.items():
                coefs.setdefault(k, v)
    if not coefs:
        return None
    total = 0.0
    for _, k, f in features(g, t.has_dsp):
        # the packed sub-byte kernels are not calibrated yet: costed as their int8 counterparts
        k = k if k in coefs else PACKED_AS_INT8.get(k, k)
        if k in coefs:
            total += float(np.dot(coefs[k], f))
    return int(round(total))


PACKED_AS_INT8 = {"mcc_conv_packed": "mcc_conv_s8", "mcc_depthwise_conv_packed": "mcc_depthwise_conv_s8",
                  "mcc_fully_connected_packed": "mcc_fully_connected_s8"}
_DSP = {"cortex-m3": False, "cortex-m0plus": False, "cortex-m4": True, "cortex-m7": True,
        "cortex-m33": True, "cortex-m55": True}
