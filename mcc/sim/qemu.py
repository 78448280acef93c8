"""Build the generated Cortex-M firmware and run it on QEMU, with exact instruction counts.

    elf = build_firmware(outdir)                         # make: build/firmware.elf
    y = run_qemu(outdir, "mps2-an386", x, out_shape, out_dtype)
    y, prof = run_qemu(outdir, "mps2-an386", x, out_shape, out_dtype, profile=True)
    prof.instructions        # per inference: instructions executed inside mcc_model_run (exact)
    prof.layers              # per inference: {op index: instructions of that operator}
    firmware_size(outdir)    # flash / SRAM use by component, and the firmware overhead, from the linker map

The firmware (mcc_cortexm/main.c) reads its inputs from a host file and writes its outputs to one
through Arm semihosting calls of its own (mcc_cortexm/semihost.c: SYS_GET_CMDLINE, SYS_OPEN,
SYS_READ, SYS_WRITE, SYS_CLOSE; no C library stdio). QEMU runs in a temporary folder with
``-semihosting-config enable=on,target=native,arg=firmware,arg=in.bin,arg=out.bin,arg=N[,arg=marks.bin]``
(the command line main.c reads), and the exit code (SYS_EXIT_EXTENDED, from mcc_cortexm/startup.c)
tells a model error (1), an I/O error (2) or a CPU fault (3-9) apart.

How performance is measured, and why. QEMU does not emulate the DWT cycle counter (CYCCNT reads
0), and it is not cycle-accurate, so what it can give is an exact *instruction* count:

* SysTick is no substitute. Under ``-icount shift=0`` QEMU advances virtual time by 1 ns per
  instruction, so SysTick with the processor clock (25 MHz on the MPS2 boards) ticks once every 40
  instructions, with the 1 MHz reference clock once every 1000 -- measured, not assumed: a loop of
  2,000,004 instructions reads 50,001 and 2,000 ticks. It is a coarse instruction counter that
  needs the guest to read and report it; without ``-icount`` it follows wall time and is not
  deterministic at all.
* So a TCG plugin of ours (firmware/qemu_plugin/insn_count.c, built on demand with the host C
  compiler into a cache folder) counts executed instructions exactly: an inline add per translated
  block, and a callback on one marker address. The guest cannot read the plugin's counter, so it
  signals boundaries instead: it calls ``mcc_profile_mark()``, an empty never-inlined function whose
  address (from ``arm-none-eabi-nm``) is passed to the plugin, right before and after every
  ``mcc_model_run()``; the plugin logs the running count at each call. A marker *function* needs
  no memory-mapped device, no extra semihosting traffic inside the timed region and no plugin
  register access (unavailable in the v1 plugin API of QEMU 7.2), and costs 3 instructions.
* Per layer, the profiling build (``make profile``: -DMCC_TRACE -DMCC_PROFILE) also marks after
  every operator through the model's ``mcc_trace()`` hook, and writes the label (operator index) of
  each mark to a file. Each layer's count is the difference between consecutive marks less the cost
  of one mark call, which the firmware measures at start-up with two back-to-back marks; what is
  left is within a few instructions (argument set-up) of the operator's own cost, and the layers add
  up to within ~0.1 % of the exact count of the unprofiled build, which ``instructions`` reports.

Instruction counts are deterministic (the same firmware and inputs give the same count every run)
and independent of the host. Multiply by a core's CPI to estimate cycles; they are not cycles.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import MccError
from ..paths import FIRMWARE
from ..targets_cm import Board, get_board, qemu_boards

QEMU = "qemu-system-arm"
ARM_GCC = "arm-none-eabi-gcc"
ELF = {"release": "build/firmware.elf", "profile": "build/firmware_profile.elf"}
MAKE_TARGET = {"release": "all", "profile": "profile"}
MARKER_SYMBOL = "mcc_profile_mark"
PLUGIN_SOURCE = FIRMWARE / "qemu_plugin" / "insn_count.c"

# Exit codes of the firmware (mcc_cortexm/main.c and startup.c).
EXIT_MEANING = {
    1: "the model returned an error status",
    2: "the firmware could not read its inputs or write its outputs (semihosting file I/O)",
    3: "a HardFault", 4: "a MemManage fault", 5: "a BusFault", 6: "a UsageFault",
    7: "an unexpected exception or interrupt", 8: "an NMI", 9: "a SecureFault",
}
MARK_CALIBRATE, MARK_RUN_START, MARK_RUN_END = -3, -1, -2


@dataclass(frozen=True)
class QemuProfile:
    """Instruction counts from one QEMU run (one entry per inference)."""
    board: str
    instructions: list[int]                 # inside mcc_model_run, exact (unprofiled build)
    layers: list[dict[int, int]] = field(default_factory=list)  # op index -> instructions (profile build)
    mark_cost: int = 0                      # instructions of one profiling mark, subtracted per layer
    total_instructions: int = 0             # the whole unprofiled run: start-up, I/O, exit

    @property
    def mean_instructions(self) -> float:
        return float(np.mean(self.instructions)) if self.instructions else 0.0


def _require_tools(*tools: str) -> None:
    hints = {
        QEMU: "QEMU is not installed (apt-get install qemu-system-arm)",
        ARM_GCC: "the Arm cross compiler is not installed (apt-get install gcc-arm-none-eabi "
                 "libnewlib-arm-none-eabi)",
        "make": "`make` is not installed (apt-get install make)",
        "cc": "building the QEMU plugin needs a host C compiler (apt-get install gcc)",
    }
    for t in tools:
        if shutil.which(t) is None:
            raise MccError(f"{hints.get(t, t + ' is not installed')}: `{t}` is not on PATH")


def qemu_board(board: Board | str) -> Board:
    b = get_board(board) if isinstance(board, str) else board
    if b.emulator != "qemu":
        raise MccError(f"board {b.name} has no QEMU machine (emulator: {b.emulator}); "
                       f"QEMU boards: {', '.join(qemu_boards())}")
    return b


def build_firmware(outdir: str | Path, variant: str = "release") -> Path:
    """Run make in ``outdir`` (it rebuilds only what is stale); return the ELF.

    ``variant`` is "release" (build/firmware.elf) or "profile" (build/firmware_profile.elf, the model
    marks every operator)."""
    outdir = Path(outdir)
    if variant not in ELF:
        raise ValueError(f"variant must be one of {sorted(ELF)}")
    _require_tools("make", ARM_GCC)
    if not (outdir / "mcc_cortexm" / "linker.ld").exists():
        raise MccError(f"{outdir} holds no Cortex-M build (no mcc_cortexm/linker.ld); compile for a board "
                       "with `mcc compile -t BOARD`")
    jobs = str(max(1, min(4, os.cpu_count() or 1)))
    proc = subprocess.run(["make", "-s", "-j", jobs, MAKE_TARGET[variant]], cwd=outdir,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise MccError(f"building the firmware in {outdir} failed:\n{tail}")
    return outdir / ELF[variant]


def symbol_address(elf: str | Path, name: str) -> int:
    _require_tools("arm-none-eabi-nm")
    out = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == name:
            return int(parts[0], 16)
    raise MccError(f"{elf}: no symbol {name}")


def _cache_dir() -> Path:
    base = os.environ.get("MCC_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "mcc")
    return Path(base)


def plugin_path() -> Path:
    """The instruction-counting plugin, compiled on first use into the cache folder
    ($MCC_CACHE_DIR, else $XDG_CACHE_HOME/mcc or ~/.cache/mcc), keyed by its source's hash."""
    src = PLUGIN_SOURCE.read_bytes()
    digest = hashlib.sha256(src).hexdigest()[:16]
    so = _cache_dir() / f"insn_count-{digest}.so"
    if so.exists():
        return so
    _require_tools("cc")
    so.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".insn_count-", suffix=".so", dir=so.parent)
    os.close(fd)
    try:
        proc = subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-std=c99", "-Wall", "-Wextra", "-Werror",
                               "-fvisibility=hidden", "-o", tmp, str(PLUGIN_SOURCE)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise MccError(f"building the QEMU plugin failed:\n{proc.stderr.strip()[-2000:]}")
        os.replace(tmp, so)  # atomic: concurrent builders agree on the result
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return so


