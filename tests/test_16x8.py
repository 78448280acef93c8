"""16x8 quantization (int16 activations with zero point 0, int8 weights, int64 biases).

Single-operator models (tests/data/ops16, made by tests/make_16x8_models.py) and the MLPerf Tiny
DS-CNN converted to 16x8 (tests/data/dscnn_16x8.tflite): the numpy reference interpreter and the
host-compiled C against TFLM bit for bit, the C on QEMU Cortex-M4 against the host, the int64
requantization of C and Python against a big-integer formula, and the error paths.
"""

from __future__ import annotations

import ctypes
import shutil
from pathlib import Path

import numpy as np
import pytest

import ckernels as ck
import mcc.api as api
from conftest import ROOT
from mcc.errors import UnsupportedOperatorError
from mcc.frontend.tflite import load_tflite
from mcc.ir import Graph, Op, QuantParams, Tensor
from mcc.ir.attrs import FullyConnectedAttrs
from mcc.ir.verify import VerifyError, verify
from mcc.lower import params as P
from mcc.lower.lowering import lower_op
from mcc.options import CompileOptions
from mcc.oracle.tflm import run_tflm
from mcc.reference import interp
from mcc.reference.kernels16 import requantize64

OPS16 = ROOT / "tests/data/ops16"
DSCNN16 = ROOT / "tests/data/dscnn_16x8.tflite"
HAVE_QEMU = shutil.which("arm-none-eabi-gcc") is not None and shutil.which("qemu-system-arm") is not None


def _models():
    return sorted(OPS16.glob("*.tflite"))


def _inputs(g: Graph, n: int, seed: int) -> np.ndarray:
    """Half uniform over the whole int16 range, half clustered around 0 (std 2000); float inputs
    spread a little beyond the range of the QUANTIZE that consumes them."""
    rng = np.random.default_rng(seed)
    t = g.tensors[g.inputs[0]]
    if t.dtype == "float32":
        consumer = next(op for op in g.ops if t.name in op.inputs)
        q = g.tensors[consumer.outputs[0]].quant
        return (rng.uniform(-1.1, 1.1, (n,) + t.shape) * 32768 * q.s).astype(np.float32)
    uniform = rng.integers(-32768, 32768, (n,) + t.shape)
    clustered = np.clip(np.rint(rng.normal(0, 2000, (n,) + t.shape)), -32768, 32767)
    pick = (np.arange(n) % 2 == 0).reshape((n,) + (1,) * len(t.shape))
    return np.where(pick, uniform, clustered).astype(np.int16)


def _reference_vs_tflm(path: Path, x: np.ndarray):
    """Every activation tensor of the numpy reference == TFLM's, on every sample."""
    g = load_tflite(path)
    verify(g)
    index = g.meta["tflite_index"]
    ref = run_tflm(path, x, keep_intermediates=True)
    mismatches: dict[str, int] = {}
    for s in range(len(x)):
        env = interp.run(g, [x[s]], keep_all=True)
        for name, arr in env.items():
            want = ref.intermediates[index[name]][s]
            if not np.array_equal(arr.reshape(want.shape), want):
                mismatches[name] = mismatches.get(name, 0) + 1
    assert not mismatches, mismatches
    return g, ref


def test_16x8_models_load_with_int16_activations_int8_weights_int64_biases():
    g = load_tflite(OPS16 / "conv_same.tflite")
    x, w, b = (g.tensors[n] for n in g.ops[0].inputs)
    assert (x.dtype, w.dtype, b.dtype) == ("int16", "int8", "int64")
    assert x.quant.zero_point == (0,) and set(w.quant.zero_point) == {0} and len(w.quant.scale) == 5
    assert type(lower_op(g, g.ops[0])) is P.ConvS16Params


def _run_c_op(g: Graph, op, args: list) -> np.ndarray:
    """Run the C kernel that codegen picks for ``op`` (from the shared kernel library) on the
    input arrays ``args`` (None for an absent bias)."""
    from mcc.codegen import calls
    from mcc.codegen.calls import kernel_for

    rec = lower_op(g, op)
    spec = kernel_for(op, rec)
    out_t = g.tensors[op.outputs[0]]
    out = np.zeros(out_t.shape, out_t.dtype)
    arrays = [None if a is None else np.ascontiguousarray(a) for a in args]
    keep: list = []
    st = ck.to_c(rec, keep)
    fn = getattr(ck.lib(), spec.function)
    fn.restype = ctypes.c_int
    ptr = [None if a is None else ctypes.c_void_p(a.ctypes.data) for a in arrays]
    dst = ctypes.c_void_p(out.ctypes.data)
    if spec.args is calls._weighted:
        status = fn(ctypes.byref(st), ptr[0], ptr[1], ptr[2] if len(ptr) > 2 else None, dst, None)
    elif spec.args is calls._binary:
        status = fn(ctypes.byref(st), ptr[0], ptr[1], dst)
    elif spec.args is calls._concat:
        table = (ctypes.c_void_p * len(ptr))(*[q.value for q in ptr])
        status = fn(ctypes.byref(st), table, ctypes.c_int32(len(ptr)), dst)
    else:
        status = fn(ctypes.byref(st), ptr[0], dst)
    assert status == 0, f"{spec.function} returned {status}"
    return out


