"""The moving-average MinMax calibrator: bias-corrected EMA of the per-batch min and max."""

from __future__ import annotations

import numpy as np

from mcc.quant.calibrators import make_calibrator


def _ema(batches, c):
    """Plain formula: weights c (1 - c)^(n - k) over the n batches, normalized to sum 1."""
    n = len(batches)
    w = np.array([c * (1 - c) ** (n - 1 - k) for k in range(n)])
    w /= w.sum()
    return (float(np.dot(w, [b.min() for b in batches])), float(np.dot(w, [b.max() for b in batches])))


def test_ema_is_bias_corrected_average_of_batch_ranges():
    rng = np.random.default_rng(0)
    batches = [rng.normal(0, 1 + k, (8, 5)).astype(np.float32) for k in range(7)]
    for c in (0.01, 0.3, 1.0):
        cal = make_calibrator("ema", ema_constant=c)
        for b in batches:
            cal.observe("t", b, 0)
        lo, hi = cal.ranges()["t"]
        want = _ema(batches, c)
        np.testing.assert_allclose((lo, hi), want, rtol=1e-12)
    # c = 1: the last batch only; a small c: close to the mean of the batch ranges, not the first's
    cal = make_calibrator("ema", ema_constant=0.001)
    for b in batches:
        cal.observe("t", b, 0)
    np.testing.assert_allclose(cal.ranges()["t"][1], np.mean([b.max() for b in batches]), rtol=1e-2)
    assert abs(cal.ranges()["t"][1] - batches[0].max()) > 1.0
