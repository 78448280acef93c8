"""Mixed activation widths (issue 6): activations per tensor at 8 or 16 bits.

  * the width conversions (QUANTIZE int8 -> int16 and int16 -> int8, TFLite Requantize) compiled
    to host C and run by mcc's reference interpreter == TFLM on hand-built one-op .tflite models;
  * quantize_mixed: QUANTIZE exactly where the width changes, none at all-8 / all-16, and a
    mixed Fashion CNN compiled to host C == the numpy reference interpreter, bit for bit;
  * the planner (mcc.planner.act_bits) widens where 16 bits lower the output error and stays
    within the arena / SRAM budget; the mixed integer model is closer to the float model;
  * bad widths and bad inputs give clear errors.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import qemu_kernels as qk

import mcc.api as api
from mcc.errors import MccError
from mcc.options import CompileOptions
from mcc.reference import interp

ROOT = Path(__file__).resolve().parent.parent
FASHION_CNN = ROOT / "tests/data/fashion_cnn.keras"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


# --- the conversions against TFLM ------------------------------------------------------------------


def quantize_tflite(path: Path, bits_in: int, bits_out: int, s_in: float, zp_in: int, s_out: float,
                    zp_out: int, n: int = 256) -> Path:
    """A .tflite with one QUANTIZE op from an int<bits_in> tensor to an int<bits_out> one."""
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as sf

    types = {8: sf.TensorType.INT8, 16: sf.TensorType.INT16}

    def tensor(name, bits, s, zp, buf):
        t = sf.TensorT()
        t.name, t.shape, t.type, t.buffer = name, [1, n], types[bits], buf
        q = sf.QuantizationParametersT()
        q.scale, q.zeroPoint = [s], [zp]
        t.quantization = q
        return t

    m = sf.ModelT()
    m.version = 3
    m.description = "mcc test: one QUANTIZE"
    m.buffers = [sf.BufferT(), sf.BufferT(), sf.BufferT()]
    code = sf.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = sf.BuiltinOperator.QUANTIZE
    code.version = 1
    m.operatorCodes = [code]
    op = sf.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0], [1]
    sg = sf.SubGraphT()
    sg.tensors = [tensor("x", bits_in, s_in, zp_in, 1), tensor("y", bits_out, s_out, zp_out, 2)]
    sg.inputs, sg.outputs, sg.operators, sg.name = [0], [1], [op], "main"
    m.subgraphs = [sg]
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    path.write_bytes(bytes(b.Output()))
    return path


# (bits_in, bits_out, s_in, zp_in, s_out, zp_out): multipliers below and above 1, zero points
CONVERSIONS = [
    (8, 16, 0.05, -3, 0.0004, 0), (8, 16, 0.02, 17, 0.002, 0), (8, 16, 1.0 / 255, -128, 1.0 / 32768, 0),
    (16, 8, 0.0004, 0, 0.05, 5), (16, 8, 0.001, 0, 0.0039, -128), (16, 8, 0.00003, 0, 0.09, 0),
    (8, 16, 0.3, 0, 0.00001, 0),  # saturates at int16
]


@pytest.mark.slow
@pytest.mark.parametrize("case", CONVERSIONS, ids=lambda c: f"s{c[0]}-s{c[1]}-{c[2]}-{c[4]}")
def test_conversion_kernels_bit_exact_with_tflm(case, tmp_path):
    from mcc.oracle.tflm import run_tflm

    bits_in, bits_out = case[:2]
    model = quantize_tflite(tmp_path / "q.tflite", *case)
    dtype = np.int8 if bits_in == 8 else np.int16
    info = np.iinfo(dtype)
    rng = np.random.default_rng(abs(hash(case)) % 1000)
    x = rng.integers(info.min, info.max + 1, (6, 1, 256))
    span = min(info.max, int(140 * case[4] / case[2]) + 1)  # inputs inside the output range
    x[3:] = rng.integers(-span, span + 1, (3, 1, 256))
    x = x.astype(dtype)
    x[0, 0, :4] = [info.min, info.max, 0, -1]
    want = run_tflm(model, x).outputs.reshape(6, 256)
    assert want.dtype == (np.int8 if bits_out == 8 else np.int16)
    g = api.load_model(model)
    assert [op.kind for op in g.ops] == ["QUANTIZE"]
    ref = np.stack([interp.run(g, [x[i]])[0].ravel() for i in range(len(x))])
    assert np.array_equal(ref, want)
    out = api.compile_graph(g, tmp_path / "out", CompileOptions(force=True)).outdir
    got = api.run(out, x).reshape(6, 256)
    assert np.array_equal(got, want)
    assert len(np.unique(want)) > (2 if case[2] / case[4] > 1000 else 20)  # the last case saturates


# --- the mixed graph ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fashion():
    from make_fashion_cnn import load_fashion_mnist
    from mcc.frontend.keras import load_keras
    from mcc.passes.calibrate import calibrate
    from mcc.passes.pipeline import run_float_passes

    x = load_fashion_mnist("train")[0][:48]
    g = run_float_passes(load_keras(FASHION_CNN))
    return g, calibrate(g, x, "minmax", progress=False), x


def _conversions(g):
    return [op for op in g.ops if op.kind == "QUANTIZE" and g.tensors[op.inputs[0]].dtype != "float32"]


def test_quantize_mixed_inserts_conversions_where_the_width_changes(fashion):
    from mcc.passes.act_widths import quantize_mixed, widenable

    fg, ranges, _ = fashion
    for widths, n_conv in (({}, 0), ({n: 16 for n in widenable(fg)}, 0)):
        g = quantize_mixed(fg, ranges, widths)
        assert len(_conversions(g)) == n_conv
    widths = {"re_lu_1": 16, "dense_pre": 16}
    g = quantize_mixed(fg, ranges, widths)
    for op in g.ops:
        dts = {g.tensors[n].dtype for n in (op.inputs[0], op.outputs[0])}
        if op.kind == "QUANTIZE" and "float32" not in dts:
            assert dts == {"int8", "int16"}
        elif op.kind not in ("QUANTIZE", "DEQUANTIZE"):
            assert len(dts) == 1, op  # every other op runs at one width
            want = "int16" if op.outputs[0] in widths else "int8"
            assert g.tensors[op.outputs[0]].dtype == want
    # every consumer of a 16-bit tensor at the other width reads one converted copy
    bits = lambda n: widths.get(n, 8)  # noqa: E731
    acts = set(fg.activations())
    want = {(n, bits(op.outputs[0])) for op in fg.ops for n in op.inputs
            if n in acts and bits(n) != bits(op.outputs[0])}
    assert want and {n for n, _ in want} >= {"re_lu_1", "dense_pre"}
    got = {(op.inputs[0], 16 if g.tensors[op.outputs[0]].dtype == "int16" else 8) for op in _conversions(g)}
    assert got == want
    assert len(_conversions(g)) == len({(op.inputs[0], g.tensors[op.outputs[0]].dtype) for op in _conversions(g)})


@pytest.mark.slow
def test_mixed_fashion_cnn_compiled_c_bit_exact_with_reference(fashion, tmp_path):
    from mcc.passes.act_widths import quantize_mixed, widenable

    fg, ranges, x = fashion
    wid = widenable(fg)
    for k, widths in enumerate(({n: 16 for n in wid[::2]}, {n: 16 for n in wid[1::3]})):
        g = quantize_mixed(fg, ranges, widths)
        assert g.meta["quantized"] == "mixed" and len(_conversions(g)) >= 3
        out = api.compile_graph(g, tmp_path / f"out{k}", CompileOptions(force=True)).outdir
        y = api.run(out, x[:12])
        ref = np.stack([interp.run(g, [x[i:i + 1]])[0] for i in range(12)]).reshape(y.shape)
        assert np.array_equal(y, ref)
        assert len(np.unique(y)) > 20


def test_mixed_widths_errors(fashion):
    from mcc.passes.act_widths import quantize_mixed

    fg, ranges, _ = fashion
    with pytest.raises(MccError, match="does not have: nope"):
        quantize_mixed(fg, ranges, {"nope": 16})
    with pytest.raises(MccError, match="must be 8 or 16, got 4"):
        quantize_mixed(fg, ranges, {"dense": 4})
    with pytest.raises(MccError, match="io must be"):
        quantize_mixed(fg, ranges, {}, io="int16")


def test_logistic_stays_8_bits():
    from mcc.ir import Graph, NoAttrs, Op, Tensor
    from mcc.passes.act_widths import quantize_mixed, widenable

    t = {"x": Tensor("x", (1, 4), "float32"), "y": Tensor("y", (1, 4), "float32")}
    g = Graph(t, (Op("LOGISTIC", ("x",), ("y",), NoAttrs(), name="sig"),), ("x",), ("y",), {})
    assert widenable(g) == ["x"]
    with pytest.raises(MccError, match="LOGISTIC sig has no 16-bit kernel"):
        quantize_mixed(g, {"x": (-1.0, 1.0), "y": (0.0, 1.0)}, {"y": 16})


# --- the planner ---------------------------------------------------------------------------------


def _mse(g, x, y_float):
    y = np.stack([interp.run(g, [x[i:i + 1]])[0] for i in range(len(x))]).reshape(y_float.shape)
    return float(np.mean((y.astype(np.float64) - y_float) ** 2))


def test_planner_widens_where_it_helps_within_the_arena_budget(fashion):
    from mcc.passes.act_widths import quantize_mixed
    from mcc.planner.act_bits import act_sensitivity, arena_of, choose_activation_widths
    from mcc.reference import float_interp

    fg, ranges, x = fashion
    errors = act_sensitivity(fg, ranges, x[:24])
    gains = {n: e8 - e16 for n, (e8, e16) in errors.items()}
    assert max(gains.values()) > 0 and all(e16 <= e8 for e8, e16 in errors.values() if e8 > 1e-9)
    a8 = arena_of(quantize_mixed(fg, ranges, {}), False)
    a16 = arena_of(quantize_mixed(fg, ranges, {n: 16 for n, v in gains.items() if v > 0}), False)
    assert a16 > a8
    tight = choose_activation_widths(fg, ranges, x[:24], arena_budget=a8)
    mid = choose_activation_widths(fg, ranges, x[:24], arena_budget=(a8 + a16) // 2)
    loose = choose_activation_widths(fg, ranges, x[:24], arena_budget=a16)
    for ap, budget in ((tight, a8), (mid, (a8 + a16) // 2), (loose, a16)):
        g = quantize_mixed(fg, ranges, ap.widths)
        assert ap.arena == arena_of(g, False) <= budget
        assert all(gains[n] > 0 for n in ap.wide)
    assert 0 < len(tight.wide) <= len(mid.wide) <= len(loose.wide)
    assert set(loose.wide) == {n for n, v in gains.items() if v > 0}
    # the most sensitive tensors are at the arena peak: the tight budget cannot widen them
    top = max(gains, key=gains.get)
    assert top not in tight.wide and top in loose.wide
    # 16 bits where the planner chose them bring the integer model closer to the float model
    y_float = float_interp.run(fg, [x[:16]])[0].astype(np.float64)
    e8 = _mse(quantize_mixed(fg, ranges, {}), x[:16], y_float)
    e_mid = _mse(quantize_mixed(fg, ranges, mid.widths), x[:16], y_float)
    e_loose = _mse(quantize_mixed(fg, ranges, loose.widths), x[:16], y_float)
    assert e_loose < e_mid < e8


def test_planner_errors(fashion):
    from mcc.planner.act_bits import choose_activation_widths

    fg, ranges, x = fashion
    with pytest.raises(MccError, match="need a budget"):
        choose_activation_widths(fg, ranges, x[:8])
    with pytest.raises(MccError, match="no activation can be widened"):
        choose_activation_widths(fg, ranges, x[:8], arena_budget=1000)


@pytest.mark.slow
def test_cli_plan_act_widths_and_compile_with_the_plan(tmp_path, fashion):
    """`mcc plan --act-widths` within an SRAM budget; `mcc compile --plan` builds the mixed graph,
    and the linker's SRAM equals the plan's prediction."""
    import json

    from click.testing import CliRunner
    from mcc.cli import main

    _, _, x = fashion
    calib = tmp_path / "calib.npy"
    np.save(calib, x[:32])
    plan = tmp_path / "plan.json"
    r = CliRunner().invoke(main, ["plan", str(FASHION_CNN), "-t", "mps2-an386", "--calib", str(calib),
                                  "--act-widths", "--sram", "48k", "-o", str(plan)])
    assert r.exit_code == 0, r.output
    assert "activation widths" in r.output
    p = json.loads(plan.read_text())
    assert p["activation_widths"] and set(p["activation_widths"].values()) == {16}
    assert p["sram"] <= 48 * 1024
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["compile", str(FASHION_CNN), "-t", "mps2-an386", "--calib", str(calib),
                                  "--plan", str(plan), "-o", str(out)])
    assert r.exit_code == 0, r.output
    model_c = (out / "mcc_model.c").read_text()
    assert "mcc_requantize_s16(" in model_c and "_s16(" in model_c.replace("mcc_requantize_s16(", "")
    assert sum(api.size(out).sram.values()) == p["sram"]  # the linker's SRAM is the plan's
    # a .tflite has no float model to widen
    r = CliRunner().invoke(main, ["plan", str(ROOT / "examples/mlperf_tiny/kws/dscnn_int8.tflite"), "-t",
                                  "mps2-an386", "--act-widths", "--calib", str(calib)])
    assert r.exit_code == 2 and "pass a Keras model" in r.output
    r = CliRunner().invoke(main, ["plan", str(FASHION_CNN), "-t", "mps2-an386", "--act-widths"])
    assert r.exit_code == 2 and "need representative inputs" in r.output


@pytest.mark.slow
@pytest.mark.skipif(not qk.available(), reason="qemu-system-arm / arm-none-eabi-gcc not installed "
                                               "(setup.sh installs both; CI runs this test)")
def test_mixed_fashion_cnn_on_qemu_m4_bit_exact(fashion, tmp_path):
    from mcc.passes.act_widths import quantize_mixed, widenable

    fg, ranges, x = fashion
    g = quantize_mixed(fg, ranges, {n: 16 for n in widenable(fg)[1::2]})
    out = api.compile_graph(g, tmp_path / "m4", CompileOptions(target="mps2-an386", force=True)).outdir
    y = api.run(out, x[:3])
    ref = np.stack([interp.run(g, [x[i:i + 1]])[0] for i in range(3)]).reshape(y.shape)
    assert np.array_equal(y, ref)