@pytest.mark.slow
@pytest.mark.parametrize("path", _models(), ids=lambda p: p.stem)
def test_op_reference_and_c_kernels_bit_exact_with_tflm(path):
    """The numpy reference on every tensor, and each op's C kernel fed with TFLM's own inputs,
    against TFLM, on 24 random inputs."""
    g = load_tflite(path)
    x = _inputs(g, 24, seed=len(path.stem))
    g, tflm = _reference_vs_tflm(path, x)
    assert len(np.unique(tflm.outputs)) > 8, "outputs are degenerate: the comparison would prove little"
    index = g.meta["tflite_index"]
    ref = tflm.intermediates
    bad: dict[str, int] = {}
    for s in range(len(x)):
        for op in g.ops:
            if op.kind == "RESHAPE":
                continue
            args = [None if n is None else g.tensors[n].data if g.tensors[n].is_const
                    else ref[index[n]][s].reshape(g.tensors[n].shape) for n in op.inputs]
            got = _run_c_op(g, op, args)
            if not np.array_equal(got, ref[index[op.outputs[0]]][s].reshape(got.shape)):
                bad[op.kind] = bad.get(op.kind, 0) + 1
    assert not bad, bad


@pytest.mark.slow
@pytest.mark.parametrize("name", ["pad", "concat_branches", "float_io_conv", "fc_per_tensor",
                                  "mul_const", "add_const_broadcast"])
def test_op_models_compiled_host_c_bit_exact_with_tflm(name, tmp_path):
    """Generated C (codegen, arena, int64 bias arrays, s16 structs) for the kinds the DS-CNN and
    Keras tests below do not compile."""
    path = OPS16 / f"{name}.tflite"
    g = load_tflite(path)
    x = _inputs(g, 20, seed=3)
    want = run_tflm(path, x).outputs
    r = api.compile(path, tmp_path / "out", CompileOptions())
    y = api.run(r.outdir, x)
    assert np.array_equal(y, want.reshape(y.shape))


def test_every_16x8_kernel_is_covered():
    """The op models reach every 16x8 C kernel (so the test above checks each against TFLM)."""
    from mcc.codegen.calls16 import KERNELS16, POOL_KERNELS16
    from mcc.codegen.select import select_kernel

    used = set()
    for path in _models():
        g = load_tflite(path)
        for op in g.ops:
            if op.kind != "RESHAPE":
                used.add(select_kernel(op.kind, lower_op(g, op), False)[0])
    want = {s.function for s in KERNELS16.values()} | {s.function for s in POOL_KERNELS16.values()}
    assert want <= used, sorted(want - used)


@pytest.mark.slow
def test_dscnn_16x8_bit_exact_with_tflm_end_to_end(tmp_path):
    g = load_tflite(DSCNN16)
    xq = g.tensors[g.inputs[0]].quant
    int8_model = load_tflite(ROOT / "examples/mlperf_tiny/kws/dscnn_int8.tflite")
    q8 = int8_model.tensors[int8_model.inputs[0]].quant
    real = (np.load(ROOT / "examples/mlperf_tiny/kws/sample_int8_49x10.npy").astype(np.float64)
            - q8.zp) * q8.s
    real16 = np.clip(np.rint(real / xq.s), -32768, 32767).astype(np.int16).reshape((1,) + g.tensors[g.inputs[0]].shape)
    x = np.concatenate([_inputs(g, 30, seed=7), real16])
    want = _reference_vs_tflm(DSCNN16, x)[1].outputs
    r = api.compile(DSCNN16, tmp_path / "out", CompileOptions())
    y = api.run(r.outdir, x)
    assert np.array_equal(y, want.reshape(y.shape))
    from mcc.sim import host  # ASan + UBSan build (-fno-sanitize-recover): same outputs
    y_t = r.graph.tensors[r.graph.outputs[0]]
    assert np.array_equal(host.run(r.outdir, x[:4], y_t.shape, y_t.dtype, variant="sanitize"), y[:4])
    labels = (ROOT / "examples/mlperf_tiny/kws/labels.txt").read_text().split()
    assert labels[int(y[-1].argmax())] == "on"


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_QEMU, reason="arm-none-eabi-gcc / qemu-system-arm not installed")
def test_dscnn_16x8_on_qemu_m4_equals_host(tmp_path):
    m4 = api.compile(DSCNN16, tmp_path / "m4", CompileOptions(target="mps2-an386"))
    host = api.compile(DSCNN16, tmp_path / "host", CompileOptions())
    x = api.random_inputs(m4.graph, 3, seed=2)
    assert np.array_equal(api.run(m4.outdir, x), api.run(host.outdir, x))


