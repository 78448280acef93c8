import numpy as np
import pytest

from mcc.frontend import load_tflite
from mcc.ir import Conv2DAttrs, Graph, NoAttrs, Op, QuantParams, Tensor, VerifyError, format_graph, verify

from conftest import MLPERF


def _q(s=0.1, zp=0):
    return QuantParams((s,), (zp,))


def _conv_graph(bias_scale=0.01, w_zp=0, order_ok=True):
    x = Tensor("x", (1, 4, 4, 2), "int8", _q(0.1, 3))
    w = Tensor("w", (3, 1, 1, 2), "int8", QuantParams((0.1, 0.1, 0.1), (w_zp,) * 3, axis=0),
               np.ones((3, 1, 1, 2), np.int8))
    b = Tensor("b", (3,), "int32", QuantParams((bias_scale,) * 3, (0,) * 3, axis=0), np.zeros(3, np.int32))
    y = Tensor("y", (1, 4, 4, 3), "int8", _q(0.2, -1))
    z = Tensor("z", (1, 48), "int8", _q(0.2, -1))
    from mcc.ir import ReshapeAttrs
    ops = [Op("CONV_2D", ("x", "w", "b"), ("y",), Conv2DAttrs()),
           Op("RESHAPE", ("y",), ("z",), ReshapeAttrs((1, 48)))]
    if not order_ok:
        ops.reverse()
    return Graph({t.name: t for t in (x, w, b, y, z)}, tuple(ops), ("x",), ("z",))


def test_valid_graph_verifies():
    verify(_conv_graph())


@pytest.mark.parametrize("graph,message", [
    (lambda: _conv_graph(bias_scale=0.5), "bias scale"),
    (lambda: _conv_graph(w_zp=1), "symmetric"),
    (lambda: _conv_graph(order_ok=False), "before it is produced"),
])
def test_verify_catches(graph, message):
    with pytest.raises(VerifyError, match=message):
        verify(graph())


def test_verify_catches_missing_quant_and_bad_attrs():
    g = _conv_graph()
    t = dict(g.tensors)
    t["y"] = Tensor("y", (1, 4, 4, 3), "int8", None)
    with pytest.raises(VerifyError, match="no quantization"):
        verify(g.replace(tensors=t))
    ops = (Op("CONV_2D", ("x", "w", "b"), ("y",), NoAttrs()),) + g.ops[1:]
    with pytest.raises(VerifyError, match="attrs"):
        verify(g.replace(ops=ops))


def test_constants_are_read_only():
    data = np.zeros(3, np.int32)
    t = Tensor("b", (3,), "int32", None, data)
    assert not t.data.flags.writeable
    data[0] = 5  # the caller's array stays theirs
    assert t.data[0] == 0


@pytest.mark.parametrize("name", sorted(MLPERF))
def test_mlperf_models_load_and_verify(name):
    g = verify(load_tflite(MLPERF[name]))
    assert g.ops and len(g.inputs) == 1 and len(g.outputs) == 1
    assert "CONV_2D" in format_graph(g)
