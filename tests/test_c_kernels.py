"""C kernels (firmware/) == numpy reference kernels (mcc.reference.kernels), bit for bit.

Random cases cover odd channel counts, strides 1..3, SAME / VALID / arbitrary padding, dilation,
depth multipliers 1..3, broadcast ADD / MUL, per-tensor and per-channel FULLY_CONNECTED, and
multipliers built with ``quantize_multiplier`` from random real scales. Also here: the C struct
layout equals the ctypes mirror of ``mcc.lower.params``, the kernels compile warning-free
(gcc and, when installed, arm-none-eabi-gcc), and a standalone driver with every kernel runs
clean under ASan + UBSan and still matches the reference.
"""

from __future__ import annotations

import ctypes
import dataclasses
import math
import os
import re

import subprocess
import typing

import numpy as np
import pytest

import ckernels as ck
from mcc.lower import params as P
from mcc.lower.lowering import conv_padding
from mcc.lower.scratch import scratch_for
from mcc.reference import kernels as ref
from mcc.reference.fixed_point import frexp_q31, quantize_multiplier, quantize_multipliers, wrap_int32

CFLAGS_STRICT = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"]
SEEDS = range(40)


# --- random parameters ------------------------------------------------------------------------


def _loguniform(rng, lo, hi, size=None):
    return np.exp(rng.uniform(math.log(lo), math.log(hi), size))


def _multipliers(rng, n, lo=2.0 ** -14, hi=2.0):
    """Per-channel (multiplier, shift) from random real scales; sometimes one above 1."""
    return quantize_multipliers(_loguniform(rng, lo, hi, n))


def _zp(rng) -> int:
    return int(rng.integers(-128, 128))


def _act_range(rng, zp_out: int) -> tuple[int, int]:
    kind = rng.integers(0, 4)
    if kind == 0:
        return -128, 127
    if kind == 1:  # RELU-like
        return max(-128, zp_out), 127
    lo = int(rng.integers(-128, 100))
    return lo, int(rng.integers(lo, 128))


def _s8(rng, shape) -> np.ndarray:
    return rng.integers(-128, 128, shape).astype(np.int8)


def _bias(rng, n):
    return None if rng.random() < 0.2 else rng.integers(-(1 << 16), 1 << 16, n).astype(np.int32)


def _window(rng, size: int, filt: int, dilation: int = 1):
    """(stride, output size, pad before) with SAME, VALID or explicit padding; None if empty."""
    stride = int(rng.integers(1, 4))
    mode = rng.integers(0, 3)
    if mode < 2:
        out, pad = conv_padding("SAME" if mode == 0 else "VALID", size, filt, stride, dilation)
    else:
        eff = (filt - 1) * dilation + 1
        pad = int(rng.integers(0, eff))
        after = int(rng.integers(0, eff))
        total = size + pad + after
        out = (total - eff) // stride + 1 if total >= eff else 0
    return (stride, out, pad) if out > 0 else None


def conv_case(rng):
    while True:
        n, h, w = int(rng.integers(1, 3)), int(rng.integers(1, 12)), int(rng.integers(1, 12))
        cin = int(rng.choice([1, 2, 3, 4, 5, 7, 8, 16, 17]))
        cout = int(rng.integers(1, 13))
        fh, fw = int(rng.integers(1, 6)), int(rng.integers(1, 6))
        dh, dw = int(rng.choice([1, 1, 2, 3])), int(rng.choice([1, 1, 2]))
        wy, wx = _window(rng, h, fh, dh), _window(rng, w, fw, dw)
        if wy and wx:
            break
    zp_out = _zp(rng)
    act_min, act_max = _act_range(rng, zp_out)
    mult, shift = _multipliers(rng, cout)
    p = P.ConvParams(
        input_n=n, input_h=h, input_w=w, input_c=cin, filter_h=fh, filter_w=fw,
        output_h=wy[1], output_w=wx[1], output_c=cout, stride_h=wy[0], stride_w=wx[0],
        dilation_h=dh, dilation_w=dw, pad_h=wy[2], pad_w=wx[2], input_offset=-_zp(rng),
        output_offset=zp_out, act_min=act_min, act_max=act_max, multiplier=mult, shift=shift)
    x = _s8(rng, (n, h, w, cin))
    wt = rng.integers(-127, 128, (cout, fh, fw, cin)).astype(np.int8)
    return p, (x, wt, _bias(rng, cout))


