"""Unstructured-sparse int8 weights for FULLY_CONNECTED and 1x1 CONV_2D: the encoding read by the C
kernels ``mcc_fully_connected_sparse_s8`` and ``mcc_conv_1x1_sparse_s8``, its flash size, a count
model of the instructions both kernels execute, and the choice between sparse and dense.

Encoding of a weight matrix W [rows, depth] (rows = output channels; the 1x1 filter [out, 1, 1, in]
is the matrix [out, in]), one byte stream:

    rows x uint16 (little endian)   entry count of each row
    entries, row after row          two bytes each: (delta uint8, weight int8)

A row's entries walk its columns: the first delta is the column of the first nonzero weight, the
next ones the distance to the next nonzero. A distance over 255 is split by escape entries
(255, 0): they move 255 columns on and multiply by a zero weight, so the kernel's loop has no
branch. Zero weights are otherwise never stored.

The kernels take the input offset out of the loop: the bias they read is
``bias + input_offset * sum_k W[o, k]`` (modulo 2^32, ``folded_bias``), so each stored weight
costs one multiply-accumulate of the raw int8 input, and the result equals the dense kernel's bit
for bit (the dense sum, reassociated modulo 2^32).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import MccError

ESCAPE = 255
MAX_ENTRIES = 0xFFFF


class SparseEncodingError(MccError):
    """The weights cannot be encoded (shape, dtype or a row with too many entries)."""


@dataclass(frozen=True)
class SparseWeights:
    data: np.ndarray   # int8 byte stream (counts then entries), as the C kernels read it
    rows: int
    depth: int
    nnz: int           # nonzero weights
    entries: int       # nnz + escape entries

    @property
    def nbytes(self) -> int:
        return int(self.data.size)


def as_matrix(weights: np.ndarray) -> np.ndarray:
    """FULLY_CONNECTED [out, depth] or 1x1 CONV_2D [out, 1, 1, in] int8 weights as [rows, depth]."""
    w = np.asarray(weights)
    if w.dtype != np.int8:
        raise SparseEncodingError(f"sparse weights must be int8, not {w.dtype}")
    if w.ndim == 4 and w.shape[1:3] == (1, 1):
        return w.reshape(w.shape[0], w.shape[3])
    if w.ndim != 2 or w.size == 0:
        raise SparseEncodingError(f"sparse weights must be [out, depth] or [out, 1, 1, in], not {w.shape}")
    return w


def encode(weights: np.ndarray) -> SparseWeights:
    """The byte stream of ``weights`` (see the module docstring)."""
    w = as_matrix(weights)
    rows, depth = w.shape
    counts = np.zeros(rows, np.int64)
    stream: list[int] = []
    for o in range(rows):
        cols = np.flatnonzero(w[o])
        prev, n = 0, 0
        for k in cols:
            delta = int(k) - prev
            while delta > ESCAPE:
                stream += [ESCAPE, 0]
                delta -= ESCAPE
                n += 1
            stream += [delta, int(w[o, k]) & 0xFF]
            prev, n = int(k), n + 1
        if n > MAX_ENTRIES:
            raise SparseEncodingError(f"row {o} needs {n} entries; the encoding holds {MAX_ENTRIES}")
        counts[o] = n
    head = np.stack([counts & 0xFF, counts >> 8], axis=1).ravel()
    data = np.concatenate([head, np.asarray(stream, np.int64)]).astype(np.uint8).view(np.int8)
    return SparseWeights(data, rows, depth, int(np.count_nonzero(w)), int(counts.sum()))


def decode(s: SparseWeights) -> np.ndarray:
    """The dense [rows, depth] int8 matrix of an encoding (the inverse of ``encode``)."""
    b = s.data.view(np.uint8).astype(np.int64)
    counts = b[0:2 * s.rows:2] | (b[1:2 * s.rows:2] << 8)
    w = np.zeros((s.rows, s.depth), np.int8)
    pos = 2 * s.rows
    for o in range(s.rows):
        k = 0
        for _ in range(int(counts[o])):
            k += int(b[pos])
            v = int(s.data[pos + 1])
            if v:
                w[o, k] = v
            pos += 2
    return w


def folded_bias(bias: np.ndarray | None, weights: np.ndarray, input_offset: int) -> np.ndarray:
    """bias + input_offset * (row sums of the weights), wrapped to int32 as the C kernels add it."""
    w = as_matrix(weights).astype(np.int64)
    b = np.zeros(w.shape[0], np.int64) if bias is None else np.asarray(bias, np.int64)
    v = (b + int(input_offset) * w.sum(axis=1)) & 0xFFFFFFFF
    return np.where(v >= 1 << 31, v - (1 << 32), v).astype(np.int32)


def sparsity(weights: np.ndarray) -> float:
    w = as_matrix(weights)
    return 1.0 - np.count_nonzero(w) / w.size


# --- the choice --------------------------------------------------------------------------------

@dataclass(frozen=True)
class CountModel:
    """Executed instructions ~ per_entry * entries * passes + per_row * rows * passes + per_pass *
    passes + fixed, where a pass is one batch (FULLY_CONNECTED) or one pair of output pixels
    (1x1 conv, two pixels share each entry's decode), for channels whose requantization is in the
    fast range of mcc_dsp.h (real layers; others cost a few instructions more or less per row).
    Coefficients fitted on QEMU runs (tests/test_sparse_kernels.py checks the model against the
    plugin's counts)."""
    per_entry: float
    per_row: float
    per_pass: float
    fixed: float

    def __call__(self, entries: int, rows: int, passes: int) -> float:
        return (self.per_entry * entries + self.per_row * rows + self.per_pass) * passes + self.fixed


# (C function, has_dsp) -> model, fitted with `benchmarks/bench_sparse.py --fit` (24 random layers
# each; largest relative error on them in brackets). has_dsp: on mps2-an386 (Cortex-M4, the
# one-SMLAL requantization), FC (0.47 %), 1x1 conv (0.61 %). Portable: FC on mps2-an385 (Cortex-M3,
# 0.15 %); 1x1 conv on the Cortex-M4 with mcc_requantize (0.68 %; within 0.2 % of the Cortex-M3
# counts of bench_sparse.py --board mps2-an385).
SPARSE_MODELS = {
    ("mcc_fully_connected_sparse_s8", True): CountModel(7.00, 73.59, 79.30, 10.39),
    ("mcc_conv_1x1_sparse_s8", True): CountModel(10.02, 103.78, 124.88, 51.57),
    ("mcc_fully_connected_sparse_s8", False): CountModel(7.00, 85.34, 63.59, 14.02),
    ("mcc_conv_1x1_sparse_s8", False): CountModel(10.02, 132.76, 129.56, -17.21),
}

# Dense kernels, executed instructions per MAC measured by benchmarks/bench_sparse.py (FC 640 -> 128,
# batch 1; 1x1 conv 64 -> 64 on 25 x 5): DSP paths on the Cortex-M4 (mcc_fully_connected_s8,
# mcc_conv_1x1_s8), portable loops on the Cortex-M3 (mcc_fully_connected_s8, mcc_conv_s8).
DENSE_IPM = {
    ("FULLY_CONNECTED", True): 2.06, ("CONV_2D", True): 1.23,
    ("FULLY_CONNECTED", False): 6.13, ("CONV_2D", False): 8.29,
}


def passes(record) -> int:
    """Passes of a sparse kernel over its stream: batches (FC) or pairs of output pixels (1x1 conv)."""
    if hasattr(record, "batches"):
        return int(record.batches)
    return (record.input_n * record.output_h * record.output_w + 1) // 2


def sparse_function(op_kind: str) -> str:
    return {"FULLY_CONNECTED": "mcc_fully_connected_sparse_s8", "CONV_2D": "mcc_conv_1x1_sparse_s8"}[op_kind]


@dataclass(frozen=True)
class SparseChoice:
    use_sparse: bool
    dense_bytes: int
    sparse_bytes: int
    dense_instructions: float | None   # None: no dense estimate for this core
    sparse_instructions: float


INSTR_SLACK = 0.05  # flash savings may cost at most 5 % more executed instructions in that layer


def choose(op_kind: str, record, weights: np.ndarray, has_dsp: bool) -> SparseChoice:
    """Sparse or dense for one FULLY_CONNECTED or 1x1 CONV_2D layer. Sparse only when it pays
    without a large cost on the other axis: its encoding is smaller in flash than the dense int8
    weights and its estimated executed instructions are at most ``INSTR_SLACK`` above the dense
    kernel's, or its instructions are fewer and its encoding no larger."""
    w = as_matrix(weights)
    enc = encode(w)
    k = passes(record)
    sparse_instr = SPARSE_MODELS[sparse_function(op_kind), has_dsp](enc.entries, enc.rows, k)
    ipm = DENSE_IPM.get((op_kind, has_dsp))
    macs = w.size * (record.batches if hasattr(record, "batches") else
                     record.input_n * record.output_h * record.output_w)
    dense_instr = None if ipm is None else ipm * macs
    smaller = enc.nbytes < w.size
    if dense_instr is None:
        use = smaller
    else:
        use = ((smaller and sparse_instr <= dense_instr * (1 + INSTR_SLACK))
               or (sparse_instr < dense_instr and enc.nbytes <= w.size))
    return SparseChoice(use, int(w.size), enc.nbytes, dense_instr, sparse_instr)
