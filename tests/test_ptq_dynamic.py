"""PTQ dynamic: weights-only int8/int16 quantization with float32 activations and hybrid C kernels.

The C is checked operator by operator against the float64 numpy reference of the hybrid IR
(``mcc.reference.hybrid``): each op is recomputed from the C's own float32 inputs (host trace
build) and must lie within its float32 rounding bound (gamma_{K+2} for a K-term accumulation,
see the reference's docstring) -- a bound derived from the accumulation length, not a tolerance
fitted to the data. On QEMU (Cortex-M4, FPv4-SP) the ops before the final softmax are bit-identical
with the host build (same operation order, no FMA contraction in ISO C mode) and the softmax, which
calls newlib's expf instead of glibc's, lies within its bound of the reference. TFLM has no hybrid
kernels: it refuses the converter's dynamic-range model, which mcc runs.
"""

import shutil
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import ROOT

keras = pytest.importorskip("keras")
from keras import layers  # noqa: E402

from mcc import api  # noqa: E402
from mcc.cli import main  # noqa: E402
from mcc.errors import MccError  # noqa: E402
from mcc.frontend.keras import load_keras  # noqa: E402
from mcc.ir import Graph  # noqa: E402
from mcc.options import CompileOptions  # noqa: E402
from mcc.outdir import read_manifest  # noqa: E402
from mcc.passes.quantize_dynamic import quantize_dynamic  # noqa: E402
from mcc.quantize_dynamic_api import quantize_dynamic_model  # noqa: E402
from mcc.reference import float_interp, hybrid  # noqa: E402
from mcc.sim import host  # noqa: E402

warnings.filterwarnings("ignore", message="The structure of `inputs`")

FASHION = ROOT / "tests/data/fashion_cnn.keras"
SWW = ROOT / "examples/mlperf_tiny/sww/sww_dscnn.h5"
RESNET8 = ROOT / "examples/mlperf_tiny/ic/resnet8.h5"
WEIGHTED = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
HAVE_QEMU = shutil.which("qemu-system-arm") is not None and shutil.which("arm-none-eabi-gcc") is not None


def _ops_model():
    """Operators the bundled models lack: PAD, strided/dilated conv, depth multiplier 2, MUL of two
    tensors, LOGISTIC, MAX pooling with SAME padding, a dense layer without bias."""
    rng = np.random.default_rng(0)
    inp = keras.Input((12, 12, 3))
    x = layers.ZeroPadding2D(((1, 2), (0, 1)))(inp)
    x = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu6")(x)
    a = layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same")(x)
    b = layers.Conv2D(16, 3, dilation_rate=2, padding="same", activation="sigmoid")(x)
    x = layers.Multiply()([a, b])
    x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(5, use_bias=False)(x)
    m = keras.Model(inp, layers.Activation("sigmoid")(x))
    for layer in m.layers:
        ws = layer.get_weights()
        if ws:
            layer.set_weights([rng.uniform(-0.5, 0.5, w.shape).astype(np.float32) for w in ws])
    return m


@pytest.fixture(scope="module")
def graphs():
    return {"fashion": load_keras(FASHION), "sww": load_keras(SWW), "resnet8": load_keras(RESNET8),
            "ops": load_keras(_ops_model())}


def _inputs(g: Graph, n: int, seed: int = 0) -> np.ndarray:
    shape = g.tensors[g.inputs[0]].shape[1:]
    return np.random.default_rng(seed).uniform(-1.0, 1.0, (n,) + tuple(shape)).astype(np.float32)