def depthwise_case(rng):
    while True:
        n, h, w = int(rng.integers(1, 3)), int(rng.integers(1, 14)), int(rng.integers(1, 14))
        cin = int(rng.choice([1, 2, 3, 5, 8, 13, 33, 40]))
        dm = int(rng.integers(1, 4))
        fh, fw = int(rng.integers(1, 6)), int(rng.integers(1, 6))
        dh, dw = int(rng.choice([1, 1, 2])), int(rng.choice([1, 1, 2, 3]))
        wy, wx = _window(rng, h, fh, dh), _window(rng, w, fw, dw)
        if wy and wx:
            break
    cout = cin * dm
    zp_out = _zp(rng)
    act_min, act_max = _act_range(rng, zp_out)
    mult, shift = _multipliers(rng, cout)
    p = P.DepthwiseConvParams(
        input_n=n, input_h=h, input_w=w, input_c=cin, filter_h=fh, filter_w=fw,
        output_h=wy[1], output_w=wx[1], output_c=cout, depth_multiplier=dm, stride_h=wy[0],
        stride_w=wx[0], dilation_h=dh, dilation_w=dw, pad_h=wy[2], pad_w=wx[2],
        input_offset=-_zp(rng), output_offset=zp_out, act_min=act_min, act_max=act_max,
        multiplier=mult, shift=shift)
    x = _s8(rng, (n, h, w, cin))
    wt = rng.integers(-127, 128, (1, fh, fw, cout)).astype(np.int8)
    return p, (x, wt, _bias(rng, cout))


def fc_case(rng):
    batches = int(rng.integers(1, 5))
    depth = int(rng.choice([1, 3, 8, 17, 64, 250]))
    out = int(rng.integers(1, 40))
    per_channel = int(rng.random() < 0.5)
    mult, shift = _multipliers(rng, out if per_channel else 1)
    zp_out = _zp(rng)
    act_min, act_max = _act_range(rng, zp_out)
    filter_offset = 0 if rng.random() < 0.6 else int(rng.integers(-20, 21))
    p = P.FullyConnectedParams(
        batches=batches, accum_depth=depth, output_size=out, input_offset=-_zp(rng),
        filter_offset=filter_offset, output_offset=zp_out, act_min=act_min, act_max=act_max,
        per_channel=per_channel, multiplier=mult, shift=shift)
    x = _s8(rng, (batches, depth))
    wt = rng.integers(-127, 128, (out, depth)).astype(np.int8)
    return p, (x, wt, _bias(rng, out))


def pool_case(rng):
    while True:
        n, h, w = int(rng.integers(1, 3)), int(rng.integers(1, 13)), int(rng.integers(1, 13))
        c = int(rng.choice([1, 3, 8, 17, 32, 45]))
        fh, fw = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        wy, wx = _window(rng, h, fh), _window(rng, w, fw)
        if wy and wx:
            break
    act_min, act_max = _act_range(rng, _zp(rng))
    p = P.PoolParams(input_n=n, input_h=h, input_w=w, channels=c, output_h=wy[1],
                     output_w=wx[1], filter_h=fh, filter_w=fw, stride_h=wy[0], stride_w=wx[0],
                     pad_h=wy[2], pad_w=wx[2], act_min=act_min, act_max=act_max)
    return p, (_s8(rng, (n, h, w, c)),)


