"""Build the single-operator int8 TFLite models in tests/data/ops/ (run by hand, not in CI).

    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python tests/make_op_models.py [--only NAME ...] [--no-tflm]

Each model is a tiny Keras 3 functional model (batch 1, random weights with a fixed seed,
non-zero random biases) converted by tf.lite.TFLiteConverter with full-integer post-training
quantization: a representative dataset of 64 uniform random samples (fixed seed, per-input
range), TFLITE_BUILTINS_INT8 only, int8 input and output (except the float_io_* models, which
keep float32 I/O so that QUANTIZE and DEQUANTIZE appear at the edges). The models with two or
three model inputs (ADD / MUL / CONCATENATION of inputs) exercise the reference interpreter and
TFLM; mcc's C API takes one input (tests/make_branch_models.py makes single-input variants).

The script checks that every file holds the intended builtin operators (read back with the
`tflite` package), that the per-tensor FULLY_CONNECTED model really has one weight scale, and
(unless --no-tflm) that TFLM runs every model; it prints a table name -> ops and rewrites
tests/data/ops/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "tests" / "data" / "ops"
N_REP = 64


@dataclass
class Spec:
    name: str
    inputs: list[tuple[int, ...]]          # shapes without the batch axis (batch is 1)
    build: Callable                         # list of keras.Input -> output KerasTensor(s)
    expect: list[str]                       # builtin op names that must appear
    note: str = ""
    ranges: list[tuple[float, float]] = field(default_factory=list)  # per input, default [-1, 1]
    float_io: bool = False
    per_tensor_dense: bool = False
    forbid: list[str] = field(default_factory=list)  # op names that must not appear


def _specs():
    import keras
    from keras import layers, ops

    rn = "random_normal"

    def conv(filters, kernel, **kw):
        kw.setdefault("bias_initializer", rn)
        return lambda x: layers.Conv2D(filters, kernel, **kw)(x[0])

    def dw(kernel, **kw):
        kw.setdefault("bias_initializer", rn)
        return lambda x: layers.DepthwiseConv2D(kernel, **kw)(x[0])

    def const(shape, lo, hi, seed):
        """A float constant operand (batch axis 1 included), quantized by the converter."""
        return np.random.default_rng(seed).uniform(lo, hi, (1, *shape)).astype(np.float32)

    def dense(units, **kw):
        kw.setdefault("bias_initializer", rn)
        return lambda x: layers.Dense(units, **kw)(x[0])

    S = Spec
    specs = [
        # ---- CONV_2D
        S("conv_same_3to5", [(8, 8, 3)], conv(5, 3, padding="same"), ["CONV_2D"],
          "3x3, SAME, 3->5 channels"),
        S("conv_valid", [(9, 9, 3)], conv(4, 3, padding="valid"), ["CONV_2D"], "3x3 VALID"),
        S("conv_stride2_same", [(9, 9, 4)], conv(6, 3, strides=2, padding="same"), ["CONV_2D"],
          "stride 2, SAME on an odd size (asymmetric padding)"),
        S("conv_stride2_valid", [(10, 10, 3)], conv(4, 3, strides=2, padding="valid"),
          ["CONV_2D"], "stride 2, VALID"),
        S("conv_dilation2", [(10, 10, 3)], conv(4, 3, dilation_rate=2, padding="same"),
          ["CONV_2D"], "dilation 2, SAME"),
        S("conv_dilation2_valid", [(11, 9, 2)], conv(3, 3, dilation_rate=(2, 3), padding="valid"),
          ["CONV_2D"], "dilation (2,3), VALID"),
        S("conv_1x1", [(6, 6, 8)], conv(4, 1), ["CONV_2D"], "1x1 pointwise"),
        S("conv_nobias", [(8, 8, 3)], conv(5, 3, padding="same", use_bias=False), ["CONV_2D"],
          "use_bias=False"),
        S("conv_relu", [(8, 8, 3)], conv(5, 3, padding="same", activation="relu"), ["CONV_2D"],
          "fused RELU"),
        S("conv_relu6", [(8, 8, 3)], conv(5, 3, padding="same", activation="relu6"),
          ["CONV_2D"], "fused RELU6"),
        S("conv_nonsquare", [(9, 8, 3)], conv(5, (5, 3), strides=(2, 1), padding="same"),
          ["CONV_2D"], "5x3 kernel, strides (2,1), SAME"),
        S("conv_nonsquare_valid", [(7, 11, 2)], conv(3, (1, 4), strides=(1, 2), padding="valid"),
          ["CONV_2D"], "1x4 kernel, strides (1,2), VALID"),
        S("conv_kws_like", [(49, 10, 1)], conv(8, (10, 4), strides=2, padding="same",
                                               activation="relu"),
          ["CONV_2D"], "DS-CNN first layer shape: 10x4 kernel, stride 2, 1 input channel"),
        # ---- DEPTHWISE_CONV_2D
        S("dw_m1_same", [(8, 8, 4)], dw(3, padding="same"), ["DEPTHWISE_CONV_2D"],
          "depth multiplier 1, SAME"),
        S("dw_m2_valid", [(8, 8, 3)], dw(3, depth_multiplier=2, padding="valid"),
          ["DEPTHWISE_CONV_2D"], "depth multiplier 2, VALID"),
        S("dw_m3_same", [(7, 7, 2)], dw(3, depth_multiplier=3, padding="same"),
          ["DEPTHWISE_CONV_2D"], "depth multiplier 3, SAME"),
        S("dw_stride2_same", [(9, 9, 4)], dw(3, strides=2, padding="same"),
          ["DEPTHWISE_CONV_2D"], "stride 2, SAME, odd size"),
        S("dw_stride2_valid", [(10, 10, 5)], dw(3, strides=2, padding="valid"),
          ["DEPTHWISE_CONV_2D"], "stride 2, VALID"),
        S("dw_dilation2", [(10, 10, 3)], dw(3, dilation_rate=2, padding="same"),
          ["DEPTHWISE_CONV_2D"], "dilation 2, SAME"),
        S("dw_relu6", [(8, 8, 4)], dw(3, padding="valid", activation="relu6"),
          ["DEPTHWISE_CONV_2D"], "fused RELU6"),
        S("dw_relu", [(8, 8, 4)], dw(3, padding="same", activation="relu"),
          ["DEPTHWISE_CONV_2D"], "fused RELU"),
        S("dw_nonsquare", [(12, 1, 6)], dw((3, 1), padding="same", depth_multiplier=2),
          ["DEPTHWISE_CONV_2D"], "3x1 kernel on a width-1 input (SWW-like), multiplier 2"),
        # ---- FULLY_CONNECTED
        S("fc_per_channel", [(32,)], dense(10), ["FULLY_CONNECTED"],
          "per-channel weights (converter default)"),
        S("fc_per_tensor", [(32,)], dense(10), ["FULLY_CONNECTED"],
          "per-tensor weights (_experimental_disable_per_channel_quantization_for_dense_layers)",
          per_tensor_dense=True),
        S("fc_relu", [(20,)], dense(7, activation="relu"), ["FULLY_CONNECTED"], "fused RELU"),
        S("fc_flatten", [(4, 4, 3)],
          lambda x: layers.Dense(6, bias_initializer=rn)(layers.Flatten()(x[0])),
          ["RESHAPE", "FULLY_CONNECTED"], "Flatten then Dense (MLPerf classifier head)"),
        # ---- pooling
        S("avgpool_same", [(7, 7, 4)],
          lambda x: layers.AveragePooling2D(3, strides=2, padding="same")(x[0]),
          ["AVERAGE_POOL_2D"], "3x3 stride 2 SAME: edge windows clipped (count excludes padding)"),
        S("avgpool_valid", [(8, 8, 4)], lambda x: layers.AveragePooling2D(2)(x[0]),
          ["AVERAGE_POOL_2D"], "2x2 stride 2 VALID"),
        S("avgpool_stride_ne_filter", [(9, 9, 3)],
          lambda x: layers.AveragePooling2D((3, 2), strides=(2, 3), padding="valid")(x[0]),
          ["AVERAGE_POOL_2D"], "3x2 filter, strides (2,3), VALID"),
        S("avgpool_global", [(5, 5, 8)], lambda x: layers.AveragePooling2D(5)(x[0]),
          ["AVERAGE_POOL_2D"], "5x5 window over the whole 5x5 input (DS-CNN head)"),
        S("maxpool_same", [(7, 7, 4)],
          lambda x: layers.MaxPooling2D(3, strides=2, padding="same")(x[0]),
          ["MAX_POOL_2D"], "3x3 stride 2 SAME, edge windows clipped"),
        S("maxpool_valid", [(8, 8, 4)], lambda x: layers.MaxPooling2D(2)(x[0]),
          ["MAX_POOL_2D"], "2x2 stride 2 VALID"),
        S("maxpool_stride_ne_filter", [(9, 10, 3)],
          lambda x: layers.MaxPooling2D((2, 3), strides=(3, 2), padding="valid")(x[0]),
          ["MAX_POOL_2D"], "2x3 filter, strides (3,2), VALID"),
        # ---- ADD / MUL, single input, constant operand of the same shape (broadcast constants
        # and two-branch operands: tests/make_branch_models.py)
        S("add_const", [(4, 4, 3)], lambda x: ops.add(x[0], const((4, 4, 3), -2, 2, 11)),
          ["ADD"], "x + int8 constant of the same shape (own scale)"),
        S("mul_const", [(4, 4, 3)], lambda x: ops.multiply(x[0], const((4, 4, 3), -2, 2, 13)),
          ["MUL"], "x * int8 constant of the same shape"),
        # ---- ADD / MUL with two model inputs (mcc's C API refuses them; the reference and TFLM
        # run them)
        S("add", [(4, 4, 3), (4, 4, 3)], lambda x: layers.Add()([x[0], x[1]]), ["ADD"],
          "same shape, different input ranges", ranges=[(-1, 1), (-3, 2)]),
        S("add_broadcast", [(4, 4, 3), (1, 1, 3)], lambda x: ops.add(x[0], x[1]), ["ADD"],
          "(1,4,4,3) + (1,1,1,3): RESHAPE to (3,) then ADD", ranges=[(-1, 1), (-0.5, 2)]),
        S("add_broadcast_spatial", [(4, 4, 3), (4, 1, 3)], lambda x: ops.add(x[0], x[1]),
          ["ADD"], "(1,4,4,3) + (1,4,1,3): 4-D broadcast along W", ranges=[(-1, 1), (-2, 0.5)]),
        S("add_relu", [(4, 4, 3), (4, 4, 3)], lambda x: ops.relu(ops.add(x[0], x[1])), ["ADD"],
          "fused RELU", ranges=[(-1, 1), (-2, 1)], forbid=["RELU"]),
        S("mul", [(4, 4, 3), (4, 4, 3)], lambda x: layers.Multiply()([x[0], x[1]]), ["MUL"],
          "same shape", ranges=[(-1, 1), (-3, 2)]),
        S("mul_broadcast", [(4, 4, 3), (1, 1, 3)], lambda x: ops.multiply(x[0], x[1]), ["MUL"],
          "(1,4,4,3) * (1,1,1,3)", ranges=[(-1, 1), (0, 2)]),
        # ---- SOFTMAX / LOGISTIC
        S("softmax", [(10,)], lambda x: layers.Softmax()(x[0]), ["SOFTMAX"],
          "beta 1, inputs in [-1, 1]"),
        S("softmax_wide", [(12,)], lambda x: layers.Softmax()(x[0]), ["SOFTMAX"],
          "beta 1, inputs in [-10, 10]", ranges=[(-10, 10)]),
        S("softmax_4d", [(2, 3, 5)], lambda x: layers.Softmax()(x[0]), ["SOFTMAX"],
          "softmax over the last axis of a 4-D tensor, inputs in [-4, 4]", ranges=[(-4, 4)]),
        S("logistic", [(4, 4, 3)], lambda x: ops.sigmoid(x[0]), ["LOGISTIC"],
          "inputs in [-6, 6]", ranges=[(-6, 6)]),
        S("tanh", [(16, 16)], lambda x: ops.tanh(x[0]), ["TANH"],
          "inputs in [-5, 5] (every int8 value in one sample)", ranges=[(-5, 5)]),
        S("tanh_narrow", [(16, 16)], lambda x: ops.tanh(x[0]), ["TANH"],
          "inputs in [-0.5, 0.5]", ranges=[(-0.5, 0.5)]),
        # ---- shape ops
        S("reshape", [(4, 4, 3)], lambda x: layers.Reshape((6, 8))(x[0]), ["RESHAPE"],
          "(1,4,4,3) -> (1,6,8)"),
        S("pad", [(5, 4, 3)], lambda x: layers.ZeroPadding2D(((1, 2), (2, 1)))(x[0]), ["PAD"],
          "pads (1,2) x (2,1): padded with the zero point", ranges=[(0.5, 3)]),
        S("mean_keepdims", [(5, 6, 4)], lambda x: ops.mean(x[0], axis=(1, 2), keepdims=True),
          ["MEAN"], "axes [1,2], keepdims"),
        S("mean", [(5, 6, 4)], lambda x: ops.mean(x[0], axis=(1, 2)), ["MEAN"],
          "axes [1,2], no keepdims (GlobalAveragePooling2D)"),
        S("concat2_const", [(4, 4, 3)],
          lambda x: ops.concatenate([x[0], const((4, 4, 2), -3, 3, 15)], axis=-1),
          ["CONCATENATION"], "channel axis, x and a constant"),
        S("concat3_const", [(4, 4, 3)],
          lambda x: ops.concatenate(
              [const((4, 4, 1), -3, 3, 16), x[0], const((4, 4, 2), 0, 1, 17)], axis=-1),
          ["CONCATENATION"], "channel axis, 3 operands: constant, x, constant"),
        S("concat2", [(4, 4, 3), (4, 4, 5)], lambda x: layers.Concatenate()([x[0], x[1]]),
          ["CONCATENATION"], "channel axis, 2 model inputs", ranges=[(-1, 1), (-4, 2)]),
        S("concat3", [(4, 4, 2), (4, 4, 3), (4, 4, 1)],
          lambda x: layers.Concatenate()([x[0], x[1], x[2]]),
          ["CONCATENATION"], "channel axis, 3 model inputs (model input order differs)",
          ranges=[(-1, 1), (-4, 2), (0, 0.5)]),
        # ---- float I/O: QUANTIZE / DEQUANTIZE at the edges
        S("float_io_conv", [(6, 6, 2)], conv(3, 3, padding="same", activation="relu"),
          ["QUANTIZE", "CONV_2D", "DEQUANTIZE"], "float32 input and output", float_io=True),
        S("float_io_fc_softmax", [(16,)],
          lambda x: layers.Softmax()(layers.Dense(5, bias_initializer=rn)(x[0])),
          ["QUANTIZE", "FULLY_CONNECTED", "SOFTMAX", "DEQUANTIZE"],
          "float32 input and output", float_io=True),
    ]
    specs += _requantize_specs(keras, layers, ops)
    return specs


def _requantize_specs(keras, layers, ops):
    """QUANTIZE int8 -> int8 (requantize). The TF 2.21 quantizer gives CONCATENATION's inputs
    the output's scale, so it inserts a requantize when an input already has a fixed scale:
    LOGISTIC's output (1/256, -128) feeding a concat, or a tensor feeding two concats."""
    S = Spec

    def big():  # made inside the build, after the per-model seed is set
        return keras.initializers.RandomNormal(stddev=4.0)

    def logistic_concat(x):
        conv = layers.Conv2D(2, 1, kernel_initializer=big(), bias_initializer="random_normal")
        return layers.Concatenate()([ops.sigmoid(x[0]), conv(x[0])])

    def two_concats(x):
        c_big = layers.Conv2D(2, 1, kernel_initializer=big(), bias_initializer="random_normal")
        c_small = layers.Conv2D(2, 1, bias_initializer="random_normal")
        return layers.Add()([layers.Concatenate()([x[0], c_big(x[0])]),
                             layers.Concatenate()([x[0], c_small(x[0])])])

    return [
        S("requantize_logistic_concat", [(4, 4, 3)], logistic_concat,
          ["LOGISTIC", "QUANTIZE", "CONCATENATION"],
          "int8 -> int8 QUANTIZE from LOGISTIC's 1/256 scale up to the concat's scale"),
        S("requantize_two_concats", [(4, 4, 3)], two_concats,
          ["QUANTIZE", "CONCATENATION", "ADD"],
          "int8 -> int8 QUANTIZE of the input down to the second concat's scale"),
    ]


