"""Reference kernels against direct loop transcriptions of the TFLM kernels, lowering hand cases,
and the interpreter on a hand-built graph. (Bit-exactness against TFLM itself:
test_reference_vs_tflm.py.)"""

import numpy as np
import pytest

from mcc.errors import InputDataError, UnsupportedOperatorError
from mcc.ir import (ConcatAttrs, Conv2DAttrs, ElementwiseAttrs, FullyConnectedAttrs, Graph,
                    MeanAttrs, NoAttrs, Op, PadAttrs, QuantParams, ReshapeAttrs, SoftmaxAttrs,
                    Tensor, verify)
from mcc.lower import params as P
from mcc.lower.lowering import activation_range, conv_padding, lower_op
from mcc.lower.scratch import scratch_for
from mcc.codegen.select import select_kernel
from mcc.reference import interp
from mcc.reference import kernels as K
from mcc.reference.fixed_point import requantize

RNG_SEEDS = range(12)


def q(scale, zp=0):
    return QuantParams((float(np.float32(scale)),), (zp,))


def rq(acc, m, s):
    return int(requantize(acc, m, s))


def _requant_params(rng, channels):
    return dict(multiplier=rng.integers(1 << 30, 1 << 31, channels).astype(np.int32),
                shift=rng.integers(-12, 2, channels).astype(np.int32),
                input_offset=int(rng.integers(-127, 129)), output_offset=int(rng.integers(-128, 128)),
                act_min=int(rng.integers(-128, -20)), act_max=int(rng.integers(20, 128)))


def _spatial(rng, depthwise=False):
    while True:
        n, h, w, c = (int(v) for v in (rng.integers(1, 3), rng.integers(1, 9), rng.integers(1, 9),
                                        rng.integers(1, 5)))
        fh, fw, sh, sw, dh, dw = (int(v) for v in rng.integers(1, 4, 6))
        dh, dw = min(dh, 2), min(dw, 2)
        padding = ["SAME", "VALID"][int(rng.integers(2))]
        oh, ph = conv_padding(padding, h, fh, sh, dh)
        ow, pw = conv_padding(padding, w, fw, sw, dw)
        if oh > 0 and ow > 0:
            return dict(input_n=n, input_h=h, input_w=w, input_c=c, filter_h=fh, filter_w=fw,
                        output_h=oh, output_w=ow, stride_h=sh, stride_w=sw, dilation_h=dh,
                        dilation_w=dw, pad_h=ph, pad_w=pw)


def _naive_window_conv(p, x, w, b, depthwise):
    out = np.zeros((p.input_n, p.output_h, p.output_w, p.output_c), dtype=np.int8)
    for n in range(p.input_n):
        for oy in range(p.output_h):
            for ox in range(p.output_w):
                for oc in range(p.output_c):
                    acc = 0
                    for fy in range(p.filter_h):
                        iy = oy * p.stride_h - p.pad_h + p.dilation_h * fy
                        for fx in range(p.filter_w):
                            ix = ox * p.stride_w - p.pad_w + p.dilation_w * fx
                            if not (0 <= iy < p.input_h and 0 <= ix < p.input_w):
                                continue
                            if depthwise:
                                ic = oc // p.depth_multiplier
                                acc += int(w[0, fy, fx, oc]) * (int(x[n, iy, ix, ic]) + p.input_offset)
                            else:
                                for ic in range(p.input_c):
                                    acc += int(w[oc, fy, fx, ic]) * (int(x[n, iy, ix, ic]) + p.input_offset)
                    if b is not None:
                        acc += int(b[oc])
                    v = rq(acc, p.multiplier[oc], p.shift[oc]) + p.output_offset
                    out[n, oy, ox, oc] = min(max(v, p.act_min), p.act_max)
    return out


