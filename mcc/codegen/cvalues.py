"""Turning Python values into C text: identifiers, integer arrays, struct initializers."""

from __future__ import annotations

import dataclasses
import re

import numpy as np

C_TYPES = {"int8": "int8_t", "int16": "int16_t", "int32": "int32_t", "uint8": "uint8_t", "float32": "float",
           "int64": "int64_t"}


def c_ident(name: str, used: set[str] | None = None) -> str:
    """A readable C identifier for ``name``, unique within ``used`` (which it updates)."""
    s = re.sub(r"[^0-9A-Za-z]+", "_", name).strip("_").lower() or "t"
    if s[0].isdigit():
        s = "t_" + s
    if len(s) > 48:
        s = s[:48].rstrip("_")
    if used is not None:
        base, k = s, 1
        while s in used:
            k += 1
            s = f"{base}_{k}"
        used.add(s)
    return s


def c_number(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "1" if v else "0"
    if isinstance(v, (int, np.integer)):
        v = int(v)
        if v == -(2 ** 31):
            return "(-2147483647 - 1)"
        return str(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if not np.isfinite(f):
            raise ValueError("non-finite float in generated C")
        return repr(f)
    raise TypeError(f"cannot write {type(v).__name__} as a C number")


def c_array_body(values: np.ndarray, per_line: int = 16, indent: str = "    ") -> str:
    """Comma-separated integer literals, ``per_line`` per line."""
    flat = [c_number(x) for x in np.asarray(values).reshape(-1).tolist()]
    lines = [", ".join(flat[i:i + per_line]) for i in range(0, len(flat), per_line)]
    return ",\n".join(indent + line for line in lines)


@dataclasses.dataclass(frozen=True)
class CArray:
    """A static const array emitted beside a call site (per-channel multipliers, shifts ...)."""
    name: str
    ctype: str
    values: np.ndarray

    @property
    def body(self) -> str:
        return c_array_body(self.values)


def c_initializer(record, prefix: str, arrays: list[CArray], indent: str = "    ") -> str:
    """A designated initializer for a params dataclass. Numpy arrays become named static arrays
    (appended to ``arrays``), nested dataclasses nested initializers, tuples brace lists."""
    parts = []
    for f in dataclasses.fields(record):
        v = getattr(record, f.name)
        if isinstance(v, np.ndarray):
            arr = CArray(f"{prefix}_{f.name}", C_TYPES[str(v.dtype)], v)
            arrays.append(arr)
            text = arr.name
        elif dataclasses.is_dataclass(v):
            text = c_initializer(v, f"{prefix}_{f.name}", arrays, indent + "    ")
        elif isinstance(v, tuple):
            text = "{" + ", ".join(c_number(x) for x in v) + "}"
        else:
            text = c_number(v)
        parts.append(f"{indent}.{f.name} = {text}")
    return "{\n" + ",\n".join(parts) + "\n" + indent[:-4] + "}"
