"""Cortex-M targets: board/core files, generated build files, firmware on QEMU (bit-exact with the host
build and TFLM), fault exits, instruction counting, error paths, Renode scripts."""


import re
import shutil
import subprocess
import time

import numpy as np
import pytest

import mcc.api as api
from mcc.codegen.cortexm import FW_DIR, context_from_outdir, cortexm_files, qemu_base_command
from mcc.errors import MccError
from mcc.options import CompileOptions
from mcc.targets import get_target
from mcc.oracle.tflm import run_tflm
from mcc.sim import qemu, renode
from mcc.targets_cm import get_board, get_core, list_cores, list_targets, qemu_boards

from conftest import MLPERF

HAVE_ARM_GCC = shutil.which("arm-none-eabi-gcc") is not None and shutil.which("make") is not None
HAVE_QEMU = HAVE_ARM_GCC and shutil.which("qemu-system-arm") is not None
needs_arm_gcc = pytest.mark.skipif(not HAVE_ARM_GCC, reason="arm-none-eabi-gcc is not installed")
needs_qemu = pytest.mark.skipif(not HAVE_QEMU, reason="qemu-system-arm is not installed")

BOARDS = ["arduino-nano-33-ble", "mps2-an385", "mps2-an386", "mps2-an500", "mps2-an505", "mps3-an547",
          "nrf52840-dk", "nucleo-f401re", "nucleo-h743zi", "nucleo-l4r5zi", "rpi-pico", "stm32f746g-disco"]
QEMU_BOARDS = ["mps2-an385", "mps2-an386", "mps2-an500", "mps2-an505", "mps3-an547"]
N_INPUTS = 8  # one ResNet-8 inference is ~90 M instructions: ~0.15 s under QEMU





def _project(tmp_path_factory, model: str, board: str, dsp: bool = True):
    """``model`` compiled by `mcc compile -t board` (DSP kernels on DSP cores unless ``dsp`` is False)."""
    out = tmp_path_factory.mktemp(f"{model}-{board}") / "out"
    return api.compile(MLPERF[model], out, CompileOptions(target=board, dsp=dsp))


# ---- target files -------------------------------------------------------------------------------

def test_board_and_core_ids():
    assert list_targets() == BOARDS
    assert list_cores() == ["cortex-m0plus", "cortex-m3", "cortex-m33", "cortex-m4", "cortex-m55", "cortex-m7"]
    assert qemu_boards() == QEMU_BOARDS


def test_core_features_and_flags():
    m0, m3, m4, m7, m33, m55 = (get_core(c) for c in
                                ("cortex-m0plus", "cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55"))
    assert [c.has_dsp for c in (m0, m3, m4, m7, m33, m55)] == [False, False, True, True, True, True]
    assert [c.has_fpu for c in (m0, m3, m4, m7, m33, m55)] == [False, False, True, True, True, True]
    assert [c.has_mve for c in (m0, m3, m4, m7, m33, m55)] == [False] * 5 + [True]
    assert m3.cflags() == ("-mthumb", "-mcpu=cortex-m3", "-mfloat-abi=soft")
    assert m4.cflags() == ("-mthumb", "-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard")
    # the STM32F746 has the single-precision FPv5: the board overrides the core's default
    assert get_board("stm32f746g-disco").cflags[2] == "-mfpu=fpv5-sp-d16"
    assert get_board("nucleo-h743zi").cflags[2] == "-mfpu=fpv5-d16"


def test_board_memory_maps():
    an505 = get_board("mps2-an505")
    assert (an505.flash_origin, an505.sram_origin) == (0x10000000, 0x38000000)
    f401 = get_board("nucleo-f401re")
    assert (f401.flash_origin, f401.flash_size, f401.sram_size, f401.clock_hz) == (0x08000000, 512 << 10, 96 << 10,
                                                                                   84_000_000)
    for name in BOARDS:
        b = get_board(name)
        assert b.flash_size > 0 and b.sram_size > 0 and b.clock_hz > 0
        flash = range(b.flash_origin, b.flash_origin + b.flash_size)
        sram = range(b.sram_origin, b.sram_origin + b.sram_size)
        assert not set([flash.start, flash.stop - 1]) & set(sram), name
        assert b.emulator in ("qemu", "renode", "none")
        assert (b.qemu_machine is not None) == (b.emulator == "qemu")
    assert {n for n in BOARDS if get_board(n).emulator == "renode"} == {"stm32f746g-disco", "nrf52840-dk"}