@pytest.mark.parametrize("bits,dtype,qmax", [(8, "int8", 127), (16, "int16", 32767)])
def test_pass_quantizes_only_the_weights(graphs, bits, dtype, qmax):
    g = quantize_dynamic_model(graphs["fashion"], bits)
    f = graphs["fashion"]
    assert g.meta["quantized"] == "dynamic" and g.meta["weight_bits"] == bits
    assert all(g.tensors[n].dtype == "float32" for n in g.activations())
    assert [op.kind for op in g.ops] == [op.kind for op in f.ops]
    seen = 0
    for op in g.ops:
        consts = [n for n in op.inputs if n is not None and g.tensors[n].is_const]
        if op.kind not in WEIGHTED:
            assert all(g.tensors[n].dtype == "float32" for n in consts)
            continue
        w, wf = g.tensors[op.inputs[1]], f.tensors[op.inputs[1]]
        axis = 3 if op.kind == "DEPTHWISE_CONV_2D" else 0
        assert w.dtype == dtype and w.quant.axis == axis and set(w.quant.zero_point) == {0}
        assert len(w.quant.scale) == w.shape[axis]
        q = np.moveaxis(np.asarray(w.data, np.int64), axis, 0).reshape(w.shape[axis], -1)
        real = np.moveaxis(wf.data.astype(np.float64), axis, 0).reshape(w.shape[axis], -1)
        s = np.asarray(w.quant.scale)[:, None]
        assert np.abs(q).max() <= qmax and (np.abs(q).max(axis=1) == qmax).all()  # full range per channel
        assert np.all(np.abs(q * s - real) <= s / 2 * (1 + 1e-6))               # round to nearest
        assert g.tensors[op.inputs[2]].dtype == "float32"
        np.testing.assert_array_equal(g.tensors[op.inputs[2]].data, f.tensors[op.inputs[2]].data)
        seen += 1
    assert seen == sum(op.kind in WEIGHTED for op in f.ops) > 0
    assert graphs["fashion"].tensors[f.ops[1].inputs[1]].dtype == "float32"  # input graph untouched


def test_reference_is_the_float_model_with_dequantized_weights(graphs):
    """An independent check of the reference's semantics: Keras-free float interpreter on the float
    graph whose weights are replaced by scale * q."""
    g = quantize_dynamic_model(graphs["fashion"], 8)
    f = graphs["fashion"]
    tensors = dict(f.tensors)
    for op in g.ops:
        if op.kind in WEIGHTED:
            w = g.tensors[op.inputs[1]]
            shape = [1] * w.data.ndim
            shape[w.quant.axis] = -1
            deq = (w.data.astype(np.float64) * np.asarray(w.quant.scale).reshape(shape)).astype(np.float32)
            tensors[w.name] = f.tensors[w.name].__class__(w.name, w.shape, "float32", None, deq)
    x = _inputs(f, 8)
    y32 = float_interp.run(f.replace(tensors=tensors), [x])[0]
    y64 = hybrid.run(g, x)
    np.testing.assert_allclose(y64.reshape(y32.shape), y32, rtol=0, atol=1e-5)
    y_float = float_interp.run(f, [x])[0]
    assert np.abs(y64.reshape(y32.shape) - y_float).max() < 0.05  # 8-bit weights: small, nonzero change
    assert (y64.reshape(y32.shape).argmax(-1) == y_float.argmax(-1)).mean() >= 0.75


@pytest.mark.parametrize("model,bits", [("fashion", 8), ("fashion", 16), ("sww", 8), ("sww", 16),
                                        ("resnet8", 8), ("ops", 8), ("ops", 16)])
