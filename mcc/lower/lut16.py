"""The int16 lookup tables of TFLM's SOFTMAX int16 path (``gen_lut`` in float32).

A table samples ``func`` at 512 steps over [input_min, input_max] plus one extra end value for the
interpolation slope; each sample is scaled to the int16 range of [output_min, output_max] and
corrected by half the error that linear interpolation makes at the step's midpoint. Every
operation is done in float32 as the C++ does (``std::exp`` on a float is ``expf`` from the C
library, called here through ctypes so that the tables are the ones TFLM builds on this host).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

import numpy as np

_f = np.float32
_LIBM = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
_LIBM.expf.restype = ctypes.c_float
_LIBM.expf.argtypes = [ctypes.c_float]

LUT_SIZE = 513


def _round(v) -> np.float32:
    """TfLiteRound / roundf: half away from zero, in float32."""
    v = _f(v)
    r = _f(np.trunc(v))
    if abs(_f(v - r)) >= _f(0.5):  # exact: v - trunc(v) has no rounding error in float32
        r = _f(r + np.copysign(_f(1), v))
    return r


def _exp(v) -> np.float32:
    return _f(_LIBM.expf(float(_f(v))))


def _one_over_one_plus_x(v) -> np.float32:
    return _f(_f(1.0) / (_f(1.0) + _f(v)))


def gen_lut(func, input_min: float, input_max: float, output_min: float,
            output_max: float) -> np.ndarray:
    """gen_lut<float, int16_t, int16_t>: 513 int16 values (returned as int32)."""
    nb_steps = 512
    lo, hi = _f(input_min), _f(input_max)
    step = _f((hi - lo) / _f(nb_steps))
    half_step = _f(step / _f(2))
    scaling_inv = _f(_f(65536) / _f(_f(output_max) - _f(output_min)))
    table_min, table_max = _f(-32768), _f(32767)
    lut = np.zeros(LUT_SIZE, dtype=np.int32)
    for i in range(nb_steps):
        x = _f(lo + _f(_f(i) * step))
        val = func(x)
        val_mid = func(_f(x + half_step))
        val_next = func(_f(lo + _f(_f(i + 1) * step)))
        sample = _round(val * scaling_inv)
        mid_interp = _round(_f(_f(val_next * scaling_inv) + _round(val * scaling_inv)) / _f(2))
        mid_val = _round(val_mid * scaling_inv)
        bias = _round(_f(mid_interp - mid_val) / _f(2))
        lut[i] = int(min(max(_f(sample - bias), table_min), table_max))
    lut[nb_steps] = int(min(max(_round(func(hi) * scaling_inv), table_min), table_max))
    return lut


@functools.cache
def _softmax_luts() -> tuple[bytes, bytes]:
    exp_lut = gen_lut(_exp, -10.0, 0.0, -1.0, 1.0)
    recip = gen_lut(_one_over_one_plus_x, 0.0, 1.0, -1.0, 1.0)
    return exp_lut.tobytes(), recip.tobytes()


def softmax_luts() -> tuple[np.ndarray, np.ndarray]:
    """(exp over [-10, 0], 1 / (1 + x) over [0, 1]) as TFLM's softmax Prepare builds them."""
    a, b = _softmax_luts()
    return np.frombuffer(a, dtype=np.int32).copy(), np.frombuffer(b, dtype=np.int32).copy()


SIGMOID_LUT_SIZE = 256


@functools.cache
def _sigmoid_lut() -> bytes:
    i = np.arange(SIGMOID_LUT_SIZE, dtype=np.float64)

    def s(v):
        return 65536.0 / (1.0 + np.exp(-v / 24.0))

    val = s(i)
    # half the error of linear interpolation at each step's midpoint, taken off the sample
    corrected = val - ((val + s(i + 1)) / 2.0 - s(i + 0.5)) / 2.0
    lut = np.floor(corrected + 0.5)  # all values positive: half away from zero
    lut[-1] = 65535  # saturation (1.0 in Q0.16, clamped to uint16)
    return np.minimum(lut, 65535).astype(np.int32).tobytes()


def sigmoid_lut() -> np.ndarray:
    """The 256-entry table of TFLite's int16 LOGISTIC and TANH: sigmoid(i / 24) in unsigned Q0.16
    (i = 0 .. 255), each sample lowered by half the midpoint error of linear interpolation, the
    last entry saturated at 65535 (stored as int32)."""
    return np.frombuffer(_sigmoid_lut(), dtype=np.int32).copy()