# --- int64 requantization: Python and C against a big-integer formula -------------------------


def _requantize64_bigint(acc: int, multiplier: int, shift: int) -> int:
    reduced = (multiplier + (1 << 15)) >> 16 if multiplier < 0x7FFF0000 else 0x7FFF
    total = 15 - shift
    v = (acc * reduced + (1 << (total - 1))) >> total  # Python >> floors, like an arithmetic shift
    return ((v + (1 << 31)) % (1 << 32)) - (1 << 31)


def _edge_cases():
    rng = np.random.default_rng(5)
    accs = [0, 1, -1, (1 << 47) - 1, -(1 << 47), 32767 * 127 * 1000, -32768 * 127 * 1000, 12345,
            -12345, (1 << 20) + 0x4000, -((1 << 20) + 0x4000)]
    accs += [int(a) for a in rng.integers(-(1 << 40), 1 << 40, 60)]
    mults = [1 << 30, (1 << 31) - 1, 0x7FFF0000, 0x7FFEFFFF, 0x7FFF8000 - 1, 1518500250, 1, 32768]
    shifts = [-31, -20, -15, -1, 0, 1, 7]
    return [(a, m, s) for a in accs for m in mults for s in shifts
            if abs(_requantize64_bigint(a, m, s)) < (1 << 31)]


def test_python_requantize64_matches_bigint_formula():
    cases = _edge_cases()
    acc, mult, shift = (np.array(v, dtype=np.int64) for v in zip(*cases))
    got = requantize64(acc, mult, shift)
    assert got.tolist() == [_requantize64_bigint(*c) for c in cases]


def test_c_requantize64_matches_python():
    """mcc_requantize64 through mcc_fully_connected_s16 with one input of 1, weight 1, bias = acc - 1,
    and a clamp to the full int16 range: every case whose result fits int16."""
    lib = ck.lib()
    fn = lib.mcc_fully_connected_s16
    fn.restype = ctypes.c_int
    fn.argtypes = [ctypes.POINTER(ck.c_struct(P.FullyConnectedS16Params))] + [ctypes.c_void_p] * 5
    cases = [c for c in _edge_cases() if abs(_requantize64_bigint(*c)) <= 32767][:400]
    assert len(cases) > 100
    x, w = np.ones(1, np.int16), np.ones(1, np.int8)
    for acc, m, s in cases:
        p = P.FullyConnectedS16Params(1, 1, 1, -32768, 32767, 0, np.array([m], np.int32),
                                      np.array([s], np.int32))
        keep: list = []
        b = np.array([acc - 1], np.int64)
        out = np.zeros(1, np.int16)
        st = ck.to_c(p, keep)
        assert fn(ctypes.byref(st), x.ctypes.data, w.ctypes.data, b.ctypes.data, out.ctypes.data, None) == 0
        assert int(out[0]) == int(requantize64(acc, m, s)), (acc, m, s)


# --- error paths ------------------------------------------------------------------------------


def _fc_graph(x_zp=0, bias_dtype="int64", y_zp=0):
    xq, wq, yq = QuantParams((0.01,), (x_zp,)), QuantParams((0.02, 0.03), (0, 0), axis=0), QuantParams((0.05,), (y_zp,))
    t = {
        "x": Tensor("x", (1, 4), "int16", xq),
        "w": Tensor("w", (2, 4), "int8", wq, np.ones((2, 4), np.int8)),
        "b": Tensor("b", (2,), bias_dtype, QuantParams((0.0002, 0.0003), (0, 0), axis=0),
                    np.zeros(2, bias_dtype)),
        "y": Tensor("y", (1, 2), "int16", yq),
    }
    return Graph(t, (Op("FULLY_CONNECTED", ("x", "w", "b"), ("y",), FullyConnectedAttrs()),), ("x",), ("y",))