def test_host_c_within_rounding_bound_of_reference(graphs, tmp_path, model, bits):
    g = quantize_dynamic(graphs[model], bits)
    # first fit keeps the model's op order, so that the trace lines up with the model's ops
    # (the optimized plan may reorder; its end-to-end output is checked in the CLI test)
    r = api.compile_graph(g, tmp_path / "out", CompileOptions(memory="firstfit"))
    x = _inputs(g, 6, seed=bits)
    y_t = g.tensors[g.outputs[0]]
    y, traces = host.run(r.outdir, x.reshape((len(x),) + g.tensors[g.inputs[0]].shape),
                         y_t.shape, y_t.dtype, trace=True)
    checks = hybrid.check_traces(g, x, traces)
    assert len(checks) == sum(op.kind != "RESHAPE" for op in g.ops)
    for c in checks:
        assert c.max_ratio <= 1.0, f"op {c.index} {c.kind}: |C - ref| / bound = {c.max_ratio:.3g}"
    assert max(c.max_abs_diff for c in checks) > 0  # real float arithmetic, not a copy of the reference
    # end to end: the C output is close to the float64 chain (errors propagate through the layers)
    y_ref = hybrid.run(g, x).reshape(y.shape)
    assert np.abs(y - y_ref).max() <= 1e-5 * max(1.0, np.abs(y_ref).max())
    # every kernel is a float/hybrid one, weights stay int8/int16 in flash, the arena holds float32
    kernels = set(read_manifest(r.outdir)["kernels"]) - {None}
    assert all(k.endswith(("_f32", f"_f32_s{bits}")) or k == "mcc_concat" for k in kernels), kernels
    assert any(k.endswith(f"hybrid_f32_s{bits}") for k in kernels)
    weights_c = (r.outdir / "mcc_weights.c").read_text()
    for op in g.ops:
        if op.kind in WEIGHTED:
            w = g.tensors[op.inputs[1]]
            assert f"const int{bits}_t " in weights_c and w.nbytes == w.size * bits // 8
    largest = max(g.tensors[n].size for n in g.activations())
    assert r.plan.arena_bytes >= 4 * largest
    assert all(b.size >= 4 * g.tensors[b.tensors[0]].size for b in r.plan.buffers if b.tensors)


def test_weight_bytes_shrink(graphs):
    f = graphs["resnet8"]
    float_bytes = sum(f.tensors[n].nbytes for n in f.constants())
    sizes = {}
    for bits in (8, 16):
        g = quantize_dynamic(f, bits)
        w = sum(g.tensors[op.inputs[1]].nbytes for op in g.ops if op.kind in WEIGHTED)
        wf = sum(f.tensors[op.inputs[1]].nbytes for op in f.ops if op.kind in WEIGHTED)
        assert w * (4 if bits == 8 else 2) == wf
        sizes[bits] = sum(g.tensors[n].nbytes for n in g.constants())
    assert sizes[8] < sizes[16] < float_bytes


def test_fpu_required_and_option_errors(graphs, tmp_path):
    g = quantize_dynamic(graphs["sww"], 8)
    for target in ("mps2-an385", "rpi-pico"):  # Cortex-M3, Cortex-M0+: no FPU
        with pytest.raises(MccError, match=r"needs a core with an FPU; .* has none"):
            api.compile_graph(g, tmp_path / target, CompileOptions(target=target))
    with pytest.raises(MccError, match=r"needs a core with an FPU"):
        api.compile(SWW, tmp_path / "m0", CompileOptions(target="rpi-pico", mode="dynamic"))
    with pytest.raises(MccError, match=r"--weight-bits 8 or 16, got 4"):
        api.load_model(SWW, CompileOptions(mode="dynamic", weight_bits=4))
    with pytest.raises(MccError, match=r"mode must be one of static, dynamic, got 'fast'"):
        api.load_model(SWW, CompileOptions(mode="fast"))
    with pytest.raises(MccError, match=r"--io int8 needs static quantization"):
        api.load_model(SWW, CompileOptions(mode="dynamic", io="int8"))
    with pytest.raises(MccError, match=r"8- or 16-bit weights"):
        quantize_dynamic(graphs["sww"], 4)
    with pytest.raises(MccError, match=r"already quantized"):
        quantize_dynamic(g, 8)


def _invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_cli_quantize_compile_validate(tmp_path):
    r = _invoke("quantize", SWW, "--dynamic", "--weight-bits", "16")
    assert r.exit_code == 0, r.output
    assert "PTQ dynamic, int16 per-channel weights" in r.output and "int16" in r.output
    r = _invoke("quantize", SWW)
    assert r.exit_code == 2 and "static quantization needs representative inputs" in r.output
    r = _invoke("compile", SWW, "--dynamic", "-o", tmp_path / "o")
    assert r.exit_code == 0, r.output
    r = _invoke("validate", SWW, "--dynamic", "--weight-bits", "16", "-n", "8")
    assert r.exit_code == 0, r.output
    assert "8/8 outputs within the float32 rounding bound of the float64 reference" in r.output
    r = _invoke("compile", SWW, "--dynamic", "-t", "mps2-an385", "-o", tmp_path / "m3")
    assert r.exit_code == 2 and "needs a core with an FPU; mps2-an385 (cortex-m3) has none" in r.output


