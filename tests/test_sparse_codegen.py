"""Unstructured-sparse kernels in compiled models (mcc.lower.sparse_layers): chosen per layer only
when they cut flash or predicted instructions, the encoded stream and folded bias emitted in place
of the dense weights, and the C output bit-exact with the numpy reference interpreter on the host
and under QEMU (Cortex-M4 with DSP, Cortex-M3 portable); `--no-sparse` keeps the dense kernels."""

import re
import warnings

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from sparse_models import calibration, pruned_graph, pruned_keras, without_bias  # noqa: E402
from test_ptq import run_int8  # noqa: E402
from mcc import api  # noqa: E402
from mcc.lower import sparse as S  # noqa: E402
from mcc.lower.scratch import scratch_for  # noqa: E402
from mcc.lower.sparse_layers import SPARSE_RECORDS, sparse_records  # noqa: E402
from mcc.options import CompileOptions  # noqa: E402
import qemu_kernels as qk  # noqa: E402

warnings.filterwarnings("ignore", message="The structure of `inputs`")

FC, C1 = "mcc_fully_connected_sparse_s8", "mcc_conv_1x1_sparse_s8"
OPTS = dict(force=True, progress=False)


def called(outdir) -> list[str]:
    """The kernels mcc_model_run calls, in order."""
    return re.findall(r"status = (mcc_\w+)\(", (outdir / "mcc_model.c").read_text())


def header_weight_bytes(outdir) -> int:
    return int(re.search(r"#define MCC_WEIGHT_BYTES (\d+)", (outdir / "mcc_weights.h").read_text()).group(1))


def check_run(g, outdir, x):
    y = api.run(outdir, x)
    np.testing.assert_array_equal(y.reshape(len(x), -1), run_int8(g, x).reshape(len(x), -1))


@pytest.fixture(scope="module")
def sparse90():
    return pruned_graph(0.9)


@pytest.mark.parametrize("bias", [True, False])
def test_pruned_layers_use_sparse_kernels_bit_exact_on_host(tmp_path, bias):
    g = pruned_graph(0.9) if bias else without_bias(pruned_graph(0.9, bias=False))
    x = calibration(6, seed=5)
    r = api.compile_graph(g, tmp_path / "s", CompileOptions(**OPTS))
    d = api.compile_graph(g, tmp_path / "d", CompileOptions(sparse=False, **OPTS))
    assert called(r.outdir)[1:5] == ["mcc_conv_s8", C1, FC, FC]   # stem 3x3 stays dense
    assert FC not in called(d.outdir) and C1 not in called(d.outdir)
    check_run(g, r.outdir, x)
    check_run(g, d.outdir, x)
    # flash: the encoded weights (2 bytes per kept weight + 2 per row) replace the dense bytes
    fc1 = next(op for op in g.ops if op.name == "fc1")
    enc = S.encode(np.asarray(g.tensors[fc1.inputs[1]].data))
    assert enc.nbytes < g.tensors[fc1.inputs[1]].nbytes / 4
    assert r.weight_bytes < d.weight_bytes * 0.4
    assert header_weight_bytes(r.outdir) == r.weight_bytes and header_weight_bytes(d.outdir) == d.weight_bytes
    text = (r.outdir / "mcc_model.c").read_text()
    assert f"sparse encoding: density {100 * enc.nnz / enc.depth / enc.rows:.1f} %" in text
    assert f"{enc.nbytes} bytes sparse vs {enc.rows * enc.depth} dense" in text
    if not bias:  # the folded biases are emitted as constants of their own
        assert "mcc_w_fc1_folded_bias, (int8_t *)" in text and "mcc_w_fc2_folded_bias, (int8_t *)" in text