# Made by tests/make_branch_models.py into the same folder: this script must not overwrite them.
BRANCH_MODELS = ("add_residual", "add_residual_relu", "add_const_broadcast", "mul_branches",
                 "mul_const_broadcast", "concat_branches")


def model_path(spec: Spec) -> Path:
    assert spec.name not in BRANCH_MODELS, f"{spec.name} belongs to make_branch_models.py"
    return OUT_DIR / f"{spec.name}.tflite"


def _rep_dataset(spec: Spec, seed: int):
    ranges = spec.ranges or [(-1.0, 1.0)] * len(spec.inputs)

    def gen():
        rng = np.random.default_rng(seed)
        for _ in range(N_REP):
            yield [rng.uniform(lo, hi, (1, *shape)).astype(np.float32)
                   for shape, (lo, hi) in zip(spec.inputs, ranges)]

    return gen


@contextlib.contextmanager
def _quiet():
    """Silence the converter's C++ and Python chatter (file-descriptor level); show it on error."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile() as f:
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
        ok = False
        try:
            yield
            ok = True
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            if not ok:
                f.seek(0)
                sys.stderr.write(f.read().decode("utf-8", "replace")[-4000:])


def convert(spec: Spec) -> bytes:
    with _quiet():
        return _convert(spec)


def _convert(spec: Spec) -> bytes:
    import keras
    import tensorflow as tf

    seed = zlib.crc32(spec.name.encode()) & 0x7FFFFFFF
    keras.backend.clear_session()  # reset layer-name counters: names end up in the file
    keras.utils.set_random_seed(seed)
    inputs = [keras.Input(shape, batch_size=1, name=f"in{k}") for k, shape in enumerate(spec.inputs)]
    out = spec.build(inputs)
    model = keras.Model(inputs, out, name=spec.name)
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = _rep_dataset(spec, seed)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if not spec.float_io:
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    if spec.per_tensor_dense:
        conv._experimental_disable_per_channel_quantization_for_dense_layers = True
    return conv.convert()


# ------------------------------------------------------------------ checking


def op_names(buf: bytes) -> list[str]:
    import tflite

    m = tflite.Model.GetRootAsModel(buf, 0)
    sg = m.Subgraphs(0)
    names = []
    for i in range(sg.OperatorsLength()):
        code = m.OperatorCodes(sg.Operators(i).OpcodeIndex())
        names.append(tflite.opcode2name(max(code.BuiltinCode(), code.DeprecatedBuiltinCode())))
    return names


def fc_weight_scales(buf: bytes) -> list[int]:
    """Number of weight scales of each FULLY_CONNECTED op."""
    import tflite

    m = tflite.Model.GetRootAsModel(buf, 0)
    sg = m.Subgraphs(0)
    out = []
    for i in range(sg.OperatorsLength()):
        op = sg.Operators(i)
        code = m.OperatorCodes(op.OpcodeIndex())
        if code.BuiltinCode() == tflite.BuiltinOperator.FULLY_CONNECTED:
            q = sg.Tensors(op.Inputs(1)).Quantization()
            out.append(q.ScaleLength())
    return out


def io_types(buf: bytes) -> str:
    import tflite

    names = {v: k for k, v in vars(tflite.TensorType).items() if not k.startswith("_")}
    m = tflite.Model.GetRootAsModel(buf, 0)
    sg = m.Subgraphs(0)
    def fmt(t):
        return f"{names[t.Type()].lower()}{list(int(d) for d in t.ShapeAsNumpy())}"

    ins = [fmt(sg.Tensors(sg.Inputs(i))) for i in range(sg.InputsLength())]
    outs = [fmt(sg.Tensors(sg.Outputs(i))) for i in range(sg.OutputsLength())]
    return f"{', '.join(ins)} -> {', '.join(outs)}"


def check(spec: Spec, buf: bytes) -> list[str]:
    ops = op_names(buf)
    problems = [f"missing {e}" for e in spec.expect if e not in ops]
    problems += [f"unexpected {f}" for f in spec.forbid if f in ops]
    if "FULLY_CONNECTED" in spec.expect:
        scales = fc_weight_scales(buf)
        if spec.per_tensor_dense and scales != [1]:
            problems.append(f"FC weights have {scales} scales, wanted per-tensor")
        if not spec.per_tensor_dense and not all(s > 1 for s in scales):
            problems.append(f"FC weights have {scales} scales, wanted per-channel")
    if spec.name.startswith("requantize"):
        import tflite

        m = tflite.Model.GetRootAsModel(buf, 0)
        sg = m.Subgraphs(0)
        for i in range(sg.OperatorsLength()):
            op = sg.Operators(i)
            if op_names(buf)[i] == "QUANTIZE":
                t_in, t_out = sg.Tensors(op.Inputs(0)), sg.Tensors(op.Outputs(0))
                if t_in.Type() != tflite.TensorType.INT8 or t_out.Type() != tflite.TensorType.INT8:
                    problems.append("QUANTIZE is not int8 -> int8")
    return problems


def io_shapes(buf: bytes) -> tuple[list[tuple[int, ...]], list[tuple[int, ...]]]:
    """Input and output shapes in model order (the converter may reorder Keras inputs)."""
    import tflite

    m = tflite.Model.GetRootAsModel(buf, 0)
    sg = m.Subgraphs(0)
    ins = [tuple(int(d) for d in sg.Tensors(sg.Inputs(i)).ShapeAsNumpy())
           for i in range(sg.InputsLength())]
    outs = [tuple(int(d) for d in sg.Tensors(sg.Outputs(i)).ShapeAsNumpy())
            for i in range(sg.OutputsLength())]
    return ins, outs


def tflm_smoke(path: Path, spec: Spec, buf: bytes, seed: int) -> str:
    sys.path.insert(0, str(ROOT))
    from mcc.oracle import run_tflm

    rng = np.random.default_rng(seed)
    shapes = [s[1:] for s in io_shapes(buf)[0]]
    if spec.float_io:
        xs = [rng.uniform(-1, 1, (4, *s)).astype(np.float32) for s in shapes]
    else:
        xs = [rng.integers(-128, 128, (4, *s), dtype=np.int8) for s in shapes]
    r = run_tflm(path, xs)
    return f"ok {tuple(r.outputs.shape)}"


def write_readme(rows):
    lines = [
        "# Single-operator int8 TFLite models",
        "",
        "Made by `tests/make_op_models.py` (run by hand: "
        "`TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python tests/make_op_models.py`; it rewrites this file).",
        "",
        "Each is a tiny Keras 3 functional model with batch 1 and random weights (seeded by the crc32",
        "of its name; biases random-normal, not zero), converted by TensorFlow 2.21's",
        "`tf.lite.TFLiteConverter.from_keras_model` with full-integer post-training quantization:",
        f"`optimizations=[DEFAULT]`, a representative dataset of {N_REP} uniform random samples",
        "(range [-1, 1] unless noted), `supported_ops=[TFLITE_BUILTINS_INT8]`, and",
        "`inference_input_type = inference_output_type = tf.int8` except for the `float_io_*` models,",
        "which keep float32 I/O (QUANTIZE / DEQUANTIZE at the edges). Weights are int8 symmetric,",
        "per-channel for CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED, except `fc_per_tensor`",
        "(converter flag `_experimental_disable_per_channel_quantization_for_dense_layers = True`;",
        "the script checks the FC weights carry one scale). The script checks that each file holds",
        "the listed operators and that TFLM (`mcc.oracle.run_tflm`) runs it. The files are",
        "deterministic: rerunning the script gives the same bytes.",
        "",
        "Models with two or three inputs (`add`, `add_broadcast`, `add_broadcast_spatial`,",
        "`add_relu`, `mul`, `mul_broadcast`, `concat2`, `concat3`) run in the numpy reference and",
        "TFLM; mcc's C API takes one input and refuses them. The converter may order a model's",
        "inputs differently from the Keras inputs (see `concat3`), so feed them in flatbuffer order.",
        "The single-input two-branch / broadcast-constant models "
        f"({', '.join(f'`{n}`' for n in BRANCH_MODELS)})",
        "are made by `tests/make_branch_models.py` and listed at the end.",
        "",
        "Converter behaviour worth knowing (TF 2.21):",
        "",
        "- CONCATENATION is same-scale: every operand gets the output's scale and zero point, so",
        "  the concat itself is a copy; when an operand already has a fixed scale the converter",
        "  inserts an int8 -> int8 QUANTIZE (requantize) in front of it (`requantize_*`).",
        "- `use_bias=False` convolutions still get an int32 bias tensor (zeros).",
        "- A constant broadcast operand (1,1,1,C) of ADD is stored as shape (C,); a second *input*",
        "  of shape (1,1,1,C) is RESHAPEd to (C,) in front of the ADD (`add_broadcast`).",
        "- Fused activations: Keras `relu` / `relu6` become the op's fused RELU / RELU6 (no",
        "  separate RELU op).",
        "",
        "| file | operators | I/O | what it covers |",
        "|---|---|---|---|",
    ]
    for name, ops, io, note, _size in rows:
        lines.append(f"| `{name}` | {', '.join(ops)} | {io} | {note} |")
    for name in BRANCH_MODELS:
        path = OUT_DIR / f"{name}.tflite"
        if path.exists():
            buf = path.read_bytes()
            rows = rows + [(path.name, op_names(buf), io_types(buf), "", len(buf))]
            lines.append(f"| `{path.name}` | {', '.join(op_names(buf))} | {io_types(buf)} | "
                         "made by `tests/make_branch_models.py` |")
    total = sum(r[4] for r in rows)
    lines += ["", f"{len(rows)} models, {total} bytes in total.", ""]
    (OUT_DIR / "README.md").write_text("\n".join(lines))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="*", help="build only these models (README not rewritten)")
    p.add_argument("--no-tflm", action="store_true", help="skip the TFLM smoke run")
    args = p.parse_args(argv)
    with _quiet():
        import keras  # noqa: F401
        import tensorflow  # noqa: F401
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    specs = _specs()
    names = [s.name for s in specs]
    assert len(set(names)) == len(names), "duplicate model names"
    if args.only:
        unknown = set(args.only) - set(names)
        if unknown:
            p.error(f"unknown models: {sorted(unknown)}")
        specs = [s for s in specs if s.name in args.only]
    rows, failures = [], []
    for spec in specs:
        buf = convert(spec)
        path = model_path(spec)
        path.write_bytes(buf)
        ops = op_names(buf)
        problems = check(spec, buf)
        smoke = "" if args.no_tflm else tflm_smoke(path, spec, buf, 1)
        rows.append((path.name, ops, io_types(buf), spec.note, len(buf)))
        if problems:
            failures.append((spec.name, problems))
        print(f"{spec.name:26s} {len(buf):5d} B  {' '.join(ops):40s} {io_types(buf):40s} "
              f"{smoke} {'PROBLEMS: ' + '; '.join(problems) if problems else ''}", flush=True)
    total = sum(r[4] for r in rows)
    print(f"\n{len(rows)} models, {total} bytes")
    if not args.only:
        write_readme(rows)
    if failures:
        print("FAILED:", failures)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
