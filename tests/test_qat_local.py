"""QAT forward pass vs the exported int8 graph, layer by layer (mcc.optimize.qat, qat_int).

Local agreement: every op of the QAT model is fed the dequantized int8 inputs that the numpy
reference interpreter saw for that op in the exported graph, and its output is compared with the
reference's output of that op, in LSBs of the output tensor. This isolates each layer's own
rounding from the propagation of earlier differences.

- with kernel rounding (the default): every int8 tensor equals the reference's, the softmax output
  within 1 LSB (float softmax vs the kernel's fixed-point exp); end to end too.
- plain fake quantization (``kernel_rounding=False``): every layer within 1 LSB locally; end to end
  the 1-LSB flips propagate (the figures are printed).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

keras = pytest.importorskip("keras")

from make_fashion_cnn import FASHION, load_fashion_mnist  # noqa: E402

from mcc.reference import fixed_point as fp  # noqa: E402

MODEL = os.path.join(os.path.dirname(__file__), "data", "fashion_cnn.keras")
N_TRAIN, N_TEST = 640, 300

needs_fashion = pytest.mark.skipif(not (FASHION / "t10k-images-idx3-ubyte.gz").exists(),
                                   reason="Fashion-MNIST not installed")


# ----------------------------------------------------------------------------- qat_int vs fixed_point
def test_quantize_multiplier_matches_reference():
    from keras import ops
    from mcc.optimize import qat_int

    rng = np.random.default_rng(0)
    reals = np.concatenate([
        10.0 ** rng.uniform(-8, 3, 2000),
        2.0 ** np.arange(-20, 10),                          # exact powers of two (log2 edge)
        (2.0 ** 31 - 0.25) / 2.0 ** 31 * 2.0 ** np.arange(-5, 5),  # fraction rounding up to 2^31
        np.nextafter(2.0 ** np.arange(-6, 6), 0),           # just below a power of two
    ])
    m, e = qat_int.quantize_multiplier(ops.convert_to_tensor(reals))
    want = [fp.quantize_multiplier(float(r)) for r in reals]
    np.testing.assert_array_equal(ops.convert_to_numpy(m), [w[0] for w in want])
    np.testing.assert_array_equal(ops.convert_to_numpy(e), [w[1] for w in want])


def test_multiply_by_quantized_multiplier_matches_reference():
    from keras import ops
    from mcc.optimize import qat_int

    rng = np.random.default_rng(1)
    acc = rng.integers(-(1 << 24), 1 << 24, 5000).astype(np.int64)
    acc[:200] = rng.integers(-300, 300, 200)
    mult = rng.integers(1 << 30, (1 << 31) - 1, 5000).astype(np.int64)
    shift = rng.integers(-20, 3, 5000).astype(np.int64)
    acc = np.where(shift > 0, acc >> 4, acc)  # keep acc << shift within int32
    got = qat_int.multiply_by_quantized_multiplier(*(ops.convert_to_tensor(a) for a in (acc, mult, shift)))
    np.testing.assert_array_equal(ops.convert_to_numpy(got), fp.requantize(acc, mult, shift))


def test_mul_add_outputs_match_integer_formula():
    """mul_output / add_output against the kernels' formulas written with mcc.reference.fixed_point."""
    from keras import ops
    from mcc.optimize import qat_int

    rng = np.random.default_rng(2)
    qa, qb = rng.integers(-128, 128, (2, 4000))
    s_a, s_b, s_o = np.float32(0.0437), np.float32(0.0191), np.float32(0.0523)
    zp_a, zp_b, zp_o = -3, 17, -128
    a = (np.float32(s_a) * (qa - zp_a)).astype(np.float32)
    b = (np.float32(s_b) * (qb - zp_b)).astype(np.float32)

    def check(got, q_want):
        q_got = np.round(ops.convert_to_numpy(got) / s_o).astype(np.int64) + zp_o
        np.testing.assert_array_equal(q_got, np.clip(q_want + zp_o, -128, 127))

    m, e = fp.quantize_multiplier(float(s_a) * float(s_b) / float(s_o))
    check(qat_int.mul_output(a, b, s_a, s_b, s_o, float(zp_o)), fp.requantize((qa - zp_a) * (qb - zp_b), m, e))

    twice = 2 * max(float(s_a), float(s_b))
    m1, e1 = fp.quantize_multiplier(float(s_a) / twice)
    m2, e2 = fp.quantize_multiplier(float(s_b) / twice)
    mo, eo = fp.quantize_multiplier(twice / ((1 << 20) * float(s_o)))
    ra = fp.requantize((qa - zp_a) << 20, m1, e1)
    rb = fp.requantize((qb - zp_b) << 20, m2, e2)
    check(qat_int.add_output(a, b, s_a, s_b, s_o, float(zp_o)), fp.requantize(ra + rb, mo, eo))