def _broadcast_shapes(rng, min_dim=1, max_dim=5):
    """Two input shapes (ranks 0..4, dims equal to the output's or 1) and the BroadcastShape."""
    out = tuple(int(v) for v in rng.integers(min_dim, max_dim + 1, 4))
    shapes = []
    for _ in range(2):
        rank = int(rng.integers(0, 5))
        dims = [d if rng.random() < 0.6 else 1 for d in out[4 - rank:]]
        shapes.append(tuple(dims))
    padded = [(1,) * (4 - len(s)) + s for s in shapes]
    out4 = tuple(max(padded[0][i], padded[1][i]) for i in range(4))

    def strides(shape):
        d = (1,) * (4 - len(shape)) + shape
        contiguous = [int(np.prod(d[i + 1:], dtype=np.int64)) for i in range(4)]
        return tuple(0 if d[i] == 1 and out4[i] != 1 else contiguous[i] for i in range(4))

    return shapes, P.BroadcastShape(out4, strides(shapes[0]), strides(shapes[1]))


def add_case(rng, min_dim=1, max_dim=5):
    (s1, s2), shape = _broadcast_shapes(rng, min_dim, max_dim)
    sa, sb, so = _loguniform(rng, 1e-3, 0.5, 3)
    left_shift = 20
    twice_max = 2 * max(sa, sb)
    m1, h1 = quantize_multiplier(sa / twice_max)
    m2, h2 = quantize_multiplier(sb / twice_max)
    mo, ho = quantize_multiplier(twice_max / ((1 << left_shift) * so))
    zp_out = _zp(rng)
    act_min, act_max = _act_range(rng, zp_out)
    p = P.AddParams(shape=shape, input1_offset=-_zp(rng), input2_offset=-_zp(rng),
                    output_offset=zp_out, left_shift=left_shift, input1_multiplier=m1,
                    input1_shift=h1, input2_multiplier=m2, input2_shift=h2, output_multiplier=mo,
                    output_shift=ho, act_min=act_min, act_max=act_max)
    return p, (_s8(rng, s1), _s8(rng, s2))


def mul_case(rng):
    (s1, s2), shape = _broadcast_shapes(rng)
    sa, sb, so = _loguniform(rng, 1e-3, 0.5, 3)
    m, h = quantize_multiplier(sa * sb / so)
    zp_out = _zp(rng)
    act_min, act_max = _act_range(rng, zp_out)
    p = P.MulParams(shape=shape, input1_offset=-_zp(rng), input2_offset=-_zp(rng),
                    output_offset=zp_out, output_multiplier=m, output_shift=h,
                    act_min=act_min, act_max=act_max)
    return p, (_s8(rng, s1), _s8(rng, s2))


