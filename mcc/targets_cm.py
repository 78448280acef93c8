"""Cortex-M cores and boards, loaded from the data files in ``targets/cores`` and ``targets/boards``.

Each core file gives the gcc flags (``-mcpu``, ``-mfpu``, ``-mfloat-abi``) and the features the
kernels can use (DSP, MVE/Helium, FPU). Each board file names its core and gives the memory map the
image is linked for (for QEMU machines: the emulated map), the clock, how it is emulated (a QEMU
machine, a Renode platform, or none) and how it is flashed (pyOCD target, OpenOCD configs).

    >>> from mcc.targets_cm import get_board, list_targets
    >>> b = get_board("mps2-an386"); b.core.mcpu, b.sram_size, b.qemu_machine
    ('cortex-m4', 4194304, 'mps2-an386')
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import MccError
from .paths import TARGETS

CORES_DIR = TARGETS / "cores"
BOARDS_DIR = TARGETS / "boards"
EMULATORS = ("qemu", "renode", "none")


@dataclass(frozen=True)
class Core:
    name: str
    arch: str
    mcpu: str
    mfpu: str            # "" when the core has no FPU (no -mfpu flag)
    float_abi: str       # "soft" or "hard"
    has_dsp: bool
    has_mve: bool
    has_fpu: bool

    def cflags(self, mfpu: str | None = None) -> tuple[str, ...]:
        """gcc flags selecting this core (``mfpu`` overrides the core's FPU, e.g. for a board)."""
        fpu = self.mfpu if mfpu is None else mfpu
        flags = ["-mthumb", f"-mcpu={self.mcpu}"]
        if fpu:
            flags.append(f"-mfpu={fpu}")
        flags.append(f"-mfloat-abi={self.float_abi}")
        return tuple(flags)


@dataclass(frozen=True)
class Board:
    name: str
    description: str
    core: Core
    flash_origin: int
    flash_size: int
    sram_origin: int
    sram_size: int
    clock_hz: int
    emulator: str                   # "qemu", "renode" or "none"
    qemu_machine: str | None = None
    renode_platform: str | None = None
    renode_uart: str | None = None      # the console UART's Renode peripheral path
    pyocd_target: str | None = None
    openocd_config: tuple[str, ...] = field(default_factory=tuple)
    fpu: str | None = None          # overrides core.mfpu (e.g. STM32F7: single-precision FPv5)

    @property
    def cflags(self) -> tuple[str, ...]:
        return self.core.cflags(self.fpu)

    @property
    def qemu_cpu(self) -> str:
        return self.core.mcpu


def _read(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise MccError(f"{path}: not a valid TOML target file ({e})") from None


def _require(d: dict, path: Path, keys: dict[str, type]) -> None:
    for k, t in keys.items():
        if k not in d:
            raise MccError(f"{path}: missing key {k!r}")
        if not isinstance(d[k], t) or (t is int and isinstance(d[k], bool)):
            raise MccError(f"{path}: {k} must be a {t.__name__}, not {type(d[k]).__name__}")


@functools.cache
def _cores() -> dict[str, Core]:
    cores = {}
    for p in sorted(CORES_DIR.glob("*.toml")):
        d = _read(p)
        _require(d, p, {"name": str, "arch": str, "mcpu": str, "mfpu": str, "float_abi": str,
                        "has_dsp": bool, "has_mve": bool, "has_fpu": bool})
        if d["name"] != p.stem:
            raise MccError(f"{p}: name {d['name']!r} does not match the file name")
        cores[d["name"]] = Core(**{k: d[k] for k in Core.__dataclass_fields__})
    return cores


@functools.cache
def _boards() -> dict[str, Board]:
    cores = _cores()
    boards = {}
    for p in sorted(BOARDS_DIR.glob("*.toml")):
        d = _read(p)
        _require(d, p, {"name": str, "description": str, "core": str, "flash_origin": int,
                        "flash_size": int, "sram_origin": int, "sram_size": int, "clock_hz": int,
                        "emulator": str})
        if d["name"] != p.stem:
            raise MccError(f"{p}: name {d['name']!r} does not match the file name")
        if d["core"] not in cores:
            raise MccError(f"{p}: unknown core {d['core']!r}; known cores: {', '.join(sorted(cores))}")
        if d["emulator"] not in EMULATORS:
            raise MccError(f"{p}: emulator must be one of {', '.join(EMULATORS)}")
        if d["emulator"] == "qemu" and not d.get("qemu_machine"):
            raise MccError(f"{p}: emulator qemu needs qemu_machine")
        if d["emulator"] == "renode" and not d.get("renode_platform"):
            raise MccError(f"{p}: emulator renode needs renode_platform")
        boards[d["name"]] = Board(
            name=d["name"], description=d["description"], core=cores[d["core"]],
            flash_origin=d["flash_origin"], flash_size=d["flash_size"],
            sram_origin=d["sram_origin"], sram_size=d["sram_size"], clock_hz=d["clock_hz"],
            emulator=d["emulator"], qemu_machine=d.get("qemu_machine") or None,
            renode_platform=d.get("renode_platform") or None, renode_uart=d.get("renode_uart") or None,
            pyocd_target=d.get("pyocd_target") or None,
            openocd_config=tuple(d.get("openocd_config", ())), fpu=d.get("fpu") or None)
    return boards


def list_targets() -> list[str]:
    """Board ids, sorted (the names ``mcc compile -t`` takes besides ``host``)."""
    return sorted(_boards())


def list_cores() -> list[str]:
    return sorted(_cores())


def get_core(name: str) -> Core:
    cores = _cores()
    if name not in cores:
        raise MccError(f"unknown core {name!r}; known cores: {', '.join(sorted(cores))}")
    return cores[name]


def get_board(name: str) -> Board:
    boards = _boards()
    if name not in boards:
        raise MccError(f"unknown board {name!r}; known boards: {', '.join(sorted(boards))}")
    return boards[name]


def qemu_boards() -> list[str]:
    return [n for n, b in sorted(_boards().items()) if b.emulator == "qemu"]