def test_dense_kept_when_weights_are_dense(tmp_path):
    g = pruned_graph(0.0)
    r = api.compile_graph(g, tmp_path / "o", CompileOptions(**OPTS))
    assert not {FC, C1} & set(called(r.outdir))
    for op, rec in zip(g.ops, api.lower_graph(g)):
        if op.kind == "FULLY_CONNECTED":
            c = S.choose(op.kind, rec, np.asarray(g.tensors[op.inputs[1]].data), False)
            assert not c.use_sparse and c.sparse_bytes > c.dense_bytes


def test_choice_follows_the_model_per_layer(sparse90):
    """Each op is sparse exactly when mcc.lower.sparse.choose says so on that core."""
    for has_dsp in (False, True):
        recs = sparse_records(sparse90, api.lower_graph(sparse90), has_dsp)
        for op, rec in zip(sparse90.ops, recs):
            if op.kind in ("FULLY_CONNECTED", "CONV_2D") and op.name != "stem":
                w = np.asarray(sparse90.tensors[op.inputs[1]].data)
                assert (type(rec) in SPARSE_RECORDS) == S.choose(op.kind, rec, w, has_dsp).use_sparse
            else:
                assert type(rec) not in SPARSE_RECORDS


def test_planner_gives_sparse_kernels_no_scratch(sparse90):
    """On a DSP core the dense FC kernel takes scratch; its sparse replacement none. (This model's
    small 1x1 conv stays dense on a DSP core: sparse would save 510 B for 3x the instructions.)"""
    dense = api.lower_graph(sparse90)
    recs = sparse_records(sparse90, dense, True)
    kernels = api.select_kernels(sparse90, recs, True)
    sparse_ops = [i for i, r in enumerate(recs) if type(r) in SPARSE_RECORDS]
    assert [kernels[i] for i in sparse_ops] == [FC, FC]
    assert all(scratch_for(kernels[i], recs[i], True) == 0 for i in sparse_ops)
    dense_k = api.select_kernels(sparse90, dense, True)
    assert all(scratch_for(dense_k[i], dense[i], True) > 0 for i in sparse_ops)
    plan = api.plan_memory(sparse90, recs, True, kernels)
    assert all(plan.scratch(i) is None for i in sparse_ops)
    from mcc.planner.optimize import plan_optimized
    mem = plan_optimized(sparse90, recs, True)
    assert FC in mem.kernels
    for i, k in enumerate(mem.kernels):
        if k in (FC, C1):
            assert mem.plan.scratch(i) is None


def test_cli_no_sparse_and_analyze_weight_bytes(tmp_path):
    from click.testing import CliRunner

    from mcc.cli import main

    src, calib = tmp_path / "m.keras", tmp_path / "calib.npy"
    pruned_keras(0.85).save(src)
    np.save(calib, calibration())
    runner = CliRunner()
    r1 = runner.invoke(main, ["compile", str(src), "--calib", str(calib), "-o", str(tmp_path / "s")])
    r2 = runner.invoke(main, ["compile", str(src), "--calib", str(calib), "-o", str(tmp_path / "d"), "--no-sparse"])
    assert r1.exit_code == 0 and r2.exit_code == 0, r1.output + r2.output
    assert FC in called(tmp_path / "s") and FC not in called(tmp_path / "d")
    a_s = api.analyze(src, options=CompileOptions(calib=str(calib), progress=False))
    a_d = api.analyze(src, options=CompileOptions(calib=str(calib), progress=False, sparse=False))
    assert a_s.weight_bytes == header_weight_bytes(tmp_path / "s") < a_d.weight_bytes
    assert a_d.weight_bytes == header_weight_bytes(tmp_path / "d")
    # per layer: the sparse FC's weights are its stream + folded bias, the total their sum
    fc1 = next(layer for layer in a_s.layers if layer.kind == "FULLY_CONNECTED")
    fc1_d = next(layer for layer in a_d.layers if layer.kind == "FULLY_CONNECTED")
    assert fc1.weight_bytes < fc1_d.weight_bytes / 2
    assert sum(layer.weight_bytes for layer in a_s.layers) == a_s.weight_bytes
    assert sum(layer.weight_bytes for layer in a_d.layers) == a_d.weight_bytes


