"""Generated C (host build) == TFLM reference interpreter, bit for bit, on the MLPerf Tiny models."""

import numpy as np
import pytest

import mcc.api as api
from mcc.oracle.tflm import run_tflm
from mcc.options import CompileOptions

from conftest import MLPERF, ROOT


def _real_samples(name, g):
    x = g.tensors[g.inputs[0]]
    if name == "dscnn":
        return np.load(ROOT / "examples/mlperf_tiny/kws/sample_int8_49x10.npy").reshape((1,) + x.shape), None
    if name == "sww":
        d = np.load(ROOT / "examples/mlperf_tiny/sww/labelled_windows.npz")
        q = x.quant
        xq = np.clip(np.round(d["specs"] / q.s) + q.zp, -128, 127).astype(np.int8)
        return xq.reshape((-1,) + x.shape), d["labels"]
    return None, None  # no CIFAR-10 images are available offline


@pytest.fixture(scope="module", params=sorted(MLPERF))
def compiled(request, tmp_path_factory):
    name = request.param
    out = tmp_path_factory.mktemp(name) / "out"
    r = api.compile(MLPERF[name], out, CompileOptions())
    return name, r


def test_bit_exact_with_tflm_on_random_and_real_inputs(compiled):
    name, r = compiled
    g = r.graph
    parts = [api.random_inputs(g, 100, seed=1)]
    real, labels = _real_samples(name, g)
    if real is not None:
        parts.append(real)
    x = np.concatenate(parts)
    y_c = api.run(r.outdir, x)
    y_ref = run_tflm(MLPERF[name], x).outputs.reshape(y_c.shape)
    mismatched = [i for i in range(len(x)) if not np.array_equal(y_c[i], y_ref[i])]
    assert mismatched == [], f"{name}: {len(mismatched)} of {len(x)} outputs differ"
    if labels is not None:  # the int8 SWW model scores 91.1 % on the 45 real windows
        acc = np.mean(y_c[100:].reshape(len(labels), -1).argmax(1) == labels)
        assert acc == pytest.approx(41 / 45)


def test_dscnn_real_sample_predicts_on(tmp_path):
    r = api.compile(MLPERF["dscnn"], tmp_path / "out", CompileOptions())
    x, _ = _real_samples("dscnn", r.graph)
    labels = (ROOT / "examples/mlperf_tiny/kws/labels.txt").read_text().split()
    assert labels[int(api.run(r.outdir, x).reshape(-1).argmax())] == "on"


def test_recompile_is_byte_identical(compiled, tmp_path):
    name, r = compiled
    r2 = api.compile(MLPERF[name], tmp_path / "again", CompileOptions())
    for f in r.files + ("mcc.json",):
        assert (r.outdir / f).read_bytes() == (r2.outdir / f).read_bytes(), f


def test_memory_plan_reaches_lower_bound(compiled):
    _, r = compiled
    assert r.plan.arena_bytes == r.plan.lower_bound
    assert f"#define MCC_ARENA_SIZE {r.plan.arena_bytes}" in (r.outdir / "mcc_model.h").read_text()


def test_compile_time_under_five_seconds(compiled):
    _, r = compiled
    assert r.seconds < 5.0


@pytest.mark.slow
def test_sanitizers_clean(compiled):
    """ASan+UBSan build (-fno-sanitize-recover) runs 20 random inputs with identical outputs."""
    from mcc.sim import host

    name, r = compiled
    g = r.graph
    x = api.random_inputs(g, 20, seed=2)
    y_t = g.tensors[g.outputs[0]]
    y_san = host.run(r.outdir, x, y_t.shape, y_t.dtype, variant="sanitize")
    np.testing.assert_array_equal(y_san, api.run(r.outdir, x))