@pytest.mark.parametrize("seed", RNG_SEEDS)
def test_conv_matches_loops(seed):
    rng = np.random.default_rng(seed)
    sp = _spatial(rng)
    oc = int(rng.integers(1, 5))
    p = P.ConvParams(**sp, output_c=oc, **_requant_params(rng, oc))
    x = rng.integers(-128, 128, (p.input_n, p.input_h, p.input_w, p.input_c)).astype(np.int8)
    w = rng.integers(-127, 128, (oc, p.filter_h, p.filter_w, p.input_c)).astype(np.int8)
    b = rng.integers(-5000, 5000, oc).astype(np.int32) if seed % 3 else None
    np.testing.assert_array_equal(K.conv_s8(p, x, w, b), _naive_window_conv(p, x, w, b, False))


@pytest.mark.parametrize("seed", RNG_SEEDS)
def test_depthwise_matches_loops(seed):
    rng = np.random.default_rng(seed)
    sp = _spatial(rng)
    dm = int(rng.integers(1, 4))
    oc = sp["input_c"] * dm
    p = P.DepthwiseConvParams(**sp, output_c=oc, depth_multiplier=dm, **_requant_params(rng, oc))
    x = rng.integers(-128, 128, (p.input_n, p.input_h, p.input_w, p.input_c)).astype(np.int8)
    w = rng.integers(-127, 128, (1, p.filter_h, p.filter_w, oc)).astype(np.int8)
    b = rng.integers(-5000, 5000, oc).astype(np.int32) if seed % 3 else None
    np.testing.assert_array_equal(K.depthwise_conv_s8(p, x, w, b),
                                  _naive_window_conv(p, x, w, b, True))


@pytest.mark.parametrize("seed", RNG_SEEDS)
def test_fully_connected_matches_loops(seed):
    rng = np.random.default_rng(seed)
    batches, depth, outs = (int(v) for v in rng.integers(1, 9, 3))
    per_channel = seed % 2
    r = _requant_params(rng, outs if per_channel else 1)
    p = P.FullyConnectedParams(batches=batches, accum_depth=depth, output_size=outs,
                               filter_offset=0, per_channel=per_channel, **r)
    x = rng.integers(-128, 128, (batches, depth)).astype(np.int8)
    w = rng.integers(-127, 128, (outs, depth)).astype(np.int8)
    b = rng.integers(-5000, 5000, outs).astype(np.int32)
    want = np.zeros((batches, outs), dtype=np.int8)
    for i in range(batches):
        for o in range(outs):
            acc = sum(int(w[o, d]) * (int(x[i, d]) + p.input_offset) for d in range(depth)) + int(b[o])
            c = o if per_channel else 0
            v = rq(acc, p.multiplier[c], p.shift[c]) + p.output_offset
            want[i, o] = min(max(v, p.act_min), p.act_max)
    np.testing.assert_array_equal(K.fully_connected_s8(p, x, w, b), want)


