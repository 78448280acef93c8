"""The one frozen options object passed through the compiler."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CompileOptions:
    target: str = "host"
    model_name: str = "model"
    force: bool = False  # overwrite an output directory holding files mcc did not write
