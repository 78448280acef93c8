"""Flashing a built firmware to a real board through pyOCD's Python API (OpenOCD as the alternative)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from .errors import MccError
from .outdir import read_manifest
from .targets import get_target


@dataclass(frozen=True)
class FlashPlan:
    elf: Path
    board: str
    pyocd_target: str | None
    probe: str | None
    openocd_command: str | None

    def describe(self) -> str:
        lines = [f"board:        {self.board}",
                 f"firmware:     {self.elf}",
                 f"pyOCD target: {self.pyocd_target or '(none known for this board)'}",
                 f"probe:        {self.probe or 'the only attached probe'}"]
        if self.openocd_command:
            lines.append(f"OpenOCD:      {self.openocd_command}")
        return "\n".join(lines)


def flash_plan(outdir: str | Path, probe: str | None = None) -> FlashPlan:
    outdir = Path(outdir)
    m = read_manifest(outdir)
    target = get_target(m["target"])
    if target.is_host:
        raise MccError(f"{outdir} was compiled for the host; compile for a board (e.g. -t nucleo-l4r5zi) to flash")
    b = target.board
    elf = outdir / "build" / "firmware.elf"
    ocd = None
    if b.openocd_config:
        cfg = " ".join(f"-f {c}" for c in b.openocd_config)
        ocd = f'openocd {cfg} -c "program {elf} verify reset exit"'
    return FlashPlan(elf, b.name, b.pyocd_target, probe, ocd)


def flash(outdir: str | Path, probe: str | None = None, dry_run: bool = False) -> FlashPlan:
    """Build the firmware and program it with pyOCD. ``dry_run`` only returns the plan."""
    plan = flash_plan(outdir, probe)
    if dry_run:
        return plan
    try:
        from pyocd.core.helpers import ConnectHelper
        from pyocd.flash.file_programmer import FileProgrammer
    except ImportError:
        raise MccError("flashing needs pyOCD: `.venv/bin/pip install pyocd` (or use OpenOCD: "
                       f"{plan.openocd_command or 'no OpenOCD config is known for this board'})") from None
    if not plan.pyocd_target:
        raise MccError(f"no pyOCD target is known for {plan.board}; use OpenOCD or your vendor's tool")
    probes = ConnectHelper.get_all_connected_probes(blocking=False, unique_id=probe)
    if not probes:
        which = f"with id {probe!r} " if probe else ""
        raise MccError(f"no debug probe {which}is attached (pyOCD found none); connect the board over USB "
                       "and check `pyocd list`")
    from .sim.qemu import build_firmware
    build_firmware(outdir)
    with ConnectHelper.session_with_chosen_probe(unique_id=probes[0].unique_id, blocking=False,
                                                 target_override=plan.pyocd_target) as session:
        FileProgrammer(session).program(str(plan.elf))
    return plan


def openocd_available() -> bool:
    return shutil.which("openocd") is not None
