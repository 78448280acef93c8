"""The command line: the documented commands work, and bad input is one clear line with exit code 2."""

import json
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from mcc.cli import main

from conftest import ERRORS_DIR, MLPERF


def _invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def sww_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "sww"
    r = _invoke("compile", MLPERF["sww"], "-t", "host", "-o", out)
    assert r.exit_code == 0, r.output
    return out


def test_compile_prints_where_and_memory(sww_out):
    r = _invoke("compile", MLPERF["sww"], "-t", "host", "-o", sww_out)  # replacing its own output is fine
    assert r.exit_code == 0
    assert str(sww_out) in r.output and "arena lower bound" in r.output


def test_run_roundtrip(sww_out, tmp_path):
    x = np.random.default_rng(0).integers(-128, 128, size=(3, 1, 30, 1, 40), dtype=np.int8)
    np.save(tmp_path / "in.npy", x)
    r = _invoke("run", sww_out, "-i", tmp_path / "in.npy", "-o", tmp_path / "out.npy")
    assert r.exit_code == 0, r.output
    assert np.load(tmp_path / "out.npy").shape == (3, 1, 3)


@pytest.mark.parametrize("array,message", [
    (np.zeros((2, 1, 30, 1, 40), np.float32), "dtype float32; the model takes int8"),
    (np.zeros((2, 1, 30, 40), np.int8), r"shape \(2, 1, 30, 40\); expected \(N, 1, 30, 1, 40\)"),
])
def test_run_rejects_bad_inputs(sww_out, tmp_path, array, message):
    np.save(tmp_path / "in.npy", array)
    r = _invoke("run", sww_out, "-i", tmp_path / "in.npy", "-o", tmp_path / "out.npy")
    assert r.exit_code == 2
    assert "mcc: error:" in r.output
    import re
    assert re.search(message, r.output), r.output


def test_run_on_a_directory_that_is_not_ours(tmp_path):
    np.save(tmp_path / "in.npy", np.zeros((1, 3), np.int8))
    r = _invoke("run", tmp_path, "-i", tmp_path / "in.npy", "-o", tmp_path / "o.npy")
    assert r.exit_code == 2 and "not an mcc output directory" in r.output


def test_run_missing_or_bad_npy(sww_out, tmp_path):
    r = _invoke("run", sww_out, "-i", tmp_path / "none.npy", "-o", tmp_path / "o.npy")
    assert r.exit_code == 2 and "no such file" in r.output
    (tmp_path / "bad.npy").write_text("nope")
    r = _invoke("run", sww_out, "-i", tmp_path / "bad.npy", "-o", tmp_path / "o.npy")
    assert r.exit_code == 2 and "not a readable .npy" in r.output


@pytest.mark.parametrize("model,message", [
    ("missing.tflite", "no such file"),
    (ERRORS_DIR / "float_dense.tflite", "float model"),
    (ERRORS_DIR / "hybrid_dense.tflite", "hybrid"),
    (ERRORS_DIR / "int8_elu.tflite", "operator 2 is ELU"),
])
def test_compile_errors(tmp_path, model, message):
    r = _invoke("compile", model, "-t", "host", "-o", tmp_path / "o")
    assert r.exit_code == 2 and message in r.output and "Traceback" not in r.output
    assert not (tmp_path / "o").exists()


def test_unknown_target(tmp_path):
    r = _invoke("compile", MLPERF["sww"], "-t", "z80", "-o", tmp_path / "o")
    assert r.exit_code == 2 and "unknown target 'z80'" in r.output and "host" in r.output


