"""CLI over the Cortex-M targets: targets, compile -t BOARD, run --profile, size, flash, Renode."""

import shutil

import numpy as np
import pytest
from click.testing import CliRunner

import mcc.api as api
from mcc.cli import main
from mcc.codegen.cortexm import check_fits
from mcc.errors import MccError
from mcc.targets import all_targets, get_target
from mcc.targets_cm import get_board

from conftest import MLPERF

BOARDS = ["mps2-an385", "mps2-an386", "mps2-an500", "mps2-an505", "mps3-an547", "stm32f746g-disco",
          "nucleo-f401re", "nucleo-l4r5zi", "nucleo-h743zi", "nrf52840-dk", "rpi-pico", "arduino-nano-33-ble"]
CORES = ["cortex-m0plus", "cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55"]


def _invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_targets_lists_every_board_and_core():
    r = _invoke("targets")
    assert r.exit_code == 0
    for name in ["host"] + BOARDS + CORES:
        assert name in r.output
    assert {t.name for t in all_targets()} == set(["host"] + BOARDS + CORES)


def test_unknown_target_lists_known_ones(tmp_path):
    r = _invoke("compile", MLPERF["sww"], "-t", "stm32f999", "-o", tmp_path / "o")
    assert r.exit_code == 2 and "unknown target 'stm32f999'" in r.output and "nucleo-l4r5zi" in r.output


def test_core_ids_map_to_their_qemu_board():
    assert get_target("cortex-m4").board.name == "mps2-an386"
    assert get_target("cortex-m33").board.core.name == "cortex-m33"
    assert get_target("cortex-m3").has_dsp is False and get_target("cortex-m7").has_dsp is True


def test_model_that_does_not_fit_is_refused_with_numbers():
    with pytest.raises(MccError, match=r"needs [\d,]+ bytes of SRAM on nucleo-f401re"):
        check_fits(get_board("nucleo-f401re"), {"arena_bytes": 200_000, "weight_bytes": 1000})
    with pytest.raises(MccError, match="flash"):
        check_fits(get_board("nucleo-f401re"), {"arena_bytes": 1000, "weight_bytes": 600_000})


@pytest.fixture(scope="module")
def m4_project(tmp_path_factory):
    out = tmp_path_factory.mktemp("m4") / "sww"
    r = _invoke("compile", MLPERF["sww"], "-t", "mps2-an386", "-o", out)
    assert r.exit_code == 0, r.output
    return out


def test_board_project_has_cortexm_build(m4_project):
    for f in ("Makefile", "CMakeLists.txt", "mcc_cortexm/linker.ld", "mcc_cortexm/startup.c", "mcc_cortexm/main.c"):
        assert (m4_project / f).exists(), f
    assert "CROSS ?= arm-none-eabi-" in (m4_project / "Makefile").read_text()
    assert not (m4_project / "main.c").exists()  # the host harness is not part of a board project


@pytest.mark.slow
def test_run_profile_and_size_on_qemu(m4_project, tmp_path):
    g = api.load_model(MLPERF["sww"])
    np.save(tmp_path / "in.npy", api.random_inputs(g, 2, seed=5))
    r = _invoke("run", m4_project, "-i", tmp_path / "in.npy", "-o", tmp_path / "out.npy", "--profile")
    assert r.exit_code == 0, r.output
    assert "whole inference" in r.output and "DEPTHWISE_CONV_2D" in r.output
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"),
                                  api.run(api.compile(MLPERF["sww"], tmp_path / "host").outdir,
                                          np.load(tmp_path / "in.npy")))
    r = _invoke("size", m4_project)
    assert r.exit_code == 0, r.output
    assert "weights" in r.output and "arena" in r.output and "firmware overhead" in r.output


def test_host_only_commands_refuse_clearly(tmp_path):
    out = tmp_path / "host"
    api.compile(MLPERF["sww"], out)
    np.save(tmp_path / "in.npy", np.zeros((1, 1, 30, 1, 40), np.int8))
    r = _invoke("run", out, "-i", tmp_path / "in.npy", "-o", tmp_path / "o.npy", "--profile")
    assert r.exit_code == 2 and "compile for a QEMU target" in r.output
    r = _invoke("size", out)
    assert r.exit_code == 2 and "compiled for the host" in r.output
    r = _invoke("flash", out)
    assert r.exit_code == 2 and "compiled for the host" in r.output


def test_flash_dry_run_and_no_probe(tmp_path):
    out = tmp_path / "l4"
    assert _invoke("compile", MLPERF["sww"], "-t", "nucleo-l4r5zi", "-o", out).exit_code == 0
    r = _invoke("flash", out, "--dry-run")
    assert r.exit_code == 0 and "would flash" in r.output and "stm32l4r5zitx" in r.output.lower()
    r = _invoke("flash", out)  # no probe is attached on CI machines
    assert r.exit_code == 2 and "no debug probe" in r.output


def test_run_on_board_without_emulator(tmp_path):
    out = tmp_path / "l4"
    assert _invoke("compile", MLPERF["sww"], "-t", "nucleo-l4r5zi", "-o", out).exit_code == 0
    np.save(tmp_path / "in.npy", np.zeros((1, 1, 30, 1, 40), np.int8))
    r = _invoke("run", out, "-i", tmp_path / "in.npy", "-o", tmp_path / "o.npy")
    assert r.exit_code == 2 and "has no emulator" in r.output and "mcc flash" in r.output


@pytest.mark.skipif(shutil.which("renode") is not None, reason="checks the message where Renode is absent")
def test_renode_board_gets_a_script_and_an_honest_message(tmp_path):
    out = tmp_path / "f7"
    assert _invoke("compile", MLPERF["sww"], "-t", "stm32f746g-disco", "-o", out).exit_code == 0
    resc = (out / "mcc_cortexm/stm32f746g-disco.resc").read_text()
    assert "LoadPlatformDescription" in resc and "build/firmware.elf" in resc
    np.save(tmp_path / "in.npy", np.zeros((1, 1, 30, 1, 40), np.int8))
    r = _invoke("run", out, "-i", tmp_path / "in.npy", "-o", tmp_path / "o.npy")
    assert r.exit_code == 2 and "Renode is not installed" in r.output


@pytest.mark.slow
def test_keras_model_on_qemu_equals_host(tmp_path):
    """A Keras model quantized by mcc (float I/O, quantized in C) gives the same outputs on QEMU M4
    (DSP kernels, FPU) as on the host, and scores the float model's 91.1 % on the 45 SWW windows."""
    from conftest import ROOT
    d = np.load(ROOT / "examples/mlperf_tiny/sww/labelled_windows.npz")
    np.save(tmp_path / "calib.npy", d["specs"].astype(np.float32))
    h5 = ROOT / "examples/mlperf_tiny/sww/sww_dscnn.h5"
    x = d["specs"].astype(np.float32).reshape(45, 1, 30, 1, 40)
    outs = []
    for target in ("cortex-m4", "host"):
        r = api.compile(h5, tmp_path / target, api.CompileOptions(target=target, calib=str(tmp_path / "calib.npy"),
                                                                  progress=False))
        outs.append(api.run(r.outdir, x))
    np.testing.assert_array_equal(outs[0], outs[1])
    assert outs[0].dtype == np.float32
    assert np.mean(outs[0].reshape(45, -1).argmax(1) == d["labels"]) == pytest.approx(41 / 45)
