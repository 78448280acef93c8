"""The default order of mcc's graph passes, in one place.

Float passes (Graph -> Graph, run by ``mcc.frontend.keras.load_keras`` and again, idempotently,
by ``quantize_model``):

    fold_bn          per-channel MUL/ADD (BatchNormalization) into CONV/DEPTHWISE/FC
    fuse_activation  standalone ReLU/ReLU6 into the producing op
    simplify         merge and drop reshapes

Post-training static quantization then runs

    calibrate        the float interpreter over the representative set -> per-tensor ranges
    quantize         ranges -> int8 graph (TFLite int8 spec), float or int8 I/O
"""

from __future__ import annotations

from typing import Callable

from ..ir import Graph, verify
from .fold_bn import fold_bn
from .fuse_activation import fuse_activation
from .simplify import simplify

FLOAT_PASSES: tuple[tuple[str, Callable[[Graph], Graph]], ...] = (
    ("fold_bn", fold_bn),
    ("fuse_activation", fuse_activation),
    ("simplify", simplify),
)

PTQ_PASSES = tuple(name for name, _ in FLOAT_PASSES) + ("calibrate", "quantize")


def run_float_passes(g: Graph, check: bool = True) -> Graph:
    """Run FLOAT_PASSES in order (verifying after each with ``check``)."""
    for _, fn in FLOAT_PASSES:
        g = fn(g)
        if check:
            verify(g)
    return g
