"""Fisher sensitivity: the per-channel sum of squared per-sample gradients x squared quantization
error equals a plain numpy formula on a tiny MLP (hand-written backprop), and it ranks channels."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from mcc.frontend.keras import load_keras  # noqa: E402
from mcc.ir import Graph  # noqa: E402
from mcc.passes.weight_bits import set_weight_bits, weight_ops  # noqa: E402
from mcc.planner.fisher import FisherError, fisher_matrix, fisher_sensitivity, squared_gradients  # noqa: E402
from mcc.quantize_api import quantize_model  # noqa: E402


@pytest.fixture(scope="module")
def mlp():
    import keras

    keras.utils.set_random_seed(3)
    inp = keras.Input((6,))
    h = keras.layers.Dense(5, activation="relu")(inp)
    out = keras.layers.Dense(3, activation="softmax")(h)
    m = keras.Model(inp, out)
    rng = np.random.default_rng(0)
    w1 = rng.normal(0, 0.6, (6, 5)).astype(np.float32)
    w1[:, 3] *= 4.0  # one hidden channel with large weights (large quantization error)
    m.layers[1].set_weights([w1, rng.normal(0, 0.3, 5).astype(np.float32)])
    m.layers[2].set_weights([rng.normal(0, 0.8, (5, 3)).astype(np.float32), rng.normal(0, 0.1, 3).astype(np.float32)])
    x = rng.normal(0, 1.0, (40, 6)).astype(np.float32)
    f = load_keras(m)
    q = quantize_model(f, x, progress=False)
    return m, f, q, x


def _numpy_fisher(m, x, labels=None):
    """Squared per-sample gradients of the cross-entropy of a Dense-ReLU-Dense-softmax model (numpy)."""
    (w1, b1), (w2, b2) = m.layers[1].get_weights(), m.layers[2].get_weights()
    g1, g2 = np.zeros(w1.shape), np.zeros(w2.shape)
    for xi, yi in zip(x.astype(np.float64), labels if labels is not None else [None] * len(x)):
        a = xi @ w1 + b1
        h = np.maximum(a, 0)
        z = h @ w2 + b2
        p = np.exp(z - z.max())
        p /= p.sum()
        y = int(np.argmax(p)) if yi is None else int(yi)
        dz = p - np.eye(len(p))[y]
        g2 += np.outer(h, dz) ** 2
        dh = (w2 @ dz) * (a > 0)
        g1 += np.outer(xi, dh) ** 2
    return g1.T, g2.T  # IR layout (out, in)


def _weight_names(q):
    return [q.ops[i].inputs[1] for i in weight_ops(q)]


def test_squared_gradients_equal_the_numpy_backprop(mlp):
    m, f, q, x = mlp
    sq = squared_gradients(f, x)
    n1, n2 = _weight_names(q)
    e1, e2 = _numpy_fisher(m, x)
    assert np.allclose(sq[n1], e1, rtol=1e-3, atol=1e-7)
    assert np.allclose(sq[n2], e2, rtol=1e-3, atol=1e-7)
    labels = np.arange(len(x)) % 3  # with labels: the cross-entropy against them
    sq = squared_gradients(f, x, labels)
    e1, e2 = _numpy_fisher(m, x, labels)
    assert np.allclose(sq[n1], e1, rtol=1e-3, atol=1e-7) and np.allclose(sq[n2], e2, rtol=1e-3, atol=1e-7)


def test_fisher_is_gradient_times_quantization_error_per_channel(mlp):
    m, f, q, x = mlp
    n1, n2 = _weight_names(q)
    e = dict(zip((n1, n2), _numpy_fisher(m, x)))
    fm = fisher_matrix(q, f, squared_gradients(f, x))
    for name in (n1, n2):
        w = f.tensors[name].data.astype(np.float64)
        for j, b in enumerate((8, 4, 2)):
            # Q_b as set_weight_bits rounds (8 bits: the int8 model's own weights)
            gq = q if b == 8 else set_weight_bits(q, {name: b}, float_graph=f)
            t = gq.tensors[name]
            deq = t.data.astype(np.float64) * np.asarray(t.quant.scale)[:, None]
            expect = (e[name] * (w - deq) ** 2).sum(axis=1)
            assert np.allclose(fm[name][:, j], expect, rtol=1e-3, atol=1e-12)
    s = fisher_sensitivity(q, x, f, n=len(x))
    for name in (n1, n2):
        assert np.all(s[name][:, 0] == 0) and np.all(s[name] >= 0) and np.all(s[name][:, 2] >= s[name][:, 1])
        expect4 = np.maximum(fm[name][:, 1] - fm[name][:, 0], 0)
        assert np.allclose(s[name][:, 1], expect4)
        # the ranking of channels is the numpy formula's
        assert list(np.argsort(s[name][:, 2], kind="stable")) == \
            list(np.argsort(np.maximum(np.maximum(fm[name][:, 2] - fm[name][:, 0], 0), expect4), kind="stable"))


def test_fisher_needs_the_float_model(mlp):
    _, f, q, x = mlp
    with pytest.raises(FisherError, match="float model"):
        fisher_sensitivity(q, x, None)
    other = Graph(dict(f.tensors), f.ops, f.inputs, f.outputs, f.meta)
    name = _weight_names(q)[0]
    del other.tensors[name]
    with pytest.raises(FisherError, match="no weight tensor"):
        fisher_matrix(q, other, {})


def test_check_keeps_the_candidate_best_on_calibration_data(mlp):
    """pick scores every candidate with the numpy reference on labelled (or unlabelled: agreement
    with the float model) calibration data and keeps the best; the scores are plain numpy formulas."""
    from mcc.evaluate import predict_float, predict_int8
    from mcc.lower.packing import row_bytes
    from mcc.planner.bits import WIDTHS, BitProblem, Layer
    from mcc.planner.candidates import candidate_allocations, pick

    m, f, q, x = mlp
    names = _weight_names(q)
    layers = tuple(Layer(nm, "fc", np.array([[row_bytes(q.tensors[nm].shape[1], b) for b in WIDTHS]]
                                            * q.tensors[nm].shape[0]), np.zeros((q.tensors[nm].shape[0], 3)))
                   for nm in names)
    full = sum(int(layer.bytes[:, 0].sum()) for layer in layers)
    rng = np.random.default_rng(1)
    sens = {"a": {layer.name: np.c_[np.zeros(layer.channels), rng.random((layer.channels, 2)).cumsum(1)]
                  for layer in layers},
            "b": fisher_sensitivity(q, x, f, n=len(x))}
    problem = BitProblem(layers, 0, int(0.7 * full))
    cands = candidate_allocations(problem, sens, method="milp")
    labels = ["milp:a", "milp:b", "milp 8/4:a", "milp 8/4:b", "uniform 4-bit", "uniform 2-bit"]
    assert [c.label for c in cands] == [lb for lb in labels if lb in [c.label for c in cands]]
    assert {"uniform 4-bit", "uniform 2-bit"} <= {c.label for c in cands}
    assert all(c.allocation.flash <= problem.budget for c in cands)
    y = (np.arange(len(x)) * 7) % 3
    best, scored = pick(q, cands, x, y, f)
    for c in scored:
        p = predict_int8(set_weight_bits(q, c.allocation.widths, float_graph=f), x)
        assert c.score[0] == pytest.approx(np.mean(p.argmax(1) == y))
    assert best.score == max(c.score for c in scored)
    best_u, scored_u = pick(q, cands, x, None, f)  # unlabelled: agreement with the float model
    ref = predict_float(f, x).argmax(1)
    for c in scored_u:
        p = predict_int8(set_weight_bits(q, c.allocation.widths, float_graph=f), x)
        assert c.score[0] == pytest.approx(np.mean(p.argmax(1) == ref))
    assert best_u.score == max(c.score for c in scored_u)


def test_plan_rejects_an_unknown_sensitivity(mlp):
    from mcc.errors import MccError
    from mcc.planner.plan import make_plan

    with pytest.raises(MccError, match="unknown sensitivity"):
        make_plan(mlp[2], "mps2-an386", sensitivity="hessian")


def test_sensitivity_at_the_logits_and_their_kl(mlp):
    """The logits are the input of the final SOFTMAX (found through the output DEQUANTIZE); the
    layer's model-output error at 4 bits is the plain numpy formula at each measure."""
    from mcc.passes.rebatch import rebatch
    from mcc.planner.sensitivity import graph_inputs, logits_tensor, sensitivities
    from mcc.reference import interp

    _, f, q, x = mlp
    soft = next(op for op in q.ops if op.kind == "SOFTMAX")
    assert logits_tensor(q) == soft.inputs[0] != q.outputs[0]
    s = sensitivities(q, x, f, n=len(x))
    assert set(s) == {"output", "logits", "kl"}
    xi = graph_inputs(q, x)

    def values(g, name):
        env = interp.run(rebatch(g, len(xi)), [xi], keep_all=True)
        t = g.tensors[name]
        v = env[name].astype(np.float64)
        return (v if t.quant is None else t.quant.s * (v - t.quant.zp)).reshape(len(xi), -1)

    name = _weight_names(q)[1]
    g4 = set_weight_bits(q, {name: 4}, float_graph=f)
    l0, l4 = values(q, soft.inputs[0]), values(g4, soft.inputs[0])
    o0, o4 = values(q, q.outputs[0]), values(g4, q.outputs[0])
    p0 = np.exp(l0 - l0.max(1, keepdims=True))
    p0 /= p0.sum(1, keepdims=True)
    p4 = np.exp(l4 - l4.max(1, keepdims=True))
    p4 /= p4.sum(1, keepdims=True)
    expect = {"output": ((o4 - o0) ** 2).sum(1).mean(), "logits": ((l4 - l0) ** 2).sum(1).mean(),
              "kl": (p0 * np.log(p0 / p4)).sum(1).mean()}
    for at, m in expect.items():
        assert s[at][name][:, 1].sum() == pytest.approx(m + 1e-12, rel=1e-6), at
