"""The numpy reference interpreter against TFLM, bit for bit, on every activation tensor."""

import numpy as np
import pytest

from conftest import MLPERF, op_models
from mcc.frontend.tflite import load_tflite
from mcc.ir import Graph
from mcc.oracle.tflm import run_tflm
from mcc.reference import interp


def _random_inputs(g: Graph, n: int, rng) -> list[np.ndarray]:
    """Half uniform over the whole int8 range, half clustered around the zero point; float
    inputs are spread over (and a little beyond) the range of the QUANTIZE that consumes them."""
    arrays = []
    for name in g.inputs:
        t = g.tensors[name]
        if t.dtype == "float32":
            consumer = next(op for op in g.ops if name in op.inputs)
            yq = g.tensors[consumer.outputs[0]].quant
            levels = rng.integers(-140, 141, (n,) + t.shape) - yq.zp
            noise = rng.choice([0.0, 0.5, -0.5, 0.3], size=levels.shape)
            arrays.append(((levels + noise) * yq.s).astype(np.float32))
            continue
        info = np.iinfo(t.dtype)
        zp = t.quant.zp if t.quant is not None else 0
        uniform = rng.integers(info.min, info.max + 1, (n,) + t.shape)
        clustered = np.clip(np.rint(rng.normal(zp, 25, (n,) + t.shape)), info.min, info.max)
        pick = (np.arange(n) % 2 == 0).reshape((n,) + (1,) * len(t.shape))
        arrays.append(np.where(pick, uniform, clustered).astype(t.dtype))
    return arrays


def _check_bit_exact(path, n: int, seed: int = 0):
    g = load_tflite(path)
    index = g.meta["tflite_index"]
    xs = _random_inputs(g, n, np.random.default_rng(seed))
    ref = run_tflm(path, xs if len(xs) > 1 else xs[0], keep_intermediates=True)
    mismatches: dict[str, int] = {}
    for s in range(n):
        env = interp.run(g, [x[s] for x in xs], keep_all=True)
        for name, arr in env.items():
            want = ref.intermediates[index[name]][s]
            if not np.array_equal(arr.reshape(want.shape), want):
                mismatches[name] = mismatches.get(name, 0) + 1
    kind = {t: op.kind for op in g.ops for t in op.outputs}
    assert not mismatches, {f"{t} ({kind.get(t, 'input')})": k for t, k in mismatches.items()}


@pytest.mark.slow
@pytest.mark.parametrize("model", sorted(MLPERF))
def test_mlperf_models_bit_exact(model):
    _check_bit_exact(MLPERF[model], n=100)


@pytest.mark.slow
@pytest.mark.parametrize("path", op_models(), ids=lambda p: p.stem)
def test_single_op_models_bit_exact(path):
    _check_bit_exact(path, n=20)