def test_refuses_foreign_directory_then_force(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    r = _invoke("compile", MLPERF["sww"], "-o", out)
    assert r.exit_code == 2 and "--force" in r.output
    assert (out / "thesis.tex").exists()
    r = _invoke("compile", MLPERF["sww"], "-o", out, "--force")
    assert r.exit_code == 0 and (out / "mcc_model.c").exists()


def test_analyze_json_totals():
    r = _invoke("analyze", MLPERF["resnet8"], "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert len(d["layers"]) == 16
    # 12.5 M MACs as published for MLPerf Tiny ResNet-8
    assert 12_000_000 < d["totals"]["macs"] < 13_000_000
    assert d["totals"]["weight_bytes"] == sum(x["weight_bytes"] for x in d["layers"])
    assert d["totals"]["arena_bytes"] >= d["totals"]["arena_lower_bound"] > 0


def test_analyze_table():
    r = _invoke("analyze", MLPERF["dscnn"])
    assert r.exit_code == 0 and "DEPTHWISE_CONV_2D" in r.output and "total MACs" in r.output


def test_validate_reports_exact_match(tmp_path):
    r = _invoke("validate", MLPERF["sww"], "-t", "host", "-n", "20")
    assert r.exit_code == 0, r.output
    assert "20/20 outputs bit-exact with TFLM" in r.output


def test_entry_point_help():
    out = subprocess.run([sys.executable, "-m", "mcc.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for cmd in ("compile", "run", "analyze", "validate"):
        assert cmd in out.stdout


@pytest.mark.slow
def test_quantize_and_compile_keras_model(tmp_path):
    from conftest import ROOT
    d = np.load(ROOT / "examples/mlperf_tiny/sww/labelled_windows.npz")
    np.save(tmp_path / "calib.npy", d["specs"].astype(np.float32))
    np.savez(tmp_path / "eval.npz", x=d["specs"].astype(np.float32), y=d["labels"])
    h5 = ROOT / "examples/mlperf_tiny/sww/sww_dscnn.h5"
    r = _invoke("quantize", h5, "--calib", tmp_path / "calib.npy", "--eval", tmp_path / "eval.npz")
    assert r.exit_code == 0, r.output
    assert "top-1 on 45 labelled inputs: float 91.11 %, int8 91.11 %" in r.output
    r = _invoke("compile", h5, "-o", tmp_path / "out")
    assert r.exit_code == 2 and "--calib" in r.output
    r = _invoke("compile", h5, "--calib", tmp_path / "calib.npy", "-o", tmp_path / "out")
    assert r.exit_code == 0, r.output
    np.save(tmp_path / "x.npy", d["specs"][:3].astype(np.float32).reshape(3, 1, 30, 1, 40))
    r = _invoke("run", tmp_path / "out", "-i", tmp_path / "x.npy", "-o", tmp_path / "y.npy")
    assert r.exit_code == 0, r.output
    y = np.load(tmp_path / "y.npy")
    assert y.dtype == np.float32 and y.shape == (3, 1, 3)  # float in, float out by default


def test_quantize_refuses_tflite(tmp_path):
    np.save(tmp_path / "c.npy", np.zeros((2, 30, 1, 40), np.float32))
    r = _invoke("quantize", MLPERF["sww"], "--calib", tmp_path / "c.npy")
    assert r.exit_code == 2 and "already quantized" in r.output


@pytest.mark.slow
def test_qat_command_trains_exports_and_compiles(tmp_path):
    from conftest import ROOT
    from make_fashion_cnn import load_fashion_mnist
    x, y = load_fashion_mnist("train")
    xt, yt = load_fashion_mnist("t10k")
    np.savez(tmp_path / "train.npz", x=x[:1000], y=y[:1000])
    np.savez(tmp_path / "test.npz", x=xt[:500], y=yt[:500])
    r = _invoke("qat", ROOT / "tests/data/fashion_cnn.keras", "--train", tmp_path / "train.npz", "--bits", "4",
                "--eval", tmp_path / "test.npz", "-o", tmp_path / "out")
    assert r.exit_code == 0, r.output
    assert "QAT int8 (4-bit weights)" in r.output
    xs = xt[:4].reshape(4, 1, 28, 28, 1).astype(np.float32)
    np.save(tmp_path / "x.npy", xs)
    assert _invoke("run", tmp_path / "out", "-i", tmp_path / "x.npy", "-o", tmp_path / "y.npy").exit_code == 0
    assert np.load(tmp_path / "y.npy").shape == (4, 1, 10)
