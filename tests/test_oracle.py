"""The TFLM oracle (mcc.oracle): outputs, batching, intermediates, arena size, clean failures."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import flatbuffers
import numpy as np
import pytest
import tflite

from mcc.errors import InputDataError, MccError, ModelFormatError
from mcc.oracle import TflmError, run_tflm, tflm_arena_bytes, tflm_arena_report
from mcc.oracle import tflm as tflm_mod

ROOT = Path(__file__).resolve().parents[1]
MLPERF = ROOT / "examples" / "mlperf_tiny"
KWS = MLPERF / "kws" / "dscnn_int8.tflite"
OPS = ROOT / "tests" / "data" / "ops"
MODELS = {
    "ic": (MLPERF / "ic" / "resnet8_int8.tflite", (32, 32, 3)),
    "kws": (KWS, (49, 10, 1)),
    "sww": (MLPERF / "sww" / "sww_dscnn_int8.tflite", (30, 1, 40)),
}


def _kws_sample() -> np.ndarray:
    return np.load(MLPERF / "kws" / "sample_int8_49x10.npy").reshape(1, 49, 10, 1)


def _subgraph(path: Path):
    model = tflite.Model.GetRootAsModel(path.read_bytes(), 0)
    return model, model.Subgraphs(0)


def _nonconstant_tensors(path: Path) -> set[int]:
    model, sg = _subgraph(path)
    return {
        i for i in range(sg.TensorsLength())
        if model.Buffers(sg.Tensors(i).Buffer()).DataLength() == 0
    }


def test_dscnn_sample_predicts_on():
    labels = (MLPERF / "kws" / "labels.txt").read_text().split()
    res = run_tflm(KWS, _kws_sample())
    assert res.outputs.shape == (1, 12)
    assert res.outputs.dtype == np.int8
    assert labels[int(np.argmax(res.outputs[0]))] == "on"
    assert res.all_outputs[0] is res.outputs
    assert res.intermediates is None


def test_batch_equals_single_runs():
    rng = np.random.default_rng(7)
    batch = np.concatenate(
        [_kws_sample(), rng.integers(-128, 128, (4, 49, 10, 1), dtype=np.int8)]
    )
    res = run_tflm(KWS, batch)
    assert res.outputs.shape == (5, 12)
    for i in range(len(batch)):
        single = run_tflm(KWS, batch[i : i + 1])
        np.testing.assert_array_equal(res.outputs[i], single.outputs[0])
    # Order independence: TFLM keeps no state from one sample to the next.
    rev = run_tflm(KWS, batch[::-1].copy(), reset=False)
    np.testing.assert_array_equal(rev.outputs[::-1], res.outputs)


def test_sample_layouts_are_reshaped_to_the_model_input():
    x = _kws_sample()
    ref = run_tflm(KWS, x).outputs
    np.testing.assert_array_equal(run_tflm(KWS, x.reshape(1, 490)).outputs, ref)
    np.testing.assert_array_equal(run_tflm(KWS, x.reshape(1, 1, 49, 10, 1)).outputs, ref)


def test_intermediates_cover_every_nonconstant_tensor():
    rng = np.random.default_rng(3)
    batch = np.concatenate([_kws_sample(), rng.integers(-128, 128, (2, 49, 10, 1), dtype=np.int8)])
    res = run_tflm(KWS, batch, keep_intermediates=True)
    plain = run_tflm(KWS, batch)
    np.testing.assert_array_equal(res.outputs, plain.outputs)
    assert set(res.intermediates) == _nonconstant_tensors(KWS)
    _, sg = _subgraph(KWS)
    for idx, arr in res.intermediates.items():
        shape = tuple(int(d) for d in sg.Tensors(idx).ShapeAsNumpy())
        assert arr.shape == (3, *shape[1:]), idx
        assert arr.dtype == np.int8
    (inp,), (out,) = res.input_indices, res.output_indices
    np.testing.assert_array_equal(res.intermediates[inp], batch)
    np.testing.assert_array_equal(res.intermediates[out], res.outputs)
    # DS-CNN: first conv output is 25x5x64 and not constant (the ReLU clamps at -128).
    first = sg.Operators(0).Outputs(0)
    assert res.intermediates[first].shape == (3, 25, 5, 64)
    assert len(np.unique(res.intermediates[first])) > 10


@pytest.mark.parametrize("name", sorted(MODELS))
def test_arena_bytes_plausible_and_minimal(name):
    path, in_shape = MODELS[name]
    rep = tflm_arena_report(path)
    assert rep.total == rep.head + rep.tail
    assert tflm_arena_bytes(path) == rep.total
    _, sg = _subgraph(path)
    nonconst = _nonconstant_tensors(path)
    # The planned head holds at least the largest op's input and output activations.
    biggest = 0
    for i in range(sg.OperatorsLength()):
        op = sg.Operators(i)
        ins = [op.Inputs(k) for k in range(op.InputsLength())]
        act = [t for t in ins + [op.Outputs(0)] if t in nonconst]
        biggest = max(biggest, sum(int(np.prod(sg.Tensors(t).ShapeAsNumpy())) for t in act))
    assert biggest <= rep.head < 4 * biggest + 4096
    assert 0 < rep.tail < 64 * 1024
    assert rep.total < 256 * 1024
    # The total is what TFLM needs: it runs in exactly that arena and fails 16 bytes short.
    x = np.zeros((1, *in_shape), np.int8)
    run_tflm(path, x, arena_size=rep.total)
    with pytest.raises(TflmError, match="allocate"):
        run_tflm(path, x, arena_size=rep.total - 16)


def test_known_arena_totals():
    # TFLM (tflite-micro 0.dev20261023182759) RecordingMicroAllocator totals, bytes.
    assert tflm_arena_bytes(MODELS["kws"][0]) == 24272
    assert tflm_arena_bytes(MODELS["ic"][0]) == 55984
    assert tflm_arena_bytes(MODELS["sww"][0]) == 16640


def _with_bad_operator_input(tmp_path: Path) -> Path:
    """DS-CNN with operator 0's first input index pointing far past the tensor list: TFLM
    segfaults on it when it builds the graph."""
    buf = bytearray(KWS.read_bytes())
    model = tflite.Model.GetRootAsModel(bytes(buf), 0)
    op = model.Subgraphs(0).Operators(0)
    pos = op._tab.Vector(flatbuffers.number_types.UOffsetTFlags.py_type(op._tab.Offset(6)))
    assert struct.unpack_from("<i", buf, pos)[0] == op.Inputs(0)
    struct.pack_into("<i", buf, pos, 1_000_000)
    path = tmp_path / "bad_index.tflite"
    path.write_bytes(bytes(buf))
    return path


def test_crashing_model_gives_clean_error(tmp_path):
    path = _with_bad_operator_input(tmp_path)
    with pytest.raises(TflmError) as info:
        run_tflm(path, _kws_sample())
    assert isinstance(info.value, MccError)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("kind", ["truncated", "garbage", "empty"])
def test_corrupt_model_gives_clean_error(tmp_path, kind):
    data = KWS.read_bytes()
    content = {
        "truncated": data[:3000],
        "garbage": np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes(),
        "empty": b"",
    }[kind]
    path = tmp_path / f"{kind}.tflite"
    path.write_bytes(content)
    with pytest.raises(TflmError):
        run_tflm(path, _kws_sample())
    with pytest.raises(TflmError):
        tflm_arena_bytes(path)


def test_subprocess_killed_by_signal_is_reported(monkeypatch):
    monkeypatch.setattr(
        tflm_mod, "_worker_command",
        lambda: [sys.executable, "-c", "import os; print('about to die', flush=True); os.abort()"],
    )
    with pytest.raises(TflmError, match=r"killed by signal 6[\s\S]*about to die"):
        run_tflm(KWS, _kws_sample())


def test_input_errors():
    with pytest.raises(ModelFormatError, match="not found"):
        run_tflm(ROOT / "no_such_model.tflite", _kws_sample())
    with pytest.raises(InputDataError, match="dtype float32"):
        run_tflm(KWS, _kws_sample().astype(np.float32))
    with pytest.raises(InputDataError, match="49, 11"):
        run_tflm(KWS, np.zeros((1, 49, 11), np.int8))
    with pytest.raises(InputDataError, match="sample"):
        run_tflm(KWS, np.zeros((0, 49, 10, 1), np.int8))
    with pytest.raises(InputDataError, match="2 inputs"):
        run_tflm(OPS / "add.tflite", np.zeros((1, 4, 4, 3), np.int8))


def test_multiple_inputs_follow_model_order():
    path = OPS / "concat3.tflite"
    _, sg = _subgraph(path)
    shapes = [tuple(int(d) for d in sg.Tensors(sg.Inputs(k)).ShapeAsNumpy()) for k in range(3)]
    rng = np.random.default_rng(5)
    xs = [rng.integers(-128, 128, (2, *s[1:]), dtype=np.int8) for s in shapes]
    res = run_tflm(path, xs, keep_intermediates=True)
    assert res.outputs.shape == (2, 4, 4, 6)
    for k, t in enumerate(res.input_indices):
        np.testing.assert_array_equal(res.intermediates[t], xs[k])
    # The converter orders model inputs its own way (here not the concat's operand order).
    # TF 2.21 gives concat inputs the output's quantization, so the concat is a plain copy.
    op = sg.Operators(0)
    by_tensor = dict(zip(res.input_indices, xs))
    operands = [by_tensor[op.Inputs(k)] for k in range(op.InputsLength())]
    np.testing.assert_array_equal(res.outputs, np.concatenate(operands, axis=-1))


def test_float_io_model():
    path = OPS / "float_io_conv.tflite"
    x = np.random.default_rng(1).uniform(-1, 1, (3, 6, 6, 2)).astype(np.float32)
    res = run_tflm(path, x)
    assert res.outputs.dtype == np.float32
    assert res.outputs.shape == (3, 6, 6, 3)
    assert (res.outputs >= 0).all()  # fused ReLU


@pytest.mark.parametrize("path", sorted(OPS.glob("*.tflite")), ids=lambda p: p.stem)
def test_op_models_run_in_tflm(path):
    _, sg = _subgraph(path)
    rng = np.random.default_rng(0)
    xs = []
    for k in range(sg.InputsLength()):
        t = sg.Tensors(sg.Inputs(k))
        shape = (2, *(int(d) for d in t.ShapeAsNumpy()[1:]))
        if t.Type() == tflite.TensorType.FLOAT32:
            xs.append(rng.uniform(-1, 1, shape).astype(np.float32))
        else:
            xs.append(rng.integers(-128, 128, shape, dtype=np.int8))
    res = run_tflm(path, xs)
    out = sg.Tensors(sg.Outputs(0))
    assert res.outputs.shape == (2, *(int(d) for d in out.ShapeAsNumpy()[1:]))