def _run(board: Board, elf: Path, x: np.ndarray, out_shape: tuple, out_dtype: str, timeout: float,
         marks: bool, plugin: bool):
    """One QEMU run in a temporary folder. Returns (outputs, plugin counts or None, labels or None)."""
    from ..codegen.cortexm import qemu_base_command

    n = x.shape[0]
    with tempfile.TemporaryDirectory(prefix="mcc-qemu-") as tmp:
        tmp = Path(tmp)
        np.ascontiguousarray(x).tofile(tmp / "in.bin")
        args = ["firmware", "in.bin", "out.bin", str(n)] + (["marks.bin"] if marks else [])
        cmd = qemu_base_command(board) + ["-kernel", str(elf.resolve()), "-semihosting-config",
                                          "enable=on,target=native," + ",".join(f"arg={a}" for a in args)]
        if plugin:
            marker = symbol_address(elf, MARKER_SYMBOL)
            cmd += ["-plugin", f"{plugin_path()},marker={marker:#x},out={tmp / 'counts.txt'}"]
        try:
            proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise MccError(f"QEMU ({board.qemu_machine}) did not finish within {timeout:g} s running "
                           f"{n} inference(s); raise the timeout or run fewer inputs") from None
        msg = (proc.stderr or "").strip()
        if proc.returncode != 0:
            what = EXIT_MEANING.get(proc.returncode, "an error")
            raise MccError(f"the firmware on {board.name} stopped with exit code {proc.returncode}: {what}"
                           + (f"\n{msg[-2000:]}" if msg else ""))
        out = tmp / "out.bin"
        want = n * int(np.prod(out_shape)) * np.dtype(out_dtype).itemsize
        if not out.exists() or out.stat().st_size != want:
            got = out.stat().st_size if out.exists() else 0
            raise MccError(f"the firmware on {board.name} wrote {got} output bytes, expected {want}"
                           + (f"\n{msg[-2000:]}" if msg else ""))
        y = np.fromfile(out, dtype=out_dtype).reshape((n,) + tuple(out_shape))
        counts = total = None
        if plugin:
            text = (tmp / "counts.txt").read_text()
            counts = [int(v) for v in re.findall(r"^mark (\d+)$", text, re.M)]
            t = re.findall(r"^total (\d+)$", text, re.M)
            total = int(t[-1]) if t else 0
        labels = np.fromfile(tmp / "marks.bin", dtype=np.int32).tolist() if marks else None
        return y, counts, total, labels


