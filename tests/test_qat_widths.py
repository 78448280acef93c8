"""QAT at per-channel widths (mcc.optimize.qat_widths) on the Fashion-MNIST CNN: the export carries
the plan's widths, equals the fake quantization's rounding, agrees with the Keras forward, and the
compiled C is bit-exact with the numpy reference."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

keras = pytest.importorskip("keras")

from make_fashion_cnn import FASHION, load_fashion_mnist  # noqa: E402

from mcc.errors import MccError  # noqa: E402
from mcc.evaluate import predict_int8  # noqa: E402
from mcc.passes.weight_bits import WEIGHT_AXIS, channel_rows  # noqa: E402

MODEL = os.path.join(os.path.dirname(__file__), "data", "fashion_cnn.keras")
N_TRAIN, N_TEST = 1000, 400

pytestmark = pytest.mark.skipif(not (FASHION / "t10k-images-idx3-ubyte.gz").exists(),
                                reason="Fashion-MNIST not installed")


def _widths(g):
    """A mixed plan: channels cycle through 8, 4, 2 bits (the first layer 8/4 only), the dense 4."""
    out = {}
    for i, op in enumerate(op for op in g.ops if op.kind in WEIGHT_AXIS):
        n = g.tensors[op.inputs[1]].shape[WEIGHT_AXIS[op.kind]]
        cycle = (8, 4) if i == 0 else (8, 4, 2)
        out[op.inputs[1]] = 4 if op.kind == "FULLY_CONNECTED" else tuple(cycle[c % len(cycle)] for c in range(n))
    return out


@pytest.fixture(scope="module")
def trained():
    from mcc.frontend.keras import load_keras
    from mcc.optimize.qat import fine_tune
    from mcc.optimize.qat_widths import export_widths, qat_widths_model

    x, y = load_fashion_mnist("train")
    xt, _ = load_fashion_mnist("t10k")
    user = keras.saving.load_model(MODEL, compile=False)
    before = [w.copy() for w in user.get_weights()]
    widths = _widths(load_keras(MODEL))
    keras.utils.set_random_seed(0)
    q = qat_widths_model(user, widths, calib_data=x[:N_TRAIN])
    fine_tune(q, x[:N_TRAIN], y[:N_TRAIN], epochs=1, batch_size=64, verbose=0)
    g = export_widths(q)
    return dict(user=user, before=before, widths=widths, q=q, g=g, xt=xt[:N_TEST])


def test_export_carries_the_widths(trained):
    g, widths = trained["g"], trained["widths"]
    assert g.meta["qat"]["weight_bits"] == "per-channel"
    for op in g.ops:
        if op.kind not in WEIGHT_AXIS:
            continue
        w = g.tensors[op.inputs[1]]
        n = w.shape[WEIGHT_AXIS[op.kind]]
        want = widths[w.name] if not np.isscalar(widths[w.name]) else (widths[w.name],) * n
        assert tuple(w.quant.widths(n)) == tuple(want), w.name
        rows = np.abs(channel_rows(w.data, WEIGHT_AXIS[op.kind]).astype(int))
        for c, b in enumerate(want):  # every channel within, and reaching, its symmetric range
            assert rows[c].max() == (1 << (b - 1)) - 1, (w.name, c, b)
        assert g.tensors[op.inputs[2]].dtype == "int32"
    for a, b in zip(trained["user"].get_weights(), trained["before"]):
        np.testing.assert_array_equal(a, b)


def test_export_is_the_fake_quantization(trained):
    """The exported integers x scales are the weights the QAT forward used (its per-width rounding)."""
    g, q = trained["g"], trained["q"]
    fq = q.float_graph(quantized_weights=True)
    for op in g.ops:
        if op.kind not in WEIGHT_AXIS:
            continue
        w = g.tensors[op.inputs[1]]
        axis = WEIGHT_AXIS[op.kind]
        deq = channel_rows(w.data, axis).astype(np.float64) * np.asarray(w.quant.scale)[:, None]
        ref = channel_rows(fq.tensors[w.name].data, axis).astype(np.float64)
        np.testing.assert_allclose(deq, ref, rtol=1e-6, atol=1e-9)


def test_reference_agrees_with_the_keras_forward(trained):
    g, q, xt = trained["g"], trained["q"], trained["xt"]
    fq = q.predict(xt, batch_size=200, verbose=0)
    i8 = predict_int8(g, xt)
    assert np.mean(fq.argmax(1) == i8.argmax(1)) > 0.97


@pytest.mark.slow
def test_compiled_c_is_bit_exact(trained, tmp_path):
    from mcc import api
    from mcc.options import CompileOptions

    g, xt = trained["g"], trained["xt"][:20]
    out = api.compile_graph(g, tmp_path / "o", CompileOptions(target="host", force=True), "qat-widths").outdir
    y = api.run(out, xt).reshape(len(xt), -1)
    assert np.array_equal(y, predict_int8(g, xt))


def test_bad_widths_are_clear_errors():
    from mcc.frontend.keras import load_keras
    from mcc.optimize.qat_widths import qat_widths_model

    g = load_keras(MODEL)
    name = next(op.inputs[1] for op in g.ops if op.kind == "CONV_2D")
    with pytest.raises(MccError, match="not a convolution"):
        qat_widths_model(g, {"nope": 4})
    with pytest.raises(MccError, match="must be 8, 4 or 2"):
        qat_widths_model(g, {name: 3})
    with pytest.raises(MccError, match="output channels"):
        qat_widths_model(g, {name: (4, 4)})


@pytest.mark.slow
def test_cli_qat_with_a_plan(tmp_path):
    """`mcc qat --plan plan.json`: trains at the plan's widths and compiles the export (host C)."""
    from click.testing import CliRunner

    from mcc.cli import main
    from mcc.frontend.keras import load_keras
    from mcc.planner.plan import Plan

    x, y = load_fashion_mnist("train")
    np.savez(tmp_path / "train.npz", x=x[:256], y=y[:256])
    widths = _widths(load_keras(MODEL))
    g = load_keras(MODEL)
    full = {}
    for op in g.ops:
        if op.kind in WEIGHT_AXIS:
            n = g.tensors[op.inputs[1]].shape[WEIGHT_AXIS[op.kind]]
            w = widths[op.inputs[1]]
            full[op.inputs[1]] = (w,) * n if np.isscalar(w) else tuple(w)
    plan = Plan("fashion_cnn.keras", "host", 0, 0, 0, 0, 0, full, [], "milp", 0.0, True)
    (tmp_path / "plan.json").write_text(plan.to_json())
    r = CliRunner().invoke(main, ["qat", MODEL, "--train", str(tmp_path / "train.npz"), "--plan",
                                  str(tmp_path / "plan.json"), "--epochs", "1", "-o", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "out").exists()
    (tmp_path / "bad.json").write_text(Plan("m", "mps2-an386", 0, 0, 0, 0, 0, full, [], "milp", 0.0, True).to_json())
    r = CliRunner().invoke(main, ["qat", MODEL, "--train", str(tmp_path / "train.npz"), "--plan",
                                  str(tmp_path / "bad.json"), "-t", "mps2-an385", "-o", str(tmp_path / "o2")])
    assert r.exit_code == 2 and "was planned for mps2-an386" in r.output