def softmax_case(rng):
    rows = int(rng.integers(1, 6))
    row_size = int(rng.choice([1, 2, 5, 10, 33, 100, 1001]))
    beta = float(np.float32(rng.choice([1.0, 1.0, 0.5, 2.0])))
    scale = float(np.float32(_loguniform(rng, 1e-3, 1.0)))
    bits = 5
    real = min(beta * scale * (1 << (31 - bits)), (1 << 31) - 1.0)
    mult, left_shift = quantize_multiplier(real)
    radius = math.floor(((1 << bits) - 1) * (1 << (31 - bits)) / (1 << left_shift))
    p = P.SoftmaxParams(rows=rows, row_size=row_size, input_multiplier=mult,
                        input_left_shift=left_shift, diff_min=-radius, output_offset=-128)
    x = _s8(rng, (rows, row_size))
    if rng.random() < 0.3:  # peaked rows
        x = np.clip(x.astype(np.int32) // 8 - 100, -128, 127).astype(np.int8)
        x[:, 0] = 127
    return p, (x,)


def logistic_case(rng):
    size = int(rng.integers(1, 600))
    scale = float(np.float32(_loguniform(rng, 1e-3, 0.5)))
    zp = _zp(rng)
    bits = 4
    q_fixed, left_shift = frexp_q31(scale * (1 << (31 - bits)))
    radius = math.floor(((1 << bits) - 1) * (1 << (31 - bits)) / 2.0 ** left_shift)
    p = P.LogisticParams(size=size, input_zero_point=zp, input_range_radius=radius,
                         input_multiplier=int(wrap_int32(q_fixed)), input_left_shift=left_shift)
    return p, (_s8(rng, size),)


def mean_case(rng):
    outer, reduce, inner = int(rng.integers(1, 4)), int(rng.integers(1, 200)), int(rng.integers(1, 70))
    mult, shift = quantize_multiplier(float(_loguniform(rng, 0.2, 5.0)))
    fold = min(reduce.bit_length() - 1, 32, 31 + shift)
    mult = (mult << fold) // reduce
    p = P.MeanParams(outer=outer, reduce=reduce, inner=inner, input_offset=-_zp(rng),
                     output_offset=_zp(rng), multiplier=mult, shift=shift - fold)
    return p, (_s8(rng, (outer, reduce, inner)),)


def pad_case(rng):
    dims = tuple(int(v) for v in rng.integers(1, 6, 4))
    before = tuple(int(v) for v in rng.integers(0, 4, 4))
    after = tuple(int(v) for v in rng.integers(0, 4, 4))
    p = P.PadParams(input_dims=dims, before=before, after=after, pad_value=_zp(rng))
    return p, (_s8(rng, dims),)


def concat_case(rng):
    k = int(rng.integers(1, 5))
    outer = int(rng.integers(1, 6))
    sizes = tuple(int(v) for v in rng.integers(0, 12, k))
    dtype = np.dtype(rng.choice(["int8", "int16", "float32"]))
    xs = [rng.integers(-1000, 1000, (outer, s)).astype(dtype) for s in sizes]
    return P.ConcatParams(outer=outer, copy_sizes=sizes, element_size=dtype.itemsize), (xs,)


def quantize_case(rng):
    size = int(rng.integers(1, 500))
    scale = float(np.float32(_loguniform(rng, 1e-3, 1.0)))
    zp = _zp(rng)
    x = (rng.normal(0, 100, size) * scale).astype(np.float32)
    halves = (rng.integers(-300, 300, size) + 0.5).astype(np.float32) * np.float32(scale)
    x = np.where(rng.random(size) < 0.3, halves, x).astype(np.float32)
    # NaN is left out: the reference conversion is undefined for it (C gives qmin).
    specials = np.array([0.0, -0.0, 1e30, -1e30, np.inf, -np.inf], dtype=np.float32)
    x[: min(size, 6)] = specials[: min(size, 6)]
    return P.QuantizeParams(size=size, scale=scale, zero_point=zp, qmin=-128, qmax=127), (x,)


def requantize_case(rng):
    size = int(rng.integers(1, 500))
    mult, shift = quantize_multiplier(float(_loguniform(rng, 0.05, 20.0)))
    return P.RequantizeParams(size=size, input_offset=-_zp(rng), output_offset=_zp(rng),
                              multiplier=mult, shift=shift, qmin=-128, qmax=127), (_s8(rng, size),)


def dequantize_case(rng):
    size = int(rng.integers(1, 500))
    scale = float(np.float32(_loguniform(rng, 1e-4, 2.0)))
    return P.DequantizeParams(size=size, scale=scale, zero_point=_zp(rng)), (_s8(rng, size),)


# name: (case generator, C wrapper, reference kernel, C function)
KERNELS = {
    "conv": (conv_case, ck.conv_s8, ref.conv_s8, "mcc_conv_s8"),
    "depthwise": (depthwise_case, ck.depthwise_conv_s8, ref.depthwise_conv_s8, "mcc_depthwise_conv_s8"),
    "fully_connected": (fc_case, ck.fully_connected_s8, ref.fully_connected_s8, "mcc_fully_connected_s8"),
    "avg_pool": (pool_case, ck.avg_pool_s8, ref.avg_pool_s8, "mcc_avg_pool_s8"),
    "max_pool": (pool_case, ck.max_pool_s8, ref.max_pool_s8, "mcc_max_pool_s8"),
    "add": (add_case, ck.add_s8, ref.add_s8, "mcc_add_s8"),
    "mul": (mul_case, ck.mul_s8, ref.mul_s8, "mcc_mul_s8"),
    "softmax": (softmax_case, ck.softmax_s8, ref.softmax_s8, "mcc_softmax_s8"),
    "logistic": (logistic_case, ck.logistic_s8, ref.logistic_s8, "mcc_logistic_s8"),
    "mean": (mean_case, ck.mean_s8, ref.mean_s8, "mcc_mean_s8"),
    "pad": (pad_case, ck.pad_s8, ref.pad_s8, "mcc_pad_s8"),
    "concat": (concat_case, ck.concat, ref.concat, "mcc_concat"),
    "quantize": (quantize_case, ck.quantize_f32, ref.quantize_f32, "mcc_quantize_f32_s8"),
    "requantize": (requantize_case, ck.requantize_s8, ref.requantize_s8, "mcc_requantize_s8"),
    "dequantize": (dequantize_case, ck.dequantize_f32, ref.dequantize_f32, "mcc_dequantize_s8_f32"),
}


def _rng(name: str, seed: int) -> np.random.Generator:
    return np.random.default_rng([seed, sum(map(ord, name))])


def _same(got: np.ndarray, expected: np.ndarray, what: str):
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.size == expected.size, (what, got.shape, expected.shape)
    if expected.dtype.kind == "f":
        g, e = got.ravel().astype(np.float32), expected.ravel().astype(np.float32)
        assert g.view(np.uint32).tolist() == e.view(np.uint32).tolist(), what
    else:
        g, e = got.ravel().astype(np.int64), expected.ravel().astype(np.int64)
        bad = np.nonzero(g != e)[0]
        assert bad.size == 0, f"{what}: {bad.size} of {g.size} differ, first at {bad[:5]}: " \
                              f"C {g[bad[:5]]} vs reference {e[bad[:5]]}"


# --- bit-exactness through ctypes ---------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_kernel_matches_reference(name):
    make, c_fn, ref_fn, _ = KERNELS[name]
    for seed in SEEDS:
        p, args = make(_rng(name, seed))
        _same(c_fn(p, *args), ref_fn(p, *args), f"{name} seed {seed}: {p}")


def test_add_large_tensors_table_path():
    """ADD tabulates the rescaled inputs from 1024 output elements on: same results, with broadcasting."""
    hits = 0
    for seed in range(300):
        p, args = add_case(_rng("add-large", seed), min_dim=4, max_dim=12)
        if int(np.prod(p.shape.out_dims)) < 1024:
            continue
        hits += 1
        _same(ck.add_s8(p, *args), ref.add_s8(p, *args), f"large add seed {seed}: {p.shape}")
        if hits == 12:
            break
    assert hits == 12


def test_larger_conv_and_depthwise():
    """A couple of MobileNet-like layer sizes (wide channels, stride 2, SAME)."""
    rng = np.random.default_rng(123)
    for padding, stride in (("SAME", 2), ("VALID", 1)):
        h = w = 20
        out, pad = conv_padding(padding, h, 3, stride)
        mult, shift = _multipliers(rng, 48)
        p = P.ConvParams(input_n=1, input_h=h, input_w=w, input_c=24, filter_h=3, filter_w=3,
                         output_h=out, output_w=out, output_c=48, stride_h=stride, stride_w=stride,
                         dilation_h=1, dilation_w=1, pad_h=pad, pad_w=pad, input_offset=5,
                         output_offset=-3, act_min=-3, act_max=127, multiplier=mult, shift=shift)
        x, wt = _s8(rng, (1, h, w, 24)), rng.integers(-127, 128, (48, 3, 3, 24)).astype(np.int8)
        b = rng.integers(-5000, 5000, 48).astype(np.int32)
        _same(ck.conv_s8(p, x, wt, b), ref.conv_s8(p, x, wt, b), f"conv {padding}")
        dp = P.DepthwiseConvParams(
            input_n=1, input_h=h, input_w=w, input_c=48, filter_h=3, filter_w=3, output_h=out,
            output_w=out, output_c=48, depth_multiplier=1, stride_h=stride, stride_w=stride,
            dilation_h=1, dilation_w=1, pad_h=pad, pad_w=pad, input_offset=128, output_offset=-128,
            act_min=-128, act_max=127, multiplier=mult, shift=shift)
        x, wt = _s8(rng, (1, h, w, 48)), rng.integers(-127, 128, (1, 3, 3, 48)).astype(np.int8)
        _same(ck.depthwise_conv_s8(dp, x, wt, b), ref.depthwise_conv_s8(dp, x, wt, b),
              f"depthwise {padding}")


def test_extreme_values():
    """Saturating inputs, extreme weights and multipliers near the Q31 edges."""
    rng = np.random.default_rng(7)
    for fill in (-128, 127):
        p, (x, wt, b) = conv_case(rng)
        x = np.full_like(x, fill)
        wt = np.where(rng.random(wt.shape) < 0.5, -127, 127).astype(np.int8)
        p = dataclasses.replace(p, multiplier=np.full(p.output_c, (1 << 31) - 1, np.int32),
                                shift=np.full(p.output_c, -20, np.int32))
        _same(ck.conv_s8(p, x, wt, b), ref.conv_s8(p, x, wt, b), "extreme conv")
    for m, s in (((1 << 31) - 1, 0), (1 << 30, -31), (1 << 30, 30)):
        p, (x,) = requantize_case(rng)
        p = dataclasses.replace(p, multiplier=m, shift=s)
        _same(ck.requantize_s8(p, x), ref.requantize_s8(p, x), f"requantize {m} {s}")


def test_concat_many_inputs():
    rng = np.random.default_rng(9)
    xs = [_s8(rng, (3, k % 4)) for k in range(40)]
    p = P.ConcatParams(outer=3, copy_sizes=tuple(k % 4 for k in range(40)), element_size=1)
    _same(ck.concat(p, xs), ref.concat(p, xs), "concat with 40 inputs")


def test_scratch_sizes_match_planner():
    for make, fn in ((conv_case, "mcc_conv_s8"), (depthwise_case, "mcc_depthwise_conv_s8"),
                     (fc_case, "mcc_fully_connected_s8")):
        for seed in range(5):
            p, _ = make(np.random.default_rng(seed))
            assert ck.get_buffer_size(p) == scratch_for(fn, p, has_dsp=False), fn


def test_bad_arguments_are_rejected():
    p, (x, wt, b) = conv_case(np.random.default_rng(0))
    with pytest.raises(ck.CKernelError) as e:
        ck.conv_s8(dataclasses.replace(p, stride_h=0), x, wt, b)
    assert e.value.status == 1
    p, (x,) = pool_case(np.random.default_rng(0))
    with pytest.raises(ck.CKernelError):  # a window entirely in the padding
        ck.avg_pool_s8(dataclasses.replace(p, pad_h=p.filter_h + p.input_h, output_h=1), x)
    keep: list = []
    st = ck.to_c(p, keep)
    assert ck.lib().mcc_max_pool_s8(ctypes.byref(st), None, None) == 1


# --- struct layout: C == ctypes mirror of the dataclasses ----------------------------------------


def _record_classes():
    return [c for c in vars(P).values()
            if isinstance(c, type) and dataclasses.is_dataclass(c) and c.__module__ == P.__name__]


def c_struct_name(cls) -> str:
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()
    return "mcc_" + snake


def _compile_and_run(tmp_path, source: str, flags: list[str], extra_sources=(), env=None):
    src = tmp_path / "main.c"
    src.write_text(source)
    exe = tmp_path / "main"
    cmd = [ck.CC, *flags, f"-I{ck.INCLUDE}", str(src), *map(str, extra_sources), "-o", str(exe), "-lm"]
    build = subprocess.run(cmd, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(exe)], capture_output=True, text=True, env=env, timeout=120)
    return run