def test_valid_16x8_graph_verifies_and_runs():
    g = verify(_fc_graph())
    y = interp.run(g, [np.array([[100, -200, 300, 400]], np.int16)])[0]
    # float check: (sum x) * 0.01 * 0.02 / 0.05 = 600 * 0.004 = 2.4 -> 2; channel 1: 3.6 -> 4
    assert y.tolist() == [[2, 4]]


def test_int16_activation_with_zero_point_is_refused():
    g = _fc_graph(x_zp=3)
    with pytest.raises(VerifyError, match="zero point 0"):
        verify(g)
    with pytest.raises(UnsupportedOperatorError, match=r"int16 tensor x must have zero point 0"):
        lower_op(g, g.ops[0])


def test_16x8_int32_bias_is_lowered_to_the_int32_path_and_int16_bias_refused():
    """(int32 biases were refused before; TFLM accumulates them in int32, see
    test_16x8_activations.py for the models against TFLM.)"""
    g = _fc_graph(bias_dtype="int32")
    assert lower_op(g, g.ops[0]).bias_bits == 32
    assert lower_op(_fc_graph(), g.ops[0]).bias_bits == 64
    y = interp.run(g, [np.array([[100, -200, 300, 400]], np.int16)])[0]
    assert y.tolist() == [[2, 4]]  # the float check of test_valid_16x8_graph_verifies_and_runs
    g = _fc_graph(bias_dtype="int16")
    with pytest.raises(UnsupportedOperatorError, match="16x8 bias must be int64 or int32, got int16"):
        lower_op(g, g.ops[0])


def test_frontend_refuses_nonzero_int16_zero_point():
    from mcc.frontend.tflite import _check_symmetric16

    g = _fc_graph(y_zp=5)
    with pytest.raises(UnsupportedOperatorError, match=r"int16 tensor 'y' must be quantized with zero point 0"):
        _check_symmetric16(g, g.tensors["y"], 0, g.ops[0], "m.tflite")


# --- mcc's own 16x8 quantizer (Keras models) -----------------------------------------------------


FASHION_CNN = ROOT / "tests/data/fashion_cnn.keras"


@pytest.fixture(scope="module")
def fashion_calib(tmp_path_factory):
    from make_fashion_cnn import load_fashion_mnist

    path = tmp_path_factory.mktemp("calib") / "calib.npy"
    np.save(path, load_fashion_mnist("train")[0][:64].astype(np.float32))
    return path


@pytest.mark.slow
def test_keras_16x8_compiled_c_bit_exact_with_reference(tmp_path, fashion_calib):
    r = api.compile(FASHION_CNN, tmp_path / "out",
                    CompileOptions(calib=str(fashion_calib), activation_bits=16, progress=False))
    g = r.graph
    assert g.meta["quantized"] == "16x8"
    for op in g.ops:
        if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            x, w, b = (g.tensors[n] for n in op.inputs)
            assert (x.dtype, w.dtype, b.dtype) == ("int16", "int8", "int64")
            assert x.quant.zero_point == (0,)
    x = np.load(fashion_calib)[:20]
    y = api.run(r.outdir, x)
    ref = np.stack([interp.run(g, [x[i:i + 1]])[0] for i in range(len(x))]).reshape(y.shape)
    assert np.array_equal(y, ref)
    assert (y.argmax(-1) == ref.argmax(-1)).all() and len(np.unique(y)) > 20


def test_keras_16x8_integer_io_and_bad_bits(fashion_calib):
    from mcc.errors import MccError
    from mcc.frontend.keras import load_keras
    from mcc.quantize_api import quantize_model

    g = load_keras(FASHION_CNN)
    calib = np.load(fashion_calib)[:16]
    q = quantize_model(g, calib, io="int8", activation_bits=16, progress=False)
    assert q.tensors[q.inputs[0]].dtype == "int16" and q.tensors[q.outputs[0]].dtype == "int16"
    assert q.tensors[q.outputs[0]].quant.scale == (1 / 32768,)  # SOFTMAX's fixed output scale
    with pytest.raises(MccError, match="activation_bits must be 8 or 16, got 12"):
        quantize_model(g, calib, activation_bits=12, progress=False)


