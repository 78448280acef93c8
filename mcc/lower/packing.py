"""Storage of weights narrower than 8 bits (the contract between the planner and the kernels).

Each output channel's weights (a conv's OHWI row, a fully connected layer's row) are packed on
their own, low bits first, into ceil(K * b / 8) bytes for a row of K values at b bits: s4 holds two
values per byte (the first in bits 0..3), s2 four (the first in bits 0..1), two's complement. An
8-bit channel is stored as it is. Rows follow each other in channel order with no padding between
them beyond the byte boundary.

``packed_size`` is what the planner predicts for flash; the sub-byte kernels and the code that
emits their weight arrays must store exactly that many bytes (tested).
"""

from __future__ import annotations

import numpy as np


def row_bytes(k: int, bits: int) -> int:
    """Bytes of one channel row of ``k`` values at ``bits`` bits."""
    if bits not in (2, 4, 8):
        raise ValueError(f"weight width must be 8, 4 or 2 bits, got {bits}")
    return (k * bits + 7) // 8


def packed_size(shape: tuple[int, ...], widths: tuple[int, ...], axis: int = 0) -> int:
    """Bytes of a weight tensor of ``shape`` whose channels along ``axis`` have ``widths``."""
    n = shape[axis]
    if len(widths) != n:
        raise ValueError(f"{len(widths)} widths for {n} channels")
    k = int(np.prod(shape, dtype=np.int64)) // n if n else 0
    return sum(row_bytes(k, b) for b in widths)