# ----------------------------------------------------------------------------- the Fashion CNN
@pytest.fixture(scope="module")
def data():
    x, y = load_fashion_mnist("train")
    xt, _ = load_fashion_mnist("t10k")
    return x[:N_TRAIN], y[:N_TRAIN], xt[:N_TEST]


@pytest.fixture(scope="module")
def trained(data):
    """QAT models (8 and 4 bits) fine-tuned briefly, their export and the reference run of every
    int8 tensor on the test images."""
    from mcc.optimize import export, fine_tune, qat_model
    from mcc.passes.rebatch import rebatch
    from mcc.reference import interp

    x, y, xt = data
    model = keras.saving.load_model(MODEL, compile=False)
    out = {}
    for bits in (8, 4):
        keras.utils.set_random_seed(0)
        q = qat_model(model, bits=bits, calib_data=x)
        fine_tune(q, x, y, epochs=1, batch_size=64, verbose=0)
        g = export(q)
        env = interp.run(rebatch(g, len(xt)), [xt], keep_all=True)
        out[bits] = (q, g, env)
    return out


def _dequantized(g, env):
    """name -> float32 value of every activation of the reference run; the float graph's names
    (the exported graph dequantizes the output into a new tensor) resolve to the int8 tensor."""
    alias = {op.outputs[0]: op.inputs[0] for op in g.ops if op.kind == "DEQUANTIZE"}

    def value(name):
        name = alias.get(name, name)
        t = g.tensors[name]
        if t.quant is None:
            return name, env[name].astype(np.float32)
        return name, (np.float32(t.quant.s) * (env[name].astype(np.float32) - t.quant.zp)).astype(np.float32)
    return value


def _lsb_diff(g, name, v, ref):
    t = g.tensors[name]
    return np.abs(np.asarray(v).reshape(ref.shape) - ref) / np.float32(t.quant.s)


def _local(q, g, env):
    """(kind, name, |QAT layer - reference| in output LSBs) of every op, fed the reference's inputs."""
    from keras import ops

    value = _dequantized(g, env)
    rows = []
    for op in q.graph.ops:
        name, ref = value(op.outputs[0])
        if g.tensors[name].dtype != "int8":
            continue
        args = []
        for n in op.inputs:
            if n is None:
                continue
            if n in q.graph.activations():
                shape = (-1,) + tuple(q.graph.tensors[n].shape[1:])
                args.append(ops.convert_to_tensor(value(n)[1].reshape(shape)))
            elif op.kind not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
                args.append(q._const(n))
        y = ops.convert_to_numpy(q.layer(op, args, training=False))
        rows.append((op.kind, op.outputs[0], _lsb_diff(g, name, y, ref)))
    return rows


def _table(title, rows):
    lines = [title] + [f"  {k:18s} {n[:30]:30s} within 1 LSB {np.mean(d <= 1.001):.5f}  exact "
                       f"{np.mean(d < 1e-3):.5f}  max {d.max():.0f}" for k, n, d in rows]
    print("\n" + "\n".join(lines))