def test_unknown_board_lists_known_names():
    with pytest.raises(MccError, match=r"unknown board 'mps2-an999'; known boards: arduino-nano-33-ble, .*rpi-pico"):
        get_board("mps2-an999")


# ---- generated files ----------------------------------------------------------------------------

CTX = {"model_name": "m", "kernels": ["mcc_softmax_s8", "mcc_conv_s8"], "arena_bytes": 1000, "input_bytes": 10,
       "output_bytes": 10, "weight_bytes": 5000}


@pytest.mark.parametrize("board", BOARDS)
def test_cortexm_files_carry_the_board_numbers(board):
    b = get_board(board)
    files = cortexm_files(board, CTX)
    assert set(files) == {"Makefile", "CMakeLists.txt", f"{FW_DIR}/linker.ld", f"{FW_DIR}/startup.c",
                          f"{FW_DIR}/main.c", f"{FW_DIR}/semihost.c", f"{FW_DIR}/semihost.h",
                          f"{FW_DIR}/arm-none-eabi.cmake"}
    ld = files[f"{FW_DIR}/linker.ld"]
    assert f"ORIGIN = 0x{b.flash_origin:08X}, LENGTH = 0x{b.flash_size:08X}" in ld
    assert f"ORIGIN = 0x{b.sram_origin:08X}, LENGTH = 0x{b.sram_size:08X}" in ld
    assert "{{" not in ld and "{%" not in ld
    mk = files["Makefile"]
    assert "ARCH = " + " ".join(b.cflags) in mk
    assert "mcc_nn/src/mcc_conv_s8.c mcc_nn/src/mcc_softmax_s8.c" in mk  # sorted
    assert ("qemu:" in mk) == (b.emulator == "qemu")
    assert ("flash-pyocd:" in mk) == bool(b.pyocd_target)
    assert cortexm_files(board, CTX) == files  # deterministic


def test_model_too_big_for_the_board():
    with pytest.raises(MccError, match=r"needs 189,236 bytes of SRAM on nucleo-f401re \(arena 180,000 \+ input/output 20 \+ stack 8,192 \+ runtime 1,024\); the board has 98,304"):
        cortexm_files("nucleo-f401re", dict(CTX, arena_bytes=180_000))
    with pytest.raises(MccError, match=r"weights \(3,000,000 bytes\) do not fit the 2,097,152 bytes of flash"):
        cortexm_files("rpi-pico", dict(CTX, weight_bytes=3_000_000))


def test_context_from_a_compiled_outdir(tmp_path):
    r = api.compile(MLPERF["dscnn"], tmp_path / "out")
    ctx = context_from_outdir(r.outdir)
    assert ctx["arena_bytes"] == r.plan.arena_bytes and ctx["weight_bytes"] == r.weight_bytes
    assert ctx["input_bytes"] == 490 and ctx["output_bytes"] == 12
    assert "mcc_depthwise_conv_s8" in ctx["kernels"]


# ---- error paths without the tools ----------------------------------------------------------------