def _release_counts(counts: list[int], n: int) -> tuple[list[int], int]:
    if len(counts) != 2 + 2 * n:
        raise MccError(f"the instruction-counting plugin saw {len(counts)} marks, expected {2 + 2 * n}")
    cost = counts[1] - counts[0]
    return [counts[3 + 2 * k] - counts[2 + 2 * k] - cost for k in range(n)], cost


def _layer_counts(counts: list[int], labels: list[int], n: int) -> tuple[list[dict[int, int]], int]:
    if len(counts) != len(labels) or labels[:2] != [MARK_CALIBRATE, MARK_CALIBRATE]:
        raise MccError(f"profile marks do not match: {len(counts)} counts, {len(labels)} labels")
    cost = counts[1] - counts[0]
    items: list[dict[int, int]] = []
    current: dict[int, int] | None = None
    for k in range(2, len(labels)):
        label, delta = labels[k], counts[k] - counts[k - 1] - cost
        if label == MARK_RUN_START:
            current = {}
        elif current is None:
            raise MccError("profile marks out of order")
        elif label == MARK_RUN_END:
            items.append(current)
            current = None
        else:
            current[label] = delta
    if len(items) != n:
        raise MccError(f"profile holds {len(items)} inferences, expected {n}")
    return items, cost


def run_qemu(outdir: str | Path, board: Board | str, x: np.ndarray, out_shape: tuple, out_dtype: str,
             profile: bool = False, timeout: float | None = None):
    """Build (if needed) and run the firmware in ``outdir`` on ``board``'s QEMU machine.

    ``x`` is (N, *input_shape), already validated. Returns the outputs (N, *out_shape); with
    ``profile`` returns (outputs, QemuProfile): exact instructions per inference from the release
    firmware, plus per-operator instructions from the profiling firmware (a second QEMU run).
    ``timeout`` (seconds, per QEMU run) defaults to 60 + 20 per inference."""
    b = qemu_board(board)
    _require_tools(QEMU)
    n = int(x.shape[0])
    if timeout is None:
        timeout = 60.0 + 20.0 * n
    elf = build_firmware(outdir, "release")
    y, counts, total, _ = _run(b, elf, x, out_shape, out_dtype, timeout, marks=False, plugin=profile)
    if not profile:
        return y
    instructions, _ = _release_counts(counts, n)
    pelf = build_firmware(outdir, "profile")
    y2, pcounts, _, labels = _run(b, pelf, x, out_shape, out_dtype, timeout, marks=True, plugin=True)
    if not np.array_equal(y, y2):
        raise MccError("the profiling firmware computed different outputs from the release firmware")
    layers, cost = _layer_counts(pcounts, labels, n)
    return y, QemuProfile(b.name, instructions, layers, cost, total)


# ---- sizes ----------------------------------------------------------------------------------------

_FLASH_SECTIONS = (".text", ".ARM.extab", ".ARM.exidx", ".init_array", ".data")
_SRAM_SECTIONS = (".data", ".bss", ".stack")
_SECTION = re.compile(r"^(\.[\w.]+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)")
_INPUT = re.compile(r"^ (\S+)?\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)(?:\s+(\S.*))?$")

# Flash components that are the model itself; everything else in flash is firmware overhead.
MODEL_COMPONENTS = ("weights", "model")
OVERHEAD_COMPONENTS = ("kernels", "harness", "runtime", "padding")


def _component(path: str) -> str:
    if path.endswith("mcc_weights.o"):
        return "weights"
    if path.endswith("mcc_model.o"):
        return "model"
    if "/mcc_nn/" in path:
        return "kernels"
    if "/mcc_cortexm/" in path:
        return "harness"
    return "runtime"  # the toolchain's libraries: newlib-nano (memcpy, memset), libgcc, libm


