"""Tensors, quantization parameters, operators and graphs.

Everything is immutable: passes build new graphs (``Graph.replace``) instead of editing one.
Layouts are fixed: NHWC activations, OHWI convolution weights, 1HWC depthwise weights,
(out, in) fully connected weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

INTEGER_DTYPES = ("int8", "int16", "int32", "uint8", "int64")  # int64: 16x8 biases
DTYPES = INTEGER_DTYPES + ("float32",)


@dataclass(frozen=True)
class QuantParams:
    """Affine quantization: real = scale * (q - zero_point).

    ``axis`` is None for per-tensor parameters (one scale, one zero point) or the channel axis
    for per-channel ones. Scales are the float32 values of the model, kept as Python floats.
    """

    scale: tuple[float, ...]
    zero_point: tuple[int, ...]
    axis: int | None = None
    bits: int = 8
    # Weights only: the storage width of each output channel (8, 4 or 2; values lie in
    # +-(2^(b-1)-1) and are kept as int8 in ``Tensor.data``). None: every channel has ``bits``.
    channel_bits: tuple[int, ...] | None = None

    def __post_init__(self):
        if len(self.scale) != len(self.zero_point):
            raise ValueError("QuantParams: scale and zero_point lengths differ")
        if not self.scale:
            raise ValueError("QuantParams: empty scale")
        if self.channel_bits is not None and len(self.channel_bits) != len(self.scale):
            raise ValueError("QuantParams: one channel width per scale")

    def widths(self, n_channels: int) -> tuple[int, ...]:
        """The storage width of each of ``n_channels`` output channels."""
        return self.channel_bits if self.channel_bits is not None else (self.bits,) * n_channels

    @property
    def per_channel(self) -> bool:
        return self.axis is not None and len(self.scale) > 1

    @property
    def s(self) -> float:
        """The per-tensor scale (error if per-channel)."""
        if len(self.scale) != 1:
            raise ValueError("per-channel QuantParams has no single scale")
        return self.scale[0]

    @property
    def zp(self) -> int:
        if len(set(self.zero_point)) != 1:
            raise ValueError("QuantParams has several zero points")
        return self.zero_point[0]


@dataclass(frozen=True, eq=False)
class Tensor:
    name: str
    shape: tuple[int, ...]
    dtype: str
    quant: QuantParams | None = None
    data: np.ndarray | None = None  # constants only; read-only arrays

    def __post_init__(self):
        if self.dtype not in DTYPES:
            raise ValueError(f"tensor {self.name}: unknown dtype {self.dtype}")
        if self.data is not None:
            if tuple(self.data.shape) != tuple(self.shape):
                raise ValueError(f"tensor {self.name}: data shape {self.data.shape} != {self.shape}")
            if self.data.flags.writeable:
                d = self.data.copy()
                d.flags.writeable = False
                object.__setattr__(self, "data", d)

    @property
    def is_const(self) -> bool:
        return self.data is not None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def itemsize(self) -> int:
        return np.dtype(self.dtype).itemsize

    @property
    def nbytes(self) -> int:
        return self.size * self.itemsize


@dataclass(frozen=True)
class Op:
    """One operator. ``inputs`` may hold None for an absent optional input (e.g. no bias)."""

    kind: str
    inputs: tuple[str | None, ...]
    outputs: tuple[str, ...]
    attrs: Any
    name: str = ""


@dataclass(frozen=True)
class Graph:
    tensors: dict[str, Tensor]
    ops: tuple[Op, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    meta: dict[str, Any] = field(default_factory=dict)

    def replace(self, **kw) -> "Graph":
        return replace(self, **kw)

    def tensor(self, name: str) -> Tensor:
        return self.tensors[name]

    def producers(self) -> dict[str, int]:
        return {t: i for i, op in enumerate(self.ops) for t in op.outputs}

    def consumers(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for i, op in enumerate(self.ops):
            for t in op.inputs:
                if t is not None:
                    out.setdefault(t, []).append(i)
        return out

    def activations(self) -> list[str]:
        """Non-constant tensors in a deterministic order (graph inputs, then op outputs)."""
        seen: list[str] = []
        for t in self.inputs:
            if t not in seen:
                seen.append(t)
        for op in self.ops:
            for t in op.outputs:
                if t not in seen:
                    seen.append(t)
        return seen

    def constants(self) -> list[str]:
        seen: list[str] = []
        for op in self.ops:
            for t in op.inputs:
                if t is not None and self.tensors[t].is_const and t not in seen:
                    seen.append(t)
        return seen