def test_validate_reports_a_broken_kernel(graphs, tmp_path, monkeypatch):
    """The per-op check can fail: scale one weight channel in the compiled graph only."""
    from mcc import validate_dynamic
    g = quantize_dynamic(graphs["sww"], 8)
    real_compile = validate_dynamic.compile_graph

    def compile_wrong(graph, outdir, options, source):
        op = next(o for o in graph.ops if o.kind == "FULLY_CONNECTED")
        w = graph.tensors[op.inputs[1]]
        scale = (w.quant.scale[0] * 1.001,) + tuple(w.quant.scale[1:])
        wrong = w.__class__(w.name, w.shape, w.dtype, w.quant.__class__(scale, w.quant.zero_point, w.quant.axis,
                                                                         bits=w.quant.bits), w.data)
        return real_compile(graph.replace(tensors=dict(graph.tensors, **{w.name: wrong})), outdir, options, source)

    monkeypatch.setattr(validate_dynamic, "compile_graph", compile_wrong)
    r = validate_dynamic.validate_hybrid(g, "sww", _inputs(g, 4))
    assert r.exact == 0 and r.first_difference.kind == "FULLY_CONNECTED"


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_QEMU, reason="qemu-system-arm / arm-none-eabi-gcc not installed")
@pytest.mark.parametrize("model,bits", [("fashion", 8), ("sww", 16)])
def test_qemu_m4_runs_the_hybrid_model(graphs, tmp_path, model, bits):
    g = quantize_dynamic(graphs[model], bits)
    assert g.ops[-1].kind == "SOFTMAX"
    x = _inputs(g, 4, seed=3)
    x_in = x.reshape((len(x),) + g.tensors[g.inputs[0]].shape)
    # 1. everything before the softmax: QEMU M4 == host, bit for bit
    logits = g.ops[-1].inputs[0]
    head = g.replace(ops=g.ops[:-1], outputs=(logits,),
                     tensors={n: t for n, t in g.tensors.items() if n != g.outputs[0]})
    yh = host.run(api.compile_graph(head, tmp_path / "h", CompileOptions()).outdir, x_in,
                  head.tensors[logits].shape, "float32")
    rq = api.compile_graph(head, tmp_path / "q", CompileOptions(target="mps2-an386"))
    yq = api.run(rq.outdir, x_in)
    np.testing.assert_array_equal(yq.reshape(yh.shape), yh)
    # 2. the whole model on QEMU: the softmax of those logits within the softmax's bound
    rq = api.compile_graph(g, tmp_path / "full", CompileOptions(target="mps2-an386"))
    y = api.run(rq.outdir, x_in).reshape(len(x), -1)
    env = {logits: yh.reshape((len(x),) + g.tensors[logits].shape[1:]).astype(np.float32)}
    ref, bound = hybrid.run_op(g, g.ops[-1], env)
    ref, bound = ref.reshape(y.shape), bound.reshape(y.shape)
    assert np.all(np.abs(y - ref) <= bound)
    assert np.abs(y - hybrid.run(g, x).reshape(y.shape)).max() <= 1e-5


@pytest.mark.slow
def test_tflm_rejects_the_converters_dynamic_range_model(tmp_path):
    tf = pytest.importorskip("tensorflow")
    from mcc.oracle.tflm import TflmError, run_tflm

    model = _ops_model()
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]  # no representative data: dynamic range (hybrid)
    path = tmp_path / "hybrid.tflite"
    path.write_bytes(conv.convert())
    x = np.zeros((1, 12, 12, 3), np.float32)
    with pytest.raises(TflmError):
        run_tflm(path, x)
    # mcc runs the same kind of model (weights-only int8, float activations)
    g = quantize_dynamic(load_keras(model), 8)
    r = api.compile_graph(g, tmp_path / "out", CompileOptions())
    y = api.run(r.outdir, x[:, None])
    assert np.all(np.isfinite(y))
