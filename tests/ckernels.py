"""Test helper: the C kernel library (firmware/src/*.c) built with gcc and called through ctypes.

``lib()`` builds every ``firmware/src/*.c`` into one shared library (``-O1 -fPIC -shared``),
cached by a hash of the sources, headers and flags under the system temp directory, so the
compile happens once per content change and is safe under pytest-xdist (atomic rename).

The wrappers take the parameter records of ``mcc.lower.params`` and numpy arrays and return
numpy arrays. The ctypes structures are derived from the dataclasses field by field (ints ->
int32, floats -> float, numpy arrays -> ``const int32_t *``, nested records -> nested structs,
fixed tuples -> int32 arrays, variable tuples -> ``const int32_t *``), which is exactly the
contract ``firmware/include/mcc_nn.h`` follows; ``test_c_kernels`` checks the C offsets.
"""

from __future__ import annotations

import ctypes
import dataclasses
import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
import typing
from pathlib import Path

import numpy as np

from mcc.lower import params as P

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE = ROOT / "firmware"
INCLUDE = FIRMWARE / "include"
SRC = FIRMWARE / "src"
CACHE = Path(tempfile.gettempdir()) / "mcc_ckernels"
CC = os.environ.get("CC", "gcc")
LIB_FLAGS = ("-std=c99", "-O1", "-fPIC", "-shared")

MCC_OK = 0


class CKernelError(RuntimeError):
    def __init__(self, name: str, status: int):
        super().__init__(f"{name} returned status {status}")
        self.status = status


def kernel_sources() -> list[Path]:
    return sorted(SRC.glob("*.c"))


