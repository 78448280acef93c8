"""Build the single-operator 16x8 TFLite models in tests/data/ops16/ (run by hand, not in CI).

    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python tests/make_16x8_models.py [--only NAME ...]
    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python tests/make_16x8_models.py --dscnn   (tests/data/dscnn_16x8.tflite)

16x8 = int16 activations (symmetric, zero point 0) with int8 weights and int64 biases (int32 for
the ``*_bias32`` models), as the
TFLite converter makes them: ``optimizations=[DEFAULT]``, a representative dataset of 64 uniform
random samples (fixed seed), ``supported_ops=[EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]``
and int16 input and output (``float_io_*``: float32 I/O, so QUANTIZE / DEQUANTIZE appear at the
edges). Every model has one input (mcc's C API takes one); ADD / MUL / CONCATENATION take a
constant or a second branch. The script checks the operators and that TFLM runs each model.
"""

from __future__ import annotations

import argparse
import sys
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_op_models import Spec, _quiet, check, io_types, op_names  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "tests" / "data" / "ops16"
N_REP = 64


def _specs():
    from keras import layers, ops

    rn = "random_normal"

    def conv(filters, kernel, **kw):
        kw.setdefault("bias_initializer", rn)
        return lambda x: layers.Conv2D(filters, kernel, **kw)(x[0])

    def dw(kernel, **kw):
        kw.setdefault("bias_initializer", rn)
        return lambda x: layers.DepthwiseConv2D(kernel, **kw)(x[0])

    def dense(units, **kw):
        kw.setdefault("bias_initializer", rn)
        return lambda x: layers.Dense(units, **kw)(x[0])

    def const(shape, lo, hi, seed):
        return np.random.default_rng(seed).uniform(lo, hi, (1, *shape)).astype(np.float32)

    def branches(combine):
        def build(x):
            a = layers.Conv2D(3, 1, bias_initializer=rn)(x[0])
            b = layers.Conv2D(3, 3, padding="same", bias_initializer=rn)(x[0])
            return combine([a, b])
        return build

    S = Spec
    return [
        S("conv_same", [(8, 8, 3)], conv(5, 3, padding="same"), ["CONV_2D"], "3x3 SAME 3->5"),
        S("conv_stride2_valid", [(10, 10, 3)], conv(4, 3, strides=2, padding="valid"),
          ["CONV_2D"], "stride 2 VALID"),
        S("conv_dilation2", [(10, 10, 2)], conv(3, 3, dilation_rate=2, padding="same"),
          ["CONV_2D"], "dilation 2 SAME"),
        S("conv_relu6", [(8, 8, 3)], conv(5, 3, padding="same", activation="relu6"),
          ["CONV_2D"], "fused RELU6"),
        S("conv_nobias", [(6, 6, 4)], conv(4, 1, use_bias=False), ["CONV_2D"], "1x1 no bias"),
        S("conv_kws_like", [(49, 10, 1)], conv(8, (10, 4), strides=2, padding="same",
                                               activation="relu"), ["CONV_2D"],
          "DS-CNN first layer shape, wide input range", ranges=[(-8, 8)]),
        S("dw_m1_same", [(8, 8, 4)], dw(3, padding="same"), ["DEPTHWISE_CONV_2D"], "multiplier 1"),
        S("dw_m2_valid", [(8, 8, 3)], dw(3, depth_multiplier=2, padding="valid"),
          ["DEPTHWISE_CONV_2D"], "multiplier 2 VALID"),
        S("dw_stride2_relu", [(9, 9, 4)], dw(3, strides=2, padding="same", activation="relu"),
          ["DEPTHWISE_CONV_2D"], "stride 2, fused RELU"),
        S("fc", [(32,)], dense(10), ["FULLY_CONNECTED"], "per-channel weights"),
        S("fc_per_tensor", [(24,)], dense(6), ["FULLY_CONNECTED"],
          "per-tensor weights (_experimental_disable_per_channel_quantization_for_dense_layers)",
          per_tensor_dense=True),
        S("fc_relu", [(20,)], dense(7, activation="relu"), ["FULLY_CONNECTED"], "fused RELU"),
        S("fc_flatten", [(4, 4, 3)],
          lambda x: layers.Dense(6, bias_initializer=rn)(layers.Flatten()(x[0])),
          ["RESHAPE", "FULLY_CONNECTED"], "Flatten then Dense"),
        S("avgpool_same", [(7, 7, 4)],
          lambda x: layers.AveragePooling2D(3, strides=2, padding="same")(x[0]),
          ["AVERAGE_POOL_2D"], "3x3 stride 2 SAME"),
        S("avgpool_valid", [(8, 8, 4)], lambda x: layers.AveragePooling2D(2)(x[0]),
          ["AVERAGE_POOL_2D"], "2x2 VALID"),
        S("maxpool_same", [(7, 7, 4)],
          lambda x: layers.MaxPooling2D(3, strides=2, padding="same")(x[0]),
          ["MAX_POOL_2D"], "3x3 stride 2 SAME"),
        S("add_const", [(4, 4, 3)], lambda x: ops.add(x[0], const((4, 4, 3), -2, 2, 11)),
          ["ADD"], "x + constant"),
        S("add_branches", [(6, 6, 2)], branches(layers.Add()), ["CONV_2D", "ADD"],
          "two conv branches added"),
        S("add_const_broadcast", [(4, 4, 3)], lambda x: ops.add(x[0], const((1, 1, 3), -1, 3, 12)),
          ["ADD"], "x + (C,) constant (broadcast)"),
        S("mul_const", [(4, 4, 3)], lambda x: ops.multiply(x[0], const((4, 4, 3), -2, 2, 13)),
          ["MUL"], "x * constant"),
        S("mul_branches", [(6, 6, 2)], branches(layers.Multiply()), ["CONV_2D", "MUL"],
          "two conv branches multiplied"),
        S("mean", [(5, 6, 4)], lambda x: ops.mean(x[0], axis=(1, 2)), ["MEAN"],
          "axes [1,2] (GlobalAveragePooling2D)"),
        S("softmax", [(10,)], lambda x: layers.Softmax()(x[0]), ["SOFTMAX"], "inputs [-4, 4]",
          ranges=[(-4, 4)]),
        S("pad", [(5, 4, 3)], lambda x: layers.ZeroPadding2D(((1, 2), (2, 1)))(x[0]), ["PAD"],
          "zero padding"),
        S("reshape", [(4, 4, 3)], lambda x: layers.Reshape((6, 8))(x[0]), ["RESHAPE"], "reshape"),
        S("concat_branches", [(6, 6, 2)], branches(layers.Concatenate()),
          ["CONV_2D", "CONCATENATION"], "two conv branches concatenated"),
        S("float_io_conv", [(6, 6, 2)], conv(3, 3, padding="same", activation="relu"),
          ["QUANTIZE", "CONV_2D", "DEQUANTIZE"], "float32 I/O", float_io=True),
        S("float_io_fc", [(16,)], dense(5), ["QUANTIZE", "FULLY_CONNECTED", "DEQUANTIZE"],
          "float32 I/O", float_io=True),
        # LOGISTIC / TANH (16 x 16 x 16 inputs: 16 samples can hold every int16 value once)
        S("logistic", [(16, 16, 16)], lambda x: layers.Activation("sigmoid")(x[0]), ["LOGISTIC"],
          "inputs [-10, 10] (past the table's saturation)", ranges=[(-10, 10)]),
        S("logistic_narrow", [(16, 16, 16)], lambda x: layers.Activation("sigmoid")(x[0]),
          ["LOGISTIC"], "inputs [-1.5, 1.5] (large input multiplier)", ranges=[(-1.5, 1.5)]),
        S("tanh", [(16, 16, 16)], lambda x: layers.Activation("tanh")(x[0]), ["TANH"],
          "inputs [-6, 6] (past the table's saturation)", ranges=[(-6, 6)]),
        S("tanh_narrow", [(16, 16, 16)], lambda x: layers.Activation("tanh")(x[0]), ["TANH"],
          "inputs [-0.7, 0.7]", ranges=[(-0.7, 0.7)]),
        S("fc_sigmoid", [(24,)], dense(8, activation="sigmoid"), ["FULLY_CONNECTED", "LOGISTIC"],
          "Dense with a sigmoid activation", ranges=[(-3, 3)]),
        S("fc_tanh", [(24,)], dense(8, activation="tanh"), ["FULLY_CONNECTED", "TANH"],
          "Dense with a tanh activation", ranges=[(-3, 3)]),
        S("float_io_tanh", [(6, 6, 2)], lambda x: layers.Activation("tanh")(x[0]),
          ["QUANTIZE", "TANH", "DEQUANTIZE"], "float32 I/O", ranges=[(-2, 2)], float_io=True),
        # int32 biases (converter: _experimental_full_integer_quantization_bias_type = int32)
        S("fc_bias32", [(32,)], dense(10), ["FULLY_CONNECTED"], "int32 bias"),
        S("conv_bias32", [(8, 8, 3)], conv(5, 3, padding="same", activation="relu"), ["CONV_2D"],
          "int32 bias, fused RELU"),
        S("fc_bias32_per_tensor", [(24,)], dense(6), ["FULLY_CONNECTED"],
          "int32 bias, per-tensor weights", per_tensor_dense=True),
    ]


