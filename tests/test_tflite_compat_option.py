"""--tflite-compat (CompileOptions.tflite_compat) reaches the calibration: an in-place ADD's input
takes the range that also covers the ADD's output (calibrate.tflite_inplace_ranges), as the TFLite
converter records it; without the option the input keeps its own range."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

keras = pytest.importorskip("keras")

from click.testing import CliRunner  # noqa: E402

from mcc import api  # noqa: E402
from mcc.cli import main  # noqa: E402
from mcc.options import CompileOptions  # noqa: E402


@pytest.fixture(scope="module")
def model_and_calib(tmp_path_factory):
    d = tmp_path_factory.mktemp("compat")
    keras.utils.set_random_seed(3)
    x = keras.Input((6, 6, 2))
    a = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(x)
    b = keras.layers.Conv2D(4, 3, padding="same")(a)
    y = keras.layers.Add()([a, b])          # b has no other reader: the converter's in-place input
    y = keras.layers.Flatten()(y)
    y = keras.layers.Dense(3)(y)
    m = keras.Model(x, y)
    path = d / "m.keras"
    m.save(path)
    calib = d / "x.npy"
    np.save(calib, np.random.default_rng(0).normal(size=(16, 6, 6, 2)).astype(np.float32))
    return path, calib


def _add_input_scales(g):
    add = next(op for op in g.ops if op.kind == "ADD")
    y = g.tensors[add.outputs[0]].quant.s
    return [g.tensors[n].quant.s for n in add.inputs], y


def test_option_widens_the_inplace_add_input(model_and_calib):
    path, calib = model_and_calib
    plain = api.load_model(path, CompileOptions(calib=str(calib), progress=False))
    compat = api.load_model(path, CompileOptions(calib=str(calib), progress=False, tflite_compat=True))
    (p0, p1), py = _add_input_scales(plain)
    (c0, c1), cy = _add_input_scales(compat)
    assert py == cy
    changed = [i for i, (p, c) in enumerate(((p0, c0), (p1, c1))) if c != p]
    assert len(changed) == 1                   # exactly one input takes another range
    i = changed[0]
    p, c = (p0, p1)[i], (c0, c1)[i]
    # its range is the union of its own and the output's: at least as wide as both
    assert c >= max(p, cy) * (1 - 1e-6) and c > p


def test_cli_flag(model_and_calib, tmp_path):
    path, calib = model_and_calib
    r = CliRunner().invoke(main, ["quantize", str(path), "--calib", str(calib), "--tflite-compat"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["compile", str(path), "--calib", str(calib), "--tflite-compat",
                                  "-o", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