def build_shared(sources: list[Path], flags=LIB_FLAGS, name: str = "libmcc") -> Path:
    """Compile ``sources`` (with firmware/include on the path) into a cached shared library."""
    headers = sorted(INCLUDE.glob("*.h"))
    digest = hashlib.sha256()
    for part in (CC, *flags):
        digest.update(part.encode() + b"\0")
    for path in [*headers, *sources]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    CACHE.mkdir(parents=True, exist_ok=True)
    out = CACHE / f"{name}-{digest.hexdigest()[:20]}.so"
    if out.exists():
        return out
    tmp = Path(tempfile.mkdtemp(dir=CACHE))
    try:
        target = tmp / out.name
        cmd = [CC, *flags, f"-I{INCLUDE}", *map(str, sources), "-o", str(target), "-lm"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"C build failed: {' '.join(cmd)}\n{proc.stderr}")
        os.replace(target, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


# --- ctypes mirror of the parameter records --------------------------------------------------

_I32P = ctypes.POINTER(ctypes.c_int32)


def _variable(t) -> bool:
    """A ``tuple[int, ...]`` annotation (C: ``const int32_t *`` plus a count passed separately)."""
    args = typing.get_args(t)
    return typing.get_origin(t) is tuple and len(args) == 2 and args[1] is Ellipsis


@functools.cache
def c_struct(cls) -> type[ctypes.Structure]:
    """The ctypes Structure mirroring the dataclass ``cls`` (same fields, same order)."""
    hints = typing.get_type_hints(cls)
    fields = []
    for f in dataclasses.fields(cls):
        t = hints[f.name]
        if t is int:
            ct = ctypes.c_int32
        elif t is float:
            ct = ctypes.c_float
        elif t is np.ndarray:
            ct = _I32P
        elif dataclasses.is_dataclass(t):
            ct = c_struct(t)
        elif typing.get_origin(t) is tuple:
            args = typing.get_args(t)
            ct = _I32P if _variable(t) else ctypes.c_int32 * len(args)
        else:
            raise TypeError(f"{cls.__name__}.{f.name}: no C mapping for {t!r}")
        fields.append((f.name, ct))
    return type(f"c_{cls.__name__}", (ctypes.Structure,), {"_fields_": fields})


def to_c(params, keep: list):
    """Fill the ctypes mirror of ``params``; arrays it points to are appended to ``keep``."""
    cls = type(params)
    st = c_struct(cls)()
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        v = getattr(params, f.name)
        t = hints[f.name]
        if t is np.ndarray or _variable(t):
            arr = np.ascontiguousarray(np.asarray(v, dtype=np.int64).astype(np.int32))
            keep.append(arr)
            setattr(st, f.name, arr.ctypes.data_as(_I32P))
        elif dataclasses.is_dataclass(t):
            setattr(st, f.name, to_c(v, keep))
        elif typing.get_origin(t) is tuple:
            setattr(st, f.name, (ctypes.c_int32 * len(v))(*[int(e) for e in v]))
        elif t is float:
            setattr(st, f.name, float(np.float32(v)))
        else:
            setattr(st, f.name, int(v))
    return st


# --- the library -----------------------------------------------------------------------------

_SIGNATURES = {
    # name: (params class, extra argument ctypes)
    "mcc_conv_s8": (P.ConvParams, "conv"),
    "mcc_depthwise_conv_s8": (P.DepthwiseConvParams, "conv"),
    "mcc_fully_connected_s8": (P.FullyConnectedParams, "conv"),
    "mcc_avg_pool_s8": (P.PoolParams, "unary"),
    "mcc_max_pool_s8": (P.PoolParams, "unary"),
    "mcc_add_s8": (P.AddParams, "binary"),
    "mcc_mul_s8": (P.MulParams, "binary"),
    "mcc_softmax_s8": (P.SoftmaxParams, "unary"),
    "mcc_logistic_s8": (P.LogisticParams, "unary"),
    "mcc_mean_s8": (P.MeanParams, "unary"),
    "mcc_pad_s8": (P.PadParams, "unary"),
    "mcc_concat": (P.ConcatParams, "concat"),
    "mcc_quantize_f32_s8": (P.QuantizeParams, "unary"),
    "mcc_requantize_s8": (P.RequantizeParams, "unary"),
    "mcc_dequantize_s8_f32": (P.DequantizeParams, "unary"),
}

_ARGS = {
    "conv": [ctypes.c_void_p] * 5,
    "unary": [ctypes.c_void_p] * 2,
    "binary": [ctypes.c_void_p] * 3,
    "concat": [ctypes.c_void_p, ctypes.c_int32, ctypes.c_void_p],
}


@functools.cache
def lib() -> ctypes.CDLL:
    so = ctypes.CDLL(str(build_shared(kernel_sources())))
    for name, (cls, kind) in _SIGNATURES.items():
        fn = getattr(so, name)
        fn.restype = ctypes.c_int
        fn.argtypes = [ctypes.POINTER(c_struct(cls)), *_ARGS[kind]]
    for name, cls in (("mcc_conv_s8_get_buffer_size", P.ConvParams),
                      ("mcc_depthwise_conv_s8_get_buffer_size", P.DepthwiseConvParams),
                      ("mcc_fully_connected_s8_get_buffer_size", P.FullyConnectedParams)):
        fn = getattr(so, name)
        fn.restype = ctypes.c_int32
        fn.argtypes = [ctypes.POINTER(c_struct(cls))]
    return so


def _ptr(a: np.ndarray | None):
    return None if a is None else a.ctypes.data_as(ctypes.c_void_p)


def _s8(x) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.int8)


def _call(name: str, params, *arrays):
    keep: list = []
    st = to_c(params, keep)
    status = getattr(lib(), name)(ctypes.byref(st), *arrays)
    if status != MCC_OK:
        raise CKernelError(name, status)


def _conv_like(name, p, x, w, b, out_shape):
    x, w = _s8(x), _s8(w)
    b = None if b is None else np.ascontiguousarray(b, dtype=np.int32)
    out = np.zeros(out_shape, dtype=np.int8)
    _call(name, p, _ptr(x), _ptr(w), _ptr(b), _ptr(out), None)
    return out


def get_buffer_size(p) -> int:
    name = {P.ConvParams: "mcc_conv_s8_get_buffer_size",
            P.DepthwiseConvParams: "mcc_depthwise_conv_s8_get_buffer_size",
            P.FullyConnectedParams: "mcc_fully_connected_s8_get_buffer_size"}[type(p)]
    keep: list = []
    st = to_c(p, keep)
    return int(getattr(lib(), name)(ctypes.byref(st)))