# Models converted with int32 biases (TFLM accumulates them in int32 and requantizes as for
# int8). DEPTHWISE_CONV_2D is left out: TFLM's int16 depthwise kernel reads its bias as int64.
BIAS32 = {"fc_bias32", "conv_bias32", "fc_bias32_per_tensor"}


def _rep_dataset(spec: Spec, seed: int):
    ranges = spec.ranges or [(-1.0, 1.0)] * len(spec.inputs)

    def gen():
        rng = np.random.default_rng(seed)
        for _ in range(N_REP):
            yield [rng.uniform(lo, hi, (1, *shape)).astype(np.float32)
                   for shape, (lo, hi) in zip(spec.inputs, ranges)]

    return gen


def convert_16x8(model, representative_dataset, float_io: bool = False,
                 per_tensor_dense: bool = False, bias32: bool = False) -> bytes:
    """The TFLite converter's 16x8 full-integer quantization of a Keras model."""
    import tensorflow as tf

    if any(inp.shape[0] is None for inp in model.inputs):  # fix batch 1 (static reshapes)
        import keras

        ins = [keras.Input(tuple(inp.shape[1:]), batch_size=1) for inp in model.inputs]
        model = keras.Model(ins, model(ins if len(ins) > 1 else ins[0]))
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative_dataset
    conv.target_spec.supported_ops = [
        tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    if per_tensor_dense:
        conv._experimental_disable_per_channel_quantization_for_dense_layers = True
    if bias32:
        conv._experimental_full_integer_quantization_bias_type = tf.int32
    if not float_io:
        conv.inference_input_type = tf.int16
        conv.inference_output_type = tf.int16
    with _quiet():
        return conv.convert()


def build(spec: Spec) -> bytes:
    import keras

    seed = zlib.crc32(spec.name.encode()) & 0x7FFFFFFF
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    inputs = [keras.Input(shape, batch_size=1, name=f"in{k}") for k, shape in enumerate(spec.inputs)]
    model = keras.Model(inputs, spec.build(inputs), name=spec.name)
    return convert_16x8(model, _rep_dataset(spec, seed), spec.float_io, spec.per_tensor_dense,
                        bias32=spec.name in BIAS32)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="*")
    args = p.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from mcc.oracle import run_tflm

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    specs = [s for s in _specs() if not args.only or s.name in args.only]
    rows, failures = [], []
    for spec in specs:
        buf = build(spec)
        path = OUT_DIR / f"{spec.name}.tflite"
        path.write_bytes(buf)
        ops = op_names(buf)
        problems = check(spec, buf)
        x = (np.random.default_rng(1).uniform(-1, 1, (2, *spec.inputs[0])).astype(np.float32)
             if spec.float_io else
             np.random.default_rng(1).integers(-32768, 32768, (2, *spec.inputs[0])).astype(np.int16))
        smoke = run_tflm(path, [x]).outputs.shape
        rows.append((spec.name, ops, io_types(buf), spec.note))
        if problems:
            failures.append((spec.name, problems))
        print(f"{spec.name:22s} {len(buf):6d} B {' '.join(ops):40s} {io_types(buf):36s} tflm {smoke} "
              f"{problems or ''}", flush=True)
    if not args.only:
        lines = ["# Single-operator 16x8 TFLite models", "",
                 "Made by `tests/make_16x8_models.py` (see its docstring): int16 activations with",
                 "zero point 0, int8 per-channel weights, int64 biases (int32 in `*_bias32`), int16 I/O unless",
                 "`float_io_*`.",
                 "", "| file | operators | I/O | covers |", "|---|---|---|---|"]
        lines += [f"| `{n}.tflite` | {', '.join(o)} | {io} | {note} |" for n, o, io, note in rows]
        (OUT_DIR / "README.md").write_text("\n".join(lines) + "\n")
    if failures:
        print("FAILED:", failures)
        return 1
    return 0




