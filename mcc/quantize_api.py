"""Post-training static quantization in one call: float graph + calibration data -> int8 graph.

    from mcc.frontend.keras import load_keras
    from mcc.quantize_api import quantize_model

    g = load_keras("model.h5")                       # float32 IR, BN folded, activations fused
    q = quantize_model(g, "calib.npy", method="kl")  # int8 IR, verified, ready for lowering

``calib_data`` is a ``.npy`` path (N, *input_shape), a ``.npz`` path (array ``x``), an array, or
an iterable/generator of arrays (see ``mcc.quant.data``). ``method`` is one of
``mcc.quant.calibrators.CALIBRATORS`` (minmax, ema, percentile, kl, mse); method options
(``percentile=99.99``, ``ema_constant=0.01``, ``steps=100``) go in ``calib_options``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .ir import Graph, verify
from .passes.calibrate import calibrate
from .passes.pipeline import run_float_passes
from .errors import MccError
from .passes.quantize import quantize
from .passes.quantize16 import quantize16


@dataclass(frozen=True)
class PTQOptions:
    """Options of post-training static quantization (frozen; pass by keyword)."""
    method: str = "minmax"
    per_channel: bool = True          # per-output-channel weight scales (else one per tensor)
    symmetric: bool = False           # symmetric activations (zero point 0)
    io: str = "float"                 # "float": QUANTIZE/DEQUANTIZE at the edges; "int8": int8 I/O
    batch_size: int = 32
    progress: bool = True
    fold_input_rescale: bool = True
    tflite_compat: bool = False       # reproduce the TFLite calibrator's in-place ADD ranges
    dense_per_channel: bool | None = None  # FULLY_CONNECTED weights; None: as per_channel
    calib_options: dict = field(default_factory=dict)
    activation_bits: int = 8          # 16: int16 activations with int8 weights (16x8)


def quantize_model(graph: Graph, calib_data, method: str = "minmax", per_channel: bool = True,
                   symmetric: bool = False, io: str = "float", *, batch_size: int = 32,
                   progress: bool = True, fold_input_rescale: bool = True, tflite_compat: bool = False,
                   dense_per_channel: bool | None = None, calib_options: dict | None = None,
                   return_ranges: bool = False, activation_bits: int = 8):
    """Quantize a float32 graph to int8 with ranges calibrated on ``calib_data``.

    Runs the float passes (idempotent if ``load_keras`` already did), calibrates with ``method``
    and quantizes following the TFLite int8 spec. Returns the verified int8 graph (and the
    ranges with ``return_ranges``). Raises MccError subclasses on bad data or models.

    ``tflite_compat`` reproduces the TFLite converter's calibration quirk (an in-place ADD's output
    range recorded on one of its inputs, see ``calibrate.tflite_inplace_ranges``) for parameters
    that match the converter's; ``dense_per_channel=False`` quantizes dense layers per tensor as
    older converters do. ``activation_bits=16`` quantizes to 16x8 (int16 symmetric activations,
    int8 weights, int64 biases; ``mcc.passes.quantize16``).
    """
    if activation_bits not in (8, 16):
        raise MccError(f"activation_bits must be 8 or 16, got {activation_bits}")
    opts = PTQOptions(method=method, per_channel=per_channel, symmetric=symmetric, io=io,
                      batch_size=batch_size, progress=progress, fold_input_rescale=fold_input_rescale,
                      tflite_compat=tflite_compat, dense_per_channel=dense_per_channel,
                      calib_options=dict(calib_options or {}), activation_bits=activation_bits)
    g = run_float_passes(graph)
    ranges = calibrate(g, calib_data, opts.method, batch_size=opts.batch_size, progress=opts.progress,
                       tflite_compat=opts.tflite_compat, **opts.calib_options)
    if activation_bits == 16:
        q = quantize16(g, ranges, per_channel=opts.per_channel, io=opts.io,
                       dense_per_channel=opts.dense_per_channel)
    else:
        q = quantize(g, ranges, per_channel=opts.per_channel, symmetric_activations=opts.symmetric,
                     io=opts.io, fold_input_rescale=opts.fold_input_rescale,
                     dense_per_channel=opts.dense_per_channel)
    q = verify(q.replace(meta=dict(q.meta, ptq=asdict(opts))))
    return (q, ranges) if return_ranges else q
