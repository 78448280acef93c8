"""The one frozen options object passed through the compiler."""

from __future__ import annotations

from dataclasses import dataclass

CALIBRATION_METHODS = ("minmax", "ema", "percentile", "kl", "mse")


@dataclass(frozen=True)
class CompileOptions:
    target: str = "host"
    model_name: str = "model"
    force: bool = False          # overwrite an output directory holding files mcc did not write
    dsp: bool = True             # use the DSP (SMLAD) kernels on cores that have the extension
    # Keras models only: post-training static quantization
    calib: str | None = None     # representative inputs: .npy (N, *input_shape) or .npz with `x`
    method: str = "minmax"       # calibrator, one of CALIBRATION_METHODS
    per_channel: bool = True     # per-output-channel weight scales
    symmetric: bool = False      # symmetric activations (zero point 0)
    io: str = "float"            # "float": float32 in/out, quantized at the edges in C; "int8": raw int8
    progress: bool = True        # progress bars on calibration
    memory: str = "optimized"    # arena plan: "firstfit" (model order) or "optimized" (mcc.planner.optimize)
    patch_overhead: float = 0.25  # optimized memory: the most MACs patches may recompute (fraction; <0: no limit)
