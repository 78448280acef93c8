"""`mcc plan --sensitivity`: the Fisher estimate needs the float model (clear one-line error on an int8
.tflite); `check` keeps one of its candidates (a sensitivity's MILP solution or a uniform width) that fits."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import MLPERF

from mcc.cli import main
from mcc.sim import qemu

pytestmark = pytest.mark.skipif(not qemu.shutil.which("arm-none-eabi-gcc"), reason="no arm-none-eabi-gcc")
BOARD = "mps2-an386"


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("MCC_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "mcc-cache"))


def _invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def calib(tmp_path_factory):
    p = tmp_path_factory.mktemp("calib") / "x.npy"
    np.save(p, np.random.default_rng(0).integers(-128, 128, (8, 1, 49, 10, 1), dtype=np.int8))
    return p


@pytest.fixture(scope="module")
def budget():
    return json.loads(_invoke("plan", MLPERF["dscnn"], "-t", BOARD, "--json").output)["int8_flash"] - 4000  # below int8, above all-2-bit (packed kernels add code)


def test_fisher_on_a_tflite_is_a_clear_error(calib, budget):
    r = _invoke("plan", MLPERF["dscnn"], "-t", BOARD, "--calib", calib, "--flash", budget, "--sensitivity", "fisher")
    assert r.exit_code == 2
    line = r.output.strip()
    assert line.startswith("mcc: error: the Fisher sensitivity needs the float model") and "\n" not in line


@pytest.mark.slow
def test_check_keeps_a_candidate_that_fits(calib, budget):
    r = _invoke("plan", MLPERF["dscnn"], "-t", BOARD, "--calib", calib, "--flash", budget, "--sensitivity", "check",
                "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["flash"] <= budget
    assert d["method"].split(":")[0] in ("milp", "greedy", "milp-timeout") or d["method"].startswith("uniform")
