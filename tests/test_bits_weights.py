"""set_weight_bits: per-channel requantization to 8/4/2 bits (invariants, verify, reference runs)."""

import numpy as np
import pytest

from conftest import MLPERF, ROOT

from mcc.errors import MccError
from mcc.frontend import load_tflite
from mcc.ir import verify
from mcc.lower.packing import packed_size
from mcc.passes.weight_bits import WEIGHT_AXIS, channel_rows, qmax, set_weight_bits, weight_ops
from mcc.reference import interp

FASHION = ROOT / "tests/data/fashion_cnn.keras"


@pytest.fixture(scope="module")
def dscnn():
    return load_tflite(MLPERF["dscnn"])


@pytest.fixture(scope="module")
def fashion():
    pytest.importorskip("keras")
    from make_fashion_cnn import load_fashion_mnist
    from mcc.frontend.keras import load_keras
    from mcc.quantize_api import quantize_model

    f = load_keras(FASHION)
    x = load_fashion_mnist("train")[0][:32]
    return f, quantize_model(f, x, progress=False)


def _weights(g):
    return [(g.ops[i], g.tensors[g.ops[i].inputs[1]]) for i in weight_ops(g)]


def _mixed(g, seed=0):
    rng = np.random.default_rng(seed)
    return {w.name: tuple(int(b) for b in rng.choice([8, 4, 2], w.shape[WEIGHT_AXIS[op.kind]]))
            for op, w in _weights(g)}


def test_all_eight_is_identity(dscnn):
    widths = {w.name: 8 for _, w in _weights(dscnn)}
    g = set_weight_bits(dscnn, widths)
    for name, t in dscnn.tensors.items():
        u = g.tensors[name]
        assert u.quant == t.quant
        assert (t.data is None and u.data is None) or np.array_equal(t.data, u.data)


def test_mixed_widths_invariants_from_int8(dscnn):
    widths = _mixed(dscnn)
    g = set_weight_bits(dscnn, widths)
    verify(g)
    for op, w in _weights(g):
        axis = WEIGHT_AXIS[op.kind]
        old = dscnn.tensors[w.name]
        ws = widths[w.name]
        assert w.quant.widths(w.shape[axis]) == ws
        rows, old_rows = channel_rows(w.data, axis).astype(np.int32), channel_rows(old.data, axis).astype(np.int32)
        s_old = np.broadcast_to(np.asarray(old.quant.scale), (len(ws),))
        s_new = np.asarray(w.quant.scale)
        assert len(s_new) == len(ws) and w.quant.axis == axis
        for c, b in enumerate(ws):
            assert np.abs(rows[c]).max() <= qmax(b)
            if b == 8:  # unchanged
                assert np.array_equal(rows[c], old_rows[c]) and np.isclose(s_new[c], s_old[c], rtol=0)
                continue
            m = np.abs(old_rows[c]).max() * s_old[c]
            if m == 0:
                continue
            # the scale spans the channel's range at b bits, and the values are the rounded reals
            assert np.isclose(s_new[c], m / qmax(b), rtol=1e-6)
            assert np.abs(rows[c] * s_new[c] - old_rows[c] * s_old[c]).max() <= 0.5 * s_new[c] * (1 + 1e-6)
            assert np.abs(rows[c]).max() == qmax(b)
        # bias: input scale x new weight scale, same real values within half a new step
        if len(op.inputs) > 2 and op.inputs[2] is not None:
            bq, bo = g.tensors[op.inputs[2]], dscnn.tensors[op.inputs[2]]
            s_in = g.tensors[op.inputs[0]].quant.s
            assert np.allclose(bq.quant.scale, s_in * s_new, rtol=1e-6)
            real_old = bo.data.astype(np.float64) * np.broadcast_to(bo.quant.scale, bo.shape)
            real_new = bq.data.astype(np.float64) * np.asarray(bq.quant.scale)
            assert np.all(np.abs(real_new - real_old) <= 0.5 * np.asarray(bq.quant.scale) * (1 + 1e-6))


def test_input_graph_untouched_and_runs(dscnn):
    before = {n: (t.quant, None if t.data is None else t.data.copy()) for n, t in dscnn.tensors.items()}
    g = set_weight_bits(dscnn, _mixed(dscnn, seed=1))
    for n, (q, d) in before.items():
        assert dscnn.tensors[n].quant == q
        assert d is None or np.array_equal(dscnn.tensors[n].data, d)
    x = np.random.default_rng(0).integers(-128, 128, (1,) + dscnn.tensors[dscnn.inputs[0]].shape[1:], dtype=np.int8)
    y8, ymix = interp.run(dscnn, [x])[0], interp.run(g, [x])[0]
    assert y8.shape == ymix.shape


def test_uniform_four_bit_from_float(fashion):
    f, q = fashion
    widths = {w.name: 4 for _, w in _weights(q)}
    g = set_weight_bits(q, widths, float_graph=f)
    matched = 0
    for op, w in _weights(g):
        axis = WEIGHT_AXIS[op.kind]
        fw = f.tensors[w.name].data if w.name in f.tensors else None
        if fw is None:
            continue
        matched += 1
        frows = channel_rows(fw, axis).astype(np.float64)
        expect = np.abs(frows).max(axis=1) / 7
        assert np.allclose(w.quant.scale, expect, rtol=1e-6)
        rows = channel_rows(w.data, axis).astype(np.float64)
        assert np.all(np.abs(rows * np.asarray(w.quant.scale)[:, None] - frows)
                      <= 0.5 * np.asarray(w.quant.scale)[:, None] * (1 + 1e-5))
    assert matched == len(_weights(g))
    # packed flash of the 4-bit model is about half the int8 weights
    full = sum(w.nbytes for _, w in _weights(g))
    packed = sum(packed_size(w.shape, w.quant.widths(w.shape[WEIGHT_AXIS[op.kind]]), WEIGHT_AXIS[op.kind])
                 for op, w in _weights(g))
    assert full // 2 <= packed <= full // 2 + len(_weights(g)) * 64


def test_bad_widths(dscnn):
    name = _weights(dscnn)[0][1].name
    with pytest.raises(MccError, match="8, 4 or 2 bits"):
        set_weight_bits(dscnn, {name: 3})
    with pytest.raises(MccError, match="output channels"):
        set_weight_bits(dscnn, {name: (8, 4)})
    with pytest.raises(MccError, match="not the int8 weight tensor"):
        set_weight_bits(dscnn, {"nope": 4})
    g4 = set_weight_bits(dscnn, {name: 4})
    with pytest.raises(MccError, match="float model"):
        set_weight_bits(g4, {name: 8})
