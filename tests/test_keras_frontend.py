"""Keras frontend: every supported layer converts and the float IR matches Keras; BN folding,
activation fusion, the legacy `groups` shim, the SavedModel reader, and every error path."""

import warnings

import numpy as np
import pytest

from conftest import ROOT

keras = pytest.importorskip("keras")
from keras import layers  # noqa: E402

from mcc.errors import MccError, ModelFormatError, UnsupportedOperatorError  # noqa: E402
from mcc.frontend.keras import keras_to_ir, legacy_objects, load_keras, read_model  # noqa: E402
from mcc.ir import verify  # noqa: E402
from mcc.reference import float_interp  # noqa: E402

warnings.filterwarnings("ignore", message="The structure of `inputs`")

MLPERF_H5 = {
    "resnet8": (ROOT / "examples/mlperf_tiny/ic/resnet8.h5", (32, 32, 3), 255.0),
    "sww": (ROOT / "examples/mlperf_tiny/sww/sww_dscnn.h5", (30, 1, 40), 1.0),
}
DSCNN_SAVEDMODEL = ROOT / "examples/mlperf_tiny/kws/dscnn_savedmodel"


def _randomize(model, seed=0):
    """Random weights (positive BN variances) on a test model of our own."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        ws = layer.get_weights()
        if not ws:
            continue
        new = []
        for v, w in zip(layer.weights, ws):
            r = rng.uniform(-0.5, 0.5, w.shape).astype(np.float32)
            if "variance" in v.path:
                r = rng.uniform(0.2, 2.0, w.shape).astype(np.float32)
            if "gamma" in v.path:
                r = rng.uniform(0.5, 1.5, w.shape).astype(np.float32)
            new.append(r)
        layer.set_weights(new)
    return model


def _model(shape, build, seed=0):
    inp = keras.Input(shape)
    return _randomize(keras.Model(inp, build(inp)), seed)


def _check(model, shape=None, n=4, seed=1, optimize=True, lo=-1.0, hi=1.0, tol=2e-5):
    shape = shape or tuple(model.inputs[0].shape[1:])
    g = load_keras(model, optimize=optimize)
    verify(g)
    x = np.random.default_rng(seed).uniform(lo, hi, (n,) + shape).astype(np.float32)
    y = float_interp.run(g, [x])[0]
    yk = np.asarray(model(x, training=False))
    scale = max(1.0, float(np.abs(yk).max()))
    np.testing.assert_allclose(y, yk, rtol=0, atol=tol * scale)
    return g


LAYER_CASES = {
    "conv2d_same_bias_relu": ((9, 9, 3), lambda x: layers.Conv2D(5, 3, padding="same", activation="relu")(x)),
    "conv2d_valid_stride2": ((9, 8, 3), lambda x: layers.Conv2D(4, (3, 2), strides=2)(x)),
    "conv2d_dilation_nobias": ((10, 10, 2), lambda x: layers.Conv2D(4, 3, dilation_rate=2, use_bias=False)(x)),
    "conv2d_relu6": ((6, 6, 2), lambda x: layers.Conv2D(3, 1, activation="relu6")(x)),
    "conv2d_sigmoid": ((6, 6, 2), lambda x: layers.Conv2D(3, 3, activation="sigmoid")(x)),
    "conv2d_hard_swish": ((6, 6, 2), lambda x: layers.Conv2D(3, 3, activation="hard_swish")(x)),
    "conv1d_same": ((16, 3), lambda x: layers.Conv1D(4, 3, padding="same")(x)),
    "conv1d_causal_dilated": ((16, 3), lambda x: layers.Conv1D(4, 3, padding="causal", dilation_rate=2)(x)),
    "conv1d_stride": ((17, 2), lambda x: layers.Conv1D(3, 4, strides=2, activation="relu")(x)),
    "conv1d_chain": ((16, 3), lambda x: layers.Conv1D(4, 3, activation="relu")(layers.Conv1D(4, 3)(x))),
    "depthwise_m1": ((8, 8, 4), lambda x: layers.DepthwiseConv2D(3, padding="same")(x)),
    "depthwise_m2_stride": ((9, 9, 3), lambda x: layers.DepthwiseConv2D(3, strides=2, depth_multiplier=2)(x)),
    "depthwise1d": ((12, 3), lambda x: layers.DepthwiseConv1D(3, depth_multiplier=2)(x)),
    "separable": ((8, 8, 3), lambda x: layers.SeparableConv2D(6, 3, padding="same", activation="relu")(x)),
    "separable_dm2": ((8, 8, 3), lambda x: layers.SeparableConv2D(4, 3, depth_multiplier=2)(x)),
    "dense": ((7,), lambda x: layers.Dense(5)(x)),
    "dense_3d": ((4, 6), lambda x: layers.Dense(3, activation="relu")(x)),
    "dense_softmax": ((7,), lambda x: layers.Dense(5, activation="softmax")(x)),
    "bn_after_conv": ((6, 6, 3), lambda x: layers.BatchNormalization()(layers.Conv2D(4, 3)(x))),
    "bn_after_dense": ((6,), lambda x: layers.BatchNormalization()(layers.Dense(4)(x))),
    "bn_after_depthwise": ((6, 6, 3), lambda x: layers.BatchNormalization()(layers.DepthwiseConv2D(3)(x))),
    "bn_standalone": ((6, 6, 3), lambda x: layers.BatchNormalization()(layers.MaxPooling2D(2)(x))),
    "bn_after_conv1d": ((12, 3), lambda x: layers.ReLU()(layers.BatchNormalization()(layers.Conv1D(4, 3)(x)))),
    "act_relu": ((5, 5, 2), lambda x: layers.Activation("relu")(layers.Conv2D(3, 3)(x))),
    "act_relu6": ((5, 5, 2), lambda x: layers.Activation("relu6")(layers.Conv2D(3, 3)(x))),
    "act_sigmoid": ((6,), lambda x: layers.Activation("sigmoid")(x)),
    "act_softmax": ((6,), lambda x: layers.Activation("softmax")(x)),
    "act_hard_silu": ((6,), lambda x: layers.Activation("hard_silu")(x)),
    "act_hard_sigmoid": ((6,), lambda x: layers.Activation("hard_sigmoid")(x)),
    "act_leaky": ((6,), lambda x: layers.Activation("leaky_relu")(x)),
    "act_linear": ((6,), lambda x: layers.Activation("linear")(layers.Dense(3)(x))),
    "relu_layer_standalone": ((4, 4, 2), lambda x: layers.ReLU()(x)),
    "relu_layer_2d": ((6,), lambda x: layers.ReLU(max_value=6.0)(x)),
    "relu_negative_slope": ((6,), lambda x: layers.ReLU(negative_slope=0.1)(x)),
    "leaky_relu": ((5, 5, 2), lambda x: layers.LeakyReLU(0.2)(layers.Conv2D(3, 3)(x))),
    "softmax_layer": ((3, 5), lambda x: layers.Softmax()(x)),
    "maxpool_same": ((7, 7, 2), lambda x: layers.MaxPooling2D(3, strides=2, padding="same")(x)),
    "avgpool_same": ((7, 7, 2), lambda x: layers.AveragePooling2D(3, strides=2, padding="same")(x)),
    "avgpool_valid": ((8, 8, 2), lambda x: layers.AveragePooling2D(2)(x)),
    "pool1d": ((10, 3), lambda x: layers.AveragePooling1D(2)(layers.MaxPooling1D(3, 1, padding="same")(x))),
    "gap": ((5, 6, 3), lambda x: layers.GlobalAveragePooling2D()(x)),
    "gap_keepdims": ((5, 6, 3), lambda x: layers.GlobalAveragePooling2D(keepdims=True)(x)),
    "gmp": ((5, 6, 3), lambda x: layers.GlobalMaxPooling2D()(x)),
    "gmp_keepdims": ((5, 6, 3), lambda x: layers.GlobalMaxPooling2D(keepdims=True)(x)),
    "gap1d_gmp1d": ((8, 3), lambda x: layers.Add()([layers.GlobalAveragePooling1D()(x),
                                                     layers.GlobalMaxPooling1D()(x)])),
    "add3": ((4, 4, 2), lambda x: layers.Add()([x, layers.Conv2D(2, 1)(x), layers.Conv2D(2, 1)(x)])),
    "multiply": ((4, 4, 2), lambda x: layers.Multiply()([x, layers.Conv2D(2, 1, activation="sigmoid")(x)])),
    "concat_channels": ((4, 4, 2), lambda x: layers.Concatenate()([x, layers.Conv2D(3, 1)(x)])),
    "concat_axis1": ((4, 4, 2), lambda x: layers.Concatenate(axis=1)([x, x])),
    "flatten_dense": ((4, 4, 2), lambda x: layers.Dense(3)(layers.Flatten()(x))),
    "reshape": ((4, 4, 2), lambda x: layers.Reshape((-1, 4))(x)),
    "zero_padding2d": ((4, 5, 2), lambda x: layers.ZeroPadding2D(((1, 2), (0, 1)))(x)),
    "zero_padding1d": ((6, 2), lambda x: layers.ZeroPadding1D(2)(x)),
    "rescaling_first": ((4, 4, 2), lambda x: layers.Conv2D(2, 1)(layers.Rescaling(1 / 127.5, -1)(x))),
    "rescaling_middle_per_channel": ((4, 4, 2), lambda x: layers.Rescaling([0.5, 2.0], [1.0, -1.0])(
        layers.Conv2D(2, 1)(x))),
    "dropout": ((6,), lambda x: layers.Dense(3)(layers.Dropout(0.5)(x))),
}


@pytest.mark.parametrize("case", sorted(LAYER_CASES))
def test_layer_matches_keras(case):
    shape, build = LAYER_CASES[case]
    model = _model(shape, build)
    _check(model)
    _check(model, optimize=False)


def test_every_translator_has_a_case():
    from mcc.frontend.keras_layers import supported_layers

    covered = {"Conv2D", "Conv1D", "DepthwiseConv2D", "DepthwiseConv1D", "SeparableConv2D", "Dense",
               "BatchNormalization", "Activation", "ReLU", "LeakyReLU", "Softmax", "MaxPooling2D",
               "AveragePooling2D", "MaxPooling1D", "AveragePooling1D", "GlobalAveragePooling2D",
               "GlobalAveragePooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling1D", "Add", "Multiply",
               "Concatenate", "Flatten", "Reshape", "ZeroPadding2D", "ZeroPadding1D", "Rescaling",
               "Dropout", "InputLayer"}
    assert covered <= set(supported_layers())


def test_bn_folds_into_conv_dense_depthwise():
    model = _model((6, 6, 3), lambda x: layers.Dense(4)(layers.Flatten()(layers.ReLU()(
        layers.BatchNormalization()(layers.DepthwiseConv2D(3)(layers.ReLU()(
            layers.BatchNormalization()(layers.Conv2D(4, 3, use_bias=False)(x)))))))))
    g = _check(model)
    assert [op.kind for op in g.ops] == ["CONV_2D", "DEPTHWISE_CONV_2D", "RESHAPE", "FULLY_CONNECTED"]
    assert [op.attrs.activation for op in g.ops if op.kind != "RESHAPE"] == ["RELU", "RELU", "NONE"]
    raw = load_keras(model, optimize=False)
    assert [op.kind for op in raw.ops].count("MUL") >= 2


def test_bn_folding_uses_layer_epsilon_and_stats():
    model = _model((5, 5, 2), lambda x: layers.BatchNormalization(epsilon=0.5)(layers.Conv2D(3, 3)(x)))
    bn = model.layers[-1]
    gamma, beta, mean, var = bn.get_weights()
    conv = model.layers[-2]
    w, b = conv.get_weights()
    g = load_keras(model)
    (op,) = g.ops
    m = gamma / np.sqrt(var + 0.5)
    np.testing.assert_allclose(g.tensors[op.inputs[1]].data, (w * m).transpose(3, 0, 1, 2), rtol=1e-6)
    np.testing.assert_allclose(g.tensors[op.inputs[2]].data, b * m + beta - mean * m, rtol=1e-5, atol=1e-6)


def test_bn_not_after_linear_stays_mul_add():
    g = _check(_model((6, 6, 3), lambda x: layers.BatchNormalization()(layers.MaxPooling2D(2)(x))))
    assert [op.kind for op in g.ops] == ["MAX_POOL_2D", "MUL", "ADD"]


def test_activation_after_conv_with_activation_is_not_refolded():
    g = _check(_model((5, 5, 2), lambda x: layers.BatchNormalization()(layers.Conv2D(3, 3, activation="relu")(x))))
    assert [op.kind for op in g.ops] == ["CONV_2D", "MUL", "ADD"]


def test_relu_fusion_and_standalone_relu():
    g = _check(_model((4, 4, 2), lambda x: layers.ReLU()(layers.Add()([x, layers.Conv2D(2, 1)(x)]))))
    assert [op.kind for op in g.ops] == ["CONV_2D", "ADD"] and g.ops[1].attrs.activation == "RELU"
    g = _check(_model((4, 4, 2), lambda x: layers.ReLU()(layers.Concatenate()([x, x]))))
    assert [op.kind for op in g.ops] == ["CONCATENATION", "MAX_POOL_2D"]
    g = _check(_model((4, 4, 2), lambda x: layers.ReLU(6.0)(layers.ReLU()(layers.Conv2D(2, 1)(x)))))
    assert [(op.kind, op.attrs.activation) for op in g.ops] == [("CONV_2D", "RELU6")]


def test_conv1d_chain_has_no_reshape_pairs():
    g = _check(_model((16, 3), lambda x: layers.Conv1D(4, 3, activation="relu")(layers.Conv1D(4, 3)(x))))
    assert [op.kind for op in g.ops] == ["RESHAPE", "CONV_2D", "CONV_2D", "RESHAPE"]


def test_sequential_and_nested_models():
    seq = _randomize(keras.Sequential([keras.Input((6, 6, 2)), layers.Conv2D(3, 3), layers.ReLU(),
                                       layers.Flatten(), layers.Dense(4)]))
    _check(seq)
    inner = _randomize(keras.Sequential([keras.Input((6,)), layers.Dense(5, activation="relu")]), 3)
    inp = keras.Input((6,))
    outer = keras.Model(inp, layers.Dense(2)(inner(inp)))
    _randomize(outer, 4)
    _check(outer)
    twice = keras.Model(inp, layers.Add()([inner(inp), inner(layers.Dense(6)(inp))]))  # shared sub-model
    _randomize(twice, 5)
    g = _check(twice)
    assert [op.kind for op in g.ops].count("FULLY_CONNECTED") == 3


def test_subclass_of_a_registered_layer_uses_its_base():
    class MyConv(layers.Conv2D):
        pass

    _check(_model((5, 5, 2), lambda x: MyConv(3, 3)(x)))


@pytest.mark.parametrize("name", sorted(MLPERF_H5))
def test_mlperf_h5_matches_keras(name):
    path, shape, hi = MLPERF_H5[name]
    model = read_model(path)
    g = _check(model, shape, n=8, lo=0.0, hi=hi)
    assert "MUL" not in [op.kind for op in g.ops]
    # softmax hides small differences: compare the logits too
    dense = model.layers[-1]
    cut = keras.Model(model.inputs, dense.input)
    w, b = dense.get_weights()
    logits = np.asarray(cut(np.full((1,) + shape, hi / 2, np.float32))) @ w + b
    gl = load_keras(model, optimize=False)
    fc = [op for op in gl.ops if op.kind == "FULLY_CONNECTED"][-1]
    env = float_interp.run(gl, [np.full((1,) + shape, hi / 2, np.float32)], keep_all=True)
    np.testing.assert_allclose(env[fc.outputs[0]], logits, rtol=1e-5, atol=1e-4)


def test_legacy_groups_shim():
    path = MLPERF_H5["sww"][0]
    with pytest.raises(Exception, match="groups"):
        keras.saving.load_model(path, compile=False)  # why the shim exists
    model = read_model(path)
    dws = [layer for layer in model.layers if isinstance(layer, layers.DepthwiseConv2D)]
    assert len(dws) == 4 and all(type(d) is legacy_objects()["DepthwiseConv2D"] for d in dws)
    with pytest.raises(ValueError, match="groups=2"):
        legacy_objects()["DepthwiseConv2D"](3, groups=2)


def test_dscnn_savedmodel_matches_tensorflow():
    tf = pytest.importorskip("tensorflow")
    g = load_keras(DSCNN_SAVEDMODEL)
    assert [op.kind for op in g.ops].count("DEPTHWISE_CONV_2D") == 4
    x = np.random.default_rng(0).uniform(-30, 30, (4, 49, 10, 1)).astype(np.float32)
    graph = tf.Graph()  # TF1-style loading: tf.saved_model.load chokes on the optimizer slots
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as sess:
        sig = tf.compat.v1.saved_model.loader.load(sess, ["serve"], str(DSCNN_SAVEDMODEL)) \
            .signature_def["serving_default"]
        (i,), (o,) = sig.inputs.values(), sig.outputs.values()
        y_tf = sess.run(o.name, {i.name: x})
    np.testing.assert_allclose(float_interp.run(g, [x])[0], y_tf, atol=2e-5)


def test_keras_file_roundtrip(tmp_path):
    model = _model((6, 6, 2), LAYER_CASES["separable"][1])
    model.save(tmp_path / "m.keras")
    g = load_keras(tmp_path / "m.keras")
    x = np.random.default_rng(0).uniform(-1, 1, (2, 6, 6, 2)).astype(np.float32)
    np.testing.assert_allclose(float_interp.run(g, [x])[0], np.asarray(model(x)), atol=2e-5)


def test_user_model_is_not_modified():
    model = _model((6, 6, 3), lambda x: layers.Dense(3)(layers.Flatten()(layers.ReLU()(
        layers.BatchNormalization()(layers.Conv2D(4, 3)(x))))))
    before = [w.copy() for w in model.get_weights()]
    x = np.ones((1, 6, 6, 3), np.float32)
    y0 = np.asarray(model(x))
    g = load_keras(model)
    for k in list(g.tensors):  # IR constants are read-only copies
        t = g.tensors[k]
        if t.is_const:
            assert not t.data.flags.writeable
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(y0, np.asarray(model(x)))


# --- errors ------------------------------------------------------------------------------------


def _err(exc, match, model_or_path):
    with pytest.raises(exc, match=match) as info:
        load_keras(model_or_path)
    assert isinstance(info.value, MccError) and "\n" not in str(info.value)


def test_unsupported_layer_names_type_and_supported_list():
    model = _model((6, 6, 2), lambda x: layers.Conv2DTranspose(2, 3)(x))
    _err(UnsupportedOperatorError, r"Conv2DTranspose.*supported layers: .*Conv2D.*Dense", model)


def test_unsupported_activation():
    _err(UnsupportedOperatorError, r"activation 'elu' is not supported; supported activations: .*relu",
         _model((6,), lambda x: layers.Dense(3, activation="elu")(x)))
    _err(UnsupportedOperatorError, r"activation", _model((6,), lambda x: layers.Activation(lambda v: v * 2)(x)))


def test_unsupported_layer_options():
    _err(UnsupportedOperatorError, "grouped convolution",
         _model((5, 5, 4), lambda x: layers.Conv2D(4, 3, groups=2)(x)))
    _err(UnsupportedOperatorError, "threshold",
         _model((6,), lambda x: layers.ReLU(threshold=0.5)(x)))
    _err(UnsupportedOperatorError, "axis", _model((3, 4), lambda x: layers.Softmax(axis=1)(x)))


def test_several_inputs_or_outputs():
    a, b = keras.Input((4,)), keras.Input((4,))
    _err(ModelFormatError, "2 inputs; mcc supports exactly one", keras.Model([a, b], layers.Add()([a, b])))
    x = keras.Input((4,))
    _err(ModelFormatError, "2 outputs", keras.Model(x, [layers.Dense(2)(x), layers.Dense(3)(x)]))


def test_dynamic_shape():
    x = keras.Input((None, 3))
    _err(ModelFormatError, "dynamic shape", keras.Model(x, layers.Dense(2)(x)))


def test_nan_weights():
    model = _model((4,), lambda x: layers.Dense(2)(x))
    w, b = model.layers[-1].get_weights()
    w[0, 0] = np.nan
    model.layers[-1].set_weights([w, b])
    _err(ModelFormatError, "NaN", model)


def test_bad_files(tmp_path):
    _err(ModelFormatError, "no such file", tmp_path / "missing.h5")
    (tmp_path / "bad.h5").write_bytes(b"not hdf5 at all")
    _err(ModelFormatError, "cannot load the Keras model", tmp_path / "bad.h5")
    (tmp_path / "m.txt").write_text("x")
    _err(ModelFormatError, "not a Keras model", tmp_path / "m.txt")
    (tmp_path / "dir").mkdir()
    _err(ModelFormatError, "without saved_model.pb", tmp_path / "dir")


def test_not_a_model():
    with pytest.raises(ModelFormatError, match="not a keras.Model"):
        keras_to_ir(object())

    class Sub(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = layers.Dense(3)

        def call(self, x):
            return self.d(x)

    sub = Sub()
    sub(np.ones((1, 4), np.float32))
    _err(ModelFormatError, "subclassed keras.Model", sub)
    _err(ModelFormatError, "not built", keras.Sequential([layers.Dense(3)]))
