"""`mcc plan` and `mcc compile --flash/--sram/--plan`: the plan JSON, compile with a plan, and the
clear one-line errors (no plan fits, bad sizes, a plan for another model or board)."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import MLPERF

from mcc.cli import main, parse_bytes
from mcc.errors import InputDataError
from mcc.outdir import read_manifest
from mcc.planner.plan import read_plan
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


def test_parse_bytes():
    assert parse_bytes("200000") == 200000
    assert parse_bytes("64k") == parse_bytes("64K") == 65536
    assert parse_bytes("1M") == 1 << 20
    assert parse_bytes(None) is None
    for bad in ("", "abc", "-5", "1.5", "k", "0"):
        with pytest.raises(InputDataError, match="not a size in bytes"):
            parse_bytes(bad, "--flash")


def test_plan_json_and_compile_with_it(calib, tmp_path):
    r = _invoke("plan", MLPERF["dscnn"], "-t", BOARD, "--calib", calib, "--json", "-o", tmp_path / "plan.json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["mcc_plan"] == 1 and d["target"] == BOARD and d["method"] == "all-8"
    assert d["flash"] == d["int8_flash"] <= d["flash_budget"] == 4 << 20
    assert all(set(w) == {8} for w in d["widths"].values())
    assert sum(x["channels"] for x in d["layers"]) == sum(len(w) for w in d["widths"].values())
    assert d["accuracy"]["plan"] == 1.0 and d["accuracy"]["n"] == 8
    p = read_plan(tmp_path / "plan.json")
    assert p.flash == d["flash"]
    out = tmp_path / "out"
    r = _invoke("compile", MLPERF["dscnn"], "-t", BOARD, "-o", out, "--plan", tmp_path / "plan.json")
    assert r.exit_code == 0, r.output
    qemu.build_firmware(out)
    s = qemu.firmware_size(out)
    assert (s["flash"], s["sram"]) == (d["flash"], d["sram"])
    # the table form
    r = _invoke("plan", MLPERF["dscnn"], "-t", BOARD, "--calib", calib)
    assert r.exit_code == 0, r.output
    assert "predicted" in r.output and "flash (image)" in r.output and "8-bit" in r.output


def test_no_plan_fits(calib):
    r = _invoke("plan", MLPERF["dscnn"], "-t", BOARD, "--calib", calib, "--flash", "20k")
    assert r.exit_code == 2
    line = r.output.strip()
    assert line.startswith("mcc: error: no choice of weight widths fits the flash budget of 20,480 bytes")
    assert "smallest flash reachable is" in line and "largest layers: functional_1/conv2d_" in line
    assert "\n" not in line
    r = _invoke("plan", MLPERF["dscnn"], "-t", BOARD, "--sram", "10k")
    assert r.exit_code == 2
    assert "bytes of SRAM" in r.output and "smallest SRAM reachable" in r.output and "largest live sets" in r.output
    r = _invoke("compile", MLPERF["dscnn"], "-t", BOARD, "-o", "/tmp/never-written", "--flash", "20k")
    assert r.exit_code == 2 and "no choice of weight widths fits" in r.output


def test_bad_inputs(calib, tmp_path):
    r = _invoke("plan", MLPERF["dscnn"], "-t", BOARD, "--flash", "lots")
    assert r.exit_code == 2 and "--flash 'lots' is not a size in bytes" in r.output
    r = _invoke("plan", MLPERF["dscnn"], "-t", "host")
    assert r.exit_code == 2 and "needs a board" in r.output
    good = tmp_path / "good.json"
    assert _invoke("plan", MLPERF["dscnn"], "-t", BOARD, "-o", good).exit_code == 0
    r = _invoke("compile", MLPERF["sww"], "-t", BOARD, "-o", tmp_path / "o", "--plan", good)
    assert r.exit_code == 2 and "the plan does not match this model" in r.output
    r = _invoke("compile", MLPERF["dscnn"], "-t", "mps2-an385", "-o", tmp_path / "o", "--plan", good)
    assert r.exit_code == 2 and "was planned for mps2-an386" in r.output
    (tmp_path / "junk.json").write_text("{}")
    r = _invoke("compile", MLPERF["dscnn"], "-t", BOARD, "-o", tmp_path / "o", "--plan", tmp_path / "junk.json")
    assert r.exit_code == 2 and "not an mcc plan" in r.output
    r = _invoke("compile", MLPERF["dscnn"], "-t", BOARD, "-o", tmp_path / "o", "--plan", tmp_path / "none.json")
    assert r.exit_code == 2 and "no such plan file" in r.output


@pytest.mark.slow
def test_plan_under_int8_size_fits_the_linker(calib, tmp_path):
    """A budget below the int8 image: the plan mixes widths, and the firmware compiled with it takes
    exactly the predicted flash and SRAM, within the budget (through the packed sub-byte codegen)."""
    from mcc import api
    from mcc.planner.plan import codegen_packs

    g = api.load_model(MLPERF["dscnn"])
    assert codegen_packs(g, BOARD)  # sub-byte weights are stored packed, so narrower widths save flash
    full = _invoke("plan", MLPERF["dscnn"], "-t", BOARD, "--json")
    int8_flash = json.loads(full.output)["int8_flash"]
    budget = int8_flash - 4000  # below int8, above all-2-bit (packed kernels add code)
    r = _invoke("plan", MLPERF["dscnn"], "-t", BOARD, "--calib", calib, "--flash", budget, "--json",
                "-o", tmp_path / "p.json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["flash"] <= budget and d["method"].split(":")[0].split(" ")[0] in ("milp", "greedy", "milp-timeout")
    counts = {b: sum(x["counts"][b] for x in d["layers"]) for b in ("8", "4", "2")}
    assert counts["8"] > 0 and counts["4"] + counts["2"] > 0
    out = tmp_path / "out"
    r = _invoke("compile", MLPERF["dscnn"], "-t", BOARD, "-o", out, "--plan", tmp_path / "p.json")
    assert r.exit_code == 0, r.output
    qemu.build_firmware(out)
    s = qemu.firmware_size(out)
    assert (s["flash"], s["sram"]) == (d["flash"], d["sram"])
    # compile --flash makes the same choice
    out2 = tmp_path / "out2"
    r = _invoke("compile", MLPERF["dscnn"], "-t", BOARD, "-o", out2, "--flash", budget, "--calib", calib)
    assert r.exit_code == 0, r.output
    qemu.build_firmware(out2)
    assert qemu.firmware_size(out2)["flash"] == d["flash"]
