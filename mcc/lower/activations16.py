"""16x8 LOGISTIC and TANH: IR ops with int16 input and output -> ``LogisticS16Params`` /
``TanhS16Params``, computed as TFLite Micro's Prepare computes them for int16 tensors.

The kernels want the input in steps of 1 / (3 * 4096) (so that +-2^17 covers +-10.7). A
power-of-two input scale of 2^-12 (LOGISTIC) or 2^-12 / 2^-11 (TANH) is an exact multiply by
3 << shift; any other scale gets a 15-bit multiplier doubled up to at least 32767 / 2 with the
matching right shift (truncated to an integer, as the C++ does). Input and output must have zero
point 0 and the output scale 2^-15.
"""

from __future__ import annotations

import numpy as np

from ..ir import Graph, Op
from . import params as P
from .lowering import _require, _tensors
from .lut16 import sigmoid_lut

_INPUT_INTEGER_BITS = 3
_OUTPUT_FRACTIONAL_BITS = 15
_f = np.float32


def checked_log2(x: float) -> tuple[bool, int]:
    """TFLite CheckedLog2 (in float32): (x is a power of two within 1e-3 in log2, rounded log2)."""
    log2 = _f(np.log(_f(x))) * (_f(1.0) / _f(np.log(_f(2.0))))
    rounded = _f(np.sign(log2) * np.floor(np.abs(log2) + _f(0.5)))
    return bool(abs(_f(log2 - rounded)) < _f(1e-3)), int(rounded)


def input_rescale(scale: float, pot_shifts: tuple[int, ...]) -> tuple[int, int]:
    """(input_multiplier, right shift) taking an int16 input of ``scale`` to steps of 1/(3*4096)."""
    is_pot, log2 = checked_log2(scale)
    left_shift = (15 - _INPUT_INTEGER_BITS) + log2
    if is_pot and left_shift in pot_shifts:
        return 3 << left_shift, 0  # the kernel's power-of-two case, folded here
    multiplier = float(_f(scale)) * 4096.0 * 3.0
    shift = 0
    while multiplier <= 32767.0 / 2.0 and shift <= 30:
        shift += 1
        multiplier *= 2.0
    return int(multiplier), shift


def _lower(g: Graph, op: Op, cls, pot_shifts: tuple[int, ...]):
    (x,), y = _tensors(g, op)
    for t in (x, y):
        _require(t.dtype == "int16" and t.quant is not None and t.quant.zp == 0, op,
                 f"tensor {t.name} must be int16 with zero point 0")
    is_pot, log2 = checked_log2(y.quant.s)
    _require(is_pot and log2 == -_OUTPUT_FRACTIONAL_BITS, op,
             f"int16 output must have scale 1/32768, got {y.quant.s}")
    mult, shift = input_rescale(x.quant.s, pot_shifts)
    _require(mult <= 32767, op, f"input scale {x.quant.s} is too large for the int16 kernel "
             "(more than 32767 input steps of 1/12288)")
    return cls(size=x.size, input_multiplier=mult, input_left_shift=shift, sigmoid_lut=sigmoid_lut())


def lower_logistic16(g: Graph, op: Op) -> P.LogisticS16Params:
    return _lower(g, op, P.LogisticS16Params, (0,))


def lower_tanh16(g: Graph, op: Op) -> P.TanhS16Params:
    return _lower(g, op, P.TanhS16Params, (0, 1))