def test_missing_qemu_and_cross_compiler(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    make = shutil.which("make")
    if make:
        (bindir / "make").symlink_to(make)
    monkeypatch.setenv("PATH", str(bindir))
    x = np.zeros((1, 4), np.int8)
    with pytest.raises(MccError, match=r"QEMU is not installed \(apt-get install qemu-system-arm\)"):
        qemu.run_qemu(tmp_path, "mps2-an385", x, (1,), "int8")
    if make:
        with pytest.raises(MccError, match=r"Arm cross compiler is not installed \(apt-get install gcc-arm-none-eabi"):
            qemu.build_firmware(tmp_path)


def test_qemu_needs_a_qemu_board(tmp_path):
    with pytest.raises(MccError, match=r"board nucleo-f401re has no QEMU machine .*QEMU boards: mps2-an385"):
        qemu.run_qemu(tmp_path, "nucleo-f401re", np.zeros((1, 4), np.int8), (1,), "int8")


def test_renode_scripts_and_missing_renode(tmp_path, monkeypatch):
    text = renode.resc_script("stm32f746g-disco", "/x/firmware.elf", run_for="00:00:02")
    assert "machine LoadPlatformDescription @platforms/boards/stm32f7_discovery-bb.repl" in text
    assert "sysbus LoadELF @/x/firmware.elf" in text and "sysbus.usart1 CreateFileBackend" in text
    assert text.rstrip().endswith("quit")
    assert "@platforms/cpus/nrf52840.repl" in renode.resc_script("nrf52840-dk", "fw.elf")
    with pytest.raises(MccError, match="not modelled by Renode"):
        renode.resc_script("mps2-an385", "fw.elf")
    monkeypatch.setenv("PATH", str(tmp_path))  # no renode here
    with pytest.raises(MccError, match=r"Renode is not installed \(`renode` is not on PATH\).*\.resc"):
        renode.run_renode(tmp_path, "nrf52840-dk")
    assert (tmp_path / FW_DIR / "nrf52840-dk.resc").exists()


# ---- builds ---------------------------------------------------------------------------------------

@needs_arm_gcc
@pytest.mark.slow
@pytest.mark.parametrize("board", BOARDS)
def test_firmware_builds_warning_free(tmp_path_factory, board):
    """All three MLPerf models, release and profiling builds, -Wall -Wextra -Werror -pedantic."""
    for model in sorted(MLPERF):
        r = _project(tmp_path_factory, model, board)
        proc = subprocess.run(["make", "-j2", "all", "profile"], cwd=r.outdir, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "warning" not in (proc.stdout + proc.stderr).lower(), proc.stderr[-3000:]
        size = qemu.firmware_size(r.outdir)
        assert size["flash_by_component"]["weights"] >= r.weight_bytes
        assert size["sram_by_component"]["arena"] == r.plan.arena_bytes
        assert size["flash"] <= get_board(board).flash_size and size["sram"] <= get_board(board).sram_size


@needs_arm_gcc
@pytest.mark.slow
def test_firmware_overhead_under_8k_on_m4_portable_kernels(tmp_path_factory):
    """The firmware beyond the model (kernels, startup, harness, semihosting, C library) is < 8 KiB of
    flash on a Cortex-M4 for DS-CNN with the portable kernels (--no-dsp), measured from the linker
    map; no newlib stdio or heap is linked. (The DSP builds of the three MLPerf models meet the same
    budget: tests/test_fwsize.py.)"""
    r = _project(tmp_path_factory, "dscnn", "mps2-an386", dsp=False)
    elf = qemu.build_firmware(r.outdir)
    size = qemu.firmware_size(r.outdir)
    flash = size["flash_by_component"]
    assert size["overhead"] == size["flash"] - flash["weights"] - flash["model"]
    assert size["overhead"] == sum(size["overhead_by_component"].values())
    assert set(size["overhead_by_component"]) <= {"kernels", "harness", "runtime", "padding"}
    assert 0 < size["model_code"] < flash["model"]
    # the sizes are the ELF's: the components add up to the flash image arm-none-eabi-size reports
    sizes = subprocess.run(["arm-none-eabi-size", "-A", str(elf)], capture_output=True, text=True,
                           check=True).stdout
    sections = {p[0]: int(p[1]) for p in (ln.split() for ln in sizes.splitlines()) if len(p) == 3 and p[1].isdigit()}
    assert size["flash"] == sum(sections.get(s, 0) for s in (".text", ".ARM.extab", ".ARM.exidx", ".init_array", ".data"))
    nm = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True, check=True).stdout
    defined = {p[2] for p in (ln.split() for ln in nm.splitlines()) if len(p) == 3}
    assert not defined & {"fopen", "fwrite", "fread", "malloc", "_sbrk", "initialise_monitor_handles",
                          "_swiopen", "__sinit", "exit"}
    assert "rdimon" not in (r.outdir / "build/firmware.map").read_text()
    assert size["overhead"] < 8 * 1024, size


@needs_qemu
@pytest.mark.slow
def test_harness_reports_io_errors(tmp_path_factory):
    """Bad arguments and host file errors exit with code 2 and a message on stderr."""
    r = _project(tmp_path_factory, "dscnn", "mps2-an385")
    elf = qemu.build_firmware(r.outdir)
    run_dir = tmp_path_factory.mktemp("harness-io")
    (run_dir / "one.bin").write_bytes(bytes(490))
    base = qemu_base_command(get_board("mps2-an385")) + ["-kernel", str(elf), "-semihosting-config"]

    def run(*args):
        cfg = "enable=on,target=native," + ",".join(f"arg={a}" for a in ("firmware",) + args)
        return subprocess.run(base + [cfg], cwd=run_dir, capture_output=True, text=True, timeout=30)

    p = run("missing.bin", "out.bin", "1")
    assert p.returncode == 2 and "cannot open the input or the output file missing.bin" in p.stderr
    p = run("one.bin", "out.bin", "2")  # one input of 490 bytes, two asked for
    assert p.returncode == 2 and "short input at item 1" in p.stderr
    assert (run_dir / "out.bin").stat().st_size == 12  # the first output was written
    p = run("one.bin")
    assert p.returncode == 2 and "usage: firmware INPUT.bin OUTPUT.bin N" in p.stderr
    p = run("one.bin", "out.bin", "1")
    assert p.returncode == 0 and p.stderr == "" and (run_dir / "out.bin").stat().st_size == 12


@needs_arm_gcc
@pytest.mark.slow
@pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake is not installed")
def test_cmake_build(tmp_path_factory):
    r = _project(tmp_path_factory, "dscnn", "mps2-an386")
    bdir = r.outdir / "build-cmake"
    cfg = subprocess.run(["cmake", "-S", ".", "-B", str(bdir), f"-DCMAKE_TOOLCHAIN_FILE={FW_DIR}/arm-none-eabi.cmake"],
                         cwd=r.outdir, capture_output=True, text=True)
    assert cfg.returncode == 0, cfg.stderr[-3000:]
    build = subprocess.run(["cmake", "--build", str(bdir), "--target", "size"], capture_output=True, text=True)
    assert build.returncode == 0, (build.stdout + build.stderr)[-3000:]
    assert (bdir / "firmware.elf").exists() and "firmware.elf" in build.stdout


# ---- QEMU -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def references():
    """Per model: random inputs, the host build's outputs and TFLM's."""
    refs = {}
    for model in sorted(MLPERF):
        g = api.load_model(MLPERF[model])
        refs[model] = (g, api.random_inputs(g, N_INPUTS, seed=7))
    return refs


@pytest.fixture(scope="module")
def host_outputs(tmp_path_factory, references):
    out = {}
    for model, (g, x) in references.items():
        r = api.compile(MLPERF[model], tmp_path_factory.mktemp(f"host-{model}") / "out")
        y_host = api.run(r.outdir, x)
        y_tflm = run_tflm(MLPERF[model], x).outputs.reshape(y_host.shape)
        out[model] = (y_host, y_tflm)
    return out


@needs_qemu
@pytest.mark.slow
@pytest.mark.parametrize("board", QEMU_BOARDS)
@pytest.mark.parametrize("model", sorted(MLPERF))
def test_qemu_outputs_match_host_and_tflm(tmp_path_factory, references, host_outputs, model, board):
    g, x = references[model]
    y_host, y_tflm = host_outputs[model]
    r = _project(tmp_path_factory, model, board)
    out = g.tensors[g.outputs[0]]
    y = qemu.run_qemu(r.outdir, board, x, out.shape, out.dtype)
    assert np.array_equal(y_host, y_tflm)
    assert np.array_equal(y, y_host), f"{model} on {board}: QEMU outputs differ from the host build"


@needs_qemu
@pytest.mark.slow
@pytest.mark.parametrize("model,board", [("dscnn", "mps2-an386"), ("resnet8", "mps2-an385")])
def test_instruction_counts_deterministic_and_per_layer(tmp_path_factory, references, model, board):
    g, x = references[model]
    x = x[:2]
    r = _project(tmp_path_factory, model, board)
    out = g.tensors[g.outputs[0]]
    y1, p1 = qemu.run_qemu(r.outdir, board, x, out.shape, out.dtype, profile=True)
    y2, p2 = qemu.run_qemu(r.outdir, board, x, out.shape, out.dtype, profile=True)
    assert np.array_equal(y1, y2)
    assert p1 == p2  # every count, exactly
    run_ops = r.memory.program.graph.ops if r.memory is not None else g.ops  # the executed (planned) ops
    traced = [i for i, op in enumerate(run_ops) if op.kind != "RESHAPE"]
    macs = sum(layer.macs for layer in r.layers)
    for k in range(len(x)):
        assert sorted(p1.layers[k]) == traced
        assert all(v > 0 for v in p1.layers[k].values())
        # the layers add up to the exact count of the unprofiled build, less than 0.1 % apart
        assert abs(sum(p1.layers[k].values()) - p1.instructions[k]) < 1e-3 * p1.instructions[k]
        # instructions per MAC in the range measured for these models (exact counts, this tree):
        # DSP cores 1.37-1.95, portable M3 7.2-10.5; outside it the counter or the kernels broke
        lo, hi = (1.0, 2.5) if get_target(board).has_dsp else (5.0, 12.0)
        assert lo < p1.instructions[k] / macs < hi
    assert 0 < p1.mark_cost < 40 and p1.total_instructions > sum(p1.instructions)


def _patched_firmware(tmp_path_factory, board, code):
    """The DS-CNN firmware with ``code`` run right before the first inference."""
    r = _project(tmp_path_factory, "dscnn", board)
    main = r.outdir / FW_DIR / "main.c"
    text = main.read_text()
    anchor = "        MCC_MARK(MCC_MARK_RUN_START);\n"
    assert anchor in text
    main.write_text(text.replace(anchor, f"        {code}\n" + anchor))
    return r


@needs_qemu
@pytest.mark.slow
@pytest.mark.parametrize("board,code,exit_code,name", [
    ("mps2-an385", '__asm__ volatile("udf #0");', 6, "UsageFault"),
    ("mps2-an385", '*(volatile uint32_t *)0xE000ED24u = 0u; __asm__ volatile("udf #0");', 3, "HardFault"),
    ("mps2-an386", "(void)*(volatile uint32_t *)0xF0000000u;", 5, "BusFault"),
    ("mps2-an505", '__asm__ volatile("udf #0");', 6, "UsageFault"),
    ("mps3-an547", '*(volatile uint32_t *)0xE000ED24u = 0u; __asm__ volatile("udf #0");', 3, "HardFault"),
])
def test_faults_exit_with_their_code(tmp_path_factory, references, board, code, exit_code, name):
    g, x = references["dscnn"]
    r = _patched_firmware(tmp_path_factory, board, code)
    out = g.tensors[g.outputs[0]]
    t0 = time.perf_counter()
    with pytest.raises(MccError, match=rf"exit code {exit_code}: a {name}\nmcc: fault {exit_code} at pc=0x[0-9a-f]{{8}}"):
        qemu.run_qemu(r.outdir, board, x[:1], out.shape, out.dtype, timeout=30)
    assert time.perf_counter() - t0 < 30  # exited, did not hang until the timeout


@needs_qemu
@pytest.mark.slow
def test_qemu_timeout_is_reported(tmp_path_factory, references):
    g, x = references["dscnn"]
    r = _patched_firmware(tmp_path_factory, "mps2-an385", "for (;;) { __asm__ volatile(\"nop\"); }")
    out = g.tensors[g.outputs[0]]
    with pytest.raises(MccError, match=r"QEMU \(mps2-an385\) did not finish within 2 s running 1 inference"):
        qemu.run_qemu(r.outdir, "mps2-an385", x[:1], out.shape, out.dtype, timeout=2)


@needs_qemu
@pytest.mark.slow
def test_plugin_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("MCC_CACHE_DIR", str(tmp_path))
    p = qemu.plugin_path()
    assert p.parent == tmp_path and re.fullmatch(r"insn_count-[0-9a-f]{16}\.so", p.name)
    mtime = p.stat().st_mtime_ns
    assert qemu.plugin_path() == p and p.stat().st_mtime_ns == mtime
