"""Reference oracles that mcc's output is checked against (TFLite Micro, run in a subprocess)."""

from mcc.oracle.tflm import (
    TflmArenaReport,
    TflmError,
    TflmResult,
    run_tflm,
    tflm_arena_bytes,
    tflm_arena_report,
)

__all__ = [
    "TflmArenaReport",
    "TflmError",
    "TflmResult",
    "run_tflm",
    "tflm_arena_bytes",
    "tflm_arena_report",
]