@pytest.mark.parametrize("kind", ["LOGISTIC", "TANH"])
def test_keras_16x8_logistic_and_tanh_outputs_are_fixed_at_2_to_the_minus_15(kind):
    """(Before LOGISTIC / TANH had 16x8 kernels they were refused here.)"""
    from mcc.ir.attrs import NoAttrs
    from mcc.passes.quantize16 import quantize16

    t = {"x": Tensor("x", (1, 4), "float32"), "y": Tensor("y", (1, 4), "float32")}
    g = Graph(t, (Op(kind, ("x",), ("y",), NoAttrs()),), ("x",), ("y",))
    q = quantize16(g, {"x": (-3.0, 2.0), "y": (0.0, 1.0)}, io="int16")
    x, y = (q.tensors[n] for n in q.ops[0].inputs + q.ops[0].outputs)
    assert (x.dtype, y.dtype) == ("int16", "int16")
    assert x.quant.scale == (float(np.float32(3.0 / 32767)),) and y.quant.scale == (1 / 32768,)
    assert type(lower_op(q, q.ops[0])) is (P.LogisticS16Params if kind == "LOGISTIC" else P.TanhS16Params)


@pytest.mark.slow
def test_cli_quantize_and_compile_with_activation_bits_16(tmp_path, fashion_calib):
    from click.testing import CliRunner
    from make_fashion_cnn import load_fashion_mnist
    from mcc.cli import main

    x, y = load_fashion_mnist("t10k")
    np.savez(tmp_path / "eval.npz", x=x[:200], y=y[:200])
    run = CliRunner().invoke
    r = run(main, ["quantize", str(FASHION_CNN), "--calib", str(fashion_calib), "--activation-bits", "16",
                   "--eval", str(tmp_path / "eval.npz")])
    assert r.exit_code == 0, r.output
    assert "16x8" in r.output and "top-1 on 200 labelled inputs" in r.output
    r = run(main, ["compile", str(FASHION_CNN), "--calib", str(fashion_calib), "--activation-bits", "16",
                   "-o", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    assert "mcc_conv_s16" in (tmp_path / "out/mcc.json").read_text()
    r = run(main, ["compile", str(FASHION_CNN), "--calib", str(fashion_calib), "--activation-bits", "12",
                   "-o", str(tmp_path / "bad")])
    assert r.exit_code == 2 and "activation-bits" in r.output


@pytest.mark.slow
def test_cli_validate_16x8_tflite():
    from click.testing import CliRunner
    from mcc.cli import main

    r = CliRunner().invoke(main, ["validate", str(DSCNN16), "-n", "5"])
    assert r.exit_code == 0, r.output
    assert "5/5 outputs bit-exact with TFLM" in r.output


@pytest.mark.parametrize("bits_in,bits_out", [(16, 16), (16, 8), (8, 16)])
def test_c_requantize_s16_between_widths_matches_reference(bits_in, bits_out):
    """mcc_requantize_s16 (QUANTIZE between int8 and int16) == kernels16.requantize_s16."""
    from mcc.reference.fixed_point import quantize_multiplier
    from mcc.reference.kernels16 import requantize_s16

    rng = np.random.default_rng(bits_in + 2 * bits_out)
    lib = ck.lib()
    fn = lib.mcc_requantize_s16
    fn.restype = ctypes.c_int
    fn.argtypes = [ctypes.POINTER(ck.c_struct(P.RequantizeS16Params)), ctypes.c_void_p, ctypes.c_void_p]
    din, dout = (np.int16 if bits_in == 16 else np.int8), (np.int16 if bits_out == 16 else np.int8)
    for real in (0.003, 0.7, 1.0, 3.5, 250.0):
        m, s = quantize_multiplier(real)
        info_in, info_out = np.iinfo(din), np.iinfo(dout)
        x = rng.integers(info_in.min, info_in.max + 1, 500).astype(din)
        zp_in = 0 if bits_in == 16 else int(rng.integers(-20, 20))
        zp_out = 0 if bits_out == 16 else int(rng.integers(-20, 20))
        p = P.RequantizeS16Params(x.size, bits_in, bits_out, -zp_in, zp_out, m, s,
                                  int(info_out.min), int(info_out.max))
        want = requantize_s16(p, x)
        out = np.zeros(x.size, dout)
        keep: list = []
        assert fn(ctypes.byref(ck.to_c(p, keep)), x.ctypes.data, out.ctypes.data) == 0
        assert np.array_equal(out, want) and want.dtype == dout
        # the real-valued rescale within one output step, away from saturation
        exact = (x.astype(np.float64) - zp_in) * real + zp_out
        inside = (exact > info_out.min + 1) & (exact < info_out.max - 1)
        assert np.all(np.abs(want[inside] - exact[inside]) <= 1.0)
