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
    # Bit allocation (mcc.planner.plan): budgets of the whole firmware image in bytes, or a plan file
    flash_budget: int | None = None  # choose weight widths so the flash fits (Cortex-M targets)
    sram_budget: int | None = None   # check the SRAM fits
    plan: str | None = None          # a plan.json from `mcc plan`: its widths are used as they are
    activation_bits: int = 8     # 16: int16 activations with int8 weights (16x8)
    memory: str = "optimized"    # arena plan: "firstfit" (model order) or "optimized" (mcc.planner.optimize)
    # optimized memory: the most MACs patch-based execution may recompute (fraction of the model's
    # MACs; <0: no limit). None (auto): none, unless the board's SRAM needs it (then 25 %, then no limit)
    patch_overhead: float | None = None
    # Keras models: "static" (int8 activations, needs calib) or "dynamic" (PTQ dynamic: int8/int16
    # weights, float32 activations, hybrid kernels; targets with an FPU only)
    mode: str = "static"
    weight_bits: int = 8         # dynamic mode: 8 or 16-bit weights
    sparse: bool = True          # unstructured-sparse FC / 1x1 conv kernels where they cut flash or instructions
    plan_activations: bool = False  # plan: widen activations to 16 bits within the SRAM budget (act_bits)
    # Keras models: reproduce the TFLite converter's calibration of in-place ADD inputs (their
    # recorded range also covers the ADD's output), so parameters match the converter's
    tflite_compat: bool = False
