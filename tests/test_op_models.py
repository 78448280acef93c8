"""Every single-operator model in tests/data/ops: generated C == TFLM bit for bit on 100 random inputs."""

import numpy as np
import pytest

import mcc.api as api
from mcc.errors import ModelFormatError
from mcc.frontend import load_tflite
from mcc.oracle.tflm import run_tflm

from conftest import op_models

# The generated C API has one input; two-input ADD/MUL/CONCATENATION models exercise the numpy
# reference (tests/test_reference_vs_tflm.py) and here the clear refusal. Their kernels are covered
# in C by the single-input branch models (add_residual, mul_branches, concat_branches ...).
SINGLE = [m for m in op_models() if len(load_tflite(m).inputs) == 1]
MULTI = [m for m in op_models() if len(load_tflite(m).inputs) > 1]


@pytest.mark.parametrize("model", MULTI, ids=lambda p: p.stem)
def test_multi_input_model_is_refused_clearly(model, tmp_path):
    with pytest.raises(ModelFormatError, match=r"inputs and 1 outputs; mcc supports exactly one of each"):
        api.compile(model, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("model", SINGLE, ids=lambda p: p.stem)
def test_op_model_bit_exact(model, tmp_path):
    r = api.compile(model, tmp_path / "out")
    x = api.random_inputs(r.graph, 100, seed=3)
    y_c = api.run(r.outdir, x)
    y_ref = run_tflm(model, x).outputs.reshape(y_c.shape)
    same = [np.array_equal(a, b) for a, b in zip(y_c, y_ref)]
    assert all(same), f"{sum(not s for s in same)} of 100 outputs differ"


def test_op_suite_covers_every_supported_operator():
    kinds = {op.kind for m in SINGLE for op in load_tflite(m).ops}
    expected = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D", "MAX_POOL_2D", "ADD",
                "MUL", "SOFTMAX", "RESHAPE", "MEAN", "PAD", "CONCATENATION", "LOGISTIC", "QUANTIZE",
                "DEQUANTIZE"}
    assert expected <= kinds, expected - kinds