@pytest.mark.slow
@pytest.mark.skipif(not qk.available(), reason="QEMU or the Arm toolchain is missing")
@pytest.mark.parametrize("board", ["mps2-an386", "mps2-an385"])  # Cortex-M4 (DSP), Cortex-M3
def test_sparse_model_bit_exact_on_qemu(tmp_path, sparse90, board):
    x = calibration(4, seed=9)
    r = api.compile_graph(sparse90, tmp_path / "s", CompileOptions(target=board, **OPTS))
    # M3 (portable): the 1x1 conv is sparse too; M4 (DSP): it stays dense (3x the instructions)
    k = called(r.outdir)
    assert k.count(FC) == 2 and (C1 in k) == (board == "mps2-an385")
    check_run(sparse90, r.outdir, x)
    d = api.compile_graph(sparse90, tmp_path / "d", CompileOptions(target=board, sparse=False, **OPTS))
    assert api.size(r.outdir).flash["weights"] < api.size(d.outdir).flash["weights"]


@pytest.mark.slow
def test_level_pruned_model_compiles_sparse(tmp_path):
    from mcc.frontend.keras import load_keras
    from mcc.optimize.prune import PruneConfig, prune_model
    from mcc.quantize_api import quantize_model

    from prune_models import branchy, data

    x, y = data(64)
    res = prune_model(branchy(), PruneConfig(method="level", sparsity=0.8, schedule="oneshot", epochs=0),
                      x, y, progress=False)
    path = tmp_path / "pruned.keras"
    res.model.save(path)
    q = quantize_model(load_keras(keras.saving.load_model(path)), x, progress=False)
    fc = next(op for op in q.ops if op.name == "fc")
    assert S.sparsity(np.asarray(q.tensors[fc.inputs[1]].data)) >= 0.75
    r = api.compile_graph(q, tmp_path / "c", CompileOptions(**OPTS))
    assert FC in called(r.outdir)
    xs = data(8, seed=3)[0]
    check_run(q, r.outdir, xs)


@pytest.mark.slow
@pytest.mark.skipif(not qk.available(), reason="QEMU or the Arm toolchain is missing")
def test_size_prediction_counts_the_sparse_weights(tmp_path, sparse90, monkeypatch):
    """mcc.planner.cost.predict_graph (the bit planner's flash) sees the encoded weights too."""
    from mcc.planner.cost import predict_graph

    monkeypatch.setenv("MCC_CACHE_DIR", str(tmp_path / "cache"))
    r = api.compile_graph(sparse90, tmp_path / "s", CompileOptions(target="mps2-an386", **OPTS))
    assert sum(predict_graph(sparse90, "mps2-an386").weight_arrays.values()) == r.weight_bytes
    assert sum(predict_graph(sparse90, "mps2-an386", sparse=False).weight_arrays.values()) > 2 * r.weight_bytes


def test_rows_too_long_for_the_encoding_stay_dense(sparse90, monkeypatch):
    """A layer the stream cannot hold (a row over MAX_ENTRIES entries) keeps its dense kernel."""
    def longest_row(name):
        op = next(op for op in sparse90.ops if op.name == name)
        return int((S.as_matrix(np.asarray(sparse90.tensors[op.inputs[1]].data)) != 0).sum(axis=1).max())

    limit = max(longest_row("pw"), longest_row("fc2"))
    assert longest_row("fc1") > limit
    monkeypatch.setattr(S, "MAX_ENTRIES", limit)
    recs = sparse_records(sparse90, api.lower_graph(sparse90), False)
    kinds = {op.name: type(r).__name__ for r, op in zip(recs, sparse90.ops)}
    assert (kinds["pw"], kinds["fc1"], kinds["fc2"]) == ("SparseConvParams", "FullyConnectedParams",
                                                         "SparseFullyConnectedParams")
