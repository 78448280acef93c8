"""Compilation targets: ``host`` (the build machine, the desktop emulator), a board id
(``mps2-an386``, ``stm32f746g-disco`` ...) or a core id (``cortex-m4`` ...), which stands for the
QEMU board with that core, or for a generic part with the core when no QEMU machine has it.

Boards and cores are data files in ``targets/`` loaded by ``mcc.targets_cm``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import MccError
from .targets_cm import Board, _boards, _cores, get_board

# The board a bare core id compiles for: the QEMU machine with that core (M0+: the RP2040 board).
CORE_BOARDS = {
    "cortex-m0plus": "rpi-pico",
    "cortex-m3": "mps2-an385",
    "cortex-m4": "mps2-an386",
    "cortex-m7": "mps2-an500",
    "cortex-m33": "mps2-an505",
    "cortex-m55": "mps3-an547",
}


@dataclass(frozen=True)
class Target:
    name: str
    description: str
    board: Board | None = None  # None for the host

    @property
    def is_host(self) -> bool:
        return self.board is None

    @property
    def has_dsp(self) -> bool:
        return self.board is not None and self.board.core.has_dsp

    @property
    def emulator(self) -> str:
        return "host" if self.board is None else self.board.emulator


HOST = Target("host", "the build machine (gcc, x86): the desktop emulator")


def all_targets() -> list[Target]:
    out = [HOST]
    for name in sorted(_boards()):
        b = get_board(name)
        out.append(Target(name, b.description, b))
    for core in sorted(_cores()):
        b = get_board(CORE_BOARDS[core])
        out.append(Target(core, f"generic {core} (memory map and emulator of {b.name})", b))
    return out


def get_target(name: str) -> Target:
    if name == "host":
        return HOST
    if name in _boards():
        b = get_board(name)
        return Target(name, b.description, b)
    if name in CORE_BOARDS:
        b = get_board(CORE_BOARDS[name])
        return Target(name, f"generic {name} (memory map and emulator of {b.name})", b)
    known = [t.name for t in all_targets()]
    raise MccError(f"unknown target {name!r}; known targets: {', '.join(known)} (`mcc targets` describes them)")
