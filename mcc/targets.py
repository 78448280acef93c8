"""Compilation targets. The spine knows the host (x86 desktop emulator) only."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import MccError


@dataclass(frozen=True)
class Target:
    name: str
    description: str
    kind: str  # "host"


TARGETS = {
    "host": Target("host", "the build machine (gcc; the desktop emulator)", "host"),
}


def get_target(name: str) -> Target:
    if name not in TARGETS:
        raise MccError(f"unknown target {name!r}; known targets: {', '.join(sorted(TARGETS))}")
    return TARGETS[name]
