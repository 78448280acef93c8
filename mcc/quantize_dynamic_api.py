"""PTQ dynamic in one call: a Keras model or float graph -> a hybrid graph (int8/int16 weights,
float32 activations), with the option checks the API and the CLI share.

    from mcc.frontend.keras import load_keras
    from mcc.quantize_dynamic_api import quantize_dynamic_model

    h = quantize_dynamic_model(load_keras("model.h5"), weight_bits=16)
"""

from __future__ import annotations

from pathlib import Path

from .errors import MccError
from .ir import Graph, verify
from .options import CompileOptions
from .passes.pipeline import run_float_passes
from .passes.quantize_dynamic import WEIGHT_BITS, check_fpu, quantize_dynamic

MODES = ("static", "dynamic")


def check_mode(mode: str, weight_bits: int) -> None:
    if mode not in MODES:
        raise MccError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "dynamic" and weight_bits not in WEIGHT_BITS:
        raise MccError(f"dynamic quantization takes --weight-bits 8 or 16, got {weight_bits}")


def quantize_dynamic_model(graph: Graph, weight_bits: int = 8) -> Graph:
    """Run the float passes (idempotent) and quantize the weights; returns the verified hybrid graph."""
    return verify(quantize_dynamic(run_float_passes(graph), weight_bits))


def quantize_keras_dynamic(path: str | Path, options: CompileOptions) -> Graph:
    """``mcc.api.load_model`` for ``options.mode == "dynamic"`` (no calibration data needed)."""
    from .frontend.keras import load_keras
    from .targets import get_target

    check_mode(options.mode, options.weight_bits)
    check_fpu(get_target(options.target))
    if options.io != "float":
        raise MccError("dynamic quantization keeps float32 input and output; --io int8 needs static quantization")
    return quantize_dynamic_model(load_keras(path), options.weight_bits)