def build_dscnn() -> bytes:
    """MLPerf Tiny DS-CNN (KWS) SavedModel converted to 16x8. Calibration: 64 inputs spread over
    the int8 model's input range around the real sample (the int8 model's input quantization
    gives that range)."""
    sys.path.insert(0, str(ROOT))
    from mcc.frontend import load_tflite

    kws = ROOT / "examples/mlperf_tiny/kws"
    q = load_tflite(kws / "dscnn_int8.tflite")
    xq = q.tensors[q.inputs[0]].quant
    sample = (np.load(kws / "sample_int8_49x10.npy").astype(np.float32).reshape(1, 49, 10, 1)
              - xq.zp) * xq.s

    def rep():
        rng = np.random.default_rng(0)
        for k in range(64):
            noise = rng.normal(0, 0.25 * (k % 4), sample.shape) * np.abs(sample).max()
            yield [(sample + noise).astype(np.float32)]

    from mcc.frontend.keras import read_model

    model = read_model(kws / "dscnn_savedmodel")  # the Keras 2 SavedModel, rebuilt in Keras 3
    return convert_16x8(model, rep)


def main_dscnn() -> int:
    path = ROOT / "tests" / "data" / "dscnn_16x8.tflite"
    buf = build_dscnn()
    path.write_bytes(buf)
    print(path.name, len(buf), "B", " ".join(op_names(buf)), io_types(buf))
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--dscnn"]:
        sys.exit(main_dscnn())
    sys.exit(main())
