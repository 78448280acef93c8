"""Quantization-aware training (mcc.optimize.qat) on the Fashion-MNIST CNN.

One epoch on 3000 training images for 8-bit and 4-bit weights; the exported int8 graphs run on
the reference interpreter (bit-exact with TFLM and the generated C) over 2000 test images.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

keras = pytest.importorskip("keras")

from make_fashion_cnn import FASHION, load_fashion_mnist  # noqa: E402

from mcc.evaluate import predict_int8, top1  # noqa: E402
from mcc.ir import verify  # noqa: E402

MODEL = os.path.join(os.path.dirname(__file__), "data", "fashion_cnn.keras")
N_TRAIN, N_TEST = 2500, 2000

pytestmark = pytest.mark.skipif(not (FASHION / "t10k-images-idx3-ubyte.gz").exists(),
                                reason="Fashion-MNIST not installed")


@pytest.fixture(scope="module")
def data():
    x, y = load_fashion_mnist("train")
    xt, yt = load_fashion_mnist("t10k")
    return x[:N_TRAIN], y[:N_TRAIN], xt[:N_TEST], yt[:N_TEST]


@pytest.fixture(scope="module")
def user_model():
    return keras.saving.load_model(MODEL, compile=False)


@pytest.fixture(scope="module")
def trained(user_model, data):
    from mcc.optimize import export, fine_tune, qat_model

    x, y, xt, yt = data
    before = [w.copy() for w in user_model.get_weights()]
    keras.utils.set_random_seed(0)
    out = {"before": before}
    for bits in (8, 4):
        q = qat_model(user_model, bits=bits, calib_data=x)     # ranges from a min/max calibration
        out[f"untrained{bits}"] = top1(q.predict(xt, batch_size=500, verbose=0), yt)
        fine_tune(q, x, y, epochs=1, batch_size=64, verbose=0)
        g = export(q)
        fq = q.predict(xt, batch_size=500, verbose=0)           # Keras fake-quant forward
        i8 = predict_int8(g, xt)                                 # int8 reference interpreter
        out[bits] = (q, g, fq, i8)
    out["float"] = top1(user_model.predict(xt, batch_size=500, verbose=0), yt)
    return out


def test_user_model_unchanged(user_model, trained):
    after = user_model.get_weights()
    assert len(after) == len(trained["before"])
    for a, b in zip(after, trained["before"]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("bits", [8, 4])
def test_export_verifies_and_weight_range(trained, bits):
    _, g, _, _ = trained[bits]
    verify(g)
    assert g.meta["qat"]["weight_bits"] == bits
    qmax = (1 << (bits - 1)) - 1
    lin = [op for op in g.ops if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")]
    assert len(lin) == 7  # conv, dw, 1x1, shortcut, separable dw + pw, dense
    for op in lin:
        w = g.tensors[op.inputs[1]]
        assert w.dtype == "int8" and w.quant.per_channel
        assert np.abs(w.data.astype(int)).max() == qmax
        assert g.tensors[op.inputs[2]].dtype == "int32"


@pytest.mark.parametrize("bits", [8, 4])
def test_interp_agrees_with_fake_quant_forward(trained, bits):
    _, g, fq, i8 = trained[bits]
    out = g.tensors[g.outputs[0]] if g.tensors[g.outputs[0]].quant else None
    lsb = 1.0 / 256 if out is None else out.quant.s  # softmax output: scale 1/256
    d = np.abs(fq - i8).max(axis=1) / lsb
    within = float(np.mean(d <= 1.0 + 1e-3))
    same_class = float(np.mean(fq.argmax(1) == i8.argmax(1)))
    print(f"\nQAT{bits}: output within 1 LSB on {within:.3f} of inputs, exact {np.mean(d < 1e-3):.3f}, "
          f"max {d.max():.0f} LSB, same top-1 {same_class:.4f}")
    assert within > 0.5
    assert same_class > 0.97


def test_logits_agree_per_tensor(trained, data):
    """Every int8 activation of the exported graph matches the fake-quant forward within 1 LSB
    almost everywhere (the softmax input included; the int8 softmax then amplifies a 1-LSB logit
    difference, so the output agreement above is lower)."""
    from mcc.passes.rebatch import rebatch
    from mcc.reference import interp

    xt = data[2][:200]
    q, g, _, _ = trained[8]
    fq = q.tensors(xt)
    env = interp.run(rebatch(g, len(xt)), [xt], keep_all=True)
    soft_in = next(op.inputs[0] for op in g.ops if op.kind == "SOFTMAX")
    checked = 0
    for name, v in env.items():
        t = g.tensors[name]
        if t.dtype != "int8" or name not in fq:
            continue
        d = np.abs(fq[name].reshape(v.shape) - t.quant.s * (v.astype(np.float32) - t.quant.zp)) / t.quant.s
        assert np.mean(d <= 1.0 + 1e-3) > 0.99, name
        if name == soft_in:
            print(f"\nQAT8 logits: within 1 LSB {np.mean(d <= 1.001):.4f}, exact {np.mean(d < 1e-3):.4f}")
        checked += 1
    assert checked >= 10


def test_accuracy(trained, data):
    *_, yt = data
    acc = {bits: (top1(trained[bits][2], yt), top1(trained[bits][3], yt)) for bits in (8, 4)}
    print(f"\nfloat {trained['float']:.4f}; before fine-tuning (min/max ranges) "
          f"QAT8 {trained['untrained8']:.4f} "
          f"QAT4 {trained['untrained4']:.4f}")
    print(f"float {trained['float']:.4f}; QAT8 keras {acc[8][0]:.4f} int8 {acc[8][1]:.4f}; "
          f"QAT4 keras {acc[4][0]:.4f} int8 {acc[4][1]:.4f}")
    assert trained["float"] > 0.75
    assert acc[8][1] > 0.70
    assert acc[4][1] > 0.70
