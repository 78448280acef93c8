"""The Cortex-M part of a generated project: Makefile, CMakeLists.txt, linker script, startup, harness.

``cortexm_files(board, ctx)`` returns ``{relative path: text}`` to add to the generated model
library (mcc_model.c/.h, mcc_weights.c/.h, mcc_nn/). Every number (memory map, stack and heap
sizes, flags) is computed here; the templates in ``templates/`` only lay them out.

Files (paths relative to the output directory):
    Makefile                        arm-none-eabi-gcc build: build/firmware.elf, `make profile`, `make size`
    CMakeLists.txt                  the same build for CMake
    mcc_cortexm/linker.ld           the board's memory map
    mcc_cortexm/startup.c           vector table, Reset_Handler, fault handlers (firmware/cortexm)
    mcc_cortexm/main.c              the harness (firmware/cortexm/harness_main.c)
    mcc_cortexm/semihost.c, .h      its host I/O over Arm semihosting, no C library stdio (swap for a UART)
    mcc_cortexm/arm-none-eabi.cmake the CMake toolchain file
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import FitError, MccError
from ..paths import FIRMWARE
from ..targets_cm import Board, get_board
from .emit import _env
from .fwsize import size_optimized_kernels

FW_DIR = "mcc_cortexm"
DEFAULT_STACK_BYTES = 8 * 1024
DEFAULT_HEAP_BYTES = 0            # the harness allocates nothing (no stdio, no malloc)
IRQ_COUNT = 32                    # external interrupt vectors (nothing enables one; all fault-exit)
RUNTIME_SRAM_SLACK = 1024         # the harness's small statics (command line) and the model's own


def _hex(v: int) -> str:
    return f"0x{v:08X}"


def _board(board: Board | str) -> Board:
    return get_board(board) if isinstance(board, str) else board


def qemu_base_command(board: Board) -> list[str]:
    """argv starting QEMU for ``board`` (without -kernel and semihosting options); [] if none."""
    if board.emulator != "qemu":
        return []
    return ["qemu-system-arm", "-M", board.qemu_machine, "-cpu", board.qemu_cpu, "-display", "none",
            "-serial", "none", "-monitor", "none"]


def check_fits(board: Board, ctx: dict) -> None:
    """Raise MccError if the model's arena and buffers or its weights cannot fit ``board``."""
    stack = ctx.get("stack_bytes", DEFAULT_STACK_BYTES)
    heap = ctx.get("heap_bytes", DEFAULT_HEAP_BYTES)
    sram_need = (ctx.get("arena_bytes", 0) + ctx.get("input_bytes", 0) + ctx.get("output_bytes", 0)
                 + stack + heap + RUNTIME_SRAM_SLACK)
    if sram_need > board.sram_size:
        raise FitError(
            f"the model needs {sram_need:,} bytes of SRAM on {board.name} (arena {ctx.get('arena_bytes', 0):,}"
            f" + input/output {ctx.get('input_bytes', 0) + ctx.get('output_bytes', 0):,} + stack {stack:,}"
            + (f" + heap {heap:,}" if heap else "")
            + f" + runtime {RUNTIME_SRAM_SLACK:,}); the board has {board.sram_size:,}")
    if ctx.get("weight_bytes", 0) > board.flash_size:
        raise FitError(f"the model's weights ({ctx['weight_bytes']:,} bytes) do not fit the "
                       f"{board.flash_size:,} bytes of flash of {board.name}")


def template_context(board: Board | str, ctx: dict) -> dict:
    """The full template context: ``ctx`` (model_name, kernels, sizes) plus the board's numbers."""
    b = _board(board)
    openocd = [w for cfg in b.openocd_config for w in ("-f", cfg)]
    return {
        "model_name": ctx.get("model_name", "model"),
        "kernels": sorted(ctx["kernels"]),
        "board": b.name, "core": b.core.name, "board_description": b.description,
        "arch_flags": list(b.cflags),
        "irq_count": IRQ_COUNT,
        "defines": list(ctx.get("defines", [])),
        "size_kernels": size_optimized_kernels(ctx["kernels"], "MCC_NO_DSP" not in ctx.get("defines", [])),
        "fw_dir": FW_DIR,
        "flash_origin": _hex(b.flash_origin), "flash_length": _hex(b.flash_size),
        "sram_origin": _hex(b.sram_origin), "sram_length": _hex(b.sram_size),
        "stack_bytes": int(ctx.get("stack_bytes", DEFAULT_STACK_BYTES)),
        "heap_bytes": int(ctx.get("heap_bytes", DEFAULT_HEAP_BYTES)),
        "qemu_command": qemu_base_command(b),
        "pyocd_target": b.pyocd_target or "",
        "openocd_args": openocd,
    }


def cortexm_files(board: Board | str, ctx: dict) -> dict[str, str]:
    """{relative path: text} of the Cortex-M build for ``board``.

    ``ctx`` keys: ``kernels`` (required: kernel names, each mcc_nn/src/<name>.c), ``model_name``,
    and for the fit check ``arena_bytes``, ``input_bytes``, ``output_bytes``, ``weight_bytes``;
    optional ``stack_bytes`` and ``heap_bytes`` override the defaults.
    """
    b = _board(board)
    check_fits(b, ctx)
    tctx = template_context(b, ctx)
    env = _env()
    return {
        "Makefile": env.get_template("Makefile.cortexm.j2").render(tctx),
        "CMakeLists.txt": env.get_template("CMakeLists.cortexm.txt.j2").render(tctx),
        f"{FW_DIR}/linker.ld": env.get_template("linker.ld.j2").render(tctx),
        f"{FW_DIR}/startup.c": (FIRMWARE / "cortexm" / "startup.c").read_text(),
        f"{FW_DIR}/main.c": (FIRMWARE / "cortexm" / "harness_main.c").read_text(),
        f"{FW_DIR}/semihost.c": (FIRMWARE / "cortexm" / "semihost.c").read_text(),
        f"{FW_DIR}/semihost.h": (FIRMWARE / "cortexm" / "semihost.h").read_text(),
        f"{FW_DIR}/arm-none-eabi.cmake": (FIRMWARE / "cortexm" / "arm-none-eabi.cmake").read_text(),
    }


def context_from_outdir(outdir: str | Path) -> dict:
    """The ``ctx`` for cortexm_files, read back from a compiled output directory (mcc.json)."""
    outdir = Path(outdir)
    try:
        m = json.loads((outdir / "mcc.json").read_text())
    except (OSError, ValueError):
        raise MccError(f"{outdir}: not an mcc output directory (no readable mcc.json)") from None
    kernels = sorted(Path(f).stem for f in m["files"] if f.startswith("mcc_nn/src/") and f.endswith(".c"))

    def nbytes(t):
        return int(np.prod(t["shape"], dtype=np.int64)) * np.dtype(t["dtype"]).itemsize

    return {"model_name": Path(m["model"]).stem, "kernels": kernels, "arena_bytes": m["arena_bytes"],
            "weight_bytes": m["weight_bytes"], "input_bytes": nbytes(m["input"]),
            "output_bytes": nbytes(m["output"])}


def add_cortexm_files(outdir: str | Path, board: Board | str, ctx: dict | None = None) -> dict[str, str]:
    """Write the Cortex-M build for ``board`` into an already compiled ``outdir`` (replacing its
    Makefile); returns the files written. For tests and tools; `mcc compile -t BOARD` emits them itself."""
    outdir = Path(outdir)
    files = cortexm_files(board, ctx if ctx is not None else context_from_outdir(outdir))
    for rel, text in files.items():
        p = outdir / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return files
