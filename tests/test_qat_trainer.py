"""QAT details on a small model (fast): the fake-quant forward models the integer pipeline (int32
bias at input x weight scale, TFLite zero points, round half away) and ``fine_tune`` takes a
trainer (``mcc.optimize.trainer`` protocol)."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
from keras import layers  # noqa: E402

from mcc.evaluate import predict_int8  # noqa: E402
from mcc.optimize import export, fine_tune, qat_model  # noqa: E402
from mcc.optimize.qat import activation_qparams, round_half_away  # noqa: E402
from mcc.optimize.trainer import LabelTrainer  # noqa: E402
from mcc.quant import params as Q  # noqa: E402


def _model(seed=0):
    rng = np.random.default_rng(seed)
    inp = keras.Input((8, 8, 2))
    x = layers.Conv2D(6, 3, activation="relu")(inp)
    x = layers.AveragePooling2D(2)(x)
    x = layers.Flatten()(x)
    m = keras.Model(inp, layers.Dense(4)(x))
    for layer in m.layers:
        ws = layer.get_weights()
        if ws:  # large biases: their int32 rounding matters
            layer.set_weights([rng.uniform(-0.6, 0.6, w.shape).astype(np.float32) for w in ws])
    return m


def _data(n=256, seed=1):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (n, 8, 8, 2)).astype(np.float32), rng.integers(0, 4, n)


def test_round_half_away_and_tflite_params():
    v = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.49, -0.51], np.float32)
    np.testing.assert_array_equal(np.asarray(round_half_away(v)), Q.round_half_away(v))
    for lo, hi in [(-1.0, 3.0), (-0.3, 0.01), (0.0, 6.0), (-5.0, -1.0), (0.2, 0.9), (-2.7, 2.6)]:
        s, zp = activation_qparams(np.float32(lo), np.float32(hi))
        p = Q.activation_params(lo, hi)
        assert float(np.float32(s)) == pytest.approx(p.s, rel=1e-6) and int(zp) == p.zp, (lo, hi)


def test_fake_quant_forward_follows_the_int8_graph():
    x, _ = _data()
    q = qat_model(_model(), bits=4, calib_data=x)
    g = export(q)
    out = g.tensors[g.ops[-2].outputs[0]]  # the dense output (before DEQUANTIZE)
    i8 = predict_int8(g, x)
    d = np.abs(np.asarray(q(x)) - i8) / out.quant.s
    assert np.all(d <= 1.0 + 1e-3)
    # the average pooling rounds as the kernel does (the mean of the stored int8 values)
    pool = next(op.outputs[0] for op in g.ops if op.kind == "AVERAGE_POOL_2D")
    from mcc.passes.rebatch import rebatch
    from mcc.reference import interp
    t = g.tensors[pool]
    ref = t.quant.s * (interp.run(rebatch(g, len(x)), [x], keep_all=True)[pool].astype(np.float32) - t.quant.zp)
    dp = np.abs(q.tensors(x)[pool].reshape(ref.shape) - ref) / t.quant.s
    assert np.all(dp <= 1.0 + 1e-3)


class _Recording:
    def __init__(self):
        self.calls = []
        self.inner = LabelTrainer(1e-2)

    def fit(self, model, x, y, *, epochs, batch_size, callbacks=(), validation_data=None, verbose=0):
        self.calls.append((model, len(x), epochs, batch_size))
        return self.inner.fit(model, x, y, epochs=epochs, batch_size=batch_size, callbacks=callbacks,
                              validation_data=validation_data, verbose=verbose)


def test_fine_tune_with_a_trainer():
    x, y = _data()
    q = qat_model(_model(), bits=8)
    before = [w.copy() for w in q.get_weights()]
    t = _Recording()
    hist = fine_tune(q, x, y, epochs=2, batch_size=32, trainer=t, verbose=0)
    assert t.calls == [(q, len(x), 2, 32)] and len(hist.history["loss"]) == 2
    assert float(q.initialized.numpy()) == 1.0  # ranges calibrated before the trainer ran
    assert any(not np.array_equal(a, b) for a, b in zip(before, q.get_weights()))