def test_struct_layout_matches_params(tmp_path):
    lines = ["#include <stdio.h>", "#include <stddef.h>", '#include "mcc_nn.h"', "int main(void) {"]
    expected = []
    for cls in _record_classes():
        name = c_struct_name(cls)
        cs = ck.c_struct(cls)
        lines.append(f'printf("{name} %u\\n", (unsigned)sizeof({name}));')
        expected.append(f"{name} {ctypes.sizeof(cs)}")
        for f in dataclasses.fields(cls):
            lines.append(f'printf("{name}.{f.name} %u\\n", (unsigned)offsetof({name}, {f.name}));')
            expected.append(f"{name}.{f.name} {getattr(cs, f.name).offset}")
    lines += ["return 0;", "}"]
    run = _compile_and_run(tmp_path, "\n".join(lines), CFLAGS_STRICT)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split("\n")[:-1] == expected


# --- strict compile and a sanitized standalone driver -------------------------------------------


@pytest.mark.parametrize("compiler", ["gcc", "arm-none-eabi-gcc"])
def test_kernels_compile_warning_free(tmp_path, compiler):
    flags = CFLAGS_STRICT + ["-O2", "-c"]
    if compiler.startswith("arm"):
        flags = ["-mcpu=cortex-m4", "-mthumb"] + flags
    srcs = ck.kernel_sources()
    # every kernel codegen can call has its file (one public function per file)
    from mcc.codegen.calls import KERNELS, POOL_KERNELS
    expected = {k.function for k in list(KERNELS.values()) + list(POOL_KERNELS.values())}
    expected |= {"mcc_conv_1x1_s8", "mcc_depthwise_conv_3x3_s8"}  # DSP shape specialisations
    expected |= {"mcc_fully_connected_sparse_s8", "mcc_conv_1x1_sparse_s8"}  # sparse weights
    from mcc.codegen.hybrid import FUNCTIONS as HYBRID_FUNCTIONS
    expected |= set(HYBRID_FUNCTIONS)  # float / hybrid kernels of PTQ dynamic
    from mcc.codegen.calls16 import KERNELS16, POOL_KERNELS16  # 16x8 kernels
    expected |= {k.function for k in list(KERNELS16.values()) + list(POOL_KERNELS16.values())}
    from mcc.codegen.support import SUPPORT  # code shared by DSP kernels, compiled once per image
    expected |= {s for deps in SUPPORT.values() for s in deps}
    assert {p.stem for p in srcs} == expected
    run = subprocess.run([compiler, *flags, f"-I{ck.INCLUDE}", *map(str, srcs)],
                         capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0 and run.stderr == "", run.stderr


def _c_array(name: str, a: np.ndarray) -> str:
    a = np.ascontiguousarray(a)
    ctype = {"i1": "int8_t", "i2": "int16_t", "i4": "int32_t", "f4": "float"}[a.dtype.str[1:]]
    if a.dtype.kind == "f":
        body = ", ".join(f"{float(v)!r}f".replace("inf", "INFINITY") if np.isfinite(v)
                         else ("INFINITY" if v > 0 else "-INFINITY") for v in a.ravel())
    else:
        body = ", ".join(str(int(v)) for v in a.ravel())
    return f"static const {ctype} {name}[{max(a.size, 1)}] = {{{body or '0'}}};"


def _c_init(value, hint, prefix: str, decls: list[str]) -> str:
    """C99 designated initializer for a params record; arrays become named static arrays."""
    if dataclasses.is_dataclass(value):
        hints = typing.get_type_hints(type(value))
        parts = [f".{f.name} = {_c_init(getattr(value, f.name), hints[f.name], f'{prefix}_{f.name}', decls)}"
                 for f in dataclasses.fields(value)]
        return "{" + ", ".join(parts) + "}"
    if hint is np.ndarray or ck._variable(hint):
        decls.append(_c_array(prefix, np.asarray(value, dtype=np.int64).astype(np.int32)))
        return prefix
    if typing.get_origin(hint) is tuple:
        return "{" + ", ".join(str(int(v)) for v in value) + "}"
    if hint is float:
        return f"{float(np.float32(value))!r}f"
    return str(int(value))


def _driver_case(idx: int, name: str, p, args, decls: list[str], body: list[str]) -> np.ndarray:
    """Emit one kernel call with exactly sized heap copies of its inputs; returns the reference."""
    fn = KERNELS[name][3]
    c = f"c{idx}"
    decls.append(f"static const {c_struct_name(type(p))} {c}_p = "
                 f"{_c_init(p, type(p), c, decls)};")
    expected = np.asarray(KERNELS[name][2](p, *args))
    out_bytes = expected.nbytes
    body.append("{")
    if name == "concat":
        xs = args[0]
        for k, x in enumerate(xs):
            decls.append(_c_array(f"{c}_x{k}", x))
            body.append(f"void *x{k} = dup({c}_x{k}, {x.nbytes});")
        ptrs = ", ".join(f"x{k}" for k in range(len(xs)))
        body.append(f"const void *xs[{len(xs)}] = {{{ptrs}}};")
        body.append(f"unsigned char *out = (unsigned char *)xmalloc({out_bytes});")
        body.append(f"check(\"{name}\", {fn}(&{c}_p, xs, {len(xs)}, out));")
        frees = [f"x{k}" for k in range(len(xs))]
    else:
        names = []
        frees = []
        for k, a in enumerate(args):
            if a is None:
                names.append("NULL")
                continue
            decls.append(_c_array(f"{c}_a{k}", a))
            body.append(f"void *a{k} = dup({c}_a{k}, {np.asarray(a).nbytes});")
            names.append(f"a{k}")
            frees.append(f"a{k}")
        body.append(f"unsigned char *out = (unsigned char *)xmalloc({out_bytes});")
        extra = ", NULL" if name in ("conv", "depthwise", "fully_connected") else ""
        body.append(f"check(\"{name}\", {fn}(&{c}_p, {', '.join(names)}, (void *)out{extra}));")
    body.append(f"dump(out, {out_bytes});")
    body += [f"free({f});" for f in frees] + ["free(out);", "}"]
    return expected


DRIVER_HEAD = r"""
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mcc_nn.h"

static void *xmalloc(size_t n) { void *p = malloc(n ? n : 1); if (!p) exit(3); return p; }
static void *dup(const void *src, size_t n) { void *p = xmalloc(n); memcpy(p, src, n); return p; }
static void check(const char *what, mcc_status s) {
    if (s != MCC_OK) { fprintf(stderr, "%s failed: %d\n", what, (int)s); exit(2); }
}
static void dump(const unsigned char *p, size_t n) {
    size_t i; for (i = 0; i < n; ++i) printf("%02x", p[i]); printf("\n");
}
"""


def test_sanitized_driver_runs_every_kernel(tmp_path):
    decls: list[str] = []
    body: list[str] = []
    expected: list[np.ndarray] = []
    idx = 0
    for name in sorted(KERNELS):
        for seed in (1000, 1001):
            p, args = KERNELS[name][0](_rng(name, seed))
            expected.append(_driver_case(idx, name, p, args, decls, body))
            idx += 1
    source = DRIVER_HEAD + "\n".join(decls) + "\nint main(void) {\n" + "\n".join(body) + \
        "\nreturn 0;\n}\n"
    flags = CFLAGS_STRICT + ["-O1", "-g", "-fno-omit-frame-pointer",
                             "-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0:abort_on_error=0",
               UBSAN_OPTIONS="print_stacktrace=1")
    run = _compile_and_run(tmp_path, source, flags, ck.kernel_sources(), env)
    assert run.returncode == 0, run.stderr[-4000:]
    assert "runtime error" not in run.stderr and "Sanitizer" not in run.stderr, run.stderr[-4000:]
    lines = run.stdout.split("\n")[:-1]
    assert len(lines) == len(expected)
    for i, (line, exp) in enumerate(zip(lines, expected)):
        got = np.frombuffer(bytes.fromhex(line), dtype=exp.dtype)
        _same(got, exp, f"driver case {i}")