@pytest.mark.parametrize("seed", RNG_SEEDS)
def test_pools_match_loops(seed):
    rng = np.random.default_rng(seed)
    sp = _spatial(rng)
    keep = ("input_n", "input_h", "input_w", "output_h", "output_w", "filter_h", "filter_w",
            "stride_h", "stride_w", "pad_h", "pad_w")
    sp.update(dilation_h=1, dilation_w=1)
    sp["output_h"], sp["pad_h"] = conv_padding("SAME", sp["input_h"], sp["filter_h"], sp["stride_h"])
    sp["output_w"], sp["pad_w"] = conv_padding("SAME", sp["input_w"], sp["filter_w"], sp["stride_w"])
    p = P.PoolParams(**{k: sp[k] for k in keep}, channels=sp["input_c"], act_min=-100, act_max=120)
    x = rng.integers(-128, 128, (p.input_n, p.input_h, p.input_w, p.channels)).astype(np.int8)
    want_avg = np.zeros((p.input_n, p.output_h, p.output_w, p.channels), dtype=np.int8)
    want_max = np.zeros_like(want_avg)
    for n in range(p.input_n):
        for oy in range(p.output_h):
            for ox in range(p.output_w):
                y0, x0 = oy * p.stride_h - p.pad_h, ox * p.stride_w - p.pad_w
                win = x[n, max(y0, 0):min(y0 + p.filter_h, p.input_h),
                        max(x0, 0):min(x0 + p.filter_w, p.input_w)].astype(int).reshape(-1, p.channels)
                for c in range(p.channels):
                    acc, cnt = int(win[:, c].sum()), win.shape[0]
                    avg = int((acc + cnt // 2) / cnt) if acc > 0 else int((acc - cnt // 2) / cnt)
                    want_avg[n, oy, ox, c] = min(max(avg, -100), 120)
                    want_max[n, oy, ox, c] = min(max(int(win[:, c].max()), -100), 120)
    np.testing.assert_array_equal(K.avg_pool_s8(p, x), want_avg)
    np.testing.assert_array_equal(K.max_pool_s8(p, x), want_max)


def test_avg_pool_rounds_half_away_from_zero():
    p = P.PoolParams(input_n=1, input_h=2, input_w=2, channels=3, output_h=1, output_w=1,
                     filter_h=2, filter_w=2, stride_h=1, stride_w=1, pad_h=0, pad_w=0,
                     act_min=-128, act_max=127)
    x = np.array([[1, -1, -1], [2, -2, -1], [2, -2, 0], [2, -2, 0]], np.int8).reshape(1, 2, 2, 3)
    assert K.avg_pool_s8(p, x).ravel().tolist() == [2, -2, -1]  # 1.75, -1.75, -0.5


def _elementwise_graph(kind, shape1, shape2, out_shape, scales, zps, activation="NONE"):
    t = {n: Tensor(n, s, "int8", q(sc, z)) for n, s, sc, z in
         zip("aby", (shape1, shape2, out_shape), scales, zps)}
    op = Op(kind, ("a", "b"), ("y",), ElementwiseAttrs(activation))
    return verify(Graph(t, (op,), ("a", "b"), ("y",))), op


@pytest.mark.parametrize("shapes", [
    ((2, 3, 4, 5), (2, 3, 4, 5), (2, 3, 4, 5)), ((2, 3, 4, 5), (5,), (2, 3, 4, 5)),
    ((1, 3, 1, 5), (2, 1, 4, 1), (2, 3, 4, 5)), ((4, 1), (3, 1, 5), (3, 4, 5)), ((), (3, 2), (3, 2)),
])
@pytest.mark.parametrize("kind", ["ADD", "MUL"])
def test_elementwise_broadcast_matches_formula(kind, shapes):
    rng = np.random.default_rng(len(str(shapes)))
    g, op = _elementwise_graph(kind, *shapes, scales=(0.05, 0.11, 0.13), zps=(-3, 7, 2),
                               activation="RELU")
    p = lower_op(g, op)
    a = rng.integers(-128, 128, shapes[0]).astype(np.int8)
    b = rng.integers(-128, 128, shapes[1]).astype(np.int8)
    av, bv = np.broadcast_arrays(a.astype(np.int64), b.astype(np.int64))
    want = []
    for u, v in zip(av.ravel(), bv.ravel()):
        u, v = int(u) + p.input1_offset, int(v) + p.input2_offset
        if kind == "ADD":
            u = rq(u << p.left_shift, p.input1_multiplier, p.input1_shift)
            v = rq(v << p.left_shift, p.input2_multiplier, p.input2_shift)
            raw = rq(u + v, p.output_multiplier, p.output_shift)
        else:
            raw = rq(u * v, p.output_multiplier, p.output_shift)
        want.append(min(max(raw + p.output_offset, p.act_min), p.act_max))
    fn = K.add_s8 if kind == "ADD" else K.mul_s8
    assert fn(p, a, b).ravel().tolist() == want


def test_add_lowering_hand_case():
    g, op = _elementwise_graph("ADD", (4,), (4,), (4,), scales=(0.5, 0.25, 1.0), zps=(1, 2, 3))
    p = lower_op(g, op)
    assert (p.input1_multiplier, p.input1_shift) == (1 << 30, 0)      # 0.5 / (2 * 0.5)
    assert (p.input2_multiplier, p.input2_shift) == (1 << 30, -1)     # 0.25 / 1.0
    assert (p.output_multiplier, p.output_shift) == (1 << 30, -19)    # 1.0 / 2^20
    assert (p.input1_offset, p.input2_offset, p.output_offset, p.left_shift) == (-1, -2, 3, 20)


def _unary_graph(kind, attrs, x_shape, y_shape, xq, yq, x_dtype="int8", y_dtype="int8"):
    t = {"x": Tensor("x", x_shape, x_dtype, xq), "y": Tensor("y", y_shape, y_dtype, yq)}
    op = Op(kind, ("x",), ("y",), attrs)
    return verify(Graph(t, (op,), ("x",), ("y",))), op


def test_softmax_lowering_and_kernel():
    g, op = _unary_graph("SOFTMAX", SoftmaxAttrs(1.0), (3, 4), (3, 4), q(1 / 16), q(1 / 256, -128))
    p = lower_op(g, op)
    assert (p.input_multiplier, p.input_left_shift, p.diff_min) == (1 << 30, 23, -248)
    x = np.array([[5, 5, 5, 5], [127, -128, -128, -128], [0, 16, 32, 48]], np.int8)
    out = K.softmax_s8(p, x).astype(int)
    assert out[0].tolist() == [-64] * 4 and out[1].tolist() == [127, -128, -128, -128]
    probs = np.exp(np.arange(4) - 3.0) / np.exp(np.arange(4) - 3.0).sum()
    assert np.all(np.abs(out[2] - (probs * 256 - 128)) <= 1)


def test_logistic_lowering_and_kernel():
    g, op = _unary_graph("LOGISTIC", NoAttrs(), (8,), (8,), q(1 / 16, 3), q(1 / 256, -128))
    p = lower_op(g, op)
    assert (p.input_multiplier, p.input_left_shift, p.input_range_radius) == (1 << 30, 24, 120)
    x = np.array([3, -128, 127, 19, -13, 3 + 119, 3 - 119, 0], np.int8)
    out = K.logistic_s8(p, x).astype(int)
    want = 256 / (1 + np.exp(-(x.astype(float) - 3) / 16)) - 128
    assert out[0] == 0 and out[1] == -128 and out[2] == 127
    assert np.all(np.abs(out - want) <= 1)


def test_mean_lowering_folds_the_count():
    g, op = _unary_graph("MEAN", MeanAttrs((1,), False), (2, 6, 3), (2, 3), q(0.1, 4), q(0.1, -2))
    p = lower_op(g, op)
    assert (p.outer, p.reduce, p.inner) == (2, 6, 3)
    assert (p.multiplier, p.shift) == (((1 << 30) << 2) // 6, 1 - 2)
    x = np.arange(-18, 18).reshape(2, 6, 3).astype(np.int8)
    want = np.round((x.astype(float) - 4).mean(axis=1)) - 2
    assert np.all(np.abs(K.mean_s8(p, x) - want) <= 1)


def test_mean_rejects_split_axes():
    g, op = _unary_graph("MEAN", MeanAttrs((0, 2), False), (2, 6, 3), (6,), q(0.1), q(0.1))
    with pytest.raises(UnsupportedOperatorError, match="contiguous"):
        lower_op(g, op)


def test_pad_concat_quantize_dequantize():
    g, op = _unary_graph("PAD", PadAttrs(((0, 0), (1, 2), (0, 1))), (1, 2, 2), (1, 5, 3),
                         q(0.5, -7), q(0.5, -7))
    p = lower_op(g, op)
    x = np.array([[[1, 2], [3, 4]]], np.int8)
    np.testing.assert_array_equal(K.pad_s8(p, x).reshape(1, 5, 3),
                                  np.pad(x, ((0, 0), (1, 2), (0, 1)), constant_values=-7))
    cp = P.ConcatParams(outer=2, copy_sizes=(3, 1), element_size=1)
    a, b = np.arange(6).reshape(2, 3), np.array([[9], [8]])
    np.testing.assert_array_equal(K.concat(cp, [a, b]), [[0, 1, 2, 9], [3, 4, 5, 8]])
    qp = P.QuantizeParams(size=6, scale=0.5, zero_point=-1, qmin=-128, qmax=127)
    x = np.array([0.25, -0.25, 0.75, -0.75, 100.0, -1e9], np.float32)
    assert K.quantize_f32(qp, x).tolist() == [0, -2, 1, -3, 127, -128]  # ties away from zero
    dp = P.DequantizeParams(size=3, scale=0.1, zero_point=5)
    out = K.dequantize_f32(dp, np.array([5, 6, -128], np.int8))
    assert out.dtype == np.float32
    assert out.tolist() == [0.0, float(np.float32(0.1)), float(np.float32(0.1) * np.float32(-133))]
    rp = P.RequantizeParams(size=2, input_offset=3, output_offset=-5, multiplier=1 << 30, shift=0,
                            qmin=-128, qmax=127)
    assert K.requantize_s8(rp, np.array([-3, 127], np.int8)).tolist() == [-5, 60]


def test_activation_range():
    yq = q(0.05, -10)
    assert activation_range("NONE", yq, "int8") == (-128, 127)
    assert activation_range("RELU", yq, "int8") == (-10, 127)
    assert activation_range("RELU6", yq, "int8") == (-10, 110)
    assert activation_range("RELU_N1_TO_1", yq, "int8") == (-30, 10)
    assert activation_range("RELU6", q(4.0, 0), "int8") == (0, 2)          # 1.5 rounds up
    assert activation_range("RELU_N1_TO_1", q(0.4, 1), "int8") == (-2, 4)  # +-2.5 away from zero
    assert activation_range("RELU6", q(0.001, 100), "int8") == (100, 127)
    assert activation_range("RELU", q(0.1, 5), "int16") == (5, 32767)


@pytest.mark.parametrize("args, want", [
    (("SAME", 10, 3, 2), (5, 0)), (("SAME", 10, 4, 1), (10, 1)), (("VALID", 10, 3, 2, 2), (3, 0)),
    (("SAME", 7, 3, 1, 3), (7, 3)), (("VALID", 2, 3, 1), (0, 0)), (("SAME", 1, 5, 1), (1, 2)),
])
def test_conv_padding(args, want):
    assert conv_padding(*args) == want


def _small_model() -> Graph:
    rng = np.random.default_rng(7)
    t = [Tensor("x", (1, 4, 4, 2), "int8", q(0.1, 3)),
         Tensor("w", (2, 3, 3, 2), "int8", QuantParams((0.02, 0.03), (0, 0), axis=0),
                rng.integers(-127, 128, (2, 3, 3, 2)).astype(np.int8)),
         Tensor("b", (2,), "int32", None, rng.integers(-100, 100, 2).astype(np.int32)),
         Tensor("c", (1, 4, 4, 2), "int8", q(0.2, -5)),
         Tensor("r", (1, 32), "int8", q(0.2, -5)),
         Tensor("fw", (3, 32), "int8", q(0.01), rng.integers(-127, 128, (3, 32)).astype(np.int8)),
         Tensor("f", (1, 3), "int8", q(0.3, 1)),
         Tensor("y", (1, 3), "int8", q(1 / 256, -128))]
    ops = (Op("CONV_2D", ("x", "w", "b"), ("c",), Conv2DAttrs(padding="SAME", activation="RELU")),
           Op("RESHAPE", ("c",), ("r",), ReshapeAttrs((1, 32))),
           Op("FULLY_CONNECTED", ("r", "fw", None), ("f",), FullyConnectedAttrs()),
           Op("SOFTMAX", ("f",), ("y",), SoftmaxAttrs(1.0)))
    return verify(Graph({x.name: x for x in t}, ops, ("x",), ("y",)))


def test_interp_runs_kernels_in_order():
    g = _small_model()
    x = np.random.default_rng(1).integers(-128, 128, (1, 4, 4, 2)).astype(np.int8)
    env = interp.run(g, [x], keep_all=True)
    assert sorted(env) == ["c", "f", "r", "x", "y"]
    c = K.conv_s8(lower_op(g, g.ops[0]), x, g.tensors["w"].data, g.tensors["b"].data)
    np.testing.assert_array_equal(env["c"], c)
    f = K.fully_connected_s8(lower_op(g, g.ops[2]), c.reshape(1, 32), g.tensors["fw"].data, None)
    np.testing.assert_array_equal(env["f"], f)
    (y,) = interp.run(g, [x.ravel()])
    assert y.dtype == np.int8 and y.shape == (1, 3)
    np.testing.assert_array_equal(y, env["y"])


def test_interp_errors():
    g = _small_model()
    with pytest.raises(InputDataError, match="1 inputs, got 2"):
        interp.run(g, [np.zeros((1, 4, 4, 2), np.int8)] * 2)
    with pytest.raises(InputDataError, match="int8"):
        interp.run(g, [np.zeros((1, 4, 4, 2), np.float32)])
    bad = g.replace(ops=g.ops[:2] + (Op("EXP", ("r",), ("f",), NoAttrs()),))
    with pytest.raises(UnsupportedOperatorError, match="EXP"):
        interp.run(bad, [np.zeros((1, 4, 4, 2), np.int8)])


def test_lower_every_kind_and_scratch():
    g = _small_model()
    records = [lower_op(g, op) for op in g.ops if op.kind != "RESHAPE"]
    assert [type(r) for r in records] == [P.ConvParams, P.FullyConnectedParams, P.SoftmaxParams]
    assert all(scratch_for(select_kernel(k, r, False)[0], r, False) == 0
               for k, r in zip(("CONV_2D", "FULLY_CONNECTED", "SOFTMAX"), records))
    conv = records[0]
    assert conv.multiplier.dtype == np.int32 and conv.multiplier.shape == (2,)
    assert (conv.output_h, conv.output_w, conv.pad_h, conv.pad_w) == (4, 4, 1, 1)
    assert (conv.input_offset, conv.output_offset, conv.act_min) == (-3, -5, -5)
    fc = records[1]
    assert fc.per_channel == 0 and fc.multiplier.shape == (1,)
    with pytest.raises(UnsupportedOperatorError, match="RESHAPE"):
        lower_op(g, g.ops[1])


def test_concat_lowering_checks_quantization():
    t = {"a": Tensor("a", (2, 3), "int8", q(0.1, 1)), "b": Tensor("b", (2, 1), "int8", q(0.1, 1)),
         "y": Tensor("y", (2, 4), "int8", q(0.1, 1))}
    op = Op("CONCATENATION", ("a", "b"), ("y",), ConcatAttrs(axis=-1))
    g = verify(Graph(t, (op,), ("a", "b"), ("y",)))
    assert lower_op(g, op) == P.ConcatParams(outer=2, copy_sizes=(3, 1), element_size=1)
    t["b"] = Tensor("b", (2, 1), "int8", q(0.2, 1))
    with pytest.raises(UnsupportedOperatorError, match="quantization"):
        lower_op(g.replace(tensors=t), op)


def test_registries_cover_every_kind_and_record():
    from dataclasses import is_dataclass

    from mcc.ir import ATTRS_BY_KIND
    from mcc.codegen.calls import KERNELS
    from mcc.lower.lowering import LOWERINGS
    assert set(LOWERINGS) == set(ATTRS_BY_KIND) - {"RESHAPE"}
    records = {c for c in vars(P).values() if is_dataclass(c) and c is not P.BroadcastShape}
    from mcc.codegen.calls16 import KERNELS16  # 16x8 records
    from mcc.codegen import hybrid  # float / hybrid (PTQ dynamic) records
    from mcc.lower.sparse_layers import SparseConvParams, SparseFullyConnectedParams  # subclasses kept apart
    hybrid_records = set(hybrid._WEIGHTED) | set(hybrid._OTHERS) | {t for _, t in hybrid._BY_KIND}
    covered = set(KERNELS) | set(KERNELS16) | hybrid_records | {P.PoolParams, P.PoolS16Params}
    assert covered - {SparseConvParams, SparseFullyConnectedParams} == records  # every record has a C kernel
