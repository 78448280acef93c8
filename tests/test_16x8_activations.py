"""16x8 LOGISTIC and TANH, 16x8 models with int32 biases, and int8 TANH.

- the sigmoid table and the input rescaling of the int16 kernels (TFLM's Prepare);
- the C kernels (mcc_logistic_s16, mcc_tanh_s16, mcc_tanh_s8) == the numpy reference on every
  input value, and the reference within a few LSB of the float functions;
- single-operator TFLite models (tests/data/ops16, made by tests/make_16x8_models.py): the
  numpy reference on every tensor and the compiled C against TFLM on every int16 value;
- int32-bias 16x8 models: reference and compiled C against TFLM; the int64 path would differ;
- a Keras model with sigmoid and tanh quantized 16x8 by mcc: compiled C == reference, and close
  to the TFLite converter's 16x8 model run by TFLM on the same data;
- error paths.
"""

from __future__ import annotations

import ctypes
import dataclasses
import shutil

import numpy as np
import pytest

import ckernels as ck
import mcc.api as api
from conftest import ROOT
from mcc.errors import UnsupportedOperatorError
from mcc.frontend.tflite import load_tflite
from mcc.ir import Graph, Op, QuantParams, Tensor
from mcc.ir.attrs import NoAttrs
from mcc.lower import params as P
from mcc.lower.activations16 import checked_log2, input_rescale
from mcc.lower.lowering import lower_op
from mcc.lower.lut16 import sigmoid_lut
from mcc.options import CompileOptions
from mcc.oracle.tflm import run_tflm
from mcc.reference import interp
from mcc.reference.activations16 import logistic_s16, tanh_s16
from mcc.reference.kernels import tanh_s8

OPS16 = ROOT / "tests/data/ops16"
ALL_INT16 = np.arange(-32768, 32768, dtype=np.int64)


# --- the table and the input rescaling ----------------------------------------------------------


def test_sigmoid_lut_is_sigmoid_in_q16_with_interpolation_correction():
    lut = sigmoid_lut()
    assert lut.shape == (256,) and lut[0] == 32768 and lut[-1] == 65535
    assert np.all(np.diff(lut) >= 0)
    exact = 65536 / (1 + np.exp(-np.arange(255) / 24.0))
    # a sample moves by half the midpoint error of interpolation (< 0.75 LSB at steps of 1/24)
    # plus the rounding (0.5 LSB)
    assert np.all(np.abs(lut[:255] - exact) < 1.25) and np.any(lut[:255] != np.round(exact))


@pytest.mark.parametrize("scale,pot_shifts,want", [
    (2.0 ** -12, (0,), (3, 0)),          # LOGISTIC's power-of-two case: exact x * 3
    (2.0 ** -12, (0, 1), (3, 0)),        # TANH's
    (2.0 ** -11, (0, 1), (6, 0)),        # TANH only: x * 6
    (2.0 ** -11, (0,), (24576, 12)),     # LOGISTIC takes the general path: 6 * 2^12
])
def test_power_of_two_input_scales(scale, pot_shifts, want):
    assert input_rescale(scale, pot_shifts) == want


@pytest.mark.parametrize("scale", [3.0517578e-05, 1.8311e-4, 6.1e-5, 0.0011, 2.5e-3, 0.1])
def test_general_input_rescale_is_15_bit_and_exact_to_one_part_in_16k(scale):
    m, s = input_rescale(scale, (0, 1))
    assert 16384 <= m <= 32767 or (s == 0 and m <= 32767)
    assert abs(m / 2.0 ** s - float(np.float32(scale)) * 12288) <= 2.0 ** -s


def test_checked_log2():
    assert checked_log2(2.0 ** -15) == (True, -15)
    assert checked_log2(1 / 32768) == (True, -15)
    assert checked_log2(3.0e-5)[0] is False


# --- C kernels against the reference on every input -----------------------------------------------


def _record(cls, scale: float) -> P.LogisticS16Params:
    m, s = input_rescale(scale, (0,) if cls is P.LogisticS16Params else (0, 1))
    return cls(size=ALL_INT16.size, input_multiplier=m, input_left_shift=s, sigmoid_lut=sigmoid_lut())


def _run_c(name: str, rec, x: np.ndarray, out_dtype) -> np.ndarray:
    fn = getattr(ck.lib(), name)
    fn.restype = ctypes.c_int
    fn.argtypes = [ctypes.POINTER(ck.c_struct(type(rec))), ctypes.c_void_p, ctypes.c_void_p]
    x = np.ascontiguousarray(x)
    out = np.zeros(x.shape, out_dtype)
    keep: list = []
    assert fn(ctypes.byref(ck.to_c(rec, keep)), x.ctypes.data, out.ctypes.data) == 0
    return out


