"""quantize_dynamic: post-training dynamic (weights-only) quantization of a float32 graph.

The result is a *hybrid* graph, for targets with a floating-point unit:

- activations stay float32 (graph input and output too; no calibration data is needed);
- CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED get int8 (``weight_bits=8``, values -127..127)
  or int16 (``weight_bits=16``, values -32767..32767) weights, symmetric (zero point 0) with one
  float32 scale per output channel (``scale = max|w_c| / qmax``, values rounded half away from
  zero, as the static quantizer does), and keep their float32 bias;
- every other operator and constant stays float32.

The hybrid kernels compute ``y[c] = scale[c] * sum_k x[k] * q[c, k] + bias[c]`` in float32
(then the fused activation as a float clamp), so the weights stay in flash at 1 or 2 bytes.
TFLite Micro has no such kernels (its hybrid ops quantize the activations at run time and are
not in TFLM); mcc runs these models on the host and on Cortex-M cores with an FPU.
"""

from __future__ import annotations

import numpy as np

from ..errors import MccError
from ..ir import Graph, QuantParams, Tensor, verify
from ..quant import params as Q
from .calibrate import check_float_graph

WEIGHT_AXIS = {"CONV_2D": 0, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 0}
WEIGHT_BITS = {8: ("int8", 127), 16: ("int16", 32767)}


def weight_scales(w: np.ndarray, axis: int, qmax: int) -> np.ndarray:
    """Per-channel symmetric scales max|w_c| / qmax as float32 values (an all-zero channel gets
    the static quantizer's tiny floor, so that every scale is positive)."""
    a = np.moveaxis(np.abs(w.astype(np.float64)), axis, 0).reshape(w.shape[axis], -1).max(axis=1)
    return np.array([float(np.float32(v / qmax)) for v in np.maximum(a, Q.NEAR_ZERO / 2)])


def quantize_weights(w: np.ndarray, scales: np.ndarray, axis: int, bits: int) -> np.ndarray:
    dtype, qmax = WEIGHT_BITS[bits]
    shape = [1] * w.ndim
    shape[axis] = scales.size
    q = Q.round_half_away(w.astype(np.float64) / scales.reshape(shape))
    return np.clip(q, -qmax, qmax).astype(dtype)


def quantize_dynamic(graph: Graph, weight_bits: int = 8) -> Graph:
    """The hybrid version of the float ``graph`` (see the module doc)."""
    if weight_bits not in WEIGHT_BITS:
        raise MccError(f"dynamic quantization takes 8- or 16-bit weights, got weight_bits={weight_bits}")
    check_float_graph(graph)
    dtype, qmax = WEIGHT_BITS[weight_bits]
    tensors = dict(graph.tensors)
    done: set[str] = set()
    ops = []
    for op in graph.ops:
        if op.kind not in WEIGHT_AXIS or op.inputs[1] is None:
            ops.append(op)
            continue
        wname = op.inputs[1]
        if wname not in done:
            w = graph.tensors[wname]
            axis = WEIGHT_AXIS[op.kind]
            scales = weight_scales(w.data, axis, qmax)
            q = QuantParams(tuple(float(s) for s in scales), (0,) * scales.size, axis, bits=weight_bits)
            tensors[wname] = Tensor(wname, w.shape, dtype, q, quantize_weights(w.data, scales, axis, weight_bits))
            done.add(wname)
        ops.append(op)
    users = {n for op in graph.ops if op.kind not in WEIGHT_AXIS for n in op.inputs}
    shared = sorted(users & set(done))
    if shared:
        raise MccError(f"weight tensor {shared[0]} is also read by an operator that is not "
                       "CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED")
    meta = dict(graph.meta, quantized="dynamic", weight_bits=weight_bits, io="float")
    return verify(Graph(tensors, tuple(ops), graph.inputs, graph.outputs, meta))


def check_fpu(target) -> None:
    """Hybrid (float-activation) models need a core with an FPU: raise a clear error otherwise."""
    if target.is_host:
        return
    core = target.board.core
    if not core.has_fpu:
        raise MccError(f"dynamic quantization keeps float32 activations and needs a core with an FPU; "
                       f"{target.name} ({core.name}) has none: use static quantization (--calib)")
