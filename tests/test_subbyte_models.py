"""Whole models with some layers' weights at 4 and 2 bits (and mixed per channel), compiled end to end:
the generated C (host, and QEMU Cortex-M4 with the DSP kernels) == the numpy reference interpreter,
the emitted weight arrays are exactly ``packing.packed_size`` bytes, and the packed kernels are
the ones selected."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import mcc.api as api
import qemu_kernels as qk
from conftest import MLPERF
from mcc.lower.packed import PACKED_OPS, stored_weight_bytes, weight_widths
from mcc.lower.packing import packed_size
from mcc.options import CompileOptions
from mcc.sim import qemu
from subbyte_models import reference_outputs, requantize_weights


def _mixed_plan(seed: int):
    """Weighted op k (in order): 8, 4, 2, mixed, 4, ... -- mixed draws 8/4/2 per channel."""
    rng = np.random.default_rng(seed)
    counter = iter(range(10 ** 6))

    def choose(i, op, n):
        k = next(counter)
        mode = k % 4
        if mode == 0:
            return None
        if mode == 3:
            return tuple(int(b) for b in rng.choice([2, 4, 8], n))
        return ((4, 2)[mode - 1],) * n
    return choose


@pytest.fixture(scope="module", params=["dscnn", "resnet8"])
def subbyte_graph(request):
    g = api.load_model(MLPERF[request.param])
    return request.param, requantize_weights(g, _mixed_plan(3))


def _weight_arrays(outdir):
    """{symbol: (ctype, count, number of literals)} from mcc_weights.c."""
    text = (outdir / "mcc_weights.c").read_text()
    out = {}
    for m in re.finditer(r"const (\w+) (\w+)\[(\d+)\] MCC_ALIGNED = \{(.*?)\};", text, re.S):
        out[m.group(2)] = (m.group(1), int(m.group(3)), len(m.group(4).split(",")))
    return out


def test_requantized_graph_has_sub_byte_layers(subbyte_graph):
    _, g = subbyte_graph
    widths = [weight_widths(g, op) for op in g.ops if op.kind in PACKED_OPS]
    assert sum(w is not None for w in widths) >= 3
    assert any(w is not None and len(set(w)) > 1 for w in widths)  # a mixed layer


def test_host_build_matches_reference_and_packed_sizes(subbyte_graph, tmp_path):
    name, g = subbyte_graph
    r = api.compile_graph(g, tmp_path / "out", CompileOptions())
    x = api.random_inputs(g, 6, seed=2)
    y = api.run(r.outdir, x)
    assert np.array_equal(y, reference_outputs(g, x).reshape(y.shape)), name
    manifest = json.loads((r.outdir / "mcc.json").read_text())
    packed_kernels = {k for k in manifest["kernels"] if k and k.endswith("_packed")}
    assert packed_kernels, manifest["kernels"]
    # every emitted weight array: packed_size bytes for sub-byte tensors, nbytes for the others
    arrays = _weight_arrays(r.outdir)
    total = 0
    n_packed = 0
    for op in g.ops:
        widths = weight_widths(g, op)
        if widths is None:
            continue
        w = g.tensors[op.inputs[1]]
        size = packed_size(w.shape, widths, PACKED_OPS[op.kind][0])
        hits = [v for v in arrays.values() if v[0] == "uint8_t" and v[1] == size and v[2] == size]
        assert hits, (op.name, size)
        n_packed += 1
    assert n_packed == sum(v[0] == "uint8_t" for v in arrays.values())
    for ctype, count, literals in arrays.values():
        assert count == literals
        total += count * {"uint8_t": 1, "int8_t": 1, "int32_t": 4}[ctype]
    assert total == r.weight_bytes == stored_weight_bytes(g) == manifest["weight_bytes"]
    assert r.weight_bytes < sum(g.tensors[n].nbytes for n in g.constants())


@pytest.mark.skipif(not qk.available(), reason="arm-none-eabi-gcc / qemu-system-arm missing")
@pytest.mark.slow
def test_qemu_m4_matches_reference(subbyte_graph, tmp_path):
    name, g = subbyte_graph
    r = api.compile_graph(g, tmp_path / "out", CompileOptions(target="mps2-an386"))
    x = api.random_inputs(g, 2, seed=4)
    out = g.tensors[g.outputs[0]]
    y = qemu.run_qemu(r.outdir, "mps2-an386", x, out.shape, out.dtype)
    assert np.array_equal(y.reshape(len(x), -1), reference_outputs(g, x).reshape(len(x), -1)), name
    size = qemu.firmware_size(r.outdir)
    assert size["flash_by_component"]["weights"] >= r.weight_bytes