SCALES16 = [2.0 ** -12, 2.0 ** -11, 1.8311e-4, 9.1e-5, 3.0517578e-05, 6.1e-4, 2.4e-3]


@pytest.mark.parametrize("kind", ["logistic", "tanh"])
@pytest.mark.parametrize("scale", SCALES16)
def test_c_s16_kernel_equals_reference_on_every_int16(kind, scale):
    cls, ref, fn = ((P.LogisticS16Params, logistic_s16, np.reciprocal) if kind == "logistic"
                    else (P.TanhS16Params, tanh_s16, None))
    rec = _record(cls, scale)
    x = ALL_INT16.astype(np.int16)
    want = ref(rec, x)
    assert np.array_equal(_run_c(f"mcc_{kind}_s16", rec, x, np.int16), want)
    # and the reference against the float function of the real input (plain numpy)
    real = x.astype(np.float64) * float(np.float32(scale))
    exact = 1 / (1 + np.exp(-real)) if kind == "logistic" else np.tanh(real)
    err = np.abs(want / 32768.0 - exact) * 32768
    assert err.max() <= (2 if kind == "logistic" else 4), err.max()  # measured: 1.42 and 2.82 LSB
    assert len(np.unique(want)) > 1000


def test_c_tanh_s8_equals_reference_on_every_int8():
    from mcc.lower.lowering import _q4_input_record

    x = np.arange(-128, 128, dtype=np.int8)
    for scale, zp in [(0.04, 0), (0.1, -10), (0.01, 20), (0.5, 3), (0.0039, -128)]:
        rec = _q4_input_record(P.TanhParams, Tensor("x", (256,), "int8", QuantParams((scale,), (zp,))))
        want = tanh_s8(rec, x)
        assert np.array_equal(_run_c("mcc_tanh_s8", rec, x, np.int8), want)
        exact = np.tanh((x.astype(np.float64) - zp) * scale) * 128
        assert np.abs(want - np.clip(exact, -128, 127)).max() <= 1.0


# --- single-operator TFLite models against TFLM ---------------------------------------------------


def _every_int16(shape) -> np.ndarray:
    """Every int16 value once (shuffled), as samples of ``shape``, padded with extremes."""
    size = int(np.prod(shape))
    n = -(-65536 // size)
    v = np.random.default_rng(0).permutation(ALL_INT16)
    v = np.concatenate([v, np.resize(np.array([-32768, 32767, 0, -1, 1]), n * size - v.size)])
    return v.astype(np.int16).reshape((n,) + tuple(shape))


def _tflm_all_tensors(path, x):
    """The numpy reference on every tensor == TFLM's; returns (graph, TFLM result)."""
    g = load_tflite(path)
    index = g.meta["tflite_index"]
    ref = run_tflm(path, x, keep_intermediates=True)
    for s in range(len(x)):
        env = interp.run(g, [x[s]], keep_all=True)
        for name, arr in env.items():
            want = ref.intermediates[index[name]][s]
            assert np.array_equal(arr.reshape(want.shape), want), (path.stem, name, s)
    return g, ref


@pytest.mark.slow
@pytest.mark.parametrize("name,saturates", [("logistic", True), ("logistic_narrow", False),
                                            ("tanh", True), ("tanh_narrow", False)])
def test_activation_models_bit_exact_with_tflm_on_every_int16(name, saturates, tmp_path):
    path = OPS16 / f"{name}.tflite"
    g = load_tflite(path)
    x = _every_int16(g.tensors[g.inputs[0]].shape[1:])
    g, tflm = _tflm_all_tensors(path, x)
    out = tflm.outputs
    assert (out.max() >= 32760) == saturates  # the wide models reach the table's saturation
    assert len(np.unique(out)) > 2000
    r = api.compile(path, tmp_path / "out", CompileOptions())
    assert f"mcc_{name.split('_')[0]}_s16" in (r.outdir / "mcc.json").read_text()
    y = api.run(r.outdir, x)
    assert np.array_equal(y, out.reshape(y.shape))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["fc_sigmoid", "fc_tanh", "float_io_tanh"])
def test_activation_chains_compiled_c_bit_exact_with_tflm(name, tmp_path):
    path = OPS16 / f"{name}.tflite"
    g = load_tflite(path)
    t = g.tensors[g.inputs[0]]
    rng = np.random.default_rng(7)
    if t.dtype == "float32":
        x = rng.uniform(-2.5, 2.5, (24,) + t.shape).astype(np.float32)
    else:
        x = np.concatenate([rng.integers(-32768, 32768, (12,) + t.shape),
                            np.clip(np.rint(rng.normal(0, 4000, (12,) + t.shape)), -32768, 32767)]
                           ).astype(np.int16)
    g, tflm = _tflm_all_tensors(path, x)
    r = api.compile(path, tmp_path / "out", CompileOptions())
    y = api.run(r.outdir, x)
    assert np.array_equal(y, tflm.outputs.reshape(y.shape))


