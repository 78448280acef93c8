"""QAT with BatchNorm folded on batch statistics until ``freeze_bn_epoch`` (mcc.optimize.qat_bn)."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

keras = pytest.importorskip("keras")
from keras import layers  # noqa: E402

from mcc import api  # noqa: E402
from mcc.errors import MccError  # noqa: E402
from mcc.optimize import export, fine_tune, qat_model  # noqa: E402
from mcc.options import CompileOptions  # noqa: E402
from mcc.passes.rebatch import rebatch  # noqa: E402
from mcc.reference import interp  # noqa: E402
from mcc.sim import host  # noqa: E402


def _model(seed: int = 0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((8, 8, 2))
    x = layers.Conv2D(4, 3, padding="same")(inp)
    x = layers.BatchNormalization(name="bn1")(x)
    x = layers.ReLU()(x)
    x = layers.DepthwiseConv2D(3, use_bias=False)(x)
    x = layers.BatchNormalization(name="bn2", momentum=0.9)(x)
    x = layers.GlobalAveragePooling2D()(x)
    out = layers.Dense(3, activation="softmax")(x)
    m = keras.Model(inp, out)
    # non-trivial moving statistics and affine parameters
    for bn in (m.get_layer("bn1"), m.get_layer("bn2")):
        c = bn.gamma.shape[0]
        r = np.random.default_rng(c)
        bn.set_weights([r.uniform(0.5, 1.5, c).astype(np.float32), r.normal(0, 0.2, c).astype(np.float32),
                        r.normal(0, 0.3, c).astype(np.float32), r.uniform(0.5, 2.0, c).astype(np.float32)])
    return m


def _data(n: int = 96, seed: int = 1):
    r = np.random.default_rng(seed)
    x = r.normal(0.3, 1.0, (n, 8, 8, 2)).astype(np.float32)
    y = (x[..., 0].mean(axis=(1, 2)) > 0.3).astype(np.int64) + (x[..., 1].mean(axis=(1, 2)) > 0.3)
    return x, y


def test_batch_statistics_fold_matches_conv_bn():
    """Before freezing, the folded layer (no quantization effect: 8-bit weights would still round,
    so compare the float fold itself) equals conv + BN with the batch statistics, and the moving
    statistics follow the batch."""
    m = _model()
    x, _ = _data(32)
    q = qat_model(m, freeze_bn_epoch=1)
    assert len(q.bn_folds) == 2
    conv_key = next(k for k, f in q.bn_folds.items() if f.kind == "CONV_2D")
    op = next(o for o in q.graph.ops if o.outputs[0] == conv_key)
    mean0, var0 = (a.copy() for a in q.bn_statistics()[conv_key])
    xin = keras.ops.convert_to_tensor(x)
    w, b = q._folded(op, xin, training=True)
    y_fold = keras.ops.convert_to_numpy(q._linear(op.kind, op.attrs, xin, w) + b)
    # independent reference: Keras's own Conv2D + BatchNormalization(training=True) on a copy
    conv = layers.Conv2D(4, 3, padding="same")
    conv.build((None, 8, 8, 2))
    conv.set_weights(m.layers[1].get_weights())
    bn = layers.BatchNormalization()
    bn.build((None, 8, 8, 4))
    bn.set_weights(m.get_layer("bn1").get_weights())
    y_ref = keras.ops.convert_to_numpy(bn(conv(xin), training=True))
    np.testing.assert_allclose(y_fold, y_ref, atol=2e-5, rtol=1e-4)
    mean1, var1 = q.bn_statistics()[conv_key]
    np.testing.assert_allclose(mean1, keras.ops.convert_to_numpy(bn.moving_mean), atol=1e-6)
    np.testing.assert_allclose(var1, keras.ops.convert_to_numpy(bn.moving_variance), atol=1e-6)
    assert np.abs(mean1 - mean0).max() > 1e-3 and np.abs(var1 - var0).max() > 1e-3
    # the user's model is unchanged
    np.testing.assert_array_equal(m.get_layer("bn1").get_weights()[2], mean0)


def test_statistics_freeze_at_epoch():
    m = _model()
    x, y = _data()
    q = qat_model(m, freeze_bn_epoch=1)
    s0 = {k: (a.copy(), v.copy()) for k, (a, v) in q.bn_statistics().items()}
    fine_tune(q, x, y, epochs=1, batch_size=32, verbose=0)   # epoch 0 only: not frozen
    s1 = {k: (a.copy(), v.copy()) for k, (a, v) in q.bn_statistics().items()}
    assert float(q.bn_frozen.numpy()) == 0.0
    for k in s0:
        assert np.abs(s1[k][0] - s0[k][0]).max() > 1e-4
    w_before = [v.numpy().copy() for v in q.trainable_weights]
    fine_tune(q, x, y, epochs=2, batch_size=32, verbose=0)   # epoch 0 moves them, epoch 1 freezes
    s2 = {k: (a.copy(), v.copy()) for k, (a, v) in q.bn_statistics().items()}
    assert float(q.bn_frozen.numpy()) == 1.0
    fine_tune(q, x, y, epochs=1, batch_size=32, verbose=0)   # frozen: statistics fixed, weights train
    s3 = q.bn_statistics()
    for k in s0:
        assert np.abs(s2[k][0] - s1[k][0]).max() > 1e-6
        np.testing.assert_array_equal(s3[k][0], s2[k][0])
        np.testing.assert_array_equal(s3[k][1], s2[k][1])
    assert any(np.abs(a.numpy() - b).max() > 0 for a, b in zip(q.trainable_weights, w_before))


def test_frozen_export_is_the_same_ir_as_folding_first():
    m = _model()
    x, _ = _data(64)
    ga = export(qat_model(m, calib_data=x))                      # BN folded before QAT (default)
    qb = qat_model(m, calib_data=x, freeze_bn_epoch=3)
    qb.freeze_bn()
    gb = export(qb)
    assert [o.kind for o in ga.ops] == [o.kind for o in gb.ops]
    for name, t in ga.tensors.items():
        if t.data is not None:
            np.testing.assert_array_equal(t.data, gb.tensors[name].data, err_msg=name)
            assert t.quant == gb.tensors[name].quant, name


@pytest.mark.slow
def test_train_two_epochs_export_compiled_c_matches_reference(tmp_path):
    m = _model()
    x, y = _data()
    q = qat_model(m, freeze_bn_epoch=1)
    fine_tune(q, x, y, epochs=2, batch_size=32, verbose=0)
    assert float(q.bn_frozen.numpy()) == 1.0
    g = export(q)
    r = api.compile_graph(g, tmp_path / "out", CompileOptions())
    xt = x[:16]
    t_out = g.tensors[g.outputs[0]]
    y_c = host.run(r.outdir, xt.reshape((len(xt),) + tuple(g.tensors[g.inputs[0]].shape[1:])),
                   t_out.shape[1:], t_out.dtype)
    y_ref = interp.run(rebatch(g, len(xt)), [xt])[0]
    np.testing.assert_array_equal(y_c.reshape(y_ref.shape), y_ref)
    # the fake-quant Keras forward agrees with the int8 export (same top-1 almost everywhere)
    fq = q.predict(xt, verbose=0)
    assert np.mean(fq.argmax(1) == y_ref.reshape(fq.shape).argmax(1)) >= 0.9


@pytest.mark.parametrize("bad", [-1, 1.5, "2"])
def test_bad_freeze_bn_epoch_is_clear_error(bad):
    with pytest.raises(MccError, match="freeze_bn_epoch must be an integer >= 0"):
        qat_model(_model(), freeze_bn_epoch=bad)


def test_cli_bad_freeze_bn_epoch(tmp_path):
    from click.testing import CliRunner

    from mcc.cli import main

    path = tmp_path / "m.keras"
    _model().save(path)
    x, y = _data(16)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    res = CliRunner().invoke(main, ["qat", str(path), "--train", str(tmp_path / "d.npz"),
                                    "--freeze-bn-epoch", "-1", "-o", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "freeze_bn_epoch must be an integer >= 0" in res.output
