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


def _row_axis_first(w: np.ndarray, axis: int) -> np.ndarray:
    """``w`` as (channels, K): channel ``axis`` first, each channel's values in their natural order
    (for a 1HWC depthwise filter, axis 3: the channel's H*W values gathered)."""
    w = np.asarray(w)
    return np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)


def pack_row(values: np.ndarray, bits: int) -> np.ndarray:
    """One channel row of int values (each within +-(2^(b-1)-1)) as ``row_bytes`` uint8 bytes,
    low bits first, two's complement."""
    v = np.asarray(values, dtype=np.int64).ravel()
    nbytes = row_bytes(v.size, bits)
    if bits == 8:
        return v.astype(np.int8).view(np.uint8)
    lim = (1 << (bits - 1)) - 1
    if v.size and (v.min() < -lim or v.max() > lim):
        raise ValueError(f"values beyond {bits} bits (+-{lim})")
    per = 8 // bits
    u = (v & ((1 << bits) - 1)).astype(np.uint8)
    u = np.concatenate([u, np.zeros(nbytes * per - v.size, np.uint8)]).reshape(nbytes, per)
    shifts = (np.arange(per, dtype=np.uint8) * bits).astype(np.uint8)
    return np.bitwise_or.reduce(u << shifts, axis=1).astype(np.uint8)


def unpack_row(data: np.ndarray, k: int, bits: int) -> np.ndarray:
    """Inverse of ``pack_row``: ``k`` int8 values from the packed bytes ``data``."""
    d = np.asarray(data, dtype=np.uint8).ravel()
    if d.size != row_bytes(k, bits):
        raise ValueError(f"{d.size} bytes for a row of {k} values at {bits} bits")
    if bits == 8:
        return d.view(np.int8).copy()
    per = 8 // bits
    shifts = (np.arange(per, dtype=np.uint8) * bits).astype(np.uint8)
    u = ((d[:, None] >> shifts) & ((1 << bits) - 1)).astype(np.int16).ravel()[:k]
    return np.where(u >= 1 << (bits - 1), u - (1 << bits), u).astype(np.int8)


def pack(w: np.ndarray, widths: tuple[int, ...], axis: int = 0) -> np.ndarray:
    """The packed storage (uint8, ``packed_size`` bytes) of int8 weights ``w`` whose channels
    along ``axis`` have ``widths``."""
    rows = _row_axis_first(w, axis)
    if len(widths) != rows.shape[0]:
        raise ValueError(f"{len(widths)} widths for {rows.shape[0]} channels")
    parts = [pack_row(r, b) for r, b in zip(rows, widths)]
    return np.concatenate(parts).astype(np.uint8) if parts else np.zeros(0, np.uint8)


def unpack(data: np.ndarray, shape: tuple[int, ...], widths: tuple[int, ...],
           axis: int = 0) -> np.ndarray:
    """Inverse of ``pack``: the int8 weights of ``shape`` from their packed storage."""
    d = np.asarray(data, dtype=np.uint8).ravel()
    if d.size != packed_size(shape, widths, axis):
        raise ValueError(f"{d.size} bytes, expected {packed_size(shape, widths, axis)}")
    n = shape[axis]
    k = int(np.prod(shape, dtype=np.int64)) // n if n else 0
    rows, at = [], 0
    for b in widths:
        nb = row_bytes(k, b)
        rows.append(unpack_row(d[at:at + nb], k, b))
        at += nb
    moved = tuple(shape[axis:axis + 1]) + tuple(s for i, s in enumerate(shape) if i != axis)
    out = np.stack(rows).reshape(moved) if rows else np.zeros(moved, np.int8)
    return np.moveaxis(out, 0, axis).astype(np.int8)