# --- int32 biases ---------------------------------------------------------------------------------


BIAS32 = ["fc_bias32", "conv_bias32", "fc_bias32_per_tensor"]


@pytest.mark.slow
@pytest.mark.parametrize("name", BIAS32)
def test_int32_bias_models_bit_exact_with_tflm(name, tmp_path):
    path = OPS16 / f"{name}.tflite"
    g = load_tflite(path)
    op = next(o for o in g.ops if o.kind in ("CONV_2D", "FULLY_CONNECTED"))
    assert g.tensors[op.inputs[2]].dtype == "int32"
    rec = lower_op(g, op)
    assert rec.bias_bits == 32
    t = g.tensors[g.inputs[0]]
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.integers(-32768, 32768, (10,) + t.shape),
                        np.clip(np.rint(rng.normal(0, 3000, (10,) + t.shape)), -32768, 32767),
                        np.full((1,) + t.shape, 32767), np.full((1,) + t.shape, -32768)]).astype(np.int16)
    g, tflm = _tflm_all_tensors(path, x)
    r = api.compile(path, tmp_path / "out", CompileOptions())
    y = api.run(r.outdir, x)
    assert np.array_equal(y, tflm.outputs.reshape(y.shape))
    # the int64 path (requantize64) on the same tensors would not be bit-exact: the test can fail
    from mcc.reference.kernels16 import RUNNERS16

    args = [g.tensors[n].data if g.tensors[n].is_const else None for n in op.inputs]
    args[0] = x.reshape((len(x),) + g.tensors[op.inputs[0]].shape[1:]) if op.kind == "CONV_2D" \
        else x.reshape(len(x), -1)
    batched = dataclasses.replace(rec, **({"input_n": len(x)} if op.kind == "CONV_2D" else {"batches": len(x)}))
    as32 = RUNNERS16[type(rec)](op.kind, batched, args)
    as64 = RUNNERS16[type(rec)](op.kind, dataclasses.replace(batched, bias_bits=64),
                                [args[0], args[1], args[2].astype(np.int64)])
    assert np.array_equal(as32.reshape(y.shape), y)
    assert not np.array_equal(as64, as32)


def _dw_graph(bias_dtype: str) -> Graph:
    q = QuantParams((0.001,), (0,))
    t = {
        "x": Tensor("x", (1, 4, 4, 2), "int16", q),
        "w": Tensor("w", (1, 3, 3, 2), "int8", QuantParams((0.01, 0.02), (0, 0), axis=3),
                    np.ones((1, 3, 3, 2), np.int8)),
        "b": Tensor("b", (2,), bias_dtype, QuantParams((1e-5, 2e-5), (0, 0), axis=0), np.zeros(2, bias_dtype)),
        "y": Tensor("y", (1, 2, 2, 2), "int16", QuantParams((0.002,), (0,))),
    }
    from mcc.ir.attrs import DepthwiseConv2DAttrs

    return Graph(t, (Op("DEPTHWISE_CONV_2D", ("x", "w", "b"), ("y",),
                        DepthwiseConv2DAttrs(padding="VALID")),), ("x",), ("y",))


def test_int32_bias_depthwise_16x8_is_refused_clearly():
    g = _dw_graph("int32")
    with pytest.raises(UnsupportedOperatorError, match="int32 bias is not supported"):
        lower_op(g, g.ops[0])
    assert type(lower_op(_dw_graph("int64"), g.ops[0])) is P.DepthwiseConvS16Params


# --- error paths of the int16 activations --------------------------------------------------------------


@pytest.mark.parametrize("kind", ["LOGISTIC", "TANH"])
def test_int16_activation_with_wrong_output_scale_is_refused(kind):
    t = {"x": Tensor("x", (1, 8), "int16", QuantParams((1e-3,), (0,))),
         "y": Tensor("y", (1, 8), "int16", QuantParams((1 / 256,), (0,)))}
    g = Graph(t, (Op(kind, ("x",), ("y",), NoAttrs()),), ("x",), ("y",))
    with pytest.raises(UnsupportedOperatorError, match=r"int16 output must have scale 1/32768"):
        lower_op(g, g.ops[0])
    t["x"] = Tensor("x", (1, 8), "int16", QuantParams((4.0,), (0,)))
    t["y"] = Tensor("y", (1, 8), "int16", QuantParams((1 / 32768,), (0,)))
    with pytest.raises(UnsupportedOperatorError, match="input scale 4.0 is too large"):
        lower_op(Graph(t, g.ops, ("x",), ("y",)), g.ops[0])