@needs_fashion
@pytest.mark.slow
@pytest.mark.parametrize("bits", [8, 4])
def test_local_agreement_kernel_rounding(trained, bits):
    """Every layer of the QAT forward pass equals the exported graph's int8 output (softmax: within
    1 LSB), given the same int8 inputs."""
    q, g, env = trained[bits]
    rows = _local(q, g, env)
    _table(f"QAT{bits} local, kernel rounding:", rows)
    assert len(rows) >= 13
    for kind, name, d in rows:
        assert np.all(d <= 1.001), (kind, name, float(d.max()))
        if kind != "SOFTMAX":
            assert np.all(d < 1e-3), (kind, name, float(np.mean(d < 1e-3)))


@needs_fashion
@pytest.mark.slow
@pytest.mark.parametrize("bits", [8, 4])
def test_local_agreement_fake_quant(trained, bits):
    """The plain fake-quantization graph (one exact rounding per node) is within 1 LSB of every
    layer's int8 output on all elements, given the same int8 inputs."""
    q, g, env = trained[bits]
    q.kernel_rounding = False
    try:
        rows = _local(q, g, env)
    finally:
        q.kernel_rounding = True
    _table(f"QAT{bits} local, fake quantization only:", rows)
    for kind, name, d in rows:
        assert np.all(d <= 1.001), (kind, name, float(d.max()))


@needs_fashion
@pytest.mark.slow
@pytest.mark.parametrize("bits", [8, 4])
def test_end_to_end(trained, data, bits):
    """The QAT forward pass on float images vs the exported graph: with kernel rounding every int8
    tensor is identical and the softmax output within 1 LSB everywhere; the fake-quant-only figures
    (1-LSB flips propagating) are printed for comparison."""
    q, g, env = trained[bits]
    xt = data[2]
    value = _dequantized(g, env)
    out_name = q.graph.outputs[0]
    figures = {}
    for kr in (True, False):
        q.kernel_rounding = kr
        try:
            fq = q.tensors(xt)
        finally:
            q.kernel_rounding = True
        rows = []
        for op in q.graph.ops:
            name, ref = value(op.outputs[0])
            if g.tensors[name].dtype == "int8":
                rows.append((op.kind, op.outputs[0], _lsb_diff(g, name, fq[op.outputs[0]], ref)))
        _table(f"QAT{bits} end to end, {'kernel rounding' if kr else 'fake quantization only'}:", rows)
        d = rows[-1][2].reshape(len(xt), -1)
        assert rows[-1][1] == out_name
        figures[kr] = (np.mean(d <= 1.001), np.mean(d.max(axis=1) <= 1.001), np.mean(d < 1e-3))
        print(f"QAT{bits} softmax output ({'kernel rounding' if kr else 'fake quant only'}): within 1 LSB "
              f"{figures[kr][0]:.4f} of values, {figures[kr][1]:.4f} of inputs; exact {figures[kr][2]:.4f}")
        if kr:
            for kind, name, dd in rows:
                assert np.all(dd <= 1.001), (kind, name)
                if kind != "SOFTMAX":
                    assert np.all(dd < 1e-3), (kind, name, float(np.mean(dd < 1e-3)))
    assert figures[True][1] == 1.0


@needs_fashion
@pytest.mark.slow
def test_export_scales_are_the_forward_scales(trained):
    """The fake-quant scales and zero points of the QAT forward pass are the exported ones, bit for bit."""
    from keras import ops
    from mcc.optimize.qat import activation_qparams

    q, g, _ = trained[8]
    checked = 0
    for name in q.lo:
        if name not in g.tensors or g.tensors[name].quant is None:
            continue
        s, zp = (float(ops.convert_to_numpy(v)) for v in activation_qparams(*q._group_range(name)))
        t = g.tensors[name]
        assert (s, int(zp)) == (t.quant.s, t.quant.zp), name
        checked += 1
    assert checked >= 10