def firmware_size(outdir: str | Path, variant: str = "release") -> dict:
    """Flash and SRAM bytes of the built firmware, in total and by component, from the linker map
    (every input section the linker placed, charged to the object file it came from).

    Flash components (.text, .rodata, the load image of .data):

    * ``weights``  mcc_weights.o: the constant tensors (filters, biases) -- what the .tflite stores.
    * ``model``    mcc_model.o: the rest of the compiled graph -- per-operator constants
      (requantization multipliers and shifts, shapes, zero points) and the call sequence
      (mcc_model_init/mcc_model_run, a call per operator). It grows with the number of operators;
      it is what an interpreter would read from the flatbuffer's graph. ``model_code`` reports the
      call sequence's share (mcc_model.o's code sections).
    * ``kernels``  the mcc_nn kernels (only those this model calls, less functions --gc-sections
      dropped): the counterpart of an interpreter's op implementations.
    * ``harness``  mcc_cortexm/: startup.c (vector table, reset, fault handlers), main.c (the
      harness: argument parsing, the inference loop, error messages), semihost.c (host I/O).
    * ``runtime``  what the toolchain's libraries contribute: newlib-nano (memcpy, memset: the
      image links no stdio and makes no system calls), libgcc and libm helpers.
    * ``padding``  alignment fill the linker adds at the end of an output section. Fill before an
      input section (to align it) is charged to that section's component.

    ``overhead`` is the firmware's code beyond the model: flash minus ``weights`` minus ``model``,
    that is kernels + harness + runtime + padding (``overhead_by_component``). It counts the
    kernels and the harness in full, so it is an upper bound of what an application embedding
    the model pays on top of the model's own bytes (its own main() replaces main.c and semihost.c).

    SRAM components: ``arena`` (the model's activations), ``io_buffers`` (the harness's input and
    output), ``stack``, and the statics of the others (``harness``, ``model``, ``runtime``). The
    heap is the SRAM left over (the harness allocates nothing) and is not counted."""
    outdir = Path(outdir)
    mapfile = outdir / ELF[variant].replace(".elf", ".map")
    if not mapfile.exists():
        raise MccError(f"{mapfile} does not exist; build the firmware first")
    lines = mapfile.read_text().splitlines()
    start = next((i for i, ln in enumerate(lines) if ln.startswith("Linker script and memory map")), 0)
    flash: dict[str, int] = {}
    sram: dict[str, int] = {}
    model_code = 0
    section = None
    pending = None          # an input section name the map wrapped onto its own line
    fill = 0                # alignment fill not yet charged (to the next input section)

    def add(comp: str, size: int) -> None:
        if section in _FLASH_SECTIONS:
            flash[comp] = flash.get(comp, 0) + size
        if section in _SRAM_SECTIONS:
            sram[comp] = sram.get(comp, 0) + size

    def end_section() -> None:
        nonlocal fill
        if fill:
            add("stack" if section == ".stack" else "padding", fill)
        fill = 0

    for ln in lines[start:]:
        ln = ln.rstrip()
        m = _SECTION.match(ln)
        if m or (ln.startswith(".") and " " not in ln.strip()):  # a long output section name wraps
            end_section()
            section = m.group(1) if m else ln.strip()
            continue
        if pending is not None and ln.startswith(" " * 16):
            ln = " " + pending + ln
        pending = None
        m = _INPUT.match(ln)
        if m is None:
            if re.match(r"^ (\.\S+)$", ln):
                pending = ln.strip()
            continue
        name, size, path = m.group(1) or "", int(m.group(3), 16), (m.group(4) or "").strip()
        if size == 0 or section is None:
            continue
        if name == "*fill*" or not path:
            fill += size
            continue
        if section == ".stack":
            comp = "stack"
        elif name.endswith(".s_arena") and "/mcc_cortexm/" in path:
            comp = "arena"
        elif name.endswith((".s_input", ".s_output")):
            comp = "io_buffers"
        else:
            comp = _component(path)
        if comp == "model" and section == ".text" and name.startswith(".text"):
            model_code += size
        if comp in ("arena", "io_buffers"):  # the buffers' exact sizes; their alignment is padding
            end_section()
        add(comp, size + fill)
        fill = 0
    end_section()
    fl, sr = sum(flash.values()), sum(sram.values())
    overhead = {c: flash[c] for c in OVERHEAD_COMPONENTS if flash.get(c)}
    return {"flash": fl, "sram": sr, "flash_by_component": dict(sorted(flash.items())),
            "sram_by_component": dict(sorted(sram.items())),
            "overhead": fl - sum(flash.get(c, 0) for c in MODEL_COMPONENTS),
            "overhead_by_component": overhead, "model_code": model_code}
