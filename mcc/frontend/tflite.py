"""TFLite flatbuffer -> mcc IR.

The flatbuffer is read with the ``tflite`` package (generated from the TFLite schema); operators
are translated by a registry keyed by builtin operator code. Constant operands that are really
attributes (PAD paddings, MEAN axes, RESHAPE shape) become attributes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import tflite
from tflite.BuiltinOperator import BuiltinOperator

from ..errors import ModelFormatError, UnsupportedOperatorError
from ..ir import (
    ConcatAttrs, Conv2DAttrs, DepthwiseConv2DAttrs, ElementwiseAttrs, FullyConnectedAttrs, Graph,
    MeanAttrs, NoAttrs, Op, PadAttrs, Pool2DAttrs, QuantParams, ReshapeAttrs, SoftmaxAttrs, Tensor,
)

_DTYPES = {0: "float32", 2: "int32", 3: "uint8", 4: "int64", 7: "int16", 9: "int8"}
_TYPE_NAMES = {v: k for k, v in vars(tflite.TensorType).items() if not k.startswith("_")}
_OP_NAMES = {v: k for k, v in vars(BuiltinOperator).items() if not k.startswith("_")}
_ACT = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6"}
_PAD = {0: "SAME", 1: "VALID"}


class _Reader:
    """Access to one subgraph's tensors, turning them into IR tensors on demand."""

    def __init__(self, model, path: str):
        self.model = model
        self.sg = model.Subgraphs(0)
        self.path = path
        self.names: dict[int, str] = {}
        self.tensors: dict[str, Tensor] = {}
        used: set[str] = set()
        for i in range(self.sg.TensorsLength()):
            raw = (self.sg.Tensors(i).Name() or b"").decode("utf-8", "replace") or f"t{i}"
            name = raw if raw not in used else f"{raw}_{i}"
            used.add(name)
            self.names[i] = name

    def data(self, idx: int) -> np.ndarray | None:
        t = self.sg.Tensors(idx)
        buf = self.model.Buffers(t.Buffer())
        if buf is None:
            return None
        if buf.Offset() > 1:  # large models keep buffers after the flatbuffer
            raise ModelFormatError(f"{self.path}: models with external (offset) buffers are not supported")
        if buf.DataLength() == 0:
            return None
        dtype = self.dtype(idx)
        shape = tuple(int(s) for s in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        arr = np.frombuffer(buf.DataAsNumpy().tobytes(), dtype=np.dtype(dtype).newbyteorder("<"))
        return arr.astype(dtype).reshape(shape)

    def dtype(self, idx: int) -> str:
        code = self.sg.Tensors(idx).Type()
        if code not in _DTYPES:
            raise UnsupportedOperatorError(
                f"{self.path}: tensor {self.names[idx]!r} has type {_TYPE_NAMES.get(code, code)}; "
                f"supported tensor types: {', '.join(_DTYPES.values())}")
        return _DTYPES[code]

    def tensor(self, idx: int) -> str:
        name = self.names[idx]
        if name not in self.tensors:
            t = self.sg.Tensors(idx)
            shape = tuple(int(s) for s in t.ShapeAsNumpy()) if t.ShapeLength() else ()
            self.tensors[name] = Tensor(name, shape, self.dtype(idx), _quant(t), self.data(idx))
        return name


def _quant(t) -> QuantParams | None:
    q = t.Quantization()
    if q is None or q.ScaleLength() == 0:
        return None
    scale = tuple(float(s) for s in q.ScaleAsNumpy())
    zp = tuple(int(z) for z in q.ZeroPointAsNumpy()) if q.ZeroPointLength() else (0,) * len(scale)
    if len(zp) == 1 and len(scale) > 1:
        zp = zp * len(scale)
    axis = int(q.QuantizedDimension()) if len(scale) > 1 else None
    return QuantParams(scale, zp, axis)


def _options(op, cls):
    table = op.BuiltinOptions()
    o = cls()
    o.Init(table.Bytes, table.Pos)
    return o


def _act(code: int, where: str) -> str:
    if code not in _ACT:
        raise UnsupportedOperatorError(f"{where}: fused activation {code} is not supported "
                                       f"(supported: {', '.join(_ACT.values())})")
    return _ACT[code]


# --- one translator per builtin operator: (reader, op, where) -> (kind, input indices, attrs) ---

def _conv(r, op, where):
    o = _options(op, tflite.Conv2DOptions)
    attrs = Conv2DAttrs((o.StrideH(), o.StrideW()), (o.DilationHFactor(), o.DilationWFactor()),
                        _PAD[o.Padding()], _act(o.FusedActivationFunction(), where))
    return "CONV_2D", _ins(op), attrs


def _dwconv(r, op, where):
    o = _options(op, tflite.DepthwiseConv2DOptions)
    ins = _ins(op)
    in_c = int(r.sg.Tensors(ins[0]).ShapeAsNumpy()[-1])
    out_c = int(r.sg.Tensors(op.Outputs(0)).ShapeAsNumpy()[-1])
    attrs = DepthwiseConv2DAttrs((o.StrideH(), o.StrideW()), (o.DilationHFactor(), o.DilationWFactor()),
                                 _PAD[o.Padding()], out_c // in_c, _act(o.FusedActivationFunction(), where))
    return "DEPTHWISE_CONV_2D", ins, attrs


def _fc(r, op, where):
    o = _options(op, tflite.FullyConnectedOptions)
    if o.WeightsFormat() != 0:
        raise UnsupportedOperatorError(f"{where}: shuffled fully-connected weights are not supported")
    return "FULLY_CONNECTED", _ins(op), FullyConnectedAttrs(_act(o.FusedActivationFunction(), where),
                                                            bool(o.KeepNumDims()))


def _pool(kind):
    def tr(r, op, where):
        o = _options(op, tflite.Pool2DOptions)
        return kind, _ins(op), Pool2DAttrs((o.FilterHeight(), o.FilterWidth()), (o.StrideH(), o.StrideW()),
                                           _PAD[o.Padding()], _act(o.FusedActivationFunction(), where))
    return tr


def _elementwise(kind, opt_cls):
    def tr(r, op, where):
        act = "NONE"
        if op.BuiltinOptions() is not None:
            act = _act(_options(op, opt_cls).FusedActivationFunction(), where)
        return kind, _ins(op), ElementwiseAttrs(act)
    return tr


def _softmax(r, op, where):
    return "SOFTMAX", _ins(op)[:1], SoftmaxAttrs(float(_options(op, tflite.SoftmaxOptions).Beta()))


def _reshape(r, op, where):
    out_shape = tuple(int(s) for s in r.sg.Tensors(op.Outputs(0)).ShapeAsNumpy())
    return "RESHAPE", _ins(op)[:1], ReshapeAttrs(out_shape)


def _const_operand(r, op, k, where, what):
    data = r.data(op.Inputs(k))
    if data is None:
        raise UnsupportedOperatorError(f"{where}: {what} must be a constant")
    return data


def _mean(r, op, where):
    axes = _const_operand(r, op, 1, where, "the axes")
    rank = r.sg.Tensors(op.Inputs(0)).ShapeLength()
    keep = bool(_options(op, tflite.ReducerOptions).KeepDims()) if op.BuiltinOptions() else False
    norm = tuple(sorted({int(a) % rank for a in np.atleast_1d(axes)}))
    return "MEAN", _ins(op)[:1], MeanAttrs(norm, keep)


def _pad(r, op, where):
    pads = _const_operand(r, op, 1, where, "the paddings")
    if op.InputsLength() > 2 and op.Inputs(2) >= 0:
        raise UnsupportedOperatorError(f"{where}: PADV2 with an explicit pad value is not supported")
    return "PAD", _ins(op)[:1], PadAttrs(tuple((int(a), int(b)) for a, b in pads.reshape(-1, 2)))


def _concat(r, op, where):
    o = _options(op, tflite.ConcatenationOptions)
    rank = r.sg.Tensors(op.Outputs(0)).ShapeLength()
    return "CONCATENATION", _ins(op), ConcatAttrs(int(o.Axis()) % rank, _act(o.FusedActivationFunction(), where))


def _simple(kind):
    return lambda r, op, where: (kind, _ins(op)[:1], NoAttrs())


def _ins(op) -> list[int]:
    return [int(i) for i in op.InputsAsNumpy()] if op.InputsLength() else []


TRANSLATORS: dict[int, Callable] = {
    BuiltinOperator.CONV_2D: _conv,
    BuiltinOperator.DEPTHWISE_CONV_2D: _dwconv,
    BuiltinOperator.FULLY_CONNECTED: _fc,
    BuiltinOperator.AVERAGE_POOL_2D: _pool("AVERAGE_POOL_2D"),
    BuiltinOperator.MAX_POOL_2D: _pool("MAX_POOL_2D"),
    BuiltinOperator.ADD: _elementwise("ADD", tflite.AddOptions),
    BuiltinOperator.MUL: _elementwise("MUL", tflite.MulOptions),
    BuiltinOperator.SOFTMAX: _softmax,
    BuiltinOperator.RESHAPE: _reshape,
    BuiltinOperator.MEAN: _mean,
    BuiltinOperator.PAD: _pad,
    BuiltinOperator.PADV2: _pad,
    BuiltinOperator.CONCATENATION: _concat,
    BuiltinOperator.LOGISTIC: _simple("LOGISTIC"),
    BuiltinOperator.QUANTIZE: _simple("QUANTIZE"),
    BuiltinOperator.DEQUANTIZE: _simple("DEQUANTIZE"),
    BuiltinOperator.TANH: _simple("TANH"),
}

SUPPORTED_OPS = sorted(_OP_NAMES[c] for c in TRANSLATORS)


def _open(path: str | Path):
    p = Path(path)
    if not p.is_file():
        raise ModelFormatError(f"{p}: no such file")
    buf = p.read_bytes()
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise ModelFormatError(f"{p}: not a TFLite flatbuffer (missing the 'TFL3' identifier); "
                               "give an int8 .tflite model")
    try:
        model = tflite.Model.GetRootAsModel(buf, 0)
        if model.SubgraphsLength() < 1:
            raise ModelFormatError(f"{p}: the model has no subgraph")
        model.Subgraphs(0).TensorsLength()
    except ModelFormatError:
        raise
    except Exception as e:  # the flatbuffer library raises assorted errors on corrupt input
        raise ModelFormatError(f"{p}: corrupt TFLite flatbuffer ({type(e).__name__})") from None
    return model


def load_tflite(path: str | Path) -> Graph:
    """Read an int8 or 16x8 (int16 activations, int8 weights) TFLite model into an IR graph. Raises MccError subclasses on bad input."""
    model = _open(path)
    try:
        return _translate(model, str(path))
    except (ModelFormatError, UnsupportedOperatorError):
        raise
    except Exception as e:
        raise ModelFormatError(f"{path}: corrupt or unreadable TFLite model ({type(e).__name__}: {e})") from None


def _translate(model, path: str) -> Graph:
    r = _Reader(model, path)
    sg = r.sg
    codes = []
    for i in range(model.OperatorCodesLength()):
        oc = model.OperatorCodes(i)
        codes.append(max(int(oc.BuiltinCode()), int(oc.DeprecatedBuiltinCode())))
    ops: list[Op] = []
    index_of: dict[str, int] = {}
    for k in range(sg.OperatorsLength()):
        op = sg.Operators(k)
        code = codes[op.OpcodeIndex()]
        name = _OP_NAMES.get(code, f"CUSTOM({code})")
        if code not in TRANSLATORS:
            raise UnsupportedOperatorError(
                f"{path}: operator {k} is {name}, which mcc does not support; "
                f"supported: {', '.join(SUPPORTED_OPS)}")
        kind, ins, attrs = TRANSLATORS[code](r, op, f"{path}: operator {k} ({name})")
        in_names = tuple(r.tensor(i) if i >= 0 else None for i in ins)
        out_names = tuple(r.tensor(int(i)) for i in op.OutputsAsNumpy())
        for i in list(ins) + [int(i) for i in op.OutputsAsNumpy()]:
            if i >= 0:
                index_of[r.names[i]] = i
        ops.append(Op(kind, in_names, out_names, attrs, name=f"op{k}_{kind.lower()}"))
    inputs = tuple(r.tensor(int(i)) for i in sg.InputsAsNumpy())
    outputs = tuple(r.tensor(int(i)) for i in sg.OutputsAsNumpy())
    for n, i in zip(inputs, sg.InputsAsNumpy()):
        index_of[n] = int(i)
    g = Graph(dict(r.tensors), tuple(ops), inputs, outputs,
              meta={"source": path, "format": "tflite", "tflite_index": index_of})
    _check_integer(g, path)
    return g


def _check_integer(g: Graph, path: str):
    """Refuse float and hybrid models with advice on what to do instead."""
    for i, op in enumerate(g.ops):
        if op.kind in ("QUANTIZE", "DEQUANTIZE"):
            edge = g.tensors[op.outputs[0] if op.kind == "QUANTIZE" else op.inputs[0]]
            if edge.dtype not in ("int8", "int16"):
                raise UnsupportedOperatorError(
                    f"{path}: operator {i} ({op.kind}) uses {edge.dtype}; only int8 and int16 "
                    "are supported")
            _check_symmetric16(g, edge, i, op, path)
            continue
        x = g.tensors[op.inputs[0]]
        if x.dtype == "float32":
            weights = [g.tensors[t] for t in op.inputs[1:] if t is not None and g.tensors[t].is_const]
            hybrid = any(w.dtype == "int8" for w in weights)
            what = "a hybrid (dynamic-range) model: int8 weights with float activations" if hybrid \
                else "a float model"
            raise ModelFormatError(
                f"{path}: this is {what} (operator {i}, {op.kind}, takes float32 input); mcc needs a "
                "full-integer int8 model: convert with TFLiteConverter using "
                "optimizations=[tf.lite.Optimize.DEFAULT], a representative_dataset and "
                "supported_ops=[tf.lite.OpsSet.TFLITE_BUILTINS_INT8]")
        if x.dtype not in ("int8", "int16"):
            raise UnsupportedOperatorError(
                f"{path}: operator {i} ({op.kind}) has {x.dtype} input; only int8 activations "
                "and int16 activations with int8 weights (16x8) are supported")
        for t in [x, g.tensors[op.outputs[0]]]:
            _check_symmetric16(g, t, i, op, path)
        if x.dtype == "int16" and op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            w = g.tensors[op.inputs[1]]
            if w.dtype != "int8":
                raise UnsupportedOperatorError(
                    f"{path}: operator {i} ({op.kind}) has int16 activations with {w.dtype} "
                    "weights; 16x8 needs int8 weights")


def _check_symmetric16(g: Graph, t, i: int, op, path: str):
    """16x8 models: int16 activations are symmetric (zero point 0), as TFLite requires."""
    if t.dtype == "int16" and (t.quant is None or any(z != 0 for z in t.quant.zero_point)):
        raise UnsupportedOperatorError(
            f"{path}: operator {i} ({op.kind}): int16 tensor {t.name!r} must be quantized with "
            "zero point 0 (16x8 quantization)")