def conv_s8(p: P.ConvParams, x, w, b=None) -> np.ndarray:
    return _conv_like("mcc_conv_s8", p, x, w, b, (p.input_n, p.output_h, p.output_w, p.output_c))


def depthwise_conv_s8(p: P.DepthwiseConvParams, x, w, b=None) -> np.ndarray:
    return _conv_like("mcc_depthwise_conv_s8", p, x, w, b,
                      (p.input_n, p.output_h, p.output_w, p.output_c))


def fully_connected_s8(p: P.FullyConnectedParams, x, w, b=None) -> np.ndarray:
    return _conv_like("mcc_fully_connected_s8", p, x, w, b, (p.batches, p.output_size))


def _unary(name, p, x, out_shape, in_dtype=np.int8, out_dtype=np.int8):
    x = np.ascontiguousarray(x, dtype=in_dtype)
    out = np.zeros(out_shape, dtype=out_dtype)
    _call(name, p, _ptr(x), _ptr(out))
    return out


def avg_pool_s8(p: P.PoolParams, x) -> np.ndarray:
    return _unary("mcc_avg_pool_s8", p, x, (p.input_n, p.output_h, p.output_w, p.channels))


def max_pool_s8(p: P.PoolParams, x) -> np.ndarray:
    return _unary("mcc_max_pool_s8", p, x, (p.input_n, p.output_h, p.output_w, p.channels))


def _binary(name, p, x1, x2):
    x1, x2 = _s8(x1), _s8(x2)
    out = np.zeros(tuple(p.shape.out_dims), dtype=np.int8)
    _call(name, p, _ptr(x1), _ptr(x2), _ptr(out))
    return out


def add_s8(p: P.AddParams, x1, x2) -> np.ndarray:
    """Output in the 4-D broadcast shape ``p.shape.out_dims``."""
    return _binary("mcc_add_s8", p, x1, x2)


def mul_s8(p: P.MulParams, x1, x2) -> np.ndarray:
    return _binary("mcc_mul_s8", p, x1, x2)


def softmax_s8(p: P.SoftmaxParams, x) -> np.ndarray:
    return _unary("mcc_softmax_s8", p, x, np.shape(x))


def logistic_s8(p: P.LogisticParams, x) -> np.ndarray:
    return _unary("mcc_logistic_s8", p, x, np.shape(x))


def mean_s8(p: P.MeanParams, x) -> np.ndarray:
    """Output shaped (outer, inner)."""
    return _unary("mcc_mean_s8", p, x, (p.outer, p.inner))


def pad_s8(p: P.PadParams, x) -> np.ndarray:
    """Output in the 4-D padded shape."""
    shape = tuple(b + d + a for b, d, a in zip(p.before, p.input_dims, p.after))
    return _unary("mcc_pad_s8", p, x, shape)


def concat(p: P.ConcatParams, xs) -> np.ndarray:
    """Flat output of the inputs' dtype (all inputs must share it)."""
    xs = [np.ascontiguousarray(x) for x in xs]
    dtype = xs[0].dtype if xs else np.int8
    total = p.outer * sum(p.copy_sizes)
    out = np.zeros(total, dtype=dtype)
    ptrs = (ctypes.c_void_p * max(len(xs), 1))(*[x.ctypes.data for x in xs])
    _call("mcc_concat", p, ptrs, len(xs), _ptr(out))
    return out


def quantize_f32(p: P.QuantizeParams, x) -> np.ndarray:
    return _unary("mcc_quantize_f32_s8", p, x, np.shape(x), in_dtype=np.float32)


def requantize_s8(p: P.RequantizeParams, x) -> np.ndarray:
    return _unary("mcc_requantize_s8", p, x, np.shape(x))


def dequantize_f32(p: P.DequantizeParams, x) -> np.ndarray:
    return _unary("mcc_dequantize_s8_f32", p, x, np.shape(x), out_dtype=np.float32)
