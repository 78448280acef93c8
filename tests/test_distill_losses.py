"""Distillation losses against plain numpy formulas (and one value worked out by hand)."""

import math

import numpy as np
import pytest

from mcc.optimize.distill import (DistillConfig, DistillError, hard_loss, hint_loss, relation_loss,
                                  response_loss, rkd_angle_loss, rkd_distance_loss, soft_loss)

RNG = np.random.default_rng(7)
S = RNG.normal(size=(5, 4)).astype(np.float32) * 2
T = RNG.normal(size=(5, 4)).astype(np.float32) * 3
Y = np.array([0, 3, 1, 1, 2])


def _log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def _huber(d):
    return 0.5 * d * d if abs(d) < 1 else abs(d) - 0.5


def test_soft_loss_by_hand():
    # student logits (0, 0) -> p_s = (1/2, 1/2); teacher logits (2 ln 3, 0) at T=2 -> p_t = (3/4, 1/4)
    kl = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    got = float(soft_loss(np.zeros((1, 2), np.float32), np.array([[2 * math.log(3), 0]], np.float32), 2.0))
    assert got == pytest.approx(4 * kl, rel=1e-5)  # the T^2 = 4 scaling


@pytest.mark.parametrize("temperature", [1.0, 4.0, 10.0])
def test_soft_loss_matches_numpy(temperature):
    lps, lpt = _log_softmax(S / temperature), _log_softmax(T / temperature)
    want = temperature ** 2 * np.mean(np.sum(np.exp(lpt) * (lpt - lps), -1))
    assert float(soft_loss(S, T, temperature)) == pytest.approx(want, rel=1e-5)


def test_hard_and_response_loss_match_numpy():
    ce = -np.mean(_log_softmax(S)[np.arange(5), Y])
    assert float(hard_loss(Y, S)) == pytest.approx(ce, rel=1e-5)
    lps, lpt = _log_softmax(S / 4), _log_softmax(T / 4)
    kd = 16 * np.mean(np.sum(np.exp(lpt) * (lpt - lps), -1))
    assert float(response_loss(S, T, Y, 4.0, 0.9)) == pytest.approx(0.9 * kd + 0.1 * ce, rel=1e-5)
    assert float(response_loss(S, T, Y, 4.0, 0.0)) == pytest.approx(ce, rel=1e-5)


def test_hint_loss_is_mse():
    a, b = RNG.normal(size=(2, 3, 3, 4)), RNG.normal(size=(2, 3, 3, 4))
    assert float(hint_loss(a.astype(np.float32), b.astype(np.float32))) == pytest.approx(np.mean((a - b) ** 2), rel=1e-5)


def _np_rkd_distance(s, t):
    n = len(s)
    ds = np.array([[np.linalg.norm(s[i] - s[j]) for j in range(n)] for i in range(n)])
    dt = np.array([[np.linalg.norm(t[i] - t[j]) for j in range(n)] for i in range(n)])
    pairs = [(i, j) for i in range(n) for j in range(n) if i != j]
    ms, mt = np.mean([ds[p] for p in pairs]), np.mean([dt[p] for p in pairs])
    return np.mean([_huber(ds[p] / ms - dt[p] / mt) for p in pairs])


def _np_rkd_angle(s, t):
    def cos(e, i, j, k):
        u, v = e[i] - e[j], e[k] - e[j]
        return u @ v / (np.linalg.norm(u) * np.linalg.norm(v))
    n = len(s)
    trip = [(i, j, k) for i in range(n) for j in range(n) for k in range(n) if len({i, j, k}) == 3]
    return np.mean([_huber(cos(s, *x) - cos(t, *x)) for x in trip])


def test_rkd_distance_matches_numpy():
    s, t = RNG.normal(size=(6, 3)), RNG.normal(size=(6, 5)) * 4  # widths may differ
    got = float(rkd_distance_loss(s.astype(np.float32), t.astype(np.float32)))
    assert got == pytest.approx(_np_rkd_distance(s, t), rel=1e-4)
    assert float(rkd_distance_loss(s.astype(np.float32), 3 * s.astype(np.float32))) == pytest.approx(0, abs=1e-6)


def test_rkd_angle_matches_numpy():
    s, t = RNG.normal(size=(5, 3)), RNG.normal(size=(5, 4))
    got = float(rkd_angle_loss(s.astype(np.float32), t.astype(np.float32)))
    assert got == pytest.approx(_np_rkd_angle(s, t), rel=1e-4)
    assert got > 0.01


def test_relation_loss_weights_its_terms():
    s, t = S, T
    want = 1.5 * _np_rkd_distance(s.astype(np.float64), t) + 2.0 * _np_rkd_angle(s.astype(np.float64), t)
    assert float(relation_loss(s, t, 1.5, 2.0)) == pytest.approx(want, rel=1e-4)


@pytest.mark.parametrize("kw,msg", [
    (dict(kind="logit"), "unknown distillation kind 'logit'; choose one of response, feature, relation"),
    (dict(scheme="mutual"), "unknown distillation scheme 'mutual'"),
    (dict(temperature=0), "temperature must be > 0"),
    (dict(alpha=1.5), r"alpha must be in \[0, 1\]"),
    (dict(kind="feature"), "feature distillation needs hints"),
    (dict(hints=(("a",),)), "name pairs"),
])
def test_config_errors(kw, msg):
    with pytest.raises(DistillError, match=msg):
        DistillConfig(**kw)


def test_parse_hints():
    assert DistillConfig.parse_hints("c1:s1, c2:s2") == (("c1", "s1"), ("c2", "s2"))
    with pytest.raises(DistillError, match="TEACHER_LAYER:STUDENT_LAYER"):
        DistillConfig.parse_hints("c1")