# --- Keras: sigmoid and tanh quantized 16x8 by mcc --------------------------------------------------


def _keras_model(path):
    import keras
    from keras import layers

    keras.utils.set_random_seed(4)
    x = keras.Input((6, 6, 2), batch_size=1)
    h = layers.Conv2D(4, 3, padding="same", activation="tanh", bias_initializer="random_normal")(x)
    h = layers.DepthwiseConv2D(3, activation="sigmoid", bias_initializer="random_normal")(h)
    h = layers.Flatten()(h)
    h = layers.Dense(12, activation="tanh", bias_initializer="random_normal")(h)
    y = layers.Dense(3, activation="sigmoid")(h)
    model = keras.Model(x, y)
    model.save(path)
    return model


def _converter_model(model, calib, bits: int) -> bytes:
    """The TFLite converter's full-integer model (float32 I/O) on the same calibration data."""
    from make_16x8_models import convert_16x8

    rep = lambda: ([c[None]] for c in calib)  # noqa: E731
    if bits == 16:
        return convert_16x8(model, rep, float_io=True)
    import tensorflow as tf
    from make_op_models import _quiet

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = rep
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    with _quiet():
        return conv.convert()


@pytest.mark.slow
@pytest.mark.parametrize("bits", [16, 8])
def test_keras_sigmoid_tanh_end_to_end(bits, tmp_path):
    """Keras (sigmoid, tanh) -> mcc PTQ (minmax) -> C: bit-exact with the numpy reference, and
    within one output LSB of the converter's model (TFLM) on the same calibration data."""
    model = _keras_model(tmp_path / "m.keras")
    rng = np.random.default_rng(0)
    calib = rng.uniform(-1, 1, (64, 6, 6, 2)).astype(np.float32)
    np.save(tmp_path / "calib.npy", calib)
    r = api.compile(tmp_path / "m.keras", tmp_path / "out",
                    CompileOptions(calib=str(tmp_path / "calib.npy"), activation_bits=bits, progress=False))
    g = r.graph
    kinds = [op.kind for op in g.ops]
    assert kinds.count("TANH") == 2 and kinds.count("LOGISTIC") == 2
    out_scale = {16: {"TANH": 1 / 32768, "LOGISTIC": 1 / 32768}, 8: {"TANH": 1 / 128, "LOGISTIC": 1 / 256}}[bits]
    for op in g.ops:
        if op.kind in out_scale:
            assert g.tensors[op.outputs[0]].quant.scale == (out_scale[op.kind],)
    manifest = (r.outdir / "mcc.json").read_text()
    suffix = "s16" if bits == 16 else "s8"
    assert f"mcc_logistic_{suffix}" in manifest and f"mcc_tanh_{suffix}" in manifest
    x = rng.uniform(-1, 1, (200, 6, 6, 2)).astype(np.float32)
    y = api.run(r.outdir, x)
    ref = np.stack([interp.run(g, [x[i:i + 1]])[0] for i in range(20)]).reshape(y[:20].shape)
    assert np.array_equal(y[:20], ref)  # float I/O: the C's float32 outputs equal the reference's
    (tmp_path / "conv.tflite").write_bytes(_converter_model(model, calib, bits))
    theirs = run_tflm(tmp_path / "conv.tflite", x).outputs.reshape(y.shape)
    lsb = 1 / 256 if bits == 8 else 1 / 32768  # the last layer is a sigmoid
    assert np.abs(y.astype(np.float64) - theirs).max() <= lsb * 1.0001
    assert np.mean(y == theirs) >= 0.98
    assert np.abs(y.reshape(len(x), -1) - model.predict(x, verbose=0)).max() < 0.02


# --- Cortex-M4 under QEMU ------------------------------------------------------------------------------


HAVE_QEMU = shutil.which("arm-none-eabi-gcc") is not None and shutil.which("qemu-system-arm") is not None


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_QEMU, reason="arm-none-eabi-gcc / qemu-system-arm not installed")
@pytest.mark.parametrize("path", [OPS16 / "fc_tanh.tflite", OPS16 / "fc_sigmoid.tflite",
                                  OPS16 / "conv_bias32.tflite", ROOT / "tests/data/ops/tanh.tflite"],
                         ids=lambda p: p.stem)
def test_new_kernels_on_qemu_m4_bit_exact_with_tflm(path, tmp_path):
    r = api.compile(path, tmp_path / "m4", CompileOptions(target="mps2-an386"))
    x = api.random_inputs(r.graph, 4, seed=5)
    y = api.run(r.outdir, x)
    assert np.array_equal(y, run_tflm(path, x).outputs.reshape(y.shape))
